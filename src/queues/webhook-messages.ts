import * as z from "zod";

/** Bodies of `webhooks` queue messages: a stored, verified event to apply. The body stays in Postgres. */
export const ProcessWebhookMessage = z.object({
  type: z.literal("webhook.process"),
  tenantId: z.uuid(),
  eventId: z.uuid(),
  /**
   * The event's `replay_count` when this message was sent (absent: not known, e.g. the stranded sweep). A
   * message that runs out of retries only settles the event when no replay has been asked for since.
   */
  replayCount: z.number().int().min(0).optional(),
});

export const WebhookMessage = z.discriminatedUnion("type", [ProcessWebhookMessage]);
export type WebhookMessage = z.infer<typeof WebhookMessage>;
