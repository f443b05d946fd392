import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { RateGovernor } from "../../durable-objects/rate-governor";
import type { StreamResource } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";
import { jsonOf } from "../orders/order-view";
import type { SyncJobStatus, SyncJobType } from "../sync-jobs/sync-job-view";
import { governorStatus } from "../upstream/governor-gate";
import type { BreakerView } from "../upstream/governor-policy";
import { callerOf, isoOf, isoOrNull } from "../users/caller";

/** Reads the breakers of one upstream account (`<provider>:<account>`) from its rate governor. */
export type BreakerReader = (accountKey: string) => Promise<BreakerView[]>;

/** The production reader: the account's `RateGovernor` Durable Object. */
export function governorBreakerReader(namespace: DurableObjectNamespace<RateGovernor>): BreakerReader {
  return async (accountKey) => (await governorStatus(namespace, accountKey)).breakers;
}

export interface StreamStatus {
  resource: StreamResource;
  lastSuccessAt: string | null;
  lastRunAt: string | null;
  /** Seconds since the last success; null when the stream never succeeded. */
  lagSeconds: number | null;
  nextDueAt: string;
  /** A consumer holds the stream right now. */
  leased: boolean;
  consecutiveFailures: number;
  lastError: string | null;
}

export interface ConnectionSyncStatus {
  connectionId: string;
  provider: string;
  kind: "channel" | "erp";
  displayName: string;
  enabled: boolean;
  streams: StreamStatus[];
  backlog: {
    /** Push ledger rows `pending` or `in_flight`: to this ERP, or of this channel's orders. */
    pendingPushes: number;
    /** Shipments waiting to be written back: reported by this ERP, or of this channel's orders. */
    pendingWritebacks: number;
  };
  /** Unresolved (`open` or `replaying`) failures by operation. */
  openFailures: { pull: number; push: number; writeback: number };
  lastJob: { id: string; type: SyncJobType; status: SyncJobStatus; finishedAt: string | null } | null;
  /** Null when the rate governor could not be asked (the rest of the status still answers). */
  breakers: BreakerView[] | null;
}

export interface SyncStatus {
  generatedAt: string;
  connections: ConnectionSyncStatus[];
}

type Timestamp = string | Date;

interface StreamJson {
  resource: StreamResource;
  lastSuccessAt: Timestamp | null;
  lastRunAt: Timestamp | null;
  lagSeconds: number | null;
  nextDueAt: Timestamp;
  leased: boolean;
  consecutiveFailures: number;
  lastError: string | null;
}

interface StatusRow extends Record<string, unknown> {
  id: string;
  provider: string;
  kind: "channel" | "erp";
  account: string;
  display_name: string;
  enabled: boolean;
  streams: StreamJson[] | string;
  pending_pushes: number;
  pending_writebacks: number;
  open_failures: Partial<Record<"pull" | "push" | "writeback", number>> | string | null;
  last_job: {
    id: string;
    type: SyncJobType;
    status: SyncJobStatus;
    finishedAt: Timestamp | null;
  } | null;
  now: Timestamp;
}

/** A governor that does not answer quickly must not hold up the status page. */
const BREAKER_TIMEOUT_MS = 1500;

/**
 * The health of every connection of the tenant: each stream's lag and lease, the push and write-back
 * backlog, unresolved failures, the last job, and the breakers of its upstream account. The Postgres part
 * is one statement in one round trip; the governors are asked in parallel, and one that fails or is slow
 * only blanks that connection's `breakers`.
 */
export async function getSyncStatus({
  ctx,
  input = {},
}: {
  ctx: ServiceContext;
  input?: { readBreakers?: BreakerReader | undefined };
}): Promise<SyncStatus> {
  const t = callerOf(ctx).tenantId;
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<StatusRow>(sql`
      select c.id, c.provider, c.kind, c.account, c.display_name, c.enabled, now() as now,
        coalesce((select json_agg(json_build_object(
                    'resource', s.resource,
                    'lastSuccessAt', s.last_success_at,
                    'lastRunAt', s.last_run_at,
                    'lagSeconds', floor(extract(epoch from now() - s.last_success_at))::bigint,
                    'nextDueAt', s.next_due_at,
                    'leased', coalesce(s.lease_until > now(), false),
                    'consecutiveFailures', s.consecutive_failures,
                    'lastError', s.last_error) order by s.resource)
                    from sync_streams s where s.tenant_id = c.tenant_id and s.connection_id = c.id),
                 '[]'::json) as streams,
        (case when c.kind = 'erp' then
           (select count(*) from erp_push_ledger l
             where l.tenant_id = c.tenant_id and l.erp_connection_id = c.id and l.status in ('pending', 'in_flight'))
         else
           (select count(*) from erp_push_ledger l join orders o on o.tenant_id = l.tenant_id and o.id = l.order_id
             where l.tenant_id = c.tenant_id and o.connection_id = c.id and l.status in ('pending', 'in_flight'))
         end)::int as pending_pushes,
        (case when c.kind = 'erp' then
           (select count(*) from shipments sh
             where sh.tenant_id = c.tenant_id and sh.source_connection_id = c.id and sh.writeback_status = 'pending')
         else
           (select count(*) from shipments sh join orders o on o.tenant_id = sh.tenant_id and o.id = sh.order_id
             where sh.tenant_id = c.tenant_id and o.connection_id = c.id and sh.writeback_status = 'pending')
         end)::int as pending_writebacks,
        (select json_object_agg(f.operation, f.n) from (
           select operation, count(*)::int as n from sync_failures
            where tenant_id = c.tenant_id and connection_id = c.id and status <> 'resolved'
            group by operation) f) as open_failures,
        (select json_build_object('id', j.id, 'type', j.type, 'status', j.status, 'finishedAt', j.finished_at)
           from sync_jobs j where j.tenant_id = c.tenant_id and j.connection_id = c.id
          order by j.created_at desc, j.id desc limit 1) as last_job
        from connections c
       where c.tenant_id = ${t} and c.kind in ('channel', 'erp')
       order by c.kind, lower(c.display_name), c.id`),
  ]);
  const rows = result.rows;
  const breakers = await Promise.all(
    rows.map((row) => readBreakersSafely(ctx, input.readBreakers, `${row.provider}:${row.account}`)),
  );
  const generatedAt = rows[0] ? isoOf(rows[0].now) : new Date().toISOString();
  return {
    generatedAt,
    connections: rows.map((row, i) => {
      const failures = row.open_failures === null ? {} : jsonOf(row.open_failures);
      const lastJob = row.last_job === null ? null : jsonOf(row.last_job);
      return {
        connectionId: row.id,
        provider: row.provider,
        kind: row.kind,
        displayName: row.display_name,
        enabled: row.enabled,
        streams: jsonOf(row.streams).map((s) => ({
          resource: s.resource,
          lastSuccessAt: isoOrNull(s.lastSuccessAt),
          lastRunAt: isoOrNull(s.lastRunAt),
          lagSeconds: s.lagSeconds === null ? null : Math.max(0, Number(s.lagSeconds)),
          nextDueAt: isoOf(s.nextDueAt),
          leased: s.leased,
          consecutiveFailures: Number(s.consecutiveFailures),
          lastError: s.lastError,
        })),
        backlog: {
          pendingPushes: Number(row.pending_pushes),
          pendingWritebacks: Number(row.pending_writebacks),
        },
        openFailures: {
          pull: failures.pull ?? 0,
          push: failures.push ?? 0,
          writeback: failures.writeback ?? 0,
        },
        lastJob:
          lastJob === null
            ? null
            : {
                id: lastJob.id,
                type: lastJob.type,
                status: lastJob.status,
                finishedAt: isoOrNull(lastJob.finishedAt),
              },
        breakers: breakers[i] ?? null,
      };
    }),
  };
}

async function readBreakersSafely(
  ctx: ServiceContext,
  read: BreakerReader | undefined,
  accountKey: string,
): Promise<BreakerView[] | null> {
  if (!read) return null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error("rate governor did not answer in time")), BREAKER_TIMEOUT_MS);
    });
    return await Promise.race([read(accountKey), timeout]);
  } catch (error) {
    ctx.logger.warn("breakers unavailable for sync status", {
      accountKey,
      error: error instanceof Error ? error.message : String(error),
    });
    return null;
  } finally {
    if (timer !== undefined) clearTimeout(timer);
  }
}
