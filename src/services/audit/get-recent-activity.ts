import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import type { AuditRecord } from "./audit-entry";
import { auditFeedKey, FEED_LENGTH } from "./audit-feed";
import { AUDIT_COLUMNS, type AuditRow, toAuditRecord } from "./list-audit-log";

export interface RecentActivity {
  items: AuditRecord[];
  /** Where the items came from: the Redis feed, or Postgres when Redis was down or had no feed. */
  source: "cache" | "database";
}

/**
 * The tenant's newest audited changes for an activity feed. Redis first (one round trip, no Postgres):
 * the feed is written right after each commit, so it may lag a change by a moment — declared acceptable
 * for a feed; a push lost while Redis was down stays missing from it. When Redis is unreachable or holds
 * fewer records than asked (a quiet tenant, an expired or flushed list), Postgres' audit_log answers
 * instead (one round trip), so the feed is never shorter than the truth.
 */
export async function getRecentActivity({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { limit: number };
}): Promise<RecentActivity> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "tickets:read");
  const limit = Math.min(input.limit, FEED_LENGTH);
  const redis = ctx.cache.redis;
  if (redis) {
    try {
      // Over-read a little: a retried push can leave a record twice, and repeats are dropped below.
      const raw = await redis.lrange<AuditRecord | string>(auditFeedKey(ctx, t), 0, limit * 2 - 1);
      const seen = new Set<string>();
      const items: AuditRecord[] = [];
      for (const value of raw) {
        const record = typeof value === "string" ? (JSON.parse(value) as AuditRecord) : value;
        if (seen.has(record.id)) continue;
        seen.add(record.id);
        items.push(record);
        if (items.length === limit) break;
      }
      // Fewer than asked: the list may be missing older records (expired, flushed); Postgres answers whole.
      if (items.length === limit) return { items, source: "cache" };
    } catch (error) {
      ctx.logger.warn("activity feed unavailable in Redis; reading Postgres", {
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }
  }
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<AuditRow>(sql`
      select ${AUDIT_COLUMNS} from audit_log a
       where a.tenant_id = ${t}
       order by a.occurred_at desc, a.id desc
       limit ${limit}`),
  ]);
  return { items: result.rows.map(toAuditRecord), source: "database" };
}
