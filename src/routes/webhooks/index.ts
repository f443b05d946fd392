import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import * as z from "zod";
import { newApp } from "../../http/app";
import { successBody } from "../../http/envelope";
import { envelopeOf, errorResponse, jsonContent } from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import type { AppEnv } from "../../http/types";
import { NotFoundError } from "../../lib/errors";
import { receiveWebhook } from "../../services/webhooks/receive-webhook";
import type { WebhookSource } from "../../services/webhooks/webhook-model";

/**
 * The receivers channels and partners call: no bearer auth (the signature is the authentication), the raw
 * body read as bytes and verified before anything parses it, a per-source rate limit, and a 200 as soon
 * as the event is stored and queued. Every refusal is an envelope with a code and no internal detail.
 */
export const webhookReceiversApp = newApp();

const ReceiptSchema = z
  .object({
    status: z.enum(["accepted", "duplicate", "unrouted"]).meta({
      description:
        "`accepted`: stored and queued now; `duplicate`: this event was received before (nothing stored again); " +
        "`unrouted`: verified, but no tenant ships or tracks the parcel (17track only)",
    }),
    eventIds: z.array(z.uuid()).meta({ description: "The stored events (GET /api/v1/webhooks/events/{id})" }),
  })
  .meta({ id: "WebhookReceipt" });

const receiverResponses = {
  200: jsonContent(envelopeOf(ReceiptSchema), "Stored (or already stored) and queued for processing"),
  401: errorResponse(
    "`WEBHOOK_REJECTED`: the signature does not verify (also for an unknown or disabled source), or the timestamp is outside the window (`details.reason: stale`)",
  ),
  404: errorResponse("The receiver is not enabled on this deployment (17track without keys)"),
  409: errorResponse("The same event is being received right now; retry"),
  413: errorResponse("The body exceeds the provider's maximum"),
  422: errorResponse("The id in the path is not a UUID"),
  429: errorResponse("Too many deliveries from this source; retry after `Retry-After`"),
};

const ScopeParams = z.object({ id: z.uuid().meta({ description: "The connection (or endpoint) id" }) });

function receiverRoute(source: Exclude<WebhookSource, "17track">, summary: string, description: string) {
  return createRoute({
    method: "post",
    path: `/${source}/{id}`,
    tags: ["Webhook receivers"],
    summary,
    description,
    // No body schema: the raw bytes are the signed message, read and verified by the handler, never parsed first.
    request: { params: ScopeParams },
    middleware: [rateLimit("webhook", { key: (c) => `${source}:${c.req.param("id") ?? ""}` })],
    responses: receiverResponses,
  });
}

async function receive(c: Context<AppEnv>, source: WebhookSource, scopeId: string | null) {
  const body = new Uint8Array(await c.req.arrayBuffer());
  const receipt = await receiveWebhook({
    ctx: c.var.services,
    input: { source, scopeId, headers: c.req.raw.headers, body },
  });
  return c.json(successBody(c, receipt), 200);
}

webhookReceiversApp.openapi(
  receiverRoute(
    "shopify",
    "Receive a Shopify webhook",
    "`X-Shopify-Hmac-Sha256` is verified over the raw body with the connection's `clientSecret` (or " +
      "`previousClientSecret` during a rotation); `X-Shopify-Webhook-Id` deduplicates; an " +
      "`X-Shopify-Triggered-At` outside `WEBHOOK_TOLERANCE_SECONDS` is stale. Topics: orders/create, " +
      "orders/updated, orders/cancelled, orders/fulfilled, refunds/create, inventory_levels/update, app/uninstalled.",
  ),
  (c) => receive(c, "shopify", c.req.valid("param").id),
);

webhookReceiversApp.openapi(
  receiverRoute(
    "tiktok",
    "Receive a TikTok Shop webhook",
    "`Authorization` (hex HMAC-SHA256 of app key + raw body, keyed by the app secret) is verified; " +
      "`tts_notification_id` deduplicates; the payload's `timestamp` must be inside the window. " +
      "Order status changes and package updates refresh the order from TikTok.",
  ),
  (c) => receive(c, "tiktok", c.req.valid("param").id),
);

webhookReceiversApp.openapi(
  receiverRoute(
    "generic",
    "Receive a Standard Webhooks delivery",
    "For ERPs and partner systems: `webhook-id`, `webhook-timestamp` and `webhook-signature` " +
      "(space-separated `v1,<base64>` HMAC-SHA256 of `id.timestamp.body`) per standardwebhooks.com, " +
      "verified with the endpoint's secret (and the previous one during a rotation).",
  ),
  (c) => receive(c, "generic", c.req.valid("param").id),
);

webhookReceiversApp.openapi(
  createRoute({
    method: "post",
    path: "/17track",
    tags: ["Webhook receivers"],
    summary: "Receive a 17track push",
    description:
      "`sign` (hex SHA-256 of the raw body + `/` + the security key) is verified against " +
      "`TRACK17_SECURITY_KEYS`. TRACKING_UPDATED / TRACKING_STOPPED update the parcel of each tenant that " +
      "registered (tag = tenant id) or shipped the tracking number.",
    // 17track is one sender for the whole platform: one shared bucket would let anyone's junk starve the
    // real pushes, so the limit is per client IP here (signatures are checked without a database call).
    middleware: [rateLimit("webhook")],
    responses: receiverResponses,
  }),
  (c) => {
    if (c.var.services.config.webhooks.track17Keys.length === 0) {
      throw new NotFoundError("The 17track receiver is not enabled");
    }
    return receive(c, "17track", null);
  },
);
