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
  input: { events: { tenantId: string; eventId: string }[] };
}): Promise<void> {
  const byTenant = new Map<string, string[]>();
  for (const e of input.events) byTenant.set(e.tenantId, [...(byTenant.get(e.tenantId) ?? []), e.eventId]);
  const note = JSON.stringify({ exhausted: true, at: new Date().toISOString() });
  for (const [tenantId, ids] of byTenant) {
    await tenantBatch(ctx.db.http, tenantId, (db) => [
      db.execute(sql`
        update webhook_events
           set status = 'failed', processed_at = now(), updated_at = now(),
               outcome = ${note}::jsonb,
               last_error = coalesce(last_error, '{}'::jsonb) || jsonb_build_object('exhausted', true)
         where tenant_id = ${tenantId} and id = any(${sql.param(ids)}::uuid[]) and status = 'received'`),
    ]);
    ctx.logger.warn("webhook events exhausted their retries", { tenantId, events: ids.length });
  }
}
