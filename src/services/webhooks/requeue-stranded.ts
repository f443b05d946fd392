import { sql } from "drizzle-orm";
import type { WebhookMessage } from "../../queues/webhook-messages";
import type { ServiceContext } from "../context";

/** A stored event not handed to the queue for this long is taken as stranded. */
export const STRANDED_AFTER_SECONDS = 120;
const MAX_PER_RUN = 1000;
const MAX_MESSAGES_PER_SEND = 100;

/**
 * The guarantee behind "never drop an accepted event": the receiver acknowledges once the event row has
 * committed, so if its queue send failed (or a message vanished), the row is still `received`. This cron
 * job claims such rows across tenants (one statement, moving `enqueued_at` so overlapping runs never claim
 * one twice) and enqueues them again. Events in a retry backoff are not stranded: each attempt pushes
 * `enqueued_at` past the longest backoff.
 */
export async function requeueStrandedWebhookEvents({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<{ enqueued: number }> {
  const claimed = await ctx.db.http.execute<{ tenant_id: string; id: string }>(
    sql`select tenant_id, id from claim_stranded_webhook_events(${STRANDED_AFTER_SECONDS}, ${MAX_PER_RUN})`,
  );
  const messages = claimed.rows.map((row) => ({
    body: { type: "webhook.process", tenantId: row.tenant_id, eventId: row.id } satisfies WebhookMessage,
  }));
  for (let i = 0; i < messages.length; i += MAX_MESSAGES_PER_SEND) {
    await ctx.queues.webhooks.sendBatch(messages.slice(i, i + MAX_MESSAGES_PER_SEND));
  }
  if (messages.length > 0)
    ctx.logger.warn("stranded webhook events enqueued again", { events: messages.length });
  return { enqueued: messages.length };
}
