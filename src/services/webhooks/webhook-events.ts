import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { isUuid } from "../../lib/ids";
import type { WebhookMessage } from "../../queues/webhook-messages";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { type TimeRange, timeRangeFilters } from "../orders/time-range";
import { callerOf } from "../users/caller";
import type { WebhookSource, WebhookStatus } from "./webhook-model";

/** A stored webhook event as the API shows it (the list leaves out headers and body). */
export interface WebhookEventSummary {
  id: string;
  source: WebhookSource;
  connectionId: string | null;
  endpointId: string | null;
  providerEventId: string;
  topic: string;
  status: WebhookStatus;
  receivedAt: string;
  triggeredAt: string | null;
  processedAt: string | null;
  attempts: number;
  replayCount: number;
  bodyBytes: number;
  lastError: Record<string, unknown> | null;
  outcome: Record<string, unknown> | null;
}

export interface WebhookEventDetail extends WebhookEventSummary {
  headers: Record<string, string>;
  body: string;
  bodyEncoding: "utf8" | "base64";
  bodySha256: string;
  verification: Record<string, unknown>;
}

interface EventRow extends Record<string, unknown> {
  id: string;
  source: WebhookSource;
  connection_id: string | null;
  endpoint_id: string | null;
  provider_event_id: string;
  topic: string;
  status: WebhookStatus;
  received_at: string;
  triggered_at: string | null;
  processed_at: string | null;
  attempts: number;
  replay_count: number;
  body_bytes: number;
  last_error: Record<string, unknown> | null;
  outcome: Record<string, unknown> | null;
  headers?: Record<string, string>;
  body?: string;
  body_encoding?: "utf8" | "base64";
  body_sha256?: string;
  verification?: Record<string, unknown>;
}

const SUMMARY = sql.raw(
  "e.id, e.source, e.connection_id, e.endpoint_id, e.provider_event_id, e.topic, e.status, e.received_at, " +
    "e.triggered_at, e.processed_at, e.attempts, e.replay_count, e.body_bytes, e.last_error, e.outcome",
);

const iso = (value: string | null): string | null => (value === null ? null : new Date(value).toISOString());

function toSummary(row: EventRow): WebhookEventSummary {
  return {
    id: row.id,
    source: row.source,
    connectionId: row.connection_id,
    endpointId: row.endpoint_id,
    providerEventId: row.provider_event_id,
    topic: row.topic,
    status: row.status,
    receivedAt: new Date(row.received_at).toISOString(),
    triggeredAt: iso(row.triggered_at),
    processedAt: iso(row.processed_at),
    attempts: Number(row.attempts),
    replayCount: Number(row.replay_count),
    bodyBytes: Number(row.body_bytes),
    lastError: row.last_error,
    outcome: row.outcome,
  };
}

export interface WebhookEventFilter {
  source?: WebhookSource | undefined;
  topic?: string | undefined;
  status?: WebhookStatus[] | undefined;
  connectionId?: string | undefined;
  endpointId?: string | undefined;
  received?: TimeRange | undefined;
}

/**
 * `<receivedAt>|<id>`, base64url: the position after the last item of a page (newest first). The time is
 * Postgres' own microsecond value (`cursor_at`), not a JS Date: rounded to milliseconds, the keyset
 * comparison skipped every event received later within the boundary's millisecond (a burst of deliveries).
 */
function encodeCursor(row: { cursor_at: string; id: string }): string {
  return btoa(`${row.cursor_at}|${row.id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** An instant exactly as `encodeCursor` writes it (older cursors carry milliseconds). */
const CURSOR_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z$/;

function decodeCursor(cursor: string): { receivedAt: string; id: string } {
  try {
    const [receivedAt, id, ...rest] = atob(cursor.replace(/-/g, "+").replace(/_/g, "/")).split("|");
    // Checked strictly here: anything looser (`Date.parse` accepts "1") reached Postgres as a cast error.
    if (
      rest.length === 0 &&
      receivedAt &&
      id &&
      CURSOR_INSTANT.test(receivedAt) &&
      !Number.isNaN(Date.parse(receivedAt)) &&
      isUuid(id)
    ) {
      return { receivedAt, id };
    }
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError("Invalid cursor", { cursor: ["Use the nextCursor of a previous page"] });
}

/**
 * The tenant's webhook events, newest first, cursor-paged (`{ items, nextCursor }`): the log grows with
 * every delivery, so pages are found by position, never counted. One round trip.
 */
export async function listWebhookEvents({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: WebhookEventFilter & { limit: number; cursor?: string | undefined };
}): Promise<{ items: WebhookEventSummary[]; nextCursor: string | null }> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "webhooks:read");
  const filters: SQL[] = [sql`e.tenant_id = ${t}`];
  if (input.source) filters.push(sql`e.source = ${input.source}`);
  if (input.topic) filters.push(sql`e.topic = ${input.topic}`);
  if (input.status && input.status.length > 0)
    filters.push(sql`e.status = any(${sql.param(input.status)}::text[])`);
  if (input.connectionId) filters.push(sql`e.connection_id = ${input.connectionId}`);
  if (input.endpointId) filters.push(sql`e.endpoint_id = ${input.endpointId}`);
  if (input.received) filters.push(...timeRangeFilters(sql`e.received_at`, input.received));
  if (input.cursor) {
    const after = decodeCursor(input.cursor);
    filters.push(sql`(e.received_at, e.id) < (${after.receivedAt}::timestamptz, ${after.id}::uuid)`);
  }
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<EventRow & { cursor_at: string }>(sql`
      select ${SUMMARY},
             to_char(e.received_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at
        from webhook_events e
       where ${sql.join(filters, sql` and `)}
       order by e.received_at desc, e.id desc
       limit ${input.limit + 1}`),
  ]);
  const rows = result.rows.slice(0, input.limit);
  const last = rows[rows.length - 1];
  return {
    items: rows.map(toSummary),
    nextCursor: result.rows.length > input.limit && last ? encodeCursor(last) : null,
  };
}

/** One event with its headers and raw body, exactly as received. */
export async function getWebhookEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<WebhookEventDetail> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "webhooks:read");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<EventRow>(sql`
      select ${SUMMARY}, e.headers, e.body, e.body_encoding, e.body_sha256, e.verification
        from webhook_events e where e.tenant_id = ${t} and e.id = ${input.id}`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Webhook event not found");
  return {
    ...toSummary(row),
    headers: row.headers ?? {},
    body: row.body ?? "",
    bodyEncoding: row.body_encoding ?? "utf8",
    bodySha256: row.body_sha256 ?? "",
    verification: row.verification ?? {},
  };
}

/**
 * Processes a stored event again (a dead letter after its cause was fixed, or any event on purpose): it
 * goes back to `received` and to the queue. Safe for processed events too: applying an order or a level
 * again changes nothing unless it is newer than what is stored.
 */
export async function replayWebhookEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<WebhookEventSummary> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "webhooks:admin");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<EventRow>(sql`
      update webhook_events e
         set status = 'received', replay_count = e.replay_count + 1, enqueued_at = now(), processed_at = null,
             outcome = null, updated_at = now()
       where e.tenant_id = ${t} and e.id = ${input.id}
      returning ${SUMMARY}`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Webhook event not found");
  const message: WebhookMessage = {
    type: "webhook.process",
    tenantId: t,
    eventId: row.id,
    replayCount: Number(row.replay_count),
  };
  try {
    await ctx.queues.webhooks.send(message);
  } catch (error) {
    // The row is `received` again: the stranded-event sweep enqueues it within minutes.
    ctx.logger.error("webhook replay not enqueued; the sweep will", {
      webhookEventId: row.id,
      error: String(error),
    });
  }
  ctx.logger.info("webhook event replayed", { tenantId: t, webhookEventId: row.id });
  return toSummary(row);
}
