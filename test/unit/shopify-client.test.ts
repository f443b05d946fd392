import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createShopifyAdapter, type ShopifyAdapterInput } from "../../src/adapters/channels/shopify/client";
import {
  fulfillmentStateQuery,
  MAX_SINGLE_QUERY_COST,
  maxLineItemsPerPage,
  maxOrdersPerPage,
  orderLineItemsQuery,
  ordersPageQuery,
} from "../../src/adapters/channels/shopify/queries";
import { Order } from "../../src/domain/commerce";
import { UpstreamError } from "../../src/lib/errors";
import { type UpstreamGate, type UpstreamOutcome, ungatedUpstream } from "../../src/lib/upstream-gate";
import { type ShopifyFake, startShopifyFake } from "../fakes/shopify";
import { localBucketGate } from "../support/local-bucket-gate";

let fake: ShopifyFake;
let shopCount = 0;
const EPOCH = "2020-01-01T00:00:00Z";

beforeAll(async () => {
  fake = await startShopifyFake({ bulkDelayMs: 30 });
});

afterAll(async () => {
  await fake.close();
});

/** A shop of its own for each test: state never leaks between tests. */
function newShop(options: { maximumAvailable?: number; restoreRate?: number; currency?: string } = {}) {
  const shop = `tw-test-${++shopCount}-${Date.now().toString(36)}.myshopify.com`;
  const accessToken = `shpat_${crypto.randomUUID().replaceAll("-", "")}`;
  fake.createShop({ shop, accessToken, ...options });
  return { shop, accessToken };
}

interface GateRecord {
  acquired: { endpoint: string; cost: number }[];
  released: UpstreamOutcome[];
}

/** Records what the adapter asks of and tells the governor, without limiting it. */
function recordingGate(inner: UpstreamGate = ungatedUpstream): UpstreamGate & GateRecord {
  const acquired: GateRecord["acquired"] = [];
  const released: UpstreamOutcome[] = [];
  return {
    acquired,
    released,
    async acquire(request) {
      acquired.push({ endpoint: request.endpoint, cost: request.cost });
      const permit = await inner.acquire(request);
      return {
        async release(outcome) {
          released.push(outcome);
          await permit.release(outcome);
        },
      };
    },
  };
}

function adapterFor(
  { shop, accessToken }: { shop: string; accessToken: string },
  overrides: Partial<ShopifyAdapterInput> & { sleeps?: number[]; realSleep?: boolean } = {},
) {
  const { sleeps, realSleep, ...rest } = overrides;
  return createShopifyAdapter({
    shopDomain: shop,
    credentials: { accessToken },
    apiBase: `${fake.url}/shops/{shop}`,
    gate: ungatedUpstream,
    timeoutMs: 2000,
    sleep: async (ms) => {
      sleeps?.push(ms);
      if (realSleep) await new Promise((r) => setTimeout(r, ms));
    },
    ...rest,
  });
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

/** Everything about an error that could reach a log line or a response, cause chain included. */
function exposedText(error: Error): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    parts.push(
      current.name,
      current.message,
      current.stack ?? "",
      JSON.stringify((current as UpstreamError).details ?? null),
    );
    current = current.cause;
  }
  return parts.join("\n");
}

/** A fetch that remembers each GraphQL answer's requested cost as Shopify computed it. */
function costRecordingFetch(costs: number[]): typeof fetch {
  return async (input, init) => {
    const response = await fetch(input, init);
    const body = (await response.clone().json()) as {
      extensions?: { cost?: { requestedQueryCost?: number } };
    };
    const requested = body.extensions?.cost?.requestedQueryCost;
    if (typeof requested === "number") costs.push(requested);
    return response;
  };
}

async function allPages(adapter: ReturnType<typeof adapterFor>, updatedSince = EPOCH, pageSize = 50) {
  const pages: Order[][] = [];
  let cursor: string | null = null;
  do {
    const page = await adapter.listOrdersUpdatedSince({ updatedSince, cursor, pageSize });
    pages.push(page.orders);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return pages;
}

describe("query cost", () => {
  it("every document stays within Shopify's 1,000-point ceiling", () => {
    expect(maxOrdersPerPage()).toBeGreaterThanOrEqual(5);
    const first = maxOrdersPerPage();
    expect(ordersPageQuery({ updatedSince: EPOCH, cursor: null, first }).cost).toBeLessThanOrEqual(
      MAX_SINGLE_QUERY_COST,
    );
    expect(ordersPageQuery({ updatedSince: EPOCH, cursor: null, first: first + 1 }).cost).toBeGreaterThan(
      MAX_SINGLE_QUERY_COST,
    );
    expect(maxLineItemsPerPage()).toBeGreaterThanOrEqual(50);
    expect(orderLineItemsQuery({ orderId: "gid://shopify/Order/1", after: null }).cost).toBeLessThanOrEqual(
      MAX_SINGLE_QUERY_COST,
    );
    expect(fulfillmentStateQuery("gid://shopify/Order/1").cost).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
  });

  it("asks the governor for at least what Shopify charges up front, for every request", async () => {
    const shop = newShop();
    const [big] = fake.seedOrders(shop.shop, [
      { lines: Array.from({ length: 14 }, () => ({ sku: "TW-MUG-350" })) },
    ]);
    fake.seedOrders(shop.shop, 9);
    const gate = recordingGate();
    const shopifyCosts: number[] = [];
    const adapter = adapterFor(shop, { gate, fetch: costRecordingFetch(shopifyCosts) });
    await allPages(adapter);
    if (big === undefined) throw new Error("no order seeded");
    await adapter.createFulfillment({
      orderExternalId: big.id,
      carrier: "UPS",
      trackingNumbers: ["1Z999AA10123456784"],
      trackingUrl: null,
      lines: [],
      notifyCustomer: false,
    });
    const graphqlCosts = gate.acquired.filter((a) => a.endpoint === "graphql").map((a) => a.cost);
    expect(graphqlCosts.length).toBe(shopifyCosts.length);
    expect(graphqlCosts.length).toBeGreaterThanOrEqual(4);
    graphqlCosts.forEach((cost, i) => {
      expect(cost).toBeGreaterThanOrEqual(shopifyCosts[i] ?? Number.POSITIVE_INFINITY);
    });
    // And it learns what was really spent: Shopify's actual cost and bucket state come back on release.
    for (const outcome of gate.released) {
      expect(outcome).toMatchObject({ ok: true, throttle: { maximumAvailable: 2000, restoreRate: 100 } });
      expect(outcome.actualCost).toBeGreaterThan(0);
    }
  });
});

describe("listOrdersUpdatedSince against the Shopify fake", () => {
  it("pages through every order updated since a time, oldest update first, as valid Tradewind orders", async () => {
    const shop = newShop();
    fake.seedOrders(shop.shop, 20);
    const adapter = adapterFor(shop);
    const pages = await allPages(adapter, EPOCH, 50);
    // The caller's 50 is cut to what the 1,000-point ceiling allows.
    expect(pages.map((p) => p.length)).toEqual([7, 7, 6]);
    const orders = pages.flat();
    for (const order of orders) Order.parse(order);
    expect(new Set(orders.map((o) => o.externalId)).size).toBe(20);
    const updated = orders.map((o) => Date.parse(o.updatedAt));
    expect(updated).toEqual([...updated].sort((a, b) => a - b));
    expect(
      orders.every((o) => o.storeId === shop.shop && o.channel === "shopify" && o.currency === "USD"),
    ).toBe(true);
    expect(fake.stats(shop.shop)).toMatchObject({ requests: 3, throttled: 0, overLimit: 0 });
  });

  it("returns only orders updated at or after the given time", async () => {
    const shop = newShop();
    const seeded = fake.seedOrders(shop.shop, 5);
    const last = seeded[4];
    if (last === undefined) throw new Error("no order seeded");
    const adapter = adapterFor(shop);
    const page = await adapter.listOrdersUpdatedSince({
      updatedSince: last.updatedAt,
      cursor: null,
      pageSize: 10,
    });
    expect(page.orders.map((o) => o.externalId)).toEqual([last.id]);
    expect(page.nextCursor).toBeNull();
  });

  it("an order updated while paging comes again behind the cursor", async () => {
    const shop = newShop();
    const [first] = fake.seedOrders(shop.shop, 10);
    if (first === undefined) throw new Error("no order seeded");
    const adapter = adapterFor(shop);
    const page1 = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 });
    expect(page1.orders[0]?.externalId).toBe(first.id);
    fake.updateOrder(shop.shop, first.id, { note: "Please ship with the next batch" });
    const page2 = await adapter.listOrdersUpdatedSince({
      updatedSince: EPOCH,
      cursor: page1.nextCursor,
      pageSize: 5,
    });
    expect(page2.orders).toHaveLength(5);
    const page3 = await adapter.listOrdersUpdatedSince({
      updatedSince: EPOCH,
      cursor: page2.nextCursor,
      pageSize: 5,
    });
    expect(page3.orders.map((o) => [o.externalId, o.note])).toEqual([
      [first.id, "Please ship with the next batch"],
    ]);
    expect(page3.nextCursor).toBeNull();
  });

  it("gathers every line of an order too long to come inline with the page", async () => {
    const shop = newShop();
    const lines = Array.from({ length: 63 }, (_, i) => ({
      sku: `BULK-SKU-${i}`,
      title: `Part ${i}`,
      unitPrice: "1.25",
    }));
    const [order] = fake.seedOrders(shop.shop, [{ lines, discountCode: null }]);
    const gate = recordingGate();
    const page = await adapterFor(shop, { gate }).listOrdersUpdatedSince({
      updatedSince: EPOCH,
      cursor: null,
      pageSize: 5,
    });
    const mapped = page.orders[0];
    expect(mapped?.externalId).toBe(order?.id);
    expect(mapped?.lines.map((l) => l.sku)).toEqual(lines.map((l) => l.sku));
    expect(mapped?.subtotalMinor).toBe(63 * 125);
    // One page plus one follow-up of the remaining 53 lines.
    expect(gate.acquired).toHaveLength(2);
  });

  it("maps a JPY shop's orders in whole yen", async () => {
    const shop = newShop({ currency: "JPY" });
    fake.seedOrders(shop.shop, [{ lines: [{ sku: "TW-HOOD-NVY-M", quantity: 1 }], discountCode: null }]);
    const [order] = (
      await adapterFor(shop).listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 })
    ).orders;
    expect(order?.currency).toBe("JPY");
    expect(order?.lines[0]?.unitPriceMinor).toBe(8700); // $58 at 150 yen to the dollar
    expect(order?.totalMinor).toBe(
      (order?.subtotalMinor ?? 0) + (order?.shippingMinor ?? 0) + (order?.taxMinor ?? 0),
    );
  });
});

describe("rate limits and failures", () => {
  it("waits out a THROTTLED answer exactly until the bucket holds the query's cost, then succeeds", async () => {
    const shop = newShop({ restoreRate: 4000 });
    fake.seedOrders(shop.shop, 3);
    // Another consumer of the same bucket empties it just before our request.
    fake.failNext(shop.shop, "throttled");
    const sleeps: number[] = [];
    const gate = recordingGate();
    const adapter = adapterFor(shop, { gate, sleeps, realSleep: true });
    const page = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 });
    expect(page.orders).toHaveLength(3);
    const cost = gate.acquired[0]?.cost ?? 0;
    const [throttled, ok] = gate.released;
    expect(throttled).toMatchObject({
      ok: false,
      failure: "rate_limited",
      throttle: { currentlyAvailable: 0, restoreRate: 4000 },
    });
    expect(throttled?.retryAfterMs).toBe(Math.ceil((cost / 4000) * 1000));
    expect(sleeps).toEqual([throttled?.retryAfterMs]);
    expect(ok).toMatchObject({ ok: true });
    expect(fake.stats(shop.shop)).toMatchObject({ requests: 2, throttled: 1, overLimit: 0 });
  });

  it("when the bucket was drained behind the governor's back, the THROTTLED answer sets the wait", async () => {
    const shop = newShop({ restoreRate: 2000 });
    fake.seedOrders(shop.shop, 2);
    fake.spend(shop.shop, 2000);
    const sleeps: number[] = [];
    const adapter = adapterFor(shop, { sleeps, realSleep: true });
    const page = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 });
    expect(page.orders).toHaveLength(2);
    expect(sleeps).toHaveLength(1);
    expect(sleeps[0]).toBeGreaterThan(0);
    expect(sleeps[0]).toBeLessThanOrEqual(Math.ceil((1000 / 2000) * 1000));
  });

  it("honours Retry-After on HTTP 429 and tells the governor", async () => {
    const shop = newShop();
    fake.seedOrders(shop.shop, 1);
    fake.failNext(shop.shop, 429, { retryAfterSeconds: 3 });
    const sleeps: number[] = [];
    const gate = recordingGate();
    const page = await adapterFor(shop, { gate, sleeps }).listOrdersUpdatedSince({
      updatedSince: EPOCH,
      cursor: null,
      pageSize: 5,
    });
    expect(page.orders).toHaveLength(1);
    expect(sleeps).toEqual([3000]);
    expect(gate.released[0]).toEqual({ ok: false, failure: "rate_limited", retryAfterMs: 3000 });
  });

  it("retries 500, 502 and 503 with jittered backoff, then succeeds", async () => {
    const shop = newShop();
    fake.seedOrders(shop.shop, 1);
    for (const status of [500, 502, 503] as const) fake.failNext(shop.shop, status);
    const sleeps: number[] = [];
    const gate = recordingGate();
    const adapter = adapterFor(shop, {
      gate,
      sleeps,
      random: () => 0.5,
      backoffBaseMs: 100,
      backoffCapMs: 1000,
    });
    const page = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 });
    expect(page.orders).toHaveLength(1);
    expect(sleeps).toEqual([100, 150, 250]);
    expect(gate.released.map((o) => o.failure ?? "ok")).toEqual([
      "retryable",
      "retryable",
      "retryable",
      "ok",
    ]);
    expect(fake.stats(shop.shop).injected).toMatchObject({ 500: 1, 502: 1, 503: 1 });
  });

  it("gives up after maxAttempts with a retryable error", async () => {
    const shop = newShop();
    for (let i = 0; i < 3; i++) fake.failNext(shop.shop, 503);
    const error = await failure(
      adapterFor(shop, { maxAttempts: 3 }).listOrdersUpdatedSince({
        updatedSince: EPOCH,
        cursor: null,
        pageSize: 5,
      }),
    );
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ upstream: "shopify", kind: "retryable" });
    expect(error.message).toContain("HTTP 503");
  });

  it("classifies a refused access token as auth, not retryable, and never reveals the token", async () => {
    const shop = newShop();
    const gate = recordingGate();
    const adapter = adapterFor(
      { shop: shop.shop, accessToken: "shpat_0000000000000000wrongtoken0000" },
      { gate },
    );
    const error = await failure(
      adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 }),
    );
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ upstream: "shopify", kind: "auth" });
    expect(exposedText(error)).not.toContain("wrongtoken");
    expect(gate.released).toEqual([{ ok: false, failure: "auth" }]);
    expect(fake.stats(shop.shop)).toMatchObject({ requests: 1, unauthorized: 1 });
  });

  it("a request that never answers is cut by the timeout and classified retryable", async () => {
    const shop = newShop();
    fake.failNext(shop.shop, "hang");
    const gate = recordingGate();
    const adapter = adapterFor(shop, { gate, timeoutMs: 200, maxAttempts: 1 });
    const error = await failure(
      adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 5 }),
    );
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ kind: "retryable" });
    expect(error.message).toMatch(/timed out after 200 ms/);
    expect(exposedText(error)).not.toContain(shop.accessToken);
    expect(gate.released).toEqual([{ ok: false, failure: "retryable" }]);
  });

  it("a hung read is retried: queries are safe to send again", async () => {
    const shop = newShop();
    fake.seedOrders(shop.shop, 2);
    fake.failNext(shop.shop, "hang");
    const page = await adapterFor(shop, { timeoutMs: 200 }).listOrdersUpdatedSince({
      updatedSince: EPOCH,
      cursor: null,
      pageSize: 5,
    });
    expect(page.orders).toHaveLength(2);
  });

  it("a query Shopify refuses (over the cost ceiling) is permanent, with Shopify's reason", async () => {
    const shop = newShop();
    const gate = recordingGate();
    // Simulates a page size the estimator would never choose.
    const oversize: typeof fetch = (input, init) => {
      const body = JSON.parse(String(init?.body)) as { query: string; variables: Record<string, unknown> };
      return fetch(input, {
        ...init,
        body: JSON.stringify({ ...body, variables: { ...body.variables, first: 250 } }),
      });
    };
    const error = await failure(
      adapterFor(shop, { gate, fetch: oversize }).listOrdersUpdatedSince({
        updatedSince: EPOCH,
        cursor: null,
        pageSize: 5,
      }),
    );
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ kind: "permanent" });
    expect(error.message).toContain("MAX_COST_EXCEEDED");
    expect(gate.released).toEqual([{ ok: false, failure: "permanent" }]);
  });

  it("never sends a request the bucket cannot cover when a cost-bucket governor holds the gate", async () => {
    const limits = { maximumAvailable: 1000, restoreRate: 10_000 };
    const shop = newShop(limits);
    const seeded = fake.seedOrders(shop.shop, 12);
    const gate = localBucketGate(limits);
    const adapter = adapterFor(shop, { gate, realSleep: true });
    await Promise.all([
      ...Array.from({ length: 10 }, () => allPages(adapter)),
      ...seeded.slice(0, 3).map((order, i) =>
        adapter.createFulfillment({
          orderExternalId: order.id,
          carrier: "DHL",
          trackingNumbers: [`JD01460000${i}`],
          trackingUrl: null,
          lines: [],
          notifyCustomer: false,
        }),
      ),
    ]);
    const stats = fake.stats(shop.shop);
    // Far more than one bucket's worth went through...
    expect(stats.requestedCost).toBeGreaterThan(5 * limits.maximumAvailable);
    // ...and not one request arrived when the bucket could not cover it.
    expect(stats.overLimit).toBe(0);
    expect(stats.throttled).toBe(0);
  });

  it("(control) without a governor the same load does hit the bucket's limit", async () => {
    const limits = { maximumAvailable: 1000, restoreRate: 10_000 };
    const shop = newShop(limits);
    fake.seedOrders(shop.shop, 12);
    const adapter = adapterFor(shop, { realSleep: true, maxAttempts: 2 });
    // Some of these give up throttled: that is the point.
    await Promise.allSettled(Array.from({ length: 10 }, () => allPages(adapter)));
    expect(fake.stats(shop.shop).overLimit).toBeGreaterThan(0);
  });
});

describe("bulk export against the Shopify fake", () => {
  it("exports every order updated since a time and reads them back, lines included", async () => {
    const shop = newShop();
    fake.seedOrders(shop.shop, [
      {
        lines: Array.from({ length: 15 }, (_, i) => ({
          sku: `LONG-${i}`,
          title: `Part ${i}`,
          unitPrice: "2.0",
        })),
      },
      { shippingAddress: null, customer: null },
    ]);
    fake.seedOrders(shop.shop, 10);
    const adapter = adapterFor(shop, { realSleep: true });
    const { operationId } = await adapter.startOrdersBulkExport({ updatedSince: EPOCH });
    expect(operationId).toMatch(/^gid:\/\/shopify\/BulkOperation\/\d+$/);

    let status = await adapter.getBulkExport(operationId);
    expect(["created", "running"]).toContain(status.status);
    while (status.status !== "completed") {
      await new Promise((r) => setTimeout(r, 10));
      status = await adapter.getBulkExport(operationId);
    }
    expect(status.url).toMatch(/\/bulk-results\//);
    if (status.url === null) throw new Error("no file");
    const {
      orders: exported,
      rejected,
      nextByte,
    } = await adapter.readBulkExportOrders({
      url: status.url,
      fromByte: 0,
      maxOrders: 250,
    });
    expect(rejected).toEqual([]);
    expect(nextByte).toBeNull();
    const paged = (await allPages(adapter)).flat();
    const byId = (a: Order, b: Order) => a.externalId.localeCompare(b.externalId);
    expect(exported.length).toBe(12);
    expect([...exported].sort(byId)).toEqual([...paged].sort(byId));
    expect(exported.find((o) => o.lines.length === 15)).toBeDefined();
    expect(status.objectCount).toBe(
      12 + exported.reduce((n, o) => n + o.lines.length + o.shippingLines.length, 0),
    );
    expect(fake.stats(shop.shop).bulkDownloads).toBe(1);
  });

  it("an export of nothing completes without a file", async () => {
    const shop = newShop();
    fake.seedOrders(shop.shop, 2);
    const adapter = adapterFor(shop);
    const { operationId } = await adapter.startOrdersBulkExport({ updatedSince: "2099-01-01T00:00:00Z" });
    await new Promise((r) => setTimeout(r, 40));
    expect(await adapter.getBulkExport(operationId)).toEqual({
      status: "completed",
      url: null,
      objectCount: 0,
      errorCode: null,
    });
  });

  it("the result file is fetched without the access token", async () => {
    const shop = newShop();
    fake.seedOrders(shop.shop, 1);
    const seen: { url: string; token: string | null }[] = [];
    const spying: typeof fetch = (input, init) => {
      seen.push({ url: String(input), token: new Headers(init?.headers).get("x-shopify-access-token") });
      return fetch(input, init);
    };
    const adapter = adapterFor(shop, { fetch: spying });
    const { operationId } = await adapter.startOrdersBulkExport({ updatedSince: EPOCH });
    await new Promise((r) => setTimeout(r, 40));
    const { url } = await adapter.getBulkExport(operationId);
    if (url === null) throw new Error("no file");
    expect((await adapter.readBulkExportOrders({ url, fromByte: 0, maxOrders: 10 })).orders).toHaveLength(1);
    expect(seen.find((s) => s.url === url)?.token).toBeNull();
    expect(
      seen.filter((s) => s.url.endsWith("graphql.json")).every((s) => s.token === shop.accessToken),
    ).toBe(true);
  });

  it("an expired result URL is a permanent failure", async () => {
    const shop = newShop();
    const error = await failure(
      adapterFor(shop).readBulkExportOrders({
        url: `${fake.url}/bulk-results/${shop.shop}/999.jsonl`,
        fromByte: 0,
        maxOrders: 10,
      }),
    );
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ kind: "permanent" });
  });
});

describe("createFulfillment against the Shopify fake", () => {
  it("fulfils every remaining line with carrier and tracking, and a second call returns the same fulfilment", async () => {
    const shop = newShop();
    const [order] = fake.seedOrders(shop.shop, [
      { lines: [{ sku: "TW-TEE-BLK-M", quantity: 2 }, { sku: "TW-CAP-OLV" }] },
    ]);
    if (order === undefined) throw new Error("no order seeded");
    const adapter = adapterFor(shop);
    const input = {
      orderExternalId: order.id,
      carrier: "UPS",
      trackingNumbers: ["1Z999AA10123456784"],
      trackingUrl: "https://www.ups.com/track?tracknum=1Z999AA10123456784",
      lines: [],
      notifyCustomer: true,
    };
    const first = await adapter.createFulfillment(input);
    expect(first).toEqual({
      fulfillmentId: expect.stringMatching(/^gid:\/\/shopify\/Fulfillment\/\d+$/),
      created: true,
    });
    const second = await adapter.createFulfillment({ ...input, trackingNumbers: [" 1z999aa10123456784 "] });
    expect(second).toEqual({ fulfillmentId: first.fulfillmentId, created: false });

    const fulfillments = fake.listFulfillments(shop.shop);
    expect(fulfillments).toHaveLength(1);
    expect(fulfillments[0]).toMatchObject({
      id: first.fulfillmentId,
      orderId: order.id,
      notifyCustomer: true,
      trackingInfo: [{ company: "UPS", number: "1Z999AA10123456784", url: input.trackingUrl }],
    });
    expect(fulfillments[0]?.lineItems.map((l) => [l.lineItemId, l.quantity])).toEqual([
      [order.lineItemIds[0], 2],
      [order.lineItemIds[1], 1],
    ]);
    expect(fake.getOrder(shop.shop, order.id)?.displayFulfillmentStatus).toBe("FULFILLED");
  });

  it("fulfils only the lines and quantities given", async () => {
    const shop = newShop();
    const [order] = fake.seedOrders(shop.shop, [
      { lines: [{ sku: "TW-TEE-BLK-M", quantity: 3 }, { sku: "TW-CAP-OLV" }] },
    ]);
    const teeLine = order?.lineItemIds[0];
    if (order === undefined || teeLine === undefined) throw new Error("no order seeded");
    const result = await adapterFor(shop).createFulfillment({
      orderExternalId: order.id,
      carrier: "YunExpress",
      trackingNumbers: ["YT2233445566778899"],
      trackingUrl: null,
      lines: [{ externalLineId: teeLine, quantity: 2 }],
      notifyCustomer: false,
    });
    expect(result.created).toBe(true);
    expect(fake.listFulfillments(shop.shop)[0]?.lineItems).toEqual([
      expect.objectContaining({ lineItemId: teeLine, quantity: 2 }),
    ]);
    expect(fake.getOrder(shop.shop, order.id)?.displayFulfillmentStatus).toBe("PARTIALLY_FULFILLED");
  });

  it("asking for more than is left to fulfil is refused before anything is sent", async () => {
    const shop = newShop();
    const [order] = fake.seedOrders(shop.shop, [{ lines: [{ sku: "TW-MUG-350", quantity: 1 }] }]);
    const line = order?.lineItemIds[0];
    if (order === undefined || line === undefined) throw new Error("no order seeded");
    const error = await failure(
      adapterFor(shop).createFulfillment({
        orderExternalId: order.id,
        carrier: "USPS",
        trackingNumbers: ["9400111899223856928499"],
        trackingUrl: null,
        lines: [{ externalLineId: line, quantity: 5 }],
        notifyCustomer: false,
      }),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("1 of 5");
    expect(fake.listFulfillments(shop.shop)).toHaveLength(0);
  });

  it("Shopify's userErrors are permanent and carry Shopify's message", async () => {
    const shop = newShop();
    const [order] = fake.seedOrders(shop.shop, [{ lines: [{ sku: "TW-MUG-350" }] }]);
    if (order === undefined) throw new Error("no order seeded");
    const other = adapterFor(shop);
    // Between our read and our write, someone else fulfils the whole order.
    let raced = false;
    const racing: typeof fetch = async (input, init) => {
      if (!raced && String(init?.body).includes("fulfillmentCreate")) {
        raced = true;
        await other.createFulfillment({
          orderExternalId: order.id,
          carrier: "FedEx",
          trackingNumbers: ["794698765432"],
          trackingUrl: null,
          lines: [],
          notifyCustomer: false,
        });
      }
      return fetch(input, init);
    };
    const error = await failure(
      adapterFor(shop, { fetch: racing }).createFulfillment({
        orderExternalId: order.id,
        carrier: "UPS",
        trackingNumbers: ["1Z999AA10123456785"],
        trackingUrl: null,
        lines: [],
        notifyCustomer: false,
      }),
    );
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ kind: "permanent" });
    expect(error.message).toMatch(/unfulfillable status/);
    expect(fake.listFulfillments(shop.shop)).toHaveLength(1);
  });

  it("after a fulfilment request whose answer was lost, reads the order again instead of creating a duplicate", async () => {
    const shop = newShop();
    const [order] = fake.seedOrders(shop.shop, 1);
    if (order === undefined) throw new Error("no order seeded");
    let lost = false;
    const losing: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (!lost && String(init?.body).includes("fulfillmentCreate")) {
        lost = true;
        await response.body?.cancel();
        throw new TypeError("fetch failed: socket hang up");
      }
      return response;
    };
    const result = await adapterFor(shop, { fetch: losing }).createFulfillment({
      orderExternalId: order.id,
      carrier: "DHL Express",
      trackingNumbers: ["1234567890"],
      trackingUrl: null,
      lines: [],
      notifyCustomer: false,
    });
    expect(lost).toBe(true);
    const fulfillments = fake.listFulfillments(shop.shop);
    expect(fulfillments).toHaveLength(1);
    expect(result).toEqual({ fulfillmentId: fulfillments[0]?.id, created: true });
  });

  it("an unknown order is a permanent failure", async () => {
    const shop = newShop();
    const error = await failure(
      adapterFor(shop).createFulfillment({
        orderExternalId: "gid://shopify/Order/1",
        carrier: "UPS",
        trackingNumbers: ["1Z1"],
        trackingUrl: null,
        lines: [],
        notifyCustomer: false,
      }),
    );
    expect(error.retryable).toBe(false);
    expect(error.message).toContain("not found");
  });
});

describe("the fake's HTTP control API", () => {
  it("keeps creating orders for the demo until told to stop", async () => {
    const shop = newShop();
    fake.startAutoOrders(shop.shop, { everyMs: 20, perTick: 2 });
    await new Promise((r) => setTimeout(r, 90));
    fake.stopAutoOrders(shop.shop);
    const pages = await allPages(adapterFor(shop));
    const count = pages.flat().length;
    expect(count).toBeGreaterThanOrEqual(4);
    await new Promise((r) => setTimeout(r, 50));
    expect((await allPages(adapterFor(shop))).flat()).toHaveLength(count);
  });

  it("drives a shop the way workerd tests must: create, seed, fail, read stats and fulfilments", async () => {
    const shop = `tw-http-${Date.now().toString(36)}.myshopify.com`;
    const post = (path: string, body: unknown) =>
      fetch(`${fake.url}/__control/${path}`, { method: "POST", body: JSON.stringify(body) });
    expect(
      (await post("shops", { shop, accessToken: "shpat_control_token_1234", restoreRate: 500 })).status,
    ).toBe(204);
    const seeded = (await (await post("orders", { shop, count: 3 })).json()) as { orders: { id: string }[] };
    expect(seeded.orders).toHaveLength(3);
    expect((await post("fail-next", { shop, failure: 503 })).status).toBe(204);
    const adapter = adapterFor({ shop, accessToken: "shpat_control_token_1234" });
    const page = await adapter.listOrdersUpdatedSince({ updatedSince: EPOCH, cursor: null, pageSize: 10 });
    expect(page.orders).toHaveLength(3);
    const stats = (await (await fetch(`${fake.url}/__control/stats?shop=${shop}`)).json()) as Record<
      string,
      unknown
    >;
    expect(stats).toMatchObject({
      requests: 2,
      overLimit: 0,
      injected: { 503: 1 },
      throttleStatus: { restoreRate: 500 },
    });
    const updated = await post("orders/update", { shop, id: seeded.orders[0]?.id, patch: { cancel: true } });
    expect(((await updated.json()) as { order: { id: string } }).order.id).toBe(seeded.orders[0]?.id);
    const fulfillments = await fetch(`${fake.url}/__control/fulfillments?shop=${shop}`);
    expect(await fulfillments.json()).toEqual({ fulfillments: [] });
    expect(
      (await fetch(`${fake.url}/shops/nope.myshopify.com/admin/api/2026-10/graphql.json`, { method: "POST" }))
        .status,
    ).toBe(404);
  });
});
