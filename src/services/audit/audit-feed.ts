/**
 * The recent-activity feed: the newest audit records of a tenant in a Redis list
 * (`audit:recent:<tenant>`, newest first, capped at FEED_LENGTH). Postgres' `audit_log` is the truth; the
 * list is written after the commit (DESIGN.md §3 dual writes: retried once, then logged and counted, never
 * failing the change) and read first by `GET /api/v1/audit/recent`, which falls back to Postgres when
 * Redis is down or the list is gone.
 */
import { updateCache } from "../../cache/dual-write";
import { cacheKeys } from "../../cache/keys";
import type { ServiceContext } from "../context";
import type { AuditRecord } from "./audit-entry";

export const FEED_LENGTH = cacheKeys.auditRecent.maxLength;

export function auditFeedKey(ctx: ServiceContext, tenantId: string): string {
  return ctx.cache.key(cacheKeys.auditRecent.name(tenantId));
}

/** After the commit: push `records` (oldest first, so the newest ends up at the head) in the background. */
export function publishAuditFeed(
  ctx: ServiceContext,
  tenantId: string,
  records: readonly AuditRecord[],
): void {
  const redis = ctx.cache.redis;
  if (!redis || records.length === 0) return;
  const key = auditFeedKey(ctx, tenantId);
  const values = records.map((r) => JSON.stringify(r));
  ctx.waitUntil(
    // MULTI/EXEC: push, trim and TTL apply together. A retry after an answer lost in transit can push a
    // record twice; readers drop repeated ids.
    updateCache(ctx, "audit feed", async () => {
      const tx = redis.multi();
      tx.lpush(key, ...values);
      tx.ltrim(key, 0, FEED_LENGTH - 1);
      tx.expire(key, cacheKeys.auditRecent.ttlSeconds);
      await tx.exec();
    }),
  );
}
