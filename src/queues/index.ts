import { NotFoundError } from "../lib/errors";
import { IoMetrics, runWithMetrics } from "../lib/metrics";
import { applyCacheInvalidation } from "../services/cache/invalidate-cache";
import { createServiceContext } from "../services/context";
import { deliverQueuedEmail } from "../services/email/deliver-queued-email";
import { recordDomainEvent } from "../services/events/record-domain-event";
import { consumeMessages, PermanentMessageError, recordDeadLetterBatch } from "./consume";
import { consumeChannelPull, consumeErpPush } from "./hub";
import { EventMessage } from "./messages";
import { QUEUES } from "./names";
import { consumeExhaustedWebhookEvents, consumeWebhookEvents } from "./webhooks";

/**
 * The Worker's `queue` handler: one consumer per queue name; an unknown queue fails loudly.
 */
export async function dispatchQueue(
  batch: MessageBatch,
  env: Env,
  executionCtx: ExecutionContext,
): Promise<void> {
  const metrics = new IoMetrics();
  const ctx = createServiceContext({
    env,
    waitUntil: (p) => executionCtx.waitUntil(p),
    metrics,
    logFields: { queue: batch.queue, batchSize: batch.messages.length },
  });
  ctx.actor = { type: "system", name: `queue:${batch.queue}` };
  await runWithMetrics(metrics, async () => {
    switch (batch.queue) {
      case QUEUES.EVENTS:
        return consumeMessages(ctx, batch, EventMessage, async (event) => {
          switch (event.type) {
            case "cache.invalidate":
              return applyCacheInvalidation({ ctx, input: event });
            case "email.send":
              return deliverQueuedEmail({ ctx, input: event }).then(() => undefined);
            case "user.created":
            case "user.updated":
            case "user.deleted":
            case "ticket.sla_at_risk":
            case "ticket.sla_breached":
              return recordDomainEvent({ ctx, input: event }).then(
                () => undefined,
                (error: unknown) => {
                  // The event's tenant is gone: no retry can ever record it.
                  if (error instanceof NotFoundError) throw new PermanentMessageError(error.message);
                  throw error;
                },
              );
            default: {
              const unhandled: never = event;
              throw new PermanentMessageError(`No handler for event ${JSON.stringify(unhandled)}`);
            }
          }
        });
      case QUEUES.CHANNEL_PULL:
        return consumeChannelPull(ctx, batch);
      case QUEUES.ERP_PUSH:
        return consumeErpPush(ctx, batch);
      case QUEUES.WEBHOOKS:
        return consumeWebhookEvents(ctx, batch);
      case QUEUES.WEBHOOKS_DLQ:
        return consumeExhaustedWebhookEvents(ctx, batch);
      case QUEUES.CHANNEL_PULL_DLQ:
      case QUEUES.ERP_PUSH_DLQ:
      case QUEUES.EVENTS_DLQ:
        return recordDeadLetterBatch(ctx, batch);
      default:
        throw new Error(`No consumer for queue '${batch.queue}'`);
    }
  });
  ctx.logger.info("queue batch", {
    db: { rt: metrics.dbRoundTrips, ms: Math.round(metrics.dbMs) },
    cache: { rt: metrics.cacheRoundTrips, ms: Math.round(metrics.cacheMs) },
  });
}
