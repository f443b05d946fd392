import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { FulfillmentInput } from "../../src/adapters/channels/interface";
import { createTikTokAdapter, type TikTokAdapterInput } from "../../src/adapters/channels/tiktok/client";
import { TIKTOK_ENDPOINTS, TIKTOK_PATHS } from "../../src/adapters/channels/tiktok/types";
import { Order } from "../../src/domain/commerce";
import { UpstreamError } from "../../src/lib/errors";
import type { UpstreamGate, UpstreamOutcome } from "../../src/lib/upstream-gate";
import { buildTikTokOrder, startTikTokFake, type TikTokFake } from "../fakes/tiktok";

let fake: TikTokFake;
beforeAll(async () => {
  fake = await startTikTokFake();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.configure({ qps: 20, latencyMs: 0 });
});

interface Shop {
  shopId: string;
  appKey: string;
  appSecret: string;
  accessToken: string;
  cipher: string;
}

let nextShop = 7494049642642441000n;
function newShop(): Shop {
  const shop = {
    shopId: String(nextShop++),
    appKey: `6${randomBytes(6).toString("hex")}`,
    appSecret: randomBytes(20).toString("hex"),
    accessToken: `ROW_${randomBytes(24).toString("base64url")}`,
  };
  const { cipher } = fake.registerShop(shop);
  return { ...shop, cipher };
}

/** A gate without limits that records what it was told. */
function recordingGate(): UpstreamGate & { endpoints: string[]; outcomes: UpstreamOutcome[] } {
  const endpoints: string[] = [];
  const outcomes: UpstreamOutcome[] = [];
  return {
    endpoints,
    outcomes,
    async acquire({ endpoint, cost }) {
      expect(cost).toBe(1);
      endpoints.push(endpoint);
      return {
        async release(outcome) {
          outcomes.push(outcome);
        },
      };
    },
  };
}

function adapterFor(shop: Shop, overrides: Partial<TikTokAdapterInput> = {}) {
  const waits: number[] = [];
  const gate = recordingGate();
  const adapter = createTikTokAdapter({
    shopId: shop.shopId,
    credentials: {
      appKey: shop.appKey,
      appSecret: shop.appSecret,
      accessToken: shop.accessToken,
      shopCipher: shop.cipher,
    },
    apiBase: fake.url,
    gate,
    timeoutMs: 2000,
    sleep: async (ms) => {
      waits.push(ms);
    },
    ...overrides,
  });
  return { adapter, waits, gate };
}

async function caught(promise: Promise<unknown>): Promise<UpstreamError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof UpstreamError) return error;
    throw error;
  }
  throw new Error("expected an UpstreamError");
}

/** Seeds `count` orders updated one second apart, starting at `from` (epoch s); returns their ids in that order. */
function seed(shop: Shop, count: number, from: number): string[] {
  const orders = Array.from({ length: count }, (_, i) =>
    buildTikTokOrder({ createTime: from + i - 3600, updateTime: from + i }),
  );
  return fake.putOrders(shop.shopId, orders).map((o) => o.id);
}

const EPOCH = "2024-01-01T00:00:00Z";
const T0 = Date.parse("2024-07-01T00:00:00Z") / 1000;

describe("TikTok Get Order List", () => {
  it("pages through every order updated since the given time, oldest update first, to the last page", async () => {
    const shop = newShop();
    seed(shop, 3, T0 - 1000); // before the window
    const ids = seed(shop, 23, T0);
    const { adapter, gate } = adapterFor(shop);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await adapter.listOrdersUpdatedSince({
        updatedSince: new Date(T0 * 1000).toISOString(),
        cursor,
        pageSize: 10,
      });
      expect(page.rejected).toEqual([]);
      for (const order of page.orders) Order.parse(order);
      seen.push(...page.orders.map((o) => o.externalId));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(ids);
    expect(gate.endpoints).toEqual(Array(3).fill(TIKTOK_PATHS.orderSearch));
    expect(gate.outcomes.every((o) => o.ok)).toBe(true);
    expect(fake.stats(shop.shopId).signatureFailures).toBe(0);
  });

  it("caps page_size at TikTok's 100 and sees an order updated mid-walk again further on", async () => {
    const shop = newShop();
    const ids = seed(shop, 3, T0);
    const { adapter } = adapterFor(shop);
    const first = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 2 });
    expect(first.orders.map((o) => o.externalId)).toEqual(ids.slice(0, 2));
    const [firstId] = ids;
    if (firstId === undefined) throw new Error("no ids");
    fake.updateOrder(shop.shopId, firstId, { status: "AWAITING_COLLECTION" });
    const second = await adapter.listOrdersUpdatedSince({
      updatedSince: EPOCH,
      cursor: first.nextCursor,
      pageSize: 500,
    });
    expect(second.orders.map((o) => [o.externalId, o.fulfillmentStatus])).toEqual([
      [ids[2], "AWAITING_SHIPMENT"],
      [firstId, "AWAITING_COLLECTION"],
    ]);
    expect(second.nextCursor).toBeNull();
  });

  it("reports orders it cannot map in `rejected` and keeps going", async () => {
    const shop = newShop();
    const good = buildTikTokOrder({ updateTime: T0 });
    const bad = {
      ...buildTikTokOrder({ updateTime: T0 + 1 }),
      payment: { currency: "USD", total_amount: "1,00" },
    };
    fake.putOrders(shop.shopId, [good, bad]);
    const { adapter } = adapterFor(shop);
    const page = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 10 });
    expect(page.orders.map((o) => o.externalId)).toEqual([good.id]);
    expect(page.rejected).toEqual([
      expect.objectContaining({ externalId: bad.id, error: expect.stringContaining("could not be mapped") }),
    ]);
  });
});

describe("TikTok Get Order Detail", () => {
  it("asks for at most 50 ids per call and leaves unknown ids out", async () => {
    const shop = newShop();
    const ids = seed(shop, 110, T0);
    const unknown = Array.from({ length: 10 }, (_, i) => String(999000000000000000n + BigInt(i)));
    const { adapter, gate } = adapterFor(shop);
    const { orders, rejected } = await adapter.getOrders([
      ...ids,
      ...unknown,
      "not-a-tiktok-id",
      ids[0] ?? "",
    ]);
    expect(rejected).toEqual([]);
    expect(orders.map((o) => o.externalId).sort()).toEqual([...ids].sort());
    expect(gate.endpoints).toEqual(Array(3).fill(TIKTOK_PATHS.orderDetail));
    expect(fake.stats(shop.shopId).requests[TIKTOK_PATHS.orderDetail]).toBe(3);
  });

  it("makes no call for no ids", async () => {
    const shop = newShop();
    const { adapter, gate } = adapterFor(shop);
    expect(await adapter.getOrders([])).toEqual({ orders: [], rejected: [] });
    expect(gate.endpoints).toEqual([]);
  });
});

describe("TikTok failures", () => {
  it("refuses a wrong app secret as auth (106001 invalid sign), not retried, secrets kept out", async () => {
    const shop = newShop();
    const { adapter, gate } = adapterFor({ ...shop, appSecret: randomBytes(20).toString("hex") });
    const error = await caught(adapter.getOrders(["576461413038785752"]));
    expect(error).toMatchObject({ kind: "auth", retryable: false, details: { tiktokCode: 106001 } });
    expect(gate.outcomes).toEqual([{ ok: false, failure: "auth", actualCost: 1 }]);
    for (const secret of [shop.accessToken, shop.cipher]) expect(error.message).not.toContain(secret);
  });

  it("refuses an unknown access token (105001) and an expired one (105002) as auth", async () => {
    const shop = newShop();
    const wrongToken = await caught(
      adapterFor({ ...shop, accessToken: "ROW_not-the-token" }).adapter.getOrders(["1"]),
    );
    expect(wrongToken).toMatchObject({ kind: "auth", retryable: false, details: { tiktokCode: 105001 } });
    fake.expireAccessToken(shop.shopId);
    const expired = await caught(adapterFor(shop).adapter.getOrders(["1"]));
    expect(expired).toMatchObject({ kind: "auth", details: { tiktokCode: 105002 } });
    expect(expired.message).toMatch(/reconnect the TikTok shop/);
    expect(expired.message).not.toContain(shop.accessToken);
  });

  it("refuses a cipher of no shop the token may use as auth (106013)", async () => {
    const shop = newShop();
    const other = newShop();
    const error = await caught(adapterFor({ ...shop, cipher: other.cipher }).adapter.getOrders(["1"]));
    expect(error).toMatchObject({ kind: "auth", details: { tiktokCode: 106013 } });
  });

  it("waits out a 429's Retry-After, tells the gate, and then succeeds", async () => {
    const shop = newShop();
    seed(shop, 1, T0);
    fake.failNext(shop.shopId, 429, { retryAfterSeconds: 3 });
    const { adapter, waits, gate } = adapterFor(shop);
    const page = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 10 });
    expect(page.orders).toHaveLength(1);
    expect(waits).toEqual([3000]);
    expect(gate.outcomes).toEqual([
      { ok: false, failure: "rate_limited", retryAfterMs: 3000, actualCost: 1 },
      { ok: true, actualCost: 1 },
    ]);
  });

  it("classifies TikTok's own QPS refusal (429, 36009002) as rate_limited with a one-second wait", async () => {
    const shop = newShop();
    fake.configure({ qps: 1 });
    const { adapter } = adapterFor(shop, { maxAttempts: 1 });
    await adapter.getOrders(["1"]);
    const error = await caught(adapter.getOrders(["1"]));
    expect(error).toMatchObject({
      kind: "rate_limited",
      retryable: true,
      retryAfterSeconds: 1,
      details: { tiktokCode: 36009002 },
    });
    expect(fake.stats(shop.shopId).rateLimited).toBe(1);
  });

  it("classifies a timeout as retryable and tries again", async () => {
    const shop = newShop();
    seed(shop, 1, T0);
    fake.failNext(shop.shopId, "hang");
    const once = adapterFor(shop, { timeoutMs: 200, maxAttempts: 1 });
    const error = await caught(
      once.adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 }),
    );
    expect(error).toMatchObject({ kind: "retryable", retryable: true });
    expect(error.message).toBe("TikTok Get Order List timed out after 200 ms");
    expect(once.gate.outcomes).toEqual([{ ok: false, failure: "retryable" }]);

    fake.failNext(shop.shopId, "hang");
    const twice = adapterFor(shop, { timeoutMs: 200, maxAttempts: 2 });
    const page = await twice.adapter.listOrdersUpdatedSince({
      updatedSince: EPOCH,
      cursor: null,
      pageSize: 5,
    });
    expect(page.orders).toHaveLength(1);
    expect(twice.waits).toHaveLength(1);
  });

  it("retries HTTP 5xx and TikTok's internal error (36009003)", async () => {
    const shop = newShop();
    seed(shop, 1, T0);
    fake.failNext(shop.shopId, 503);
    fake.failNext(shop.shopId, "internal");
    const { adapter, gate } = adapterFor(shop);
    const page = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 });
    expect(page.orders).toHaveLength(1);
    expect(gate.outcomes.map((o) => o.failure ?? "ok")).toEqual(["retryable", "retryable", "ok"]);
  });

  it("gives up after maxAttempts with a retryable error", async () => {
    const shop = newShop();
    for (let i = 0; i < 3; i++) fake.failNext(shop.shopId, 500);
    const error = await caught(adapterFor(shop, { maxAttempts: 3 }).adapter.getOrders(["1"]));
    expect(error).toMatchObject({ kind: "retryable", retryable: true });
    expect(error.message).toBe("TikTok Get Order Detail returned HTTP 500");
  });

  it("refuses invalid parameters as permanent, without retrying", async () => {
    const shop = newShop();
    fake.failNext(shop.shopId, 36009004);
    const { adapter, gate } = adapterFor(shop);
    const error = await caught(adapter.getOrders(["1"]));
    expect(error).toMatchObject({ kind: "permanent", retryable: false, details: { tiktokCode: 36009004 } });
    expect(gate.outcomes).toHaveLength(1);
  });

  it("is refused as permanent when its clock is off by more than TikTok allows", async () => {
    const shop = newShop();
    const error = await caught(
      adapterFor(shop, { now: () => Date.now() - 10 * 60_000 }).adapter.getOrders(["1"]),
    );
    expect(error).toMatchObject({ kind: "permanent", details: { tiktokCode: 36009004 } });
    expect(error.message).toMatch(/timestamp/);
  });
});

describe("TikTok Ship Package", () => {
  const shipment = (
    orderExternalId: string,
    overrides: Partial<FulfillmentInput> = {},
  ): FulfillmentInput => ({
    orderExternalId,
    carrier: "USPS",
    trackingNumbers: ["9400111899223197428490"],
    trackingUrl: null,
    lines: [],
    notifyCustomer: true,
    ...overrides,
  });

  it("ships the order's package with the carrier TikTok knows by that name, once", async () => {
    const shop = newShop();
    const [order] = fake.putOrders(shop.shopId, [buildTikTokOrder({ updateTime: T0 })]);
    if (order === undefined) throw new Error("not seeded");
    const packageId = (order.packages as { id: string }[])[0]?.id;
    const { adapter, gate } = adapterFor(shop);
    expect(await adapter.createFulfillment(shipment(order.id, { carrier: "usps " }))).toEqual({
      fulfillmentId: packageId,
      created: true,
    });
    expect(gate.endpoints).toEqual([
      TIKTOK_PATHS.orderDetail,
      TIKTOK_ENDPOINTS.shippingProviders,
      TIKTOK_ENDPOINTS.shipPackage,
    ]);
    expect(fake.order(shop.shopId, order.id)).toMatchObject({
      status: "IN_TRANSIT",
      tracking_number: "9400111899223197428490",
      shipping_provider: "USPS",
    });
    // The same shipment again finds it already there.
    expect(await adapter.createFulfillment(shipment(order.id))).toEqual({
      fulfillmentId: packageId,
      created: false,
    });
    expect(fake.stats(shop.shopId).packagesShipped).toBe(1);
    const [mapped] = (await adapter.getOrders([order.id])).orders;
    expect(mapped?.fulfillmentStatus).toBe("IN_TRANSIT");
  });

  it("reads the order again after an unanswered Ship Package instead of shipping twice", async () => {
    const shop = newShop();
    const [order] = fake.putOrders(shop.shopId, [buildTikTokOrder({ updateTime: T0 })]);
    if (order === undefined) throw new Error("not seeded");
    // Order detail and providers answer; the ship request is carried out and never answered.
    fake.failNext(shop.shopId, "timeout-after-accept", { api: TIKTOK_ENDPOINTS.shipPackage });
    const { adapter, waits } = adapterFor(shop, { timeoutMs: 300 });
    const result = await adapter.createFulfillment(shipment(order.id));
    expect(result).toMatchObject({ created: true });
    expect(waits).toHaveLength(1);
    expect(fake.stats(shop.shopId).packagesShipped).toBe(1);
  });

  it("refuses a carrier TikTok does not offer, naming those it does", async () => {
    const shop = newShop();
    const [order] = fake.putOrders(shop.shopId, [buildTikTokOrder({ updateTime: T0 })]);
    if (order === undefined) throw new Error("not seeded");
    const error = await caught(
      adapterFor(shop).adapter.createFulfillment(shipment(order.id, { carrier: "Pony Express" })),
    );
    expect(error).toMatchObject({ kind: "permanent", retryable: false });
    expect(error.message).toMatch(/no shipping provider named "Pony Express".*USPS, UPS/);
    expect(fake.stats(shop.shopId).packagesShipped).toBe(0);
  });

  it("refuses to ship a cancelled order or an unknown one", async () => {
    const shop = newShop();
    const [order] = fake.putOrders(shop.shopId, [buildTikTokOrder({ updateTime: T0, status: "CANCELLED" })]);
    if (order === undefined) throw new Error("not seeded");
    const { adapter } = adapterFor(shop);
    expect((await caught(adapter.createFulfillment(shipment(order.id)))).message).toBe(
      `TikTok order ${order.id} has nothing left to ship (CANCELLED)`,
    );
    expect((await caught(adapter.createFulfillment(shipment("576000000000000001")))).message).toBe(
      "TikTok order 576000000000000001 not found",
    );
  });
});

describe("TikTok fake: HTTP controls and webhook helpers", () => {
  it("registers a shop, seeds orders and reads stats over /__control/", async () => {
    const shopId = String(nextShop++);
    const control = (path: string, body?: unknown) =>
      fetch(`${fake.url}/__control/${path}`, {
        method: body === undefined ? "GET" : "POST",
        headers: { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const registered = await control("shops", {
      shopId,
      appKey: "6abc123def45",
      appSecret: "s3cr3t-app-secret",
      accessToken: "ROW_token",
    });
    const { cipher } = (await registered.json()) as { cipher: string };
    const seeded = await control("orders", {
      shopId,
      seeds: [{ recipient: "GB", status: "AWAITING_COLLECTION" }],
    });
    const { orders } = (await seeded.json()) as { orders: { id: string; update_time: number }[] };
    const [created] = orders;
    if (created === undefined) throw new Error("nothing seeded");
    const updated = await control("orders/update", {
      shopId,
      id: created.id,
      patch: { status: "IN_TRANSIT" },
    });
    const { order } = (await updated.json()) as { order: { update_time: number; status: string } };
    expect(order.status).toBe("IN_TRANSIT");
    expect(order.update_time).toBeGreaterThan(created.update_time);

    const { adapter } = adapterFor({
      shopId,
      appKey: "6abc123def45",
      appSecret: "s3cr3t-app-secret",
      accessToken: "ROW_token",
      cipher,
    });
    const { orders: fetched } = await adapter.getOrders([created.id]);
    expect(fetched).toMatchObject([
      { currency: "GBP", fulfillmentStatus: "IN_TRANSIT", shippingAddress: { countryCode: "GB" } },
    ]);
    const stats = (await (await control(`stats?shopId=${shopId}`)).json()) as {
      requests: Record<string, number>;
    };
    expect(stats.requests[TIKTOK_PATHS.orderDetail]).toBe(1);
  });

  it("signs webhooks as TikTok does (the OpenSSL vector) and builds the documented body", async () => {
    const { webhooks } = await import("../../src/adapters/channels/tiktok/fixtures/sign-vectors.json");
    const { signTikTokWebhook, tiktokWebhookBody } = await import("../fakes/tiktok");
    const [vector] = webhooks;
    if (vector === undefined) throw new Error("no webhook vector");
    expect(signTikTokWebhook(vector.appKey, vector.appSecret, vector.rawBody)).toBe(vector.authorization);
    expect(
      tiktokWebhookBody({
        type: "ORDER_STATUS_CHANGE",
        shopId: "7494049642642441621",
        notificationId: "7327112393057371910",
        timestamp: 1696909700,
        data: { order_id: "576461413038785752", order_status: "AWAITING_SHIPMENT", update_time: 1696909690 },
      }),
    ).toBe(vector.rawBody);
    expect(
      JSON.parse(
        tiktokWebhookBody({
          type: "PACKAGE_UPDATE",
          shopId: "7494049642642441621",
          data: {
            order_id: "576461413038785752",
            package_id: "1152921508181116938",
            sc_type: "SPLIT",
            role_type: "SELLER",
            update_time: 1696909690,
          },
        }),
      ),
    ).toMatchObject({ type: 4, shop_id: "7494049642642441621", data: { package_id: "1152921508181116938" } });
  });
});
