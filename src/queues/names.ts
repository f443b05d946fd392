/** Queue names exactly as declared in wrangler.toml; the dispatcher switches on these. */
export const QUEUES = {
  CHANNEL_PULL: "channel-pull",
  ERP_PUSH: "erp-push",
  EVENTS: "events",
  WEBHOOKS: "webhooks",
  CHANNEL_PULL_DLQ: "channel-pull-dlq",
  ERP_PUSH_DLQ: "erp-push-dlq",
  EVENTS_DLQ: "events-dlq",
  WEBHOOKS_DLQ: "webhooks-dlq",
} as const;

export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];
