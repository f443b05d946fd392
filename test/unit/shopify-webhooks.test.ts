import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createShopifyAdapter, type ShopifyAdapterInput } from "../../src/adapters/channels/shopify/client";
import {
  inventoryItemsByIdQuery,
  MAX_SINGLE_QUERY_COST,
  maxInventoryItemsPerNodesQuery,
  maxOrdersPerNodesQuery,
  ordersByIdQuery,
  webhookSubscriptionsQuery,
} from "../../src/adapters/channels/shopify/queries";
import {
  parseShopifyWebhookBody,
  toOrderWebhook,
} from "../../src/adapters/channels/shopify/webhook-transform";
import { Order } from "../../src/domain/commerce";
import { UpstreamError } from "../../src/lib/errors";
import { type UpstreamGate, ungatedUpstream } from "../../src/lib/upstream-gate";
import { restOrderPayload, type ShopifyFake, signShopifyWebhook, startShopifyFake } from "../fakes/shopify";

let fake: ShopifyFake;
let shopCount = 0;
const API_VERSION = "2026-10";

beforeAll(async () => {
  fake = await startShopifyFake({ webhookRetryDelaysMs: [20, 50] });
});

afterAll(async () => {
  await fake.close();
});

function newShop(options: { clientSecret?: string } = {}) {
  const shop = `tw-hooks-${++shopCount}-${Date.now().toString(36)}.myshopify.com`;
  const accessToken = `shpat_${crypto.randomUUID().replaceAll("-", "")}`;
  fake.createShop({ shop, accessToken, ...options });
  return { shop, accessToken };
}

function adapterFor(
  { shop, accessToken }: { shop: string; accessToken: string },
  overrides: Partial<ShopifyAdapterInput> = {},
) {
  return createShopifyAdapter({
    shopDomain: shop,
    credentials: { accessToken },
    apiBase: `${fake.url}/shops/{shop}`,
    gate: ungatedUpstream,
    timeoutMs: 2000,
    sleep: async () => undefined,
    ...overrides,
  });
}

/** Records the cost asked of the governor for every request. */
function costGate(costs: number[]): UpstreamGate {
  return {
    async acquire({ cost }) {
      costs.push(cost);
      return { release: async () => undefined };
    },
  };
}

async function failure(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UpstreamError) return error;
    throw error;
  }
  throw new Error("expected a rejection");
}

/** Raw GraphQL against the fake, for setting up what another app or a person would have done. */
async function graphql(shop: { shop: string; accessToken: string }, query: string, variables: object) {
  const response = await fetch(`${fake.url}/shops/${shop.shop}/admin/api/${API_VERSION}/graphql.json`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-shopify-access-token": shop.accessToken },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: Record<string, unknown>; errors?: unknown[] };
}

describe("document costs", () => {
  it("sizes nodes(ids:) chunks to the 1,000-point ceiling, like pages", () => {
    const most = maxOrdersPerNodesQuery();
    expect(most).toBeGreaterThanOrEqual(5);
    const ids = (n: number) => Array.from({ length: n }, (_, i) => `gid://shopify/Order/${i + 1}`);
    expect(ordersByIdQuery(ids(most)).cost).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
    expect(() => ordersByIdQuery(ids(most + 1))).toThrow(RangeError);
    expect(maxInventoryItemsPerNodesQuery()).toBe(250);
    expect(inventoryItemsByIdQuery(["gid://shopify/InventoryItem/1"]).cost).toBe(1);
    expect(webhookSubscriptionsQuery({ uri: "https://example.com/h", after: null }).cost).toBe(252);
  });
});

describe("getOrders", () => {
  it("reads orders by id exactly as a page maps them; unknown and foreign ids are absent", async () => {
    const shop = newShop();
    const [a, , c] = fake.seedOrders(shop.shop, 3);
    if (a === undefined || c === undefined) throw new Error("no orders seeded");
    const costs: number[] = [];
    const adapter = adapterFor(shop, { gate: costGate(costs) });
    const { orders, rejected } = await adapter.getOrders([
      a.id,
      c.id,
      a.id,
      "gid://shopify/Order/999999999",
      "gid://shopify/Product/8801",
      "not-a-gid",
    ]);
    expect(rejected).toEqual([]);
    expect(orders.map((o) => o.externalId)).toEqual([a.id, c.id]);
    for (const order of orders) Order.parse(order);
    // The same orders as the pull gives them.
    const page = await adapter.listOrdersUpdatedSince({
      updatedSince: "2020-01-01T00:00:00Z",
      cursor: null,
      pageSize: 10,
    });
    expect(orders).toEqual(page.orders.filter((o) => o.externalId === a.id || o.externalId === c.id));
    // The governor was asked for what Shopify computed; malformed ids never reached Shopify.
    const requested = fake.stats(shop.shop).requestedCosts;
    expect(costs[0]).toBe(requested[0]);
    expect(costs[0]).toBe(
      ordersByIdQuery(["gid://shopify/Order/1", "gid://shopify/Order/2", "gid://shopify/Order/3"]).cost,
    );
  });

  it("chunks many ids under the cost ceiling and gathers the lines beyond the inline ones", async () => {
    const shop = newShop();
    const big = fake.seedOrders(shop.shop, [
      { lines: Array.from({ length: 13 }, () => ({ sku: "TW-CAP-OLV" })) },
    ]);
    const rest = fake.seedOrders(shop.shop, maxOrdersPerNodesQuery() + 1);
    const ids = [...big, ...rest].map((o) => o.id);
    const adapter = adapterFor(shop);
    const { orders } = await adapter.getOrders(ids);
    expect(orders).toHaveLength(ids.length);
    expect(orders[0]?.lines).toHaveLength(13);
    const stats = fake.stats(shop.shop);
    expect(stats.maxCostExceeded).toBe(0);
    expect(Math.max(...stats.requestedCosts)).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
  });

  it("reports an order it cannot map as rejected, not as an error", async () => {
    const shop = newShop();
    const [good, bad] = fake.seedOrders(shop.shop, 2);
    if (good === undefined || bad === undefined) throw new Error("no orders seeded");
    fake.updateOrder(shop.shop, bad.id, {
      raw: {
        currentTotalPriceSet: {
          shopMoney: { amount: "10.0", currencyCode: "EUR" },
          presentmentMoney: { amount: "10.0", currencyCode: "EUR" },
        },
      },
    });
    const { orders, rejected } = await adapterFor(shop).getOrders([good.id, bad.id]);
    expect(orders.map((o) => o.externalId)).toEqual([good.id]);
    expect(rejected).toEqual([
      expect.objectContaining({
        externalId: bad.id,
        externalNumber: bad.name,
        error: expect.stringContaining("total is in EUR, the order in USD"),
      }),
    ]);
  });
});

describe("getInventoryItemSkus", () => {
  it("maps item GIDs to the SKU they sync under: null without a SKU or tracking, unknown ids absent", async () => {
    const shop = newShop();
    const levels = fake.listInventory(shop.shop);
    const tee = levels.find((l) => l.sku === "TW-TEE-BLK-M")?.inventoryItemId;
    const wrapping = levels.find((l) => l.sku === null)?.inventoryItemId;
    if (tee === undefined || wrapping === undefined) throw new Error("catalogue changed");
    const skus = await adapterFor(shop).getInventoryItemSkus([
      tee,
      wrapping,
      "gid://shopify/InventoryItem/1",
      "gid://shopify/Order/1",
    ]);
    expect([...skus.entries()]).toEqual([
      [tee, "TW-TEE-BLK-M"],
      [wrapping, null],
    ]);
  });
});

describe("webhook subscriptions", () => {
  const TOPICS = ["orders/create", "orders/updated", "app/uninstalled"];

  it("creates what is missing, then changes nothing on a second call", async () => {
    const shop = newShop();
    const adapter = adapterFor(shop);
    const callbackUrl = "https://tradewind.example/webhooks/shopify/conn_1";
    expect(await adapter.syncWebhookSubscriptions({ callbackUrl, topics: TOPICS })).toEqual({
      created: TOPICS,
      updated: [],
      unchanged: [],
      removed: [],
    });
    expect(await adapter.syncWebhookSubscriptions({ callbackUrl, topics: TOPICS })).toEqual({
      created: [],
      updated: [],
      unchanged: TOPICS,
      removed: [],
    });
    const subscriptions = fake.listWebhookSubscriptions(shop.shop);
    expect(subscriptions.map((s) => [s.topic, s.uri, s.format, s.apiVersion])).toEqual([
      ["ORDERS_CREATE", callbackUrl, "JSON", API_VERSION],
      ["ORDERS_UPDATED", callbackUrl, "JSON", API_VERSION],
      ["APP_UNINSTALLED", callbackUrl, "JSON", API_VERSION],
    ]);
  });

  it("updates ours where they differ, removes ours for unwanted topics, leaves other addresses alone", async () => {
    const shop = newShop();
    const adapter = adapterFor(shop);
    const callbackUrl = "https://tradewind.example/webhooks/shopify/conn_2";
    const elsewhere = "https://other-app.example/hooks";
    await adapter.syncWebhookSubscriptions({ callbackUrl: elsewhere, topics: ["orders/create"] });
    await adapter.syncWebhookSubscriptions({ callbackUrl, topics: ["orders/create", "orders/paid"] });
    const paid = fake
      .listWebhookSubscriptions(shop.shop)
      .find((s) => s.topic === "ORDERS_PAID" && s.uri === callbackUrl);
    if (paid === undefined) throw new Error("no subscription");
    // Someone narrowed ours by hand: it would silently drop events.
    const narrowed = await graphql(
      shop,
      "mutation Narrow($id: ID!, $s: WebhookSubscriptionInput!) { webhookSubscriptionUpdate(id: $id, webhookSubscription: $s) { userErrors { message } } }",
      { id: paid.id, s: { format: "XML", filter: "total_price:>100", includeFields: ["id"] } },
    );
    expect(narrowed.errors).toBeUndefined();

    const result = await adapter.syncWebhookSubscriptions({
      callbackUrl,
      topics: ["orders/paid", "orders/cancelled"],
    });
    expect(result).toEqual({
      created: ["orders/cancelled"],
      updated: ["orders/paid"],
      unchanged: [],
      removed: ["orders/create"],
    });
    const after = fake.listWebhookSubscriptions(shop.shop);
    expect(after.filter((s) => s.uri === elsewhere).map((s) => s.topic)).toEqual(["ORDERS_CREATE"]);
    expect(
      after.filter((s) => s.uri === callbackUrl).map((s) => [s.topic, s.format, s.filter, s.includeFields]),
    ).toEqual([
      ["ORDERS_PAID", "JSON", null, []],
      ["ORDERS_CANCELLED", "JSON", null, []],
    ]);

    expect(await adapter.removeWebhookSubscriptions({ callbackUrl })).toEqual({
      removed: ["orders/paid", "orders/cancelled"],
    });
    expect(await adapter.removeWebhookSubscriptions({ callbackUrl })).toEqual({ removed: [] });
    expect(fake.listWebhookSubscriptions(shop.shop).map((s) => s.uri)).toEqual([elsewhere]);
  });

  it("the fake pages webhookSubscriptions and filters them by uri, as the client relies on", async () => {
    const shop = newShop();
    const callbackUrl = "https://tradewind.example/webhooks/shopify/conn_3";
    for (let i = 0; i < 3; i++) {
      await adapterFor(shop).syncWebhookSubscriptions({
        callbackUrl: `${callbackUrl}/${i}`,
        topics: ["orders/create", "orders/paid"],
      });
    }
    const page = (after: string | null, uri: string | null) =>
      graphql(
        shop,
        "query P($after: String, $uri: String) { webhookSubscriptions(first: 4, after: $after, uri: $uri) { pageInfo { hasNextPage endCursor } nodes { id uri } } }",
        { after, uri },
      ).then(
        (r) =>
          r.data?.webhookSubscriptions as {
            pageInfo: { hasNextPage: boolean; endCursor: string };
            nodes: { id: string; uri: string }[];
          },
      );
    const first = await page(null, null);
    expect(first.nodes).toHaveLength(4);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await page(first.pageInfo.endCursor, null);
    expect(second.nodes).toHaveLength(2);
    expect(second.pageInfo.hasNextPage).toBe(false);
    expect(new Set([...first.nodes, ...second.nodes].map((n) => n.id)).size).toBe(6);
    const mine = await page(null, `${callbackUrl}/1`);
    expect(mine.nodes.map((n) => n.uri)).toEqual([`${callbackUrl}/1`, `${callbackUrl}/1`]);
  });

  it("turns Shopify's userErrors into a permanent UpstreamError with their messages", async () => {
    const shop = newShop();
    const error = await failure(
      adapterFor(shop).syncWebhookSubscriptions({
        callbackUrl: "http://tradewind.example/webhooks",
        topics: ["orders/create"],
      }),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toBe(
      "Shopify refused to subscribe to orders/create: webhookSubscription.uri: Address protocol http:// is not supported",
    );
  });

  it("answers a duplicate address for a topic like Shopify does", async () => {
    const shop = newShop();
    const create = (uri: string) =>
      graphql(
        shop,
        "mutation C($t: WebhookSubscriptionTopic!, $s: WebhookSubscriptionInput!) { webhookSubscriptionCreate(topic: $t, webhookSubscription: $s) { webhookSubscription { id } userErrors { field message } } }",
        { t: "ORDERS_CREATE", s: { uri, format: "JSON" } },
      );
    await create("https://tradewind.example/h");
    expect((await create("https://tradewind.example/h")).data).toEqual({
      webhookSubscriptionCreate: {
        webhookSubscription: null,
        userErrors: [
          { field: ["webhookSubscription", "uri"], message: "Address for this topic has already been taken" },
        ],
      },
    });
    // The 2026 schema has no callbackUrl on the input any more.
    const old = await graphql(
      shop,
      "mutation C($t: WebhookSubscriptionTopic!, $s: WebhookSubscriptionInput!) { webhookSubscriptionCreate(topic: $t, webhookSubscription: $s) { userErrors { message } } }",
      { t: "ORDERS_PAID", s: { callbackUrl: "https://tradewind.example/h" } },
    );
    expect(old.errors).toEqual([
      expect.objectContaining({ extensions: expect.objectContaining({ code: "INVALID_VARIABLE" }) }),
    ]);
  });
});

interface Received {
  headers: IncomingHttpHeaders;
  body: string;
}

/** A local webhook receiver; `answers` are the statuses of the next requests (then 200). */
async function receiver(answers: number[] = []) {
  const received: Received[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(answers.shift() ?? 200);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/webhooks/shopify`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function verified(secret: string, delivery: Received): boolean {
  const expected = createHmac("sha256", secret).update(delivery.body, "utf8").digest();
  const given = Buffer.from(String(delivery.headers["x-shopify-hmac-sha256"]), "base64");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

describe("webhook delivery", () => {
  it("POSTs a signed REST-shaped order that maps to the same Order as a read of it", async () => {
    const secret = `shpss_${crypto.randomUUID().replaceAll("-", "")}`;
    const shop = newShop({ clientSecret: secret });
    const hooks = await receiver();
    try {
      const adapter = adapterFor(shop);
      await adapter.syncWebhookSubscriptions({
        callbackUrl: hooks.url,
        topics: ["orders/create", "orders/updated"],
      });
      const [seeded] = fake.seedOrders(shop.shop, [
        { financialStatus: "PAID", tags: ["vip", "b2b"], note: "Ring twice" },
      ]);
      if (seeded === undefined) throw new Error("no order seeded");
      await fake.webhooksSettled();
      expect(hooks.received).toHaveLength(1);
      const [created] = hooks.received;
      if (created === undefined) throw new Error("nothing received");
      expect(verified(secret, created)).toBe(true);
      expect(created.headers["x-shopify-hmac-sha256"]).toBe(signShopifyWebhook(secret, created.body));
      expect(created.headers).toMatchObject({
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
        "x-shopify-shop-domain": shop.shop,
        "x-shopify-api-version": API_VERSION,
      });
      expect(created.headers["x-shopify-webhook-id"]).toMatch(/^[0-9a-f-]{36}$/);
      expect(created.headers["x-shopify-event-id"]).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(String(created.headers["x-shopify-triggered-at"]))).not.toBeNaN();

      const body = parseShopifyWebhookBody(created.body);
      const stored = fake.getOrder(shop.shop, seeded.id);
      if (stored === undefined) throw new Error("order not stored");
      expect(body).toEqual(restOrderPayload(stored));
      const fromWebhook = toOrderWebhook(body, shop.shop);
      const { orders } = await adapter.getOrders([seeded.id]);
      expect(fromWebhook).toEqual({ kind: "order", order: orders[0] });

      fake.updateOrder(shop.shop, seeded.id, { note: "Leave with the neighbour" });
      await fake.webhooksSettled();
      expect(hooks.received.map((r) => r.headers["x-shopify-topic"])).toEqual([
        "orders/create",
        "orders/updated",
      ]);
      const updated = hooks.received[1];
      if (updated === undefined) throw new Error("no update received");
      expect(verified(secret, updated)).toBe(true);
      expect(toOrderWebhook(parseShopifyWebhookBody(updated.body), shop.shop)).toMatchObject({
        kind: "order",
        order: { note: "Leave with the neighbour" },
      });
      expect(fake.stats(shop.shop).webhooks).toEqual({
        delivered: 2,
        failedAttempts: 0,
        abandoned: 0,
        dropped: 0,
        unsigned: 0,
      });
    } finally {
      await hooks.close();
    }
  });

  it("retries a delivery answered 5xx under the same webhook id and body", async () => {
    const secret = "shpss_retry";
    const shop = newShop({ clientSecret: secret });
    const hooks = await receiver([500, 503]);
    try {
      await adapterFor(shop).syncWebhookSubscriptions({ callbackUrl: hooks.url, topics: ["orders/create"] });
      fake.seedOrders(shop.shop, 1);
      await fake.webhooksSettled();
      // Answered 2xx on the second retry.
      expect(hooks.received).toHaveLength(3);
      const ids = new Set(hooks.received.map((r) => r.headers["x-shopify-webhook-id"]));
      expect(ids.size).toBe(1);
      expect(hooks.received.every((r) => r.body === hooks.received[0]?.body && verified(secret, r))).toBe(
        true,
      );
      expect(fake.stats(shop.shop).webhooks).toMatchObject({ delivered: 1, failedAttempts: 2, abandoned: 0 });
      expect(fake.listWebhookDeliveries(shop.shop).map((d) => [d.status, d.attempts, d.lastStatus])).toEqual([
        ["delivered", 3, 200],
      ]);
    } finally {
      await hooks.close();
    }
  });

  it("abandons a delivery that keeps failing", async () => {
    const shop = newShop({ clientSecret: "shpss_gone" });
    const hooks = await receiver([500, 500, 500]);
    try {
      await adapterFor(shop).syncWebhookSubscriptions({ callbackUrl: hooks.url, topics: ["orders/create"] });
      fake.seedOrders(shop.shop, 1);
      await fake.webhooksSettled();
      expect(hooks.received).toHaveLength(3);
      expect(fake.stats(shop.shop).webhooks).toMatchObject({ delivered: 0, failedAttempts: 3, abandoned: 1 });
    } finally {
      await hooks.close();
    }
  });

  it("drops events while deliveries are paused, and sends nothing unsigned", async () => {
    const paused = newShop({ clientSecret: "shpss_paused" });
    const unsigned = newShop();
    const hooks = await receiver();
    try {
      for (const shop of [paused, unsigned]) {
        await adapterFor(shop).syncWebhookSubscriptions({
          callbackUrl: hooks.url,
          topics: ["orders/create"],
        });
      }
      fake.pauseWebhookDeliveries(paused.shop);
      fake.seedOrders(paused.shop, 2);
      fake.seedOrders(unsigned.shop, 1);
      await fake.webhooksSettled();
      expect(hooks.received).toHaveLength(0);
      expect(fake.stats(paused.shop).webhooks).toMatchObject({ dropped: 2, delivered: 0 });
      // A dropped delivery still shows the signed request it would have made, for tests that replay it.
      const [dropped] = fake.listWebhookDeliveries(paused.shop);
      expect(dropped?.status).toBe("dropped");
      const request = dropped?.request;
      if (request === undefined) throw new Error("no delivery recorded");
      expect(request.headers["X-Shopify-Hmac-Sha256"]).toBe(signShopifyWebhook("shpss_paused", request.body));
      expect(request.headers["X-Shopify-Webhook-Id"]).toBe(dropped?.webhookId);
      expect(fake.stats(unsigned.shop).webhooks).toMatchObject({ unsigned: 1, delivered: 0 });

      fake.resumeWebhookDeliveries(paused.shop);
      fake.seedOrders(paused.shop, 1);
      await fake.webhooksSettled();
      expect(hooks.received).toHaveLength(1);
    } finally {
      await hooks.close();
    }
  });

  it("sends inventory_levels/update when available stock moves, through the control API too", async () => {
    const secret = "shpss_stock";
    const shop = newShop({ clientSecret: secret });
    const hooks = await receiver();
    try {
      await adapterFor(shop).syncWebhookSubscriptions({
        callbackUrl: hooks.url,
        topics: ["inventory_levels/update"],
      });
      const response = await fetch(`${fake.url}/__control/inventory`, {
        method: "POST",
        body: JSON.stringify({ shop: shop.shop, sku: "TW-MUG-350", available: 7 }),
      });
      expect(response.status).toBe(200);
      await fake.webhooksSettled();
      expect(hooks.received).toHaveLength(1);
      const [level] = hooks.received;
      if (level === undefined) throw new Error("nothing received");
      expect(verified(secret, level)).toBe(true);
      expect(JSON.parse(level.body)).toMatchObject({ location_id: 76543210, available: 7 });

      const listed = (await (await fetch(`${fake.url}/__control/webhooks?shop=${shop.shop}`)).json()) as {
        subscriptions: { topic: string }[];
      };
      expect(listed.subscriptions.map((s) => s.topic)).toEqual(["INVENTORY_LEVELS_UPDATE"]);
    } finally {
      await hooks.close();
    }
  });
});
