import { sql } from "drizzle-orm";
import { cacheKeys } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { hourBucket } from "./receive-webhook";

/** One place deliveries come from, with the numbers an operator watches. */
export interface WebhookSourceHealth {
  source: "shopify" | "tiktok" | "generic";
  connectionId: string | null;
  endpointId: string | null;
  name: string;
  receiverPath: string;
  enabled: boolean;
  /** Subscriptions at the channel as last synced (channels), null for generic endpoints. */
  subscription: Record<string, unknown> | null;
  lastReceivedAt: string | null;
  last24h: {
    received: number;
    processed: number;
    failed: number;
    pending: number;
    /**
     * Deliveries refused (bad signature or stale) in the last 24 hours: a rising count means a wrong or
     * rotated secret, or someone probing. Null when Redis, where they are counted, is unavailable.
     */
    rejected: number | null;
  };
}

interface SourceRow extends Record<string, unknown> {
  source: "shopify" | "tiktok" | "generic";
  connection_id: string | null;
  endpoint_id: string | null;
  name: string;
  enabled: boolean;
  subscription: Record<string, unknown> | null;
  last_received_at: string | null;
  received: string;
  processed: string;
  failed: string;
  pending: string;
}

/** The last 24 UTC hours' bucket names, newest first. */
function lastDayBuckets(now = Date.now()): string[] {
  return Array.from({ length: 24 }, (_, i) => hourBucket(new Date(now - i * 3600_000)));
}

/**
 * The tenant's webhook sources (its Shopify/TikTok connections and generic endpoints) with the last day's
 * deliveries: one Postgres round trip for the stored events, one Redis round trip for the refused ones.
 */
export async function listWebhookSources({ ctx }: { ctx: ServiceContext }): Promise<WebhookSourceHealth[]> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "webhooks:read");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SourceRow>(sql`
      with sources as (
        select c.provider as source, c.id as connection_id, null::uuid as endpoint_id, c.display_name as name,
               c.enabled, c.webhook_state as subscription, c.created_at
          from connections c
         where c.tenant_id = ${t} and c.kind = 'channel' and c.provider in ('shopify', 'tiktok')
        union all
        select 'generic', null, e.id, e.name, e.enabled, null, e.created_at
          from webhook_endpoints e where e.tenant_id = ${t}
      )
      select s.source, s.connection_id, s.endpoint_id, s.name, s.enabled, s.subscription,
             st.last_received_at, coalesce(st.received, 0)::text as received,
             coalesce(st.processed, 0)::text as processed, coalesce(st.failed, 0)::text as failed,
             coalesce(st.pending, 0)::text as pending
        from sources s
        left join lateral (
          select max(e.received_at) as last_received_at,
                 count(*) as received,
                 count(*) filter (where e.status = 'processed') as processed,
                 count(*) filter (where e.status = 'failed') as failed,
                 count(*) filter (where e.status = 'received') as pending
            from webhook_events e
           where e.tenant_id = ${t} and e.received_at > now() - interval '24 hours'
             -- A generic endpoint's events may name its linked connection: they count for the endpoint only.
             and (e.endpoint_id = s.endpoint_id or (s.endpoint_id is null and e.endpoint_id is null
                                                     and e.connection_id = s.connection_id))
        ) st on true
       order by s.created_at, s.name`),
  ]);
  const rows = result.rows;
  const rejected = await rejectedLastDay(
    ctx,
    rows.map((r) => ({ source: r.source, scope: (r.connection_id ?? r.endpoint_id ?? "").slice(0, 64) })),
  );
  return rows.map((r, i) => {
    const scopeId = r.connection_id ?? r.endpoint_id ?? "";
    return {
      source: r.source,
      connectionId: r.connection_id,
      endpointId: r.endpoint_id,
      name: r.name,
      receiverPath: `/webhooks/${r.source}/${scopeId}`,
      enabled: r.enabled,
      subscription: r.subscription,
      lastReceivedAt: r.last_received_at === null ? null : new Date(r.last_received_at).toISOString(),
      last24h: {
        received: Number(r.received),
        processed: Number(r.processed),
        failed: Number(r.failed),
        pending: Number(r.pending),
        rejected: rejected === null ? null : (rejected[i] ?? 0),
      },
    };
  });
}

async function rejectedLastDay(
  ctx: ServiceContext,
  scopes: { source: string; scope: string }[],
): Promise<number[] | null> {
  const redis = ctx.cache.redis;
  if (!redis) return null;
  if (scopes.length === 0) return [];
  const buckets = lastDayBuckets();
  const keys = scopes.flatMap(({ source, scope }) =>
    buckets.map((hour) => ctx.cache.key(cacheKeys.webhookRejected.name(source, scope, hour))),
  );
  try {
    const values = await redis.mget<(number | string | null)[]>(...keys);
    return scopes.map((_, i) =>
      values
        .slice(i * buckets.length, (i + 1) * buckets.length)
        .reduce<number>((n, v) => n + Number(v ?? 0), 0),
    );
  } catch (error) {
    ctx.logger.warn("webhook rejection counts unavailable", { error: String(error) });
    return null;
  }
}
