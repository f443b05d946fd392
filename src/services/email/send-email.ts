import { sql } from "drizzle-orm";
import { buildMessage, newMessageId, parseAddress } from "../../adapters/email/smtp/mime";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { PreconditionFailedError, ValidationError } from "../../lib/errors";
import { sha256Hex } from "../auth/tokens";
import { CONNECTION_COLUMNS, type ConnectionRow, connectionFromRow } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import {
  type AttemptOutcome,
  attemptDelivery,
  type ClaimedEmail,
  enqueueEmailAttempt,
  envelopeRecipients,
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
  emailTenantOf,
  toEmailView,
} from "./email-model";
import { renderTemplate } from "./render-template";

export interface SendEmailInput {
  to: string[];
  cc?: string[] | undefined;
  /** With a template: not given (the template has the subject). Without: required. */
  subject?: string | undefined;
  text?: string | undefined;
  html?: string | undefined;
  /** A template of the tenant (`email_templates.key`), rendered with `variables`. */
  templateKey?: string | undefined;
  variables?: Record<string, unknown> | undefined;
  ticketId?: string | undefined;
  /** Which SMTP connection sends it; default: the tenant's only enabled one. */
  connectionId?: string | undefined;
  /** The same key again returns the same email, never a second one (kept for good, unlike Idempotency-Key). */
  idempotencyKey?: string | undefined;
}

/** Recipients per message: RFC 5321 §4.5.3.1.8 obliges servers to take at least 100. */
export const MAX_RECIPIENTS = 100;
const MAX_SUBJECT = 500;

/**
 * Sends an email through the tenant's SMTP connection, recording it first:
 * 1. validates and renders (a template's `{{variables}}`; a missing one is a 422), builds the message
 *    (headers checked for injection) — all before anything is written;
 * 2. one read: the connection (credentials opened), the template, and an email with the same
 *    idempotency key (returned as it is, never sent again; the same key for a different email is a 422);
 * 3. inserts the record as `sending` (attempt 1 claimed), then the Redis status copy;
 * 4. sends over SMTP; a transient failure is retried once at once, then through the queue (deliver-email.ts);
 * 5. records `sent` (the server's reply and the Message-ID), `failed` (why), or `queued` for a later try.
 * The caller gets the record: final (`sent`/`failed`) or `queued`/`sending` (still being delivered).
 */
export async function sendEmail({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: SendEmailInput;
}): Promise<EmailMessageView> {
  const t = emailTenantOf(ctx, "email:send");
  const request = checkInput(input);
  const fingerprint = sha256Hex(canonicalJson(request));

  const [connections, templates, existing] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ConnectionRow>(sql`
      select ${CONNECTION_COLUMNS} from connections
       where tenant_id = ${t} and kind = 'email'
         and (id = ${request.connectionId}::uuid or (${request.connectionId}::uuid is null and enabled))
       order by created_at, id limit 2`),
    db.execute<{ subject: string; body_text: string; body_html: string | null }>(sql`
      select subject, body_text, body_html from email_templates
       where tenant_id = ${t} and key = ${request.templateKey}`),
    db.execute<EmailRow>(sql`
      select ${EMAIL_COLUMNS} from email_messages
       where tenant_id = ${t} and idempotency_key = ${request.idempotencyKey}`),
  ]);

  const previous = existing.rows[0];
  if (previous) return replay(previous, fingerprint);

  const connection = await chooseConnection(ctx, connections.rows, request.connectionId);
  let content: { subject: string; text: string | null; html: string | null };
  if (request.templateKey !== null) {
    const template = templates.rows[0];
    if (!template) {
      throw new ValidationError("Unknown template", { templateKey: ["No email template with this key"] });
    }
    const rendered = renderTemplate(
      { subject: template.subject, bodyText: template.body_text, bodyHtml: template.body_html },
      request.variables,
    );
    content = { subject: rendered.subject, text: rendered.text, html: rendered.html };
  } else {
    content = { subject: request.subject ?? "", text: request.text, html: request.html };
  }
  if (content.subject.trim() === "") {
    throw new ValidationError("Invalid email", { subject: ["The rendered subject is empty"] });
  }

  const id = crypto.randomUUID();
  const from = connection.settings.fromAddress;
  const messageId = newMessageId(from, id);
  // Built once here so a header problem is the caller's 422 before anything is stored.
  buildMessage({
    from: { address: from, name: connection.settings.fromName },
    to: request.to.map((address) => ({ address })),
    cc: request.cc.map((address) => ({ address })),
    replyTo: connection.settings.replyTo ? { address: connection.settings.replyTo } : null,
    subject: content.subject,
    text: content.text,
    html: content.html,
    messageId,
    date: new Date(),
  });

  let inserted: ClaimedEmail | undefined;
  try {
    const [result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<ClaimedEmail>(sql`
        insert into email_messages
          (id, tenant_id, connection_id, ticket_id, template_key, from_address, to_addresses, cc_addresses,
           subject, body_text, body_html, request_fingerprint, status, provider_message_id, attempts,
           idempotency_key)
        values (${id}, ${t}, ${connection.id}, ${request.ticketId}::uuid, ${request.templateKey}, ${from},
                ${sql.param(request.to)}::text[], ${sql.param(request.cc)}::text[], ${content.subject},
                ${content.text}, ${content.html}, ${fingerprint}, 'sending', ${messageId}, 1, ${request.idempotencyKey})
        on conflict (tenant_id, idempotency_key) where idempotency_key is not null do nothing
        returning ${EMAIL_DETAIL_COLUMNS}`),
    ]);
    inserted = result.rows[0];
  } catch (error) {
    if (pgErrorOf(error)?.code === PG_FOREIGN_KEY_VIOLATION) {
      throw new ValidationError("Unknown ticket", { ticketId: ["No such ticket in this tenant"] });
    }
    throw error;
  }
  if (!inserted) {
    // A concurrent request with the same idempotency key inserted first: that one sends.
    const [again] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<EmailRow>(sql`
        select ${EMAIL_COLUMNS} from email_messages
         where tenant_id = ${t} and idempotency_key = ${request.idempotencyKey}`),
    ]);
    const winner = again.rows[0];
    if (!winner) throw new Error("idempotency conflict without a row");
    return replay(winner, fingerprint);
  }
  await cacheEmailStatus(ctx, t, toEmailView(inserted));
  ctx.logger.info("email accepted", {
    tenantId: t,
    emailId: id,
    recipients: request.to.length + request.cc.length,
  });
  return deliverNow(ctx, t, inserted, connection);
}

/** The first attempts, inside the request; what remains goes to the queue. */
async function deliverNow(
  ctx: ServiceContext,
  tenantId: string,
  row: ClaimedEmail,
  connection: SmtpConnection,
): Promise<EmailMessageView> {
  let outcome: AttemptOutcome = await attemptDelivery(
    ctx,
    { tenantId, row, connection, inline: true },
    workerSockets,
  );
  while (outcome.kind === "retry_inline") {
    outcome = await attemptDelivery(
      ctx,
      { tenantId, row: outcome.row, connection, inline: true },
      workerSockets,
    );
  }
  if (outcome.kind === "retry_later") {
    await enqueueEmailAttempt(ctx, { tenantId, emailId: row.id, delaySeconds: outcome.delaySeconds });
  }
  return outcome.view;
}

function replay(row: EmailRow, fingerprint: string): EmailMessageView {
  if (row.request_fingerprint !== fingerprint) {
    throw new ValidationError("This idempotency key was used for a different email", {
      idempotencyKey: ["Already used with other recipients, content or template; use a new key"],
    });
  }
  return toEmailView(row);
}

async function chooseConnection(
  ctx: ServiceContext,
  rows: ConnectionRow[],
  connectionId: string | null,
): Promise<SmtpConnection> {
  if (connectionId !== null && rows.length === 0) {
    throw new ValidationError("Unknown connection", {
      connectionId: ["No email (SMTP) connection with this id in this tenant"],
    });
  }
  if (rows.length === 0) {
    throw new PreconditionFailedError(
      "No enabled email connection: connect an SMTP server first (POST /api/v1/connections, provider smtp)",
    );
  }
  if (rows.length > 1) {
    throw new ValidationError("Choose a connection", {
      connectionId: ["This tenant has several email connections; say which one sends"],
    });
  }
  const [row] = rows;
  if (!row) throw new Error("unreachable: one connection row expected");
  const connection = await connectionFromRow(ctx, row);
  if (connection.provider !== "smtp") {
    throw new PreconditionFailedError(`Connection provider '${connection.provider}' cannot send email`);
  }
  if (!connection.enabled) {
    throw new PreconditionFailedError("The email connection is disabled; enable it to send");
  }
  const refusal = plaintextRefusal(ctx, connection);
  if (refusal) throw new PreconditionFailedError(refusal);
  return connection;
}

interface CheckedInput {
  to: string[];
  cc: string[];
  subject: string | null;
  text: string | null;
  html: string | null;
  templateKey: string | null;
  variables: Record<string, unknown>;
  ticketId: string | null;
  connectionId: string | null;
  idempotencyKey: string | null;
}

/**
 * The rules every caller (API, tickets, queue) meets, with one 422 naming every problem. Addresses are
 * checked with the same parser the message builder uses, so what passes here can be sent.
 */
function checkInput(input: SendEmailInput): CheckedInput {
  const errors: Record<string, string[]> = {};
  const add = (field: string, message: string) => {
    errors[field] ??= [];
    errors[field].push(message);
  };
  const to = input.to ?? [];
  const cc = input.cc ?? [];
  if (to.length === 0) add("to", "Give at least one recipient");
  if (to.length + cc.length > MAX_RECIPIENTS)
    add("to", `At most ${MAX_RECIPIENTS} recipients (to and cc) per email`);
  try {
    envelopeRecipients(to, cc);
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    for (const [field, messages] of Object.entries(error.details ?? {})) {
      for (const m of messages as string[]) add(field, m);
    }
  }
  const templateKey = input.templateKey ?? null;
  if (templateKey !== null) {
    for (const field of ["subject", "text", "html"] as const) {
      if (input[field] !== undefined) add(field, "Not allowed with templateKey: the template provides it");
    }
  } else {
    if (input.variables !== undefined) add("variables", "Only with templateKey");
    if (input.subject === undefined || input.subject.trim() === "")
      add("subject", "Required without templateKey");
    if (input.text === undefined && input.html === undefined)
      add("text", "Give text, html or both (or a templateKey)");
  }
  if (input.subject !== undefined) {
    if (input.subject.length > MAX_SUBJECT) add("subject", `At most ${MAX_SUBJECT} characters`);
    if (/[\r\n\0]/.test(input.subject)) add("subject", "Must not contain line breaks");
  }
  if (Object.keys(errors).length > 0) throw new ValidationError("Invalid email", errors);
  // Parsed once more for the record: the domain in its ASCII form, as the message carries it.
  const normalize = (list: string[], field: string) =>
    list.map((a, i) => parseAddress(`${field}.${i}`, a).address);
  return {
    to: normalize(to, "to"),
    cc: normalize(cc, "cc"),
    subject: templateKey === null ? (input.subject ?? "").trim() : null,
    text: input.text ?? null,
    html: input.html ?? null,
    templateKey,
    variables: input.variables ?? {},
    ticketId: input.ticketId ?? null,
    connectionId: input.connectionId ?? null,
    idempotencyKey: input.idempotencyKey ?? null,
  };
}

/** JSON with object keys sorted at every level: the same request in another key order is the same request. */
function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
}
