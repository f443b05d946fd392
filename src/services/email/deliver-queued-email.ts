import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, PreconditionFailedError } from "../../lib/errors";
import { CONNECTION_COLUMNS, type ConnectionRow, connectionFromRow } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import {
  attemptDelivery,
  type ClaimedEmail,
  enqueueEmailAttempt,
  plaintextRefusal,
  type SmtpConnection,
  workerSockets,
} from "./deliver-email";
import {
  cacheEmailStatus,
  EMAIL_COLUMNS,
  EMAIL_DETAIL_COLUMNS,
  type EmailRow,
  toEmailView,
} from "./email-model";

/**
 * A later attempt of a queued email (the `email.send` message of the `events` queue). Claims the record
 * first — `queued`, or `sending` whose attempt died more than `STALE_SENDING` ago (the isolate was
 * killed mid-send; the server may or may not have the message, and SMTP offers no way to ask, so the
 * attempt is repeated: at-least-once) — so two deliveries of one message never send twice at once.
 * Nothing to claim (already sent or failed, or another attempt running) is a no-op.
 */
const STALE_SENDING = "5 minutes";

export async function deliverQueuedEmail({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; emailId: string };
}): Promise<{ status: "sent" | "failed" | "queued" | "skipped" }> {
  const { tenantId: t, emailId } = input;
  if (ctx.tenantId !== undefined && ctx.tenantId !== t)
    throw new ForbiddenError("This context acts for another tenant");
  const [claimed, connections] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ClaimedEmail>(sql`
      update email_messages
         set status = 'sending', attempts = attempts + 1, next_attempt_at = null, updated_at = now()
       where tenant_id = ${t} and id = ${emailId}
         and (status = 'queued' or (status = 'sending' and updated_at < now() - ${STALE_SENDING}::interval))
   returning ${EMAIL_DETAIL_COLUMNS}`),
    db.execute<ConnectionRow>(sql`
      select ${CONNECTION_COLUMNS} from connections
       where tenant_id = ${t}
         and id = (select connection_id from email_messages where tenant_id = ${t} and id = ${emailId})`),
  ]);
  const row = claimed.rows[0];
  if (!row) return { status: "skipped" };
  await cacheEmailStatus(ctx, t, toEmailView(row));

  const problem = await usableConnection(ctx, connections.rows[0]);
  if (typeof problem === "string") {
    const error = {
      code: "SMTP_CONNECTION_UNUSABLE",
      class: "permanent",
      retryable: false,
      step: "connect",
      message: problem,
      reply: null,
      enhancedCode: null,
    };
    const [failed] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<EmailRow>(sql`
        update email_messages set status = 'failed', error = ${JSON.stringify(error)}::jsonb, updated_at = now()
         where tenant_id = ${t} and id = ${emailId} and status = 'sending' and attempts = ${row.attempts}
     returning ${EMAIL_COLUMNS}`),
    ]);
    const view = failed.rows[0];
    if (view) await cacheEmailStatus(ctx, t, toEmailView(view));
    ctx.logger.warn("queued email failed: connection unusable", { tenantId: t, emailId, problem });
    return { status: "failed" };
  }
  const outcome = await attemptDelivery(
    ctx,
    { tenantId: t, row, connection: problem, inline: false },
    workerSockets,
  );
  if (outcome.kind === "retry_later") {
    await enqueueEmailAttempt(ctx, { tenantId: t, emailId, delaySeconds: outcome.delaySeconds });
    return { status: "queued" };
  }
  if (outcome.kind === "retry_inline") throw new Error("queued attempts never retry inline");
  return { status: outcome.kind };
}

/** The connection, or why it cannot send (deleted, disabled, credentials unusable, plain text in production). */
async function usableConnection(
  ctx: ServiceContext,
  row: ConnectionRow | undefined,
): Promise<SmtpConnection | string> {
  if (!row) return "The email connection was deleted";
  let connection: Awaited<ReturnType<typeof connectionFromRow>>;
  try {
    connection = await connectionFromRow(ctx, row);
  } catch (error) {
    if (error instanceof PreconditionFailedError) return error.message;
    throw error;
  }
  if (connection.provider !== "smtp") return "The connection cannot send email";
  if (!connection.enabled) return "The email connection is disabled";
  return plaintextRefusal(ctx, connection) ?? connection;
}
