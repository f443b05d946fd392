import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, ServiceUnavailableError, ValidationError } from "../../lib/errors";
import type { ChannelPullMessage } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";

/** Backfills reaching further back than this go through the channel's bulk export. */
const BULK_THRESHOLD_MS = 7 * 24 * 3600 * 1000;

export interface TriggeredJob {
  id: string;
  type: "pull" | "backfill" | "push" | "writeback";
  resource: string;
  status: "queued";
}

/**
 * `POST /connections/{id}/sync`: runs the connection's streams now, or backfills a channel's orders from
 * a date. Each run gets its sync_jobs row (queued) before the message is sent, so it is visible at once.
 */
export async function triggerConnectionSync({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { connectionId: string; since?: string; mode?: "auto" | "paged" | "bulk" };
}): Promise<{ jobs: TriggeredJob[] }> {
  const { tenantId: t } = callerOf(ctx);
  const [found] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ kind: string; enabled: boolean; resources: string[] | null }>(sql`
      select c.kind, c.enabled,
             (select array_agg(s.resource order by s.resource) from sync_streams s
               where s.tenant_id = c.tenant_id and s.connection_id = c.id) as resources
        from connections c where c.tenant_id = ${t} and c.id = ${input.connectionId}`),
  ]);
  const connection = found.rows[0];
  if (!connection) throw new NotFoundError("Connection not found");
  if (!connection.enabled) {
    throw new ValidationError("The connection is disabled", { enabled: ["Enable the connection first"] });
  }
  const messages: ChannelPullMessage[] = [];
  const jobs: TriggeredJob[] = [];
  if (input.since !== undefined) {
    if (connection.kind !== "channel") {
      throw new ValidationError("Only channel connections can be backfilled", { since: ["Not for an ERP"] });
    }
    const since = Date.parse(input.since);
    if (since > Date.now())
      throw new ValidationError("Backfill must start in the past", { since: ["In the future"] });
    const mode =
      input.mode === "paged" || input.mode === "bulk"
        ? input.mode
        : Date.now() - since > BULK_THRESHOLD_MS
          ? "bulk"
          : "paged";
    const jobId = crypto.randomUUID();
    jobs.push({ id: jobId, type: "backfill", resource: "orders", status: "queued" });
    messages.push({
      type: "orders.backfill",
      tenantId: t,
      connectionId: input.connectionId,
      jobId,
      since: new Date(since).toISOString(),
      mode,
    });
  } else {
    for (const resource of connection.resources ?? []) {
      const jobId = crypto.randomUUID();
      const type = resource === "shipments" ? "writeback" : resource === "push_backlog" ? "push" : "pull";
      jobs.push({ id: jobId, type, resource, status: "queued" });
      messages.push({
        type: "stream.run",
        tenantId: t,
        connectionId: input.connectionId,
        resource: resource as "orders",
        trigger: "manual",
        jobId,
      });
    }
  }
  await tenantBatch(ctx.db.http, t, (db) => [
    db.execute(sql`
      insert into sync_jobs (id, tenant_id, connection_id, type, resource, trigger, status, params)
      select x.id, ${t}, ${input.connectionId}, x.type, x.resource, 'manual', 'queued', x.params
        from jsonb_to_recordset(${JSON.stringify(
          jobs.map((job, i) => ({
            ...job,
            params: messages[i]?.type === "orders.backfill" ? messages[i] : {},
          })),
        )}::jsonb) as x(id uuid, type text, resource text, params jsonb)`),
  ]);
  try {
    await ctx.queues.channelPull.sendBatch(messages.map((body) => ({ body })));
  } catch (error) {
    ctx.logger.error("enqueueing a manual sync failed", { error: String(error) });
    await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        update sync_jobs set status = 'failed', last_error = 'could not be enqueued', finished_at = now()
         where tenant_id = ${t} and id = any(${sql.param(jobs.map((j) => j.id))}::uuid[])`),
    ]);
    throw new ServiceUnavailableError("The sync queue is unavailable; try again shortly");
  }
  return { jobs };
}
