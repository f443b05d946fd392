import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";

/**
 * Events whose processing kept failing until the queue gave up: settled `failed`, with the last error kept
 * beside it, so they show among the dead letters (status=failed) and can be replayed once the cause is fixed.
 */
export async function markWebhookEventsExhausted({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { events: { tenantId: string; eventId: string; replayCount?: number | undefined }[] };
}): Promise<void> {
  const byTenant = new Map<string, { id: string; replay_count: number | null }[]>();
  for (const e of input.events) {
    byTenant.set(e.tenantId, [
      ...(byTenant.get(e.tenantId) ?? []),
      { id: e.eventId, replay_count: e.replayCount ?? null },
    ]);
  }
  const note = JSON.stringify({ exhausted: true, at: new Date().toISOString() });
  for (const [tenantId, events] of byTenant) {
    // An event replayed after this message was sent belongs to the replay's message now: left alone.
    await tenantBatch(ctx.db.http, tenantId, (db) => [
      db.execute(sql`
        update webhook_events e
           set status = 'failed', processed_at = now(), updated_at = now(),
               outcome = ${note}::jsonb,
               last_error = coalesce(e.last_error, '{}'::jsonb) || jsonb_build_object('exhausted', true)
          from jsonb_to_recordset(${JSON.stringify(events)}::jsonb) as x(id uuid, replay_count integer)
         where e.tenant_id = ${tenantId} and e.id = x.id and e.status = 'received'
           and (x.replay_count is null or e.replay_count = x.replay_count)`),
    ]);
    ctx.logger.warn("webhook events exhausted their retries", { tenantId, events: events.length });
  }
}
