import { sql } from "drizzle-orm";
import { cacheKeys } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, WebhookRejectedError } from "../../lib/errors";
import { sha256Hex } from "../../lib/webhook-signatures";
import type { WebhookMessage } from "../../queues/webhook-messages";
import type { ServiceContext } from "../context";
import {
  type HeaderSource,
  verify17Track,
  verifyGeneric,
  verifyShopify,
  verifyTikTok,
} from "./verify-inbound";
import type { RawBody, VerifiedWebhook, WebhookSource } from "./webhook-model";

export interface InboundWebhook {
  source: WebhookSource;
  /** The connection (Shopify, TikTok) or generic endpoint named in the URL; null for 17track. */
  scopeId: string | null;
  headers: HeaderSource;
  body: Uint8Array<ArrayBuffer>;
}

export interface WebhookReceipt {
  /** `accepted`: stored now; `duplicate`: seen before (nothing stored); `unrouted`: verified, but no tenant. */
  status: "accepted" | "duplicate" | "unrouted";
  eventIds: string[];
}

/**
 * The receiving half of every webhook: verify the signature over the raw bytes (before any parse), check
 * the timestamp window, store the event exactly once, hand it to the `webhooks` queue, and only then let
 * the caller acknowledge. Processing happens in the queue consumer, so the sender's timeout only ever
 * covers a signature check, one or two Redis calls and two Postgres round trips.
 *
 * "Once" has two layers: a Redis `SET NX` claim answers most redeliveries without touching Postgres, and
 * the unique index on `(tenant_id, dedupe_key)` decides for certain, so duplicates are caught with Redis
 * down too. A failed store releases the claim, so the sender's retry is stored rather than taken for a
 * duplicate. A queue send that fails after the row committed is not an error: the cron re-enqueues
 * events left `received` (src/services/webhooks/requeue-stranded.ts).
 */
export async function receiveWebhook({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: InboundWebhook;
}): Promise<WebhookReceipt> {
  const body: RawBody = { bytes: input.body, sha256: await sha256Hex(input.body) };
  let verified: VerifiedWebhook[];
  try {
    verified = await verifySource(ctx, input, body);
  } catch (error) {
    if (error instanceof WebhookRejectedError) countRejection(ctx, input, error.reason);
    throw error;
  }
  if (verified.length === 0) {
    ctx.logger.warn("webhook verified but routed to no tenant", {
      source: input.source,
      sha256: body.sha256,
    });
    return { status: "unrouted", eventIds: [] };
  }
  const stored = await Promise.all(verified.map((event) => storeOnce(ctx, event, body)));
  const fresh = stored.filter((s) => s.fresh);
  const toProcess = fresh.filter((s) => s.status === "received");
  if (toProcess.length > 0) await enqueue(ctx, toProcess);
  for (const s of stored) {
    ctx.logger.info(s.fresh ? "webhook stored" : "webhook duplicate", {
      tenantId: s.tenantId,
      source: input.source,
      webhookEventId: s.id,
      status: s.status,
    });
  }
  return {
    status: fresh.length > 0 ? "accepted" : "duplicate",
    eventIds: stored.map((s) => s.id),
  };
}

function verifySource(ctx: ServiceContext, input: InboundWebhook, body: RawBody): Promise<VerifiedWebhook[]> {
  const scope = input.scopeId ?? "";
  switch (input.source) {
    case "shopify":
      return verifyShopify(ctx, scope, input.headers, body).then((v) => [v]);
    case "tiktok":
      return verifyTikTok(ctx, scope, input.headers, body).then((v) => [v]);
    case "17track":
      return verify17Track(ctx, input.headers, body);
    case "generic":
      return verifyGeneric(ctx, scope, input.headers, body).then((v) => [v]);
    default: {
      const unknown: never = input.source;
      throw new Error(`No verifier for webhook source ${String(unknown)}`);
    }
  }
}

interface StoredEvent {
  id: string;
  tenantId: string;
  status: "received" | "failed";
  fresh: boolean;
}

// `ignoreBOM` keeps a byte-order mark in the text: the stored body is exactly what was signed.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function encodeBody(bytes: Uint8Array<ArrayBuffer>): { body: string; encoding: "utf8" | "base64" } {
  try {
    return { body: decoder.decode(bytes), encoding: "utf8" };
  } catch {
    let binary = "";
    for (let i = 0; i < bytes.length; i += 0x8000) {
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    }
    return { body: btoa(binary), encoding: "base64" };
  }
}

type Claim = "claimed" | "unavailable" | { seen: string } | "in_flight";

/** The Redis fast path: claim the event id, or learn it was stored already (the value is its event id). */
async function claim(ctx: ServiceContext, key: string): Promise<Claim> {
  const redis = ctx.cache.redis;
  if (!redis) return "unavailable";
  try {
    const ok = await redis.set(key, "pending", { nx: true, ex: cacheKeys.webhookSeen.pendingTtlSeconds });
    if (ok === "OK") return "claimed";
    const value = await redis.get<string>(key);
    if (value === null) return "unavailable";
    return value === "pending" ? "in_flight" : { seen: String(value) };
  } catch (error) {
    ctx.logger.warn("webhook dedupe fast path unavailable; Postgres decides", { error: String(error) });
    return "unavailable";
  }
}

async function storeOnce(ctx: ServiceContext, event: VerifiedWebhook, body: RawBody): Promise<StoredEvent> {
  const key = ctx.cache.key(cacheKeys.webhookSeen.name(event.tenantId, event.dedupeKey));
  const claimed = await claim(ctx, key);
  if (claimed === "in_flight") {
    // The first delivery is being stored right now; the sender retries, and then finds it.
    throw new ConflictError("This webhook event is being received; retry shortly");
  }
  if (typeof claimed === "object") {
    return { id: claimed.seen, tenantId: event.tenantId, status: "received", fresh: false };
  }
  const status = event.malformed === null ? "received" : "failed";
  const { body: text, encoding } = encodeBody(body.bytes);
  const lastError =
    event.malformed === null
      ? null
      : JSON.stringify({ code: "MALFORMED_PAYLOAD", message: event.malformed, at: new Date().toISOString() });
  let row: { id: string; status: "received" | "failed"; fresh: boolean } | undefined;
  try {
    const t = event.tenantId;
    const [inserted, existing] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<{ id: string; status: "received" | "failed" }>(sql`
        insert into webhook_events
          (tenant_id, source, connection_id, endpoint_id, dedupe_key, provider_event_id, topic, status, headers,
           body, body_encoding, body_bytes, body_sha256, triggered_at, verification, last_error, enqueued_at)
        values (${t}, ${event.source}, ${event.connectionId}::uuid, ${event.endpointId}::uuid, ${event.dedupeKey},
                ${event.providerEventId}, ${event.topic}, ${status}, ${JSON.stringify(event.headers)}::jsonb,
                ${text}, ${encoding}, ${body.bytes.byteLength}, ${body.sha256}, ${event.triggeredAt}::timestamptz,
                ${JSON.stringify(event.verification)}::jsonb, ${lastError}::jsonb,
                case when ${status} = 'received' then now() end)
        on conflict do nothing
        returning id, status`),
      // When the insert did nothing, this names the first copy: the same event id, or (channels) the same
      // signed body for the same topic replayed under another id (unique index webhook_events_body_key).
      db.execute<{ id: string; status: "received" | "failed" }>(sql`
        select id, status from webhook_events
         where tenant_id = ${t}
           and (dedupe_key = ${event.dedupeKey}
                or (${event.connectionId}::uuid is not null and connection_id = ${event.connectionId}::uuid
                    and source = ${event.source} and topic = ${event.topic} and body_sha256 = ${body.sha256}
                    and source in ('shopify', 'tiktok') and topic <> 'app/uninstalled'))
         order by received_at limit 1`),
    ]);
    const fresh = inserted.rows[0];
    const first = existing.rows[0];
    row = fresh ? { ...fresh, fresh: true } : first ? { ...first, fresh: false } : undefined;
  } catch (error) {
    if (claimed === "claimed") await release(ctx, key);
    throw error;
  }
  if (!row) {
    // Inserted by a concurrent transaction that had not committed when ours read: it is a duplicate all the same.
    if (claimed === "claimed") await release(ctx, key);
    throw new ConflictError("This webhook event is being received; retry shortly");
  }
  const seenId = row.id;
  const redis = ctx.cache.redis;
  if (redis) {
    ctx.waitUntil(
      redis
        .set(key, seenId, { ex: cacheKeys.webhookSeen.ttlSeconds })
        .catch((error: unknown) =>
          ctx.logger.warn("webhook dedupe marker not written", { error: String(error) }),
        ),
    );
  }
  return { id: row.id, tenantId: event.tenantId, status: row.status, fresh: row.fresh };
}

async function release(ctx: ServiceContext, key: string): Promise<void> {
  try {
    await ctx.cache.redis?.del(key);
  } catch (error) {
    // The claim expires on its own within a minute; until then a retry is answered 409 and retried again.
    ctx.logger.warn("webhook dedupe claim not released", { error: String(error) });
  }
}

async function enqueue(ctx: ServiceContext, events: StoredEvent[]): Promise<void> {
  const messages = events.map((e) => ({
    body: {
      type: "webhook.process",
      tenantId: e.tenantId,
      eventId: e.id,
      replayCount: 0,
    } satisfies WebhookMessage,
  }));
  try {
    await ctx.queues.webhooks.sendBatch(messages);
  } catch (error) {
    ctx.logger.error("webhook events stored but not enqueued; the cron sweep will enqueue them", {
      events: events.map((e) => e.id),
      error: String(error),
    });
  }
}

function hourBucket(now = new Date()): string {
  return now.toISOString().slice(0, 13).replace(/[-T]/g, "");
}

/**
 * Refused deliveries are alert-worthy (a wrong secret after a rotation, or someone probing): logged as a
 * warning with `alert: true`, and counted per source and per connection/endpoint per hour in Redis.
 */
function countRejection(ctx: ServiceContext, input: InboundWebhook, reason: "signature" | "stale"): void {
  ctx.logger.warn("webhook rejected", {
    source: input.source,
    scopeId: input.scopeId,
    reason,
    alert: true,
  });
  const redis = ctx.cache.redis;
  if (!redis) return;
  const hour = hourBucket();
  const ttl = cacheKeys.webhookRejected.ttlSeconds;
  const keys = [cacheKeys.webhookRejected.name(input.source, "all", hour)];
  if (input.scopeId)
    keys.push(cacheKeys.webhookRejected.name(input.source, input.scopeId.slice(0, 64), hour));
  const pipeline = redis.pipeline();
  for (const name of keys) {
    pipeline.incr(ctx.cache.key(name));
    pipeline.expire(ctx.cache.key(name), ttl);
  }
  ctx.waitUntil(
    pipeline
      .exec()
      .catch((error: unknown) => ctx.logger.warn("webhook rejection not counted", { error: String(error) })),
  );
}

export { hourBucket };
