import * as z from "zod";

/** Bodies of `webhooks` queue messages: a stored, verified event to apply. The body stays in Postgres. */
export const ProcessWebhookMessage = z.object({
  type: z.literal("webhook.process"),
  tenantId: z.uuid(),
  eventId: z.uuid(),
});

export const WebhookMessage = z.discriminatedUnion("type", [ProcessWebhookMessage]);
export type WebhookMessage = z.infer<typeof WebhookMessage>;
