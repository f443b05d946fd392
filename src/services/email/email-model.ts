import { sql } from "drizzle-orm";
import { updateCache } from "../../cache/dual-write";
import { cacheKeys } from "../../cache/keys";
import { UnauthorizedError } from "../../lib/errors";
import type { Permission } from "../auth/permissions";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { isoOf, isoOrNull } from "../users/caller";

export const EMAIL_STATUSES = ["queued", "sending", "sent", "failed"] as const;
export type EmailStatus = (typeof EMAIL_STATUSES)[number];

/**
 * An email as the API shows it. `status`: `queued` (waiting for its first or next attempt; `error` then
 * holds the last transient failure and `nextAttemptAt` when it is retried), `sending` (an attempt is in
 * progress), `sent` (the server accepted it: `smtpResponse` is its reply; `error` lists refused
 * recipients, if any), `failed` (final: `error` says why).
 */
export interface EmailMessageView {
  id: string;
  connectionId: string | null;
  ticketId: string | null;
  templateKey: string | null;
  from: string;
  to: string[];
  cc: string[];
  subject: string;
  status: EmailStatus;
  /** The Message-ID header Tradewind set (`<uuid@sender-domain>`); stable across retries. */
  messageId: string | null;
  smtpResponse: string | null;
  error: Record<string, unknown> | null;
  attempts: number;
  idempotencyKey: string | null;
  nextAttemptAt: string | null;
  sentAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface EmailMessageDetail extends EmailMessageView {
  bodyText: string | null;
  bodyHtml: string | null;
}

export interface EmailRow extends Record<string, unknown> {
  id: string;
  tenant_id: string;
  connection_id: string | null;
  ticket_id: string | null;
  template_key: string | null;
  from_address: string;
  to_addresses: string[] | string;
  cc_addresses: string[] | string;
  subject: string;
  status: EmailStatus;
  provider_message_id: string | null;
  smtp_response: string | null;
  error: Record<string, unknown> | string | null;
  attempts: number | string;
  idempotency_key: string | null;
  request_fingerprint: string | null;
  next_attempt_at: string | Date | null;
  sent_at: string | Date | null;
  created_at: string | Date;
  updated_at: string | Date;
}

export interface EmailDetailRow extends EmailRow {
  body_text: string | null;
  body_html: string | null;
}

const COLUMN_LIST =
  "id, tenant_id, connection_id, ticket_id, template_key, from_address, to_addresses, cc_addresses, subject, " +
  "status, provider_message_id, smtp_response, error, attempts, idempotency_key, request_fingerprint, " +
  "next_attempt_at, sent_at, created_at, updated_at";

export const EMAIL_COLUMNS = sql.raw(COLUMN_LIST);
export const EMAIL_DETAIL_COLUMNS = sql.raw(`${COLUMN_LIST}, body_text, body_html`);

/** Postgres arrays arrive parsed from the driver, or as `{a,b}` text through a raw query. */
export function textArray(value: string[] | string): string[] {
  if (Array.isArray(value)) return value;
  const inner = value.replace(/^\{|\}$/g, "");
  if (inner === "") return [];
  return inner.split(",").map((v) => v.replace(/^"|"$/g, "").replace(/\\(.)/g, "$1"));
}

function jsonOrNull(value: Record<string, unknown> | string | null): Record<string, unknown> | null {
  if (value === null) return null;
  return typeof value === "string" ? (JSON.parse(value) as Record<string, unknown>) : value;
}

export function toEmailView(row: EmailRow): EmailMessageView {
  return {
    id: row.id,
    connectionId: row.connection_id,
    ticketId: row.ticket_id,
    templateKey: row.template_key,
    from: row.from_address,
    to: textArray(row.to_addresses),
    cc: textArray(row.cc_addresses),
    subject: row.subject,
    status: row.status,
    messageId: row.provider_message_id,
    smtpResponse: row.smtp_response,
    error: jsonOrNull(row.error),
    attempts: Number(row.attempts),
    idempotencyKey: row.idempotency_key,
    nextAttemptAt: isoOrNull(row.next_attempt_at),
    sentAt: isoOrNull(row.sent_at),
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

export function toEmailDetail(row: EmailDetailRow): EmailMessageDetail {
  return { ...toEmailView(row), bodyText: row.body_text, bodyHtml: row.body_html };
}

/**
 * The recent-status copy in Redis (DESIGN §3 dual write): after every committed status change, awaited
 * so that the writes of one message land in order; a Redis failure is logged and counted, never thrown.
 */
export async function cacheEmailStatus(
  ctx: ServiceContext,
  tenantId: string,
  view: EmailMessageView,
): Promise<void> {
  const redis = ctx.cache.redis;
  if (!redis) return;
  const key = ctx.cache.key(cacheKeys.emailStatus.name(tenantId, view.id));
  await updateCache(ctx, "email status", () =>
    redis.set(key, view, { ex: cacheKeys.emailStatus.ttlSeconds }),
  );
}

/**
 * Who may use email: a signed-in user or API key holding `permission`, or Tradewind itself acting for a
 * tenant (`ctx.actor` system with `ctx.tenantId`: the ticket services, queue consumers), which has no
 * principal and is trusted because only server code can build such a context.
 */
export function emailTenantOf(ctx: ServiceContext, permission: Permission): string {
  const principal = ctx.principal;
  if (principal) {
    requirePermissionOf(principal, permission);
    if (principal.kind === "applicant") throw new UnauthorizedError("Authentication required");
    return principal.tenantId;
  }
  if (ctx.actor?.type === "system" && ctx.tenantId) return ctx.tenantId;
  throw new UnauthorizedError("Authentication required");
}
