/**
 * What the webhook receivers share: the sources, their body limits, the Shopify topics Tradewind
 * subscribes to, and the shape of an event on its way into `webhook_events`.
 */

export const WEBHOOK_SOURCES = ["shopify", "tiktok", "17track", "generic"] as const;
export type WebhookSource = (typeof WEBHOOK_SOURCES)[number];

export const WEBHOOK_STATUSES = ["received", "processed", "ignored", "failed"] as const;
export type WebhookStatus = (typeof WEBHOOK_STATUSES)[number];

const MiB = 1024 * 1024;

/**
 * The largest body each receiver accepts, above the API's general limit. Shopify documents no hard cap for
 * HTTPS deliveries and says bodies can exceed a megabyte (orders with hundreds of lines); bodies over
 * 1,000,000 bytes are cut to `{"id": …}` on its size-limited transports, which the processor resolves
 * through the Admin API. TikTok Shop and 17track notifications are small JSON documents (17track's carry
 * the whole event history of a parcel). Standard Webhooks senders are told to keep payloads small.
 */
export const WEBHOOK_BODY_LIMITS: Record<WebhookSource, number> = {
  shopify: 5 * MiB,
  tiktok: 2 * MiB,
  "17track": 2 * MiB,
  generic: 1 * MiB,
};

const RECEIVER_PATH = /^\/webhooks\/(shopify|tiktok|17track|generic)(?:\/|$)/;

/** The body limit of the receiver at `path`, or undefined when it is not a receiver. */
export function webhookBodyLimit(path: string): number | undefined {
  const source = RECEIVER_PATH.exec(path)?.[1] as WebhookSource | undefined;
  return source === undefined ? undefined : WEBHOOK_BODY_LIMITS[source];
}

/**
 * The Shopify topics a connection subscribes to (REST names, as Shopify sends them in `X-Shopify-Topic`):
 * order lifecycle and refunds (orders), inventory levels, and the uninstall that revokes our access.
 */
export const SHOPIFY_WEBHOOK_TOPICS = [
  "orders/create",
  "orders/updated",
  "orders/cancelled",
  "orders/fulfilled",
  "refunds/create",
  "inventory_levels/update",
  "app/uninstalled",
] as const;

/** TikTok Shop notification types Tradewind acts on (others are stored and marked ignored). */
export const TIKTOK_ORDER_STATUS_CHANGE = 1;
export const TIKTOK_PACKAGE_UPDATE = 4;

/** A verified webhook, ready to be stored: one row of `webhook_events`. */
export interface VerifiedWebhook {
  tenantId: string;
  source: WebhookSource;
  connectionId: string | null;
  endpointId: string | null;
  /** The sender's event id (or the body's SHA-256 where it sends none). */
  providerEventId: string;
  /** `<source>:<scope>:<provider event id>`: unique per tenant. */
  dedupeKey: string;
  topic: string;
  triggeredAt: string | null;
  /** The headers worth keeping (never the signature itself, never auth headers). */
  headers: Record<string, string>;
  verification: { scheme: string; secret: "current" | "previous" };
  /** Set when a verified sender's payload cannot be used: stored straight as a dead letter. */
  malformed: string | null;
}

export interface RawBody {
  bytes: Uint8Array<ArrayBuffer>;
  sha256: string;
}

/** Provider ids are opaque strings; bounded so a hostile (but signed) sender cannot bloat keys and indexes. */
export function boundedId(value: string): string {
  return value.length <= 200 ? value : value.slice(0, 200);
}

export function secretLabel(index: number): "current" | "previous" {
  return index === 0 ? "current" : "previous";
}
