import { type SQL, sql } from "drizzle-orm";
import { cacheKeys, isTombstone } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, PreconditionFailedError } from "../../lib/errors";
import { CONNECTION_COLUMNS, type ConnectionRow, connectionFromRow } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import {
  attemptDelivery,
  type ClaimedEmail,
  enqueueEmailAttempt,
  MAX_ATTEMPTS,
  plaintextRefusal,
  type SmtpConnection,
  workerSockets,
} from "./deliver-email";
import {
  cacheEmailStatus,
  EMAIL_COLUMNS,
  EMAIL_DETAIL_COLUMNS,
  type EmailMessageView,
  type EmailRow,
  toEmailView,
} from "./email-model";

/**
 * A later attempt of a queued email (the `email.send` message of the `events` queue). Claims the record
 * first — `queued`, or `sending` whose attempt died more than `STALE_SENDING` ago (the isolate was
 * killed mid-send; the server may or may not have the message, and SMTP offers no way to ask, so the
 * attempt is repeated: at-least-once) — so two deliveries of one message never send twice at once.
 * Nothing to claim (already sent or failed, or another attempt running) is a no-op.
 *
 * Two exceptions to repeating a dead attempt: when the Redis status copy says `sent` (the server accepted
 * the message and only the record's update failed, see deliver-email.ts), the record is settled from it
 * and nothing is sent; and when the dead attempt was the last one (MAX_ATTEMPTS), the email fails
 * instead of being tried forever by an isolate that keeps dying.
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
  // Read before the claim's own status copy replaces it.
  const sentCopy = await cachedSentStatus(ctx, t, emailId);
  if (sentCopy) return settleFromSentCopy(ctx, t, row, sentCopy);
  if (Number(row.attempts) > MAX_ATTEMPTS) {
    const error = {
      code: "SMTP_ATTEMPTS_EXHAUSTED",
      class: "transient",
      retryable: false,
      step: "connect",
      message:
        "The last attempt stopped without an outcome (its worker ended mid-send); no more attempts are made",
      reply: null,
      enhancedCode: null,
    };
    await settleClaimed(
      ctx,
      t,
      row,
      sql`status = 'failed', error = ${JSON.stringify(error)}::jsonb, attempts = ${MAX_ATTEMPTS}`,
    );
    ctx.logger.warn("queued email failed: attempts exhausted", { tenantId: t, emailId });
    return { status: "failed" };
  }
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
    await settleClaimed(ctx, t, row, sql`status = 'failed', error = ${JSON.stringify(error)}::jsonb`);
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

/** Writes `changes` to the record this delivery claimed (if still claimed), then its Redis copy. */
async function settleClaimed(
  ctx: ServiceContext,
  tenantId: string,
  row: ClaimedEmail,
  changes: SQL,
): Promise<void> {
  const [settled] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<EmailRow>(sql`
      update email_messages set ${changes}, next_attempt_at = null, updated_at = now()
       where tenant_id = ${tenantId} and id = ${row.id} and status = 'sending' and attempts = ${row.attempts}
   returning ${EMAIL_COLUMNS}`),
  ]);
  const view = settled.rows[0];
  if (view) await cacheEmailStatus(ctx, tenantId, toEmailView(view));
}

/** The Redis status copy when it says `sent` (an unreadable or missing copy counts as none). */
async function cachedSentStatus(
  ctx: ServiceContext,
  tenantId: string,
  emailId: string,
): Promise<EmailMessageView | null> {
  const redis = ctx.cache.redis;
  if (!redis) return null;
  const cached = await redis
    .get<EmailMessageView>(ctx.cache.key(cacheKeys.emailStatus.name(tenantId, emailId)))
    .catch(() => null);
  if (cached === null || isTombstone(cached) || cached.status !== "sent") return null;
  return cached;
}

/** The server had accepted the message: the record becomes `sent` as the attempt saw it, nothing is sent. */
async function settleFromSentCopy(
  ctx: ServiceContext,
  tenantId: string,
  row: ClaimedEmail,
  copy: EmailMessageView,
): Promise<{ status: "sent" }> {
  await settleClaimed(
    ctx,
    tenantId,
    row,
    sql`status = 'sent', smtp_response = ${copy.smtpResponse},
        sent_at = coalesce(${copy.sentAt}::timestamptz, now()),
        error = ${copy.error === null ? null : JSON.stringify(copy.error)}::jsonb, attempts = ${copy.attempts}`,
  );
  ctx.logger.warn("queued email was already sent: record settled from its status copy", {
    tenantId,
    emailId: row.id,
  });
  return { status: "sent" };
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
