import { connect } from "cloudflare:sockets";
import { type SQL, sql } from "drizzle-orm";
import { type SmtpSendResult, type SocketConnector, sendMail } from "../../adapters/email/smtp/client";
import { SmtpError, type SmtpFailureRecord } from "../../adapters/email/smtp/errors";
import { buildMessage, type Mailbox, parseAddress } from "../../adapters/email/smtp/mime";
import { isDatabaseUnavailable } from "../../cache/dual-write";
import { pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { backoffSeconds } from "../../lib/backoff";
import { ValidationError } from "../../lib/errors";
import type { LoadedConnection } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import {
  cacheEmailStatus,
  EMAIL_COLUMNS,
  EMAIL_DETAIL_COLUMNS,
  type EmailDetailRow,
  type EmailMessageView,
  type EmailRow,
  textArray,
  toEmailView,
} from "./email-model";

/**
 * One delivery attempt of a stored email, and what its outcome does to the record. Used by `sendEmail`
 * (the first attempts, inside the request) and by the `email.send` queue message (the later ones).
 *
 * Retry policy: a transient failure (4xx, connection lost, timeout) is retried — once more at once inside
 * the request (a blip in the network or a server restarting), then through the `events` queue with
 * exponential backoff from 30 s up to 30 min (greylisting servers want minutes, not milliseconds) — until
 * `MAX_ATTEMPTS` attempts in all; then the email is `failed`. Auth and permanent failures are final at
 * once: retrying the same credentials or the same refused message cannot succeed.
 *
 * Never twice after a 250: once the server has accepted the message, the attempt's outcome is `sent`
 * even when the record cannot be written (Postgres down after its retries): the Redis status copy then
 * says `sent`, and the recovery of the stranded `sending` record (deliver-queued-email.ts) settles it from
 * there instead of sending again.
 */
export const MAX_ATTEMPTS = 5;
export const INLINE_ATTEMPTS = 2;
const INLINE_RETRY_DELAY_MS = 500;
const QUEUE_BACKOFF = { baseSeconds: 30, capSeconds: 30 * 60 } as const;

/**
 * The longest an attempt may take, all steps together. Inside a request both inline attempts must end
 * well before an HTTP client or Cloudflare's proxy (100 s) gives up on the response, which would cancel
 * the attempt half-way. A queued attempt may take longer, but always ends before its `sending` claim
 * counts as stale (STALE_SENDING, 5 minutes, in deliver-queued-email.ts and claim_stranded_email_messages),
 * so a second attempt can never start while the first one is still talking to the server.
 */
export const INLINE_ATTEMPT_BUDGET_MS = 40_000;
export const QUEUED_ATTEMPT_BUDGET_MS = 4 * 60_000;
/**
 * How long the reply to the end of DATA is awaited (within the budget). RFC 5321 §4.5.3.2.6 suggests 10
 * minutes: the server may be running its filters, and a client that gives up while it does sends the
 * message again on its retry (RFC 1047). The budget keeps it shorter than that here.
 */
const FINAL_REPLY_TIMEOUT_MS = 3 * 60_000;
/** Writes of the `sent` outcome, so a Postgres blip after a 250 does not leave the record behind. */
const SENT_RECORD_TRIES = 3;

export type SmtpConnection = Extract<LoadedConnection, { provider: "smtp" }>;

/** The record's fields an attempt needs, read with the claim. */
export type ClaimedEmail = EmailDetailRow;

export type AttemptOutcome =
  | { kind: "sent"; view: EmailMessageView }
  | { kind: "failed"; view: EmailMessageView }
  | { kind: "retry_inline"; row: ClaimedEmail }
  | { kind: "retry_later"; view: EmailMessageView; delaySeconds: number };

/** The connector the Worker uses; tests of the service run over the same real sockets. */
export const workerSockets: SocketConnector = connect;

/** A refusal to send with `security: "none"` outside development and test (never a silent send in clear). */
export function plaintextRefusal(ctx: ServiceContext, connection: SmtpConnection): string | null {
  if (connection.settings.security === "none" && ctx.config.appEnv === "production") {
    return "This connection sends without TLS, which is allowed only in development and test; set security to starttls or tls";
  }
  return null;
}

function mailbox(address: string, name: string | null): Mailbox {
  return { address, name };
}

/** Every recipient once (To and Cc), in the envelope's ASCII form. */
export function envelopeRecipients(to: readonly string[], cc: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  [...to, ...cc].forEach((address, i) => {
    const parsed = parseAddress(i < to.length ? `to.${i}` : `cc.${i - to.length}`, address).address;
    const key = parsed.toLowerCase();
    if (!seen.has(key)) {
      seen.add(key);
      out.push(parsed);
    }
  });
  return out;
}

/** The message of a stored email, as it is sent on every attempt (same Message-ID and Date). */
export function messageOf(row: ClaimedEmail, connection: SmtpConnection) {
  const s = connection.settings;
  return buildMessage({
    from: mailbox(row.from_address, s.fromName),
    to: textArray(row.to_addresses).map((a) => mailbox(a, null)),
    cc: textArray(row.cc_addresses).map((a) => mailbox(a, null)),
    replyTo: s.replyTo ? mailbox(s.replyTo, null) : null,
    subject: row.subject,
    text: row.body_text,
    html: row.body_html,
    messageId: row.provider_message_id ?? "",
    date: new Date(row.created_at),
  });
}

async function send(
  ctx: ServiceContext,
  row: ClaimedEmail,
  connection: SmtpConnection,
  connector: SocketConnector,
  inline: boolean,
): Promise<SmtpSendResult> {
  const message = messageOf(row, connection);
  const from = parseAddress("from", row.from_address);
  return sendMail(connector, {
    host: connection.settings.host,
    port: connection.settings.port,
    security: connection.settings.security,
    credentials: connection.credentials,
    clientName: from.domain,
    envelope: {
      from: from.address,
      to: envelopeRecipients(textArray(row.to_addresses), textArray(row.cc_addresses)),
    },
    message,
    timeoutMs: ctx.config.upstream.timeoutMs,
    finalReplyTimeoutMs: Math.max(FINAL_REPLY_TIMEOUT_MS, ctx.config.upstream.timeoutMs * 2),
    budgetMs: inline ? INLINE_ATTEMPT_BUDGET_MS : QUEUED_ATTEMPT_BUDGET_MS,
  });
}

/**
 * Runs one attempt of an email this caller has claimed (`status = 'sending'`, `attempts` counting this
 * one) and writes its outcome — conditional on the claim, so a stale attempt never overwrites a newer
 * one — then refreshes the Redis copy.
 */
export async function attemptDelivery(
  ctx: ServiceContext,
  input: { tenantId: string; row: ClaimedEmail; connection: SmtpConnection; inline: boolean },
  connector: SocketConnector = workerSockets,
): Promise<AttemptOutcome> {
  const { tenantId: t, row, connection } = input;
  const attempts = Number(row.attempts);
  const claim = sql`tenant_id = ${t} and id = ${row.id} and status = 'sending' and attempts = ${attempts}`;
  let result: SmtpSendResult;
  try {
    result = await send(ctx, row, connection, connector, input.inline);
  } catch (error) {
    if (!(error instanceof SmtpError)) {
      // Not the server's doing: a bug of ours or a stored message that cannot be built. Named, never
      // its text (a query error's text holds the email's addresses and content).
      ctx.logger.error("email attempt failed unexpectedly", {
        tenantId: t,
        emailId: row.id,
        ...errorFacts(error),
      });
    }
    return recordFailure(ctx, input, claim, failureRecordOf(error));
  }
  const partial =
    result.rejected.length > 0
      ? {
          code: "SMTP_SOME_RECIPIENTS_REJECTED",
          message: "The server refused some recipients; the others got the message",
          rejectedRecipients: result.rejected,
        }
      : null;
  const view = await recordSent(ctx, t, row, claim, result.response, partial);
  ctx.logger.info("email sent", { tenantId: t, emailId: row.id, attempts, tls: result.tls });
  return { kind: "sent", view };
}

/**
 * Records a 250 (retried while Postgres is unreachable). When it cannot be recorded, the outcome is
 * still `sent`: the Redis status copy says so, for the recovery of the stranded record to settle it
 * from (deliver-queued-email.ts), and the caller is told the truth instead of an error that invites a
 * second send.
 */
async function recordSent(
  ctx: ServiceContext,
  tenantId: string,
  row: ClaimedEmail,
  claim: SQL,
  response: string,
  partial: Record<string, unknown> | null,
): Promise<EmailMessageView> {
  const statement = sql`update email_messages
           set status = 'sent', smtp_response = ${response}, sent_at = now(),
               error = ${partial === null ? null : JSON.stringify(partial)}::jsonb,
               next_attempt_at = null, updated_at = now()
         where ${claim}
     returning ${EMAIL_COLUMNS}`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await settle(ctx, tenantId, row.id, statement);
    } catch (error) {
      if (attempt < SENT_RECORD_TRIES && isDatabaseUnavailable(error)) {
        await new Promise((resolve) => setTimeout(resolve, 250 * 4 ** (attempt - 1)));
        continue;
      }
      ctx.logger.error("email sent but its record could not be updated", {
        tenantId,
        emailId: row.id,
        ...errorFacts(error),
      });
      const now = new Date();
      const view = toEmailView({
        ...row,
        status: "sent",
        smtp_response: response,
        sent_at: now,
        error: partial,
        next_attempt_at: null,
        updated_at: now,
      });
      await cacheEmailStatus(ctx, tenantId, view);
      return view;
    }
  }
}

/** What may be logged of an unexpected error: its class and SQLSTATE, never its text. */
function errorFacts(error: unknown): Record<string, unknown> {
  return {
    error: error instanceof Error ? error.name : typeof error,
    sqlstate: pgErrorOf(error)?.code ?? null,
    databaseUnavailable: isDatabaseUnavailable(error),
  };
}

async function recordFailure(
  ctx: ServiceContext,
  input: { tenantId: string; row: ClaimedEmail; inline: boolean },
  claim: SQL,
  failure: SmtpFailureRecord,
): Promise<AttemptOutcome> {
  const { tenantId: t, row } = input;
  const attempts = Number(row.attempts);
  const error = JSON.stringify(failure);
  const transient = failure.retryable && attempts < MAX_ATTEMPTS;
  ctx.logger.warn("email attempt failed", {
    tenantId: t,
    emailId: row.id,
    attempts,
    code: failure.code,
    step: failure.step,
    final: !transient,
  });
  if (transient && input.inline && attempts < INLINE_ATTEMPTS) {
    // Claim the next attempt in the same write that records this one's failure.
    const [updated] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<ClaimedEmail>(sql`
        update email_messages set attempts = attempts + 1, error = ${error}::jsonb, updated_at = now()
         where ${claim}
     returning ${EMAIL_DETAIL_COLUMNS}`),
    ]);
    const next = updated.rows[0];
    if (next) {
      await new Promise((resolve) => setTimeout(resolve, INLINE_RETRY_DELAY_MS));
      return { kind: "retry_inline", row: next };
    }
    return { kind: "failed", view: await current(ctx, t, row.id) };
  }
  if (transient) {
    const delaySeconds = backoffSeconds(attempts, QUEUE_BACKOFF);
    const view = await settle(
      ctx,
      t,
      row.id,
      sql`update email_messages
             set status = 'queued', error = ${error}::jsonb,
                 next_attempt_at = now() + make_interval(secs => ${delaySeconds}), updated_at = now()
           where ${claim}
       returning ${EMAIL_COLUMNS}`,
    );
    return { kind: "retry_later", view, delaySeconds };
  }
  const view = await settle(
    ctx,
    t,
    row.id,
    sql`update email_messages
           set status = 'failed', error = ${error}::jsonb, next_attempt_at = null, updated_at = now()
         where ${claim}
     returning ${EMAIL_COLUMNS}`,
  );
  return { kind: "failed", view };
}

/** What the record keeps of a failure: the SMTP error's own record, or a generic one (never its text). */
function failureRecordOf(error: unknown): SmtpFailureRecord {
  if (error instanceof SmtpError) return error.toRecord();
  if (error instanceof ValidationError) {
    return {
      code: "SMTP_REJECTED",
      class: "permanent",
      retryable: false,
      step: "message",
      message: `The stored message cannot be built: ${error.message}`,
      reply: null,
      enhancedCode: null,
    };
  }
  // An unexpected bug of ours: final, so it is looked at instead of retried forever.
  return {
    code: "SMTP_PROTOCOL_ERROR",
    class: "permanent",
    retryable: false,
    step: "connect",
    message: "Unexpected error while sending",
    reply: null,
    enhancedCode: null,
  };
}

/** Applies an outcome write; when the claim was lost meanwhile, the record as it now is. */
async function settle(
  ctx: ServiceContext,
  tenantId: string,
  emailId: string,
  statement: SQL,
): Promise<EmailMessageView> {
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [db.execute<EmailRow>(statement)]);
  const row = result.rows[0];
  if (!row) return current(ctx, tenantId, emailId);
  const view = toEmailView(row);
  await cacheEmailStatus(ctx, tenantId, view);
  return view;
}

async function current(ctx: ServiceContext, tenantId: string, emailId: string): Promise<EmailMessageView> {
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<EmailRow>(
      sql`select ${EMAIL_COLUMNS} from email_messages where tenant_id = ${tenantId} and id = ${emailId}`,
    ),
  ]);
  const row = result.rows[0];
  if (!row) throw new Error("email record vanished during delivery");
  return toEmailView(row);
}

/** The `events` queue message that carries a later attempt. */
export interface EmailSendMessage {
  type: "email.send";
  tenantId: string;
  emailId: string;
}

export async function enqueueEmailAttempt(
  ctx: ServiceContext,
  input: { tenantId: string; emailId: string; delaySeconds: number },
): Promise<void> {
  const body: EmailSendMessage = { type: "email.send", tenantId: input.tenantId, emailId: input.emailId };
  await ctx.queues.events.send(body, { delaySeconds: Math.min(input.delaySeconds, 43_200) });
}
