import { backoffSeconds } from "../lib/backoff";
import { UpstreamError } from "../lib/errors";
import type { ServiceContext } from "../services/context";
import { recordDeadLetters } from "../services/dead-letters/record-dead-letters";
import { markWebhookEventsExhausted } from "../services/webhooks/mark-exhausted";
import { processWebhookEvent } from "../services/webhooks/process-webhook-event";
import { toDeadLetter } from "./consume";
import { WebhookMessage } from "./webhook-messages";

/**
 * `webhooks`: applies stored events one message at a time. The processor settles permanent failures on the
 * event itself (a dead letter the events API lists and replays) and throws only transient ones, which are
 * retried here with backoff (honouring an upstream Retry-After). A message that is not ours is recorded
 * in the platform's dead letters rather than crashing the batch.
 */
export async function consumeWebhookEvents(ctx: ServiceContext, batch: MessageBatch): Promise<void> {
  for (const message of batch.messages) {
    const parsed = WebhookMessage.safeParse(message.body);
    if (!parsed.success) {
      try {
        await recordDeadLetters({ ctx, input: [toDeadLetter(batch.queue, message, "invalid message")] });
        message.ack();
      } catch {
        message.retry({ delaySeconds: backoffSeconds(message.attempts) });
      }
      continue;
    }
    try {
      const result = await processWebhookEvent({ ctx, input: parsed.data });
      ctx.logger.info("webhook event processed", {
        tenantId: parsed.data.tenantId,
        webhookEventId: parsed.data.eventId,
        status: result.status,
      });
      message.ack();
    } catch (error) {
      const retryAfterSeconds = error instanceof UpstreamError ? error.retryAfterSeconds : undefined;
      const delaySeconds = backoffSeconds(message.attempts, { retryAfterSeconds });
      ctx.logger.warn("webhook event retry", {
        tenantId: parsed.data.tenantId,
        webhookEventId: parsed.data.eventId,
        attempts: message.attempts,
        delaySeconds,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      message.retry({ delaySeconds });
    }
  }
}

/** `webhooks-dlq`: events whose retries ran out are settled `failed`, to be replayed by a person. */
export async function consumeExhaustedWebhookEvents(ctx: ServiceContext, batch: MessageBatch): Promise<void> {
  const events: WebhookMessage[] = [];
  const foreign: Message[] = [];
  for (const message of batch.messages) {
    const parsed = WebhookMessage.safeParse(message.body);
    if (parsed.success) events.push(parsed.data);
    else foreign.push(message);
  }
  await markWebhookEventsExhausted({ ctx, input: { events } });
  if (foreign.length > 0) {
    await recordDeadLetters({
      ctx,
      input: foreign.map((m) => toDeadLetter(batch.queue, m, "retries exhausted")),
    });
  }
  batch.ackAll();
}
