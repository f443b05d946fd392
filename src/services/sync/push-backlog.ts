import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { SyncTrigger } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";
import { enqueueOrderPushes } from "./enqueue";
import { erpConnectionFailureFingerprint } from "./push-orders";
import { abandonStreamRun, acquireStreamLease, completeStreamRun } from "./streams";

/** Orders waiting this long for the ERP are pushed again: their message was lost or is stuck. */
const STALE_AFTER_SECONDS = 120;
const MAX_ORDERS_PER_SWEEP = 1000;

/**
 * The ERP connection's safety net: orders still `created` (or `in_flight` without an answer) a while
 * after they were stored are enqueued again. Pushes go through the ledger, so an order already in the
 * ERP is found there, never posted twice.
 */
export async function sweepPushBacklog({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; connectionId: string; trigger: SyncTrigger; jobId?: string; owner: string };
}): Promise<{ enqueued: number } | { status: "busy" }> {
  const t = input.tenantId;
  const lease = await acquireStreamLease(ctx, { ...input, resource: "push_backlog" });
  if (lease === null) return { status: "busy" };
  try {
    const [waiting] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<{ id: string }>(sql`
        select o.id from orders o
          join connections c on c.tenant_id = o.tenant_id and c.id = o.connection_id
          left join erp_push_ledger l on l.tenant_id = o.tenant_id and l.order_id = o.id
                                     and l.erp_connection_id = ${input.connectionId}
         where o.tenant_id = ${t} and c.erp_connection_id = ${input.connectionId} and c.enabled
           -- While the ERP refuses the connection itself (credentials, whitelist), a person has to act first.
           and not exists (select 1 from sync_failures f
                            where f.tenant_id = ${t} and f.fingerprint = ${erpConnectionFailureFingerprint(input.connectionId)}
                              and f.status <> 'resolved')
           and o.status = 'created' and o.updated_at < now() - make_interval(secs => ${STALE_AFTER_SECONDS})
           and (l.status is null or l.status in ('pending', 'in_flight'))
           and (l.last_attempt_at is null or l.last_attempt_at < now() - make_interval(secs => ${STALE_AFTER_SECONDS}))
         order by o.updated_at
         limit ${MAX_ORDERS_PER_SWEEP}`),
    ]);
    const ids = waiting.rows.map((row) => row.id);
    if (ids.length > 0) {
      await enqueueOrderPushes(ctx, {
        tenantId: t,
        erpConnectionId: input.connectionId,
        orderIds: ids,
        trigger: "cron",
      });
    }
    await completeStreamRun(ctx, lease, { lastEnqueued: ids.length });
    return { enqueued: ids.length };
  } catch (error) {
    await abandonStreamRun(ctx, lease, { error: String(error), final: false }).catch(() => undefined);
    throw error;
  }
}
