// Shopify webhooks end to end: the receiver at the edge (verify → store → enqueue → 200), the queue
// consumer applying the event through the same services as the pulls, and every way a delivery is refused.
import { describe, expect, it } from "vitest";
import { bearer } from "../support/auth";
import { call, DEAD_REDIS_URL, envelope, ownerSql } from "../support/harness";
import { lingxingFake, ordersOf, setUpHub } from "../support/sync";
import { postWebhook, restOrder, sendShopifyWebhook, signShopify } from "../support/webhooks";

const SECRET = "shpss_current_client_secret_0123456789";
const PREVIOUS = "shpss_previous_client_secret_9876543210";

async function hubWithWebhooks(options: { previous?: boolean } = {}) {
  const h = await setUpHub({
    clientSecret: SECRET,
    ...(options.previous ? { previousClientSecret: PREVIOUS } : {}),
  });
  const deliver = (
    topic: string,
    order: Record<string, unknown>,
    extra: Partial<Parameters<typeof sendShopifyWebhook>[0]> = {},
    envOverrides: Partial<Env> = {},
  ) =>
    sendShopifyWebhook(
      {
        connectionId: h.channel.id,
        shop: h.shop,
        topic,
        body: JSON.stringify(order),
        secret: SECRET,
        ...extra,
      },
      { ...h.queues.env, ...envOverrides },
    );
  return { ...h, deliver };
}

async function eventsOf(tenantId: string) {
  return (await ownerSql()`
    select id, status, topic, provider_event_id, attempts, verification, last_error, outcome
      from webhook_events where tenant_id = ${tenantId} order by received_at`) as unknown as {
    id: string;
    status: string;
    topic: string;
    provider_event_id: string;
    attempts: number;
    verification: { scheme: string; secret: string };
    last_error: { code: string; message: string } | null;
    outcome: Record<string, unknown> | null;
  }[];
}

describe("Shopify webhooks: accepted, applied once, pushed", () => {
  it("acknowledges a signed orders/create, then stores the order like a pull and pushes it to the ERP", async () => {
    const h = await hubWithWebhooks();
    const order = restOrder({ lines: [{ sku: "TW-MUG-01", quantity: 3, price: "12.50" }] });
    const { response, body } = await h.deliver("orders/create", order);
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("accepted");
    expect(body.data?.eventIds).toHaveLength(1);

    // Acknowledged before any processing: stored as received, one message queued.
    const [stored] = await eventsOf(h.user.tenant.id);
    expect(stored?.status).toBe("received");
    expect(stored?.verification).toEqual({ scheme: "shopify-hmac-sha256", secret: "current" });
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(0);

    await h.queues.drain();
    const orders = await ordersOf(h.user.tenant.id);
    expect(orders.map((o) => o.external_id)).toEqual([order.admin_graphql_api_id]);
    expect(orders[0]?.status).toBe("synced");
    const inErp = (await lingxingFake.orders(h.appId)).orders;
    expect(inErp).toHaveLength(1);
    expect(inErp[0]?.items).toMatchObject([{ sku: "TW-MUG-01", quantity: 3 }]);
    const [processed] = await eventsOf(h.user.tenant.id);
    expect(processed?.status).toBe("processed");
    expect(processed?.outcome).toMatchObject({ changed: [order.admin_graphql_api_id] });
  });

  it("processes a redelivered event (same X-Shopify-Webhook-Id) once", async () => {
    const h = await hubWithWebhooks();
    const order = restOrder();
    const webhookId = crypto.randomUUID();
    const first = await h.deliver("orders/create", order, { webhookId });
    const again = await h.deliver("orders/create", order, { webhookId });
    expect(first.response.status).toBe(200);
    expect(again.response.status).toBe(200);
    expect(again.body.data?.status).toBe("duplicate");
    expect(again.body.data?.eventIds).toEqual(first.body.data?.eventIds);
    await h.queues.drain();
    expect(await eventsOf(h.user.tenant.id)).toHaveLength(1);
    const transitions = await ownerSql()`
      select to_status from order_transitions where tenant_id = ${h.user.tenant.id} order by occurred_at`;
    expect(transitions.map((t) => t.to_status)).toEqual(["created", "synced"]);
  });

  it("a captured delivery replayed under a fresh webhook id is the same event (the signature covers the body only)", async () => {
    const h = await hubWithWebhooks();
    const order = restOrder();
    const first = await h.deliver("orders/create", order);
    const replayed = await h.deliver("orders/create", order, { webhookId: crypto.randomUUID() });
    expect(replayed.response.status).toBe(200);
    expect(replayed.body.data).toEqual({ status: "duplicate", eventIds: first.body.data?.eventIds });
    // The same body under another topic is another event (Shopify sends orders/create and orders/paid alike).
    const paid = await h.deliver("orders/paid", order);
    expect(paid.body.data?.status).toBe("accepted");
    expect(await eventsOf(h.user.tenant.id)).toHaveLength(2);
  });

  it("keeps a delivery that does not say which shop it is for as a dead letter, never applied", async () => {
    const h = await hubWithWebhooks();
    const body = JSON.stringify(restOrder());
    const { response } = await postWebhook(
      `/webhooks/shopify/${h.channel.id}`,
      body,
      {
        "x-shopify-topic": "orders/create",
        "x-shopify-hmac-sha256": await signShopify(SECRET, body),
        "x-shopify-webhook-id": crypto.randomUUID(),
        "x-shopify-triggered-at": new Date().toISOString(),
      },
      h.queues.env,
    );
    expect(response.status).toBe(200);
    await h.queues.drain();
    const [event] = await eventsOf(h.user.tenant.id);
    expect(event?.status).toBe("failed");
    expect(event?.last_error?.message).toBe("Delivery has no X-Shopify-Shop-Domain");
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(0);
  });

  it("still processes a redelivery once when Redis is down (Postgres' unique index decides)", async () => {
    const h = await hubWithWebhooks();
    const order = restOrder();
    const webhookId = crypto.randomUUID();
    const noRedis = { UPSTASH_REDIS_REST_URL: DEAD_REDIS_URL };
    const first = await h.deliver("orders/create", order, { webhookId }, noRedis);
    const again = await h.deliver("orders/create", order, { webhookId }, noRedis);
    expect(first.response.status).toBe(200);
    expect(first.body.data?.status).toBe("accepted");
    expect(again.response.status).toBe(200);
    expect(again.body.data?.status).toBe("duplicate");
    expect(again.body.data?.eventIds).toEqual(first.body.data?.eventIds);
    expect(await eventsOf(h.user.tenant.id)).toHaveLength(1);
  });

  it("verifies with the secret being rotated out, and records which one matched", async () => {
    const h = await hubWithWebhooks({ previous: true });
    const withCurrent = await h.deliver("orders/create", restOrder());
    const withPrevious = await h.deliver("orders/create", restOrder(), { secret: PREVIOUS });
    expect(withCurrent.response.status).toBe(200);
    expect(withPrevious.response.status).toBe(200);
    const events = await eventsOf(h.user.tenant.id);
    expect(events.map((e) => e.verification.secret).sort()).toEqual(["current", "previous"]);
  });
});

describe("Shopify webhooks: refused", () => {
  const rejected = {
    success: false,
    error: {
      code: "WEBHOOK_REJECTED",
      message: "Webhook signature verification failed",
      details: { reason: "signature" },
    },
  };

  it.each([
    ["a wrong secret", { secret: "not-the-app-secret" }],
    ["a forged body (signature of another body)", { signedBody: JSON.stringify({ id: 1 }) }],
    ["a missing signature", { hmacHeader: "" }],
    ["a signature that is not base64", { hmacHeader: "%%%" }],
  ])("401 for %s, nothing stored", async (_, extra) => {
    const h = await hubWithWebhooks();
    const { response, body } = await h.deliver("orders/create", restOrder(), extra);
    expect(response.status).toBe(401);
    expect(body).toMatchObject(rejected);
    expect(await eventsOf(h.user.tenant.id)).toHaveLength(0);
  });

  it("401 for a truncated or re-encoded body signed as sent by Shopify", async () => {
    const h = await hubWithWebhooks();
    const order = restOrder({ note: "Bitte schnell liefern — 谢谢" });
    const original = JSON.stringify(order);
    for (const tampered of [original.slice(0, -1), JSON.stringify(order, null, 2)]) {
      const { response, body } = await sendShopifyWebhook(
        {
          connectionId: h.channel.id,
          shop: h.shop,
          topic: "orders/create",
          body: tampered,
          signedBody: original,
          secret: SECRET,
        },
        h.queues.env,
      );
      expect(response.status).toBe(401);
      expect(body).toMatchObject(rejected);
    }
    expect(await eventsOf(h.user.tenant.id)).toHaveLength(0);
  });

  it("401 for an unknown connection, and for a connection without a client secret, in the same words", async () => {
    const h = await setUpHub();
    for (const connectionId of [crypto.randomUUID(), h.channel.id]) {
      const { response, body } = await sendShopifyWebhook({
        connectionId,
        shop: h.shop,
        topic: "orders/create",
        body: JSON.stringify(restOrder()),
        secret: SECRET,
      });
      expect(response.status).toBe(401);
      expect(body).toMatchObject(rejected);
    }
  });

  it("401 stale for a valid delivery triggered outside the window", async () => {
    const h = await hubWithWebhooks();
    const { response, body } = await h.deliver("orders/create", restOrder(), {
      triggeredAt: new Date(Date.now() - 10 * 60_000).toISOString(),
    });
    expect(response.status).toBe(401);
    expect(body.error).toEqual({
      code: "WEBHOOK_REJECTED",
      message: "Webhook timestamp is outside the accepted window",
      details: { reason: "stale" },
    });
    expect(await eventsOf(h.user.tenant.id)).toHaveLength(0);
  });

  it("422 for a connection id that is not a UUID", async () => {
    const response = await call("/webhooks/shopify/not-a-uuid", { method: "POST", body: "{}" });
    expect(response.status).toBe(422);
    expect((await envelope(response)).error?.code).toBe("VALIDATION_ERROR");
  });

  it("stores a verified but malformed payload as a dead letter (200, not a 500) and lists it", async () => {
    const h = await hubWithWebhooks();
    const { response } = await sendShopifyWebhook(
      { connectionId: h.channel.id, shop: h.shop, topic: "orders/create", body: "{not json", secret: SECRET },
      h.queues.env,
    );
    expect(response.status).toBe(200);
    await h.queues.drain();
    const [event] = await eventsOf(h.user.tenant.id);
    expect(event?.status).toBe("failed");
    expect(event?.last_error?.code).toBe("MALFORMED_PAYLOAD");
    const list = await call("/api/v1/webhooks/events?status=failed", bearer(h.user.token));
    const page = await envelope<{ items: { id: string }[] }>(list);
    expect(page.data?.items.map((i) => i.id)).toEqual([event?.id]);
  });
});

describe("webhook sources", () => {
  it("counts refused deliveries per source beside what was received, for the tenant's operators", async () => {
    const h = await hubWithWebhooks();
    await h.deliver("orders/create", restOrder());
    await h.deliver("orders/create", restOrder(), { secret: "rotated-away-secret" });
    await h.deliver("orders/create", restOrder(), { secret: "rotated-away-secret" });
    await h.queues.drain();
    const response = await call("/api/v1/webhooks/sources", bearer(h.user.token));
    expect(response.status).toBe(200);
    const sources = (await envelope<{ items: Record<string, unknown>[] }>(response)).data?.items;
    expect(sources).toEqual([
      expect.objectContaining({
        source: "shopify",
        connectionId: h.channel.id,
        receiverPath: `/webhooks/shopify/${h.channel.id}`,
        enabled: true,
        lastReceivedAt: expect.any(String),
        last24h: { received: 1, processed: 1, failed: 0, pending: 0, rejected: 2 },
      }),
    ]);
  });
});
