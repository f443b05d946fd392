import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createInMemoryLingxingTokenStore,
  createLingxingAdapter,
  LINGXING_MAX_BATCH_SIZE,
  type LingxingAdapterInput,
  type LingxingTokenStore,
} from "../../src/adapters/erp/lingxing/client";
import erpOrderInput from "../../src/adapters/erp/lingxing/fixtures/erp-order-input.json";
import { LINGXING_BUCKET_CAPACITY, LINGXING_PATHS } from "../../src/adapters/erp/lingxing/types";
import { ErpOrderInput } from "../../src/domain/erp-order";
import { UpstreamError } from "../../src/lib/errors";
import { type UpstreamGate, type UpstreamOutcome, ungatedUpstream } from "../../src/lib/upstream-gate";
import { type LingxingFake, startLingxingFake } from "../fakes/lingxing";

const STORE = "110283406273996288";

// One clock for the fake and the adapters, so tests can move time (token expiry) without breaking the
// signed-timestamp window.
let clock = Date.now();
const now = () => clock;

let fake: LingxingFake;
beforeAll(async () => {
  fake = await startLingxingFake({ now });
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => {
  clock = Date.now();
  fake.configure({ latencyMs: 0, capacity: { ...LINGXING_BUCKET_CAPACITY } });
});

/** Lingxing appIds are `ak_` + 13 characters: 16 bytes, the AES-128 signing key. */
function newApp(options: { skus?: string[] } = {}): { appId: string; appSecret: string } {
  const appId = `ak_${randomBytes(8).toString("hex").slice(0, 13)}`;
  const appSecret = randomBytes(18).toString("base64");
  fake.registerApp(appId, appSecret, options);
  return { appId, appSecret };
}

function orderInput(reference: string, overrides: Partial<ErpOrderInput> = {}): ErpOrderInput {
  return ErpOrderInput.parse({ ...erpOrderInput, reference, ...overrides });
}

function withLine(reference: string, erpSku: string): ErpOrderInput {
  const [line] = erpOrderInput.lines;
  return orderInput(reference, { lines: [{ ...(line as ErpOrderInput["lines"][number]), erpSku }] });
}

interface GateLog {
  acquired: string[];
  released: UpstreamOutcome[];
}

/** A per-endpoint semaphore at Lingxing's documented bucket sizes, recording what it was asked and told. */
function governedGate(capacity: Record<string, number> = LINGXING_BUCKET_CAPACITY): UpstreamGate & GateLog {
  const inFlight = new Map<string, number>();
  const waiting = new Map<string, (() => void)[]>();
  const log: GateLog = { acquired: [], released: [] };
  return {
    ...log,
    async acquire({ endpoint, cost }) {
      expect(cost).toBe(1);
      log.acquired.push(endpoint);
      const limit = capacity[endpoint] ?? 1;
      while ((inFlight.get(endpoint) ?? 0) >= limit) {
        await new Promise<void>((resolve) =>
          waiting.set(endpoint, [...(waiting.get(endpoint) ?? []), resolve]),
        );
      }
      inFlight.set(endpoint, (inFlight.get(endpoint) ?? 0) + 1);
      return {
        async release(outcome) {
          log.released.push(outcome);
          inFlight.set(endpoint, (inFlight.get(endpoint) ?? 1) - 1);
          waiting.get(endpoint)?.shift()?.();
        },
      };
    },
  };
}

function adapterFor(
  app: { appId: string; appSecret: string },
  overrides: Partial<LingxingAdapterInput> = {},
) {
  return createLingxingAdapter({
    credentials: app,
    apiBase: fake.url,
    gate: governedGate(),
    tokens: createInMemoryLingxingTokenStore(),
    now,
    sleep: async () => undefined,
    timeoutMs: 2000,
    defaultStoreId: STORE,
    ...overrides,
  });
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

describe("Lingxing access tokens", () => {
  it("fetches a token once and reuses it from the shared store", async () => {
    const app = newApp();
    const tokens = createInMemoryLingxingTokenStore();
    const adapter = adapterFor(app, { tokens });
    await adapter.findOrders(["TW-1"]);
    await adapter.findOrders(["TW-2"]);
    const stats = fake.stats(app.appId);
    expect(stats.tokensIssued).toBe(1);
    expect(stats.tokensRefreshed).toBe(0);
    const stored = await tokens.get();
    expect(stored?.accessToken).toBe(fake.accessTokenOf(app.appId));
    expect(stored?.expiresAt).toBe(clock + 7199 * 1000);
  });

  it("renews with the refresh token shortly before the access token expires", async () => {
    const app = newApp();
    const tokens = createInMemoryLingxingTokenStore();
    const adapter = adapterFor(app, { tokens });
    await adapter.findOrders(["TW-1"]);
    const first = await tokens.get();
    clock += (7199 - 4 * 60) * 1000; // 4 minutes left: inside the 5-minute renewal margin
    await adapter.findOrders(["TW-1"]);
    const stats = fake.stats(app.appId);
    expect(stats.tokensIssued).toBe(1);
    expect(stats.tokensRefreshed).toBe(1);
    expect(stats.tokenRefusals).toBe(0);
    const second = await tokens.get();
    expect(second?.accessToken).not.toBe(first?.accessToken);
    expect(second?.refreshToken).not.toBe(first?.refreshToken);
  });

  it("lets only one of two concurrent isolates spend the single-use refresh token", async () => {
    const app = newApp();
    const shared = createInMemoryLingxingTokenStore();
    const isolateA = adapterFor(app, { tokens: shared });
    const isolateB = adapterFor(app, { tokens: shared });
    await isolateA.findOrders(["TW-1"]);
    clock += (7199 - 60) * 1000;
    await Promise.all([isolateA.findOrders(["TW-1"]), isolateB.findOrders(["TW-2"])]);
    const stats = fake.stats(app.appId);
    expect(stats.tokensRefreshed).toBe(1);
    expect(stats.tokensIssued).toBe(1);
    expect(stats.tokenRefusals).toBe(0);
  });

  it("issues a new token from the app secret when the refresh token is spent", async () => {
    const app = newApp();
    const tokens: LingxingTokenStore = createInMemoryLingxingTokenStore({
      accessToken: "00000000-0000-0000-0000-000000000000",
      refreshToken: "already-used-elsewhere",
      expiresAt: clock + 60_000,
    });
    await adapterFor(app, { tokens }).findOrders(["TW-1"]);
    const stats = fake.stats(app.appId);
    expect(stats.tokensRefreshed).toBe(0);
    expect(stats.tokensIssued).toBe(1);
    expect((await tokens.get())?.accessToken).toBe(fake.accessTokenOf(app.appId));
  });

  it("renews once and repeats the call when Lingxing says the token expired", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    await adapter.findOrders(["TW-1"]);
    fake.expireAccessToken(app.appId);
    await expect(adapter.findOrders(["TW-1"])).resolves.toEqual(new Map());
    const stats = fake.stats(app.appId);
    expect(stats.tokenRefusals).toBe(1);
    expect(stats.tokensRefreshed).toBe(1);
    expect(stats.requests[LINGXING_PATHS.listOrders]).toBe(3);
  });

  it("renews when another holder's new token superseded ours (2001005)", async () => {
    const app = newApp();
    const ours = adapterFor(app);
    await ours.findOrders(["TW-1"]);
    await adapterFor(app).findOrders(["TW-1"]); // a second tool with its own store issues a new token
    await expect(ours.findOrders(["TW-1"])).resolves.toEqual(new Map());
    expect(fake.stats(app.appId).tokenRefusals).toBe(1);
  });

  it("reports a wrong app secret as an auth failure without calling any business API", async () => {
    const app = newApp();
    const error = await caught(adapterFor({ ...app, appSecret: "wrong-secret" }).findOrders(["TW-1"]));
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ kind: "auth", lingxingCode: "2001002" });
    expect(error.message).not.toContain("wrong-secret");
    expect(fake.stats(app.appId).requests[LINGXING_PATHS.listOrders]).toBeUndefined();
  });

  it("reports an unknown appId as an auth failure", async () => {
    const error = await caught(
      adapterFor({ appId: "ak_notregistered", appSecret: "x" }).findOrders(["TW-1"]),
    );
    expect(error.details).toMatchObject({ kind: "auth", lingxingCode: "2001001" });
  });
});

describe("Lingxing request signing against the fake", () => {
  it("passes the fake's independent signature check on every call", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    await adapter.pushOrders([orderInput("TW-SIG-1")]);
    await adapter.findOrders(["TW-SIG-1"]);
    await adapter.listShipments(["TW-SIG-1"]);
    const stats = fake.stats(app.appId);
    expect(stats.signatureFailures).toBe(0);
    expect(stats.ordersCreated).toBe(1);
  });

  it("treats a signature Lingxing rejects as a permanent bug, not something to retry", async () => {
    const app = newApp();
    const tampering: typeof fetch = (url, init) =>
      fetch(String(url).replace(/sign=[^&]+/, "sign=AAAA"), init);
    const error = await caught(adapterFor(app, { fetch: tampering }).findOrders(["TW-1"]));
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ kind: "permanent", lingxingCode: "2001006" });
    const stats = fake.stats(app.appId);
    expect(stats.signatureFailures).toBe(1);
    expect(stats.requests[LINGXING_PATHS.listOrders]).toBe(1);
    const token = fake.accessTokenOf(app.appId) ?? "no token";
    expect(`${error.message} ${JSON.stringify(error.details)} ${String(error.cause)}`).not.toContain(token);
  });
});

describe("Lingxing rate limits (token bucket per appId + API)", () => {
  it("backs off and retries after 3001008, telling the gate it was rate limited", async () => {
    const app = newApp();
    const gate = governedGate();
    const slept: number[] = [];
    const adapter = adapterFor(app, { gate, sleep: async (ms) => void slept.push(ms) });
    await adapter.findOrders(["TW-1"]);
    fake.failNext(app.appId, "3001008");
    await expect(adapter.findOrders(["TW-1"])).resolves.toEqual(new Map());
    expect(gate.released.filter((o) => o.failure === "rate_limited")).toEqual([
      { ok: false, failure: "rate_limited", retryAfterMs: 1000 },
    ]);
    expect(slept).toHaveLength(1);
  });

  it("gives up with a retryable rate_limited error after maxAttempts", async () => {
    const app = newApp();
    const adapter = adapterFor(app, { maxAttempts: 2 });
    await adapter.findOrders(["TW-1"]);
    fake.failNext(app.appId, "3001008");
    fake.failNext(app.appId, "3001008");
    const error = await caught(adapter.findOrders(["TW-1"]));
    expect(error.retryable).toBe(true);
    expect(error.retryAfterSeconds).toBeGreaterThan(0);
    expect(error.details).toMatchObject({ kind: "rate_limited" });
  });

  it("never exceeds a bucket when every request goes through the gate", async () => {
    const app = newApp();
    fake.configure({ latencyMs: 30 });
    const adapter = adapterFor(app, { gate: governedGate() });
    await Promise.all(Array.from({ length: 25 }, (_, i) => adapter.findOrders([`TW-${i}`])));
    await Promise.all(Array.from({ length: 4 }, (_, i) => adapter.listShipments([`TW-${i}`])));
    const stats = fake.stats(app.appId);
    expect(stats.overLimit).toBe(0);
    expect(stats.maxInFlight[LINGXING_PATHS.listOrders]).toBe(10);
    expect(stats.maxInFlight[LINGXING_PATHS.listOutboundOrders]).toBe(1);
  });

  it("is caught by the fake when requests bypass the gate", async () => {
    const app = newApp();
    fake.configure({ latencyMs: 30 });
    const adapter = adapterFor(app, { gate: ungatedUpstream, maxAttempts: 1 });
    await adapter.findOrders(["TW-0"]);
    const results = await Promise.allSettled(
      Array.from({ length: 15 }, (_, i) => adapter.findOrders([`TW-${i}`])),
    );
    expect(fake.stats(app.appId).overLimit).toBeGreaterThan(0);
    for (const result of results) {
      if (result.status === "rejected") {
        expect((result.reason as UpstreamError).details).toMatchObject({ kind: "rate_limited" });
      }
    }
  });
});

describe("pushing orders to Lingxing", () => {
  it("creates a batch in one call and reports each order's outcome", async () => {
    const app = newApp({ skus: ["TEE-RED-M", "MUG-WHITE"] });
    const adapter = adapterFor(app);
    const results = await adapter.pushOrders([
      orderInput("TW-B-1"),
      withLine("TW-B-2", "HOODIE-XXL"),
      orderInput("TW-B-3"),
    ]);
    const orders = fake.orders(app.appId);
    expect(results).toEqual([
      { reference: "TW-B-1", outcome: "created", erpOrderId: orders[0]?.globalOrderNo },
      { reference: "TW-B-2", outcome: "rejected", code: "order_rejected", message: "SKU不存在: HOODIE-XXL" },
      { reference: "TW-B-3", outcome: "created", erpOrderId: orders[1]?.globalOrderNo },
    ]);
    expect(orders[0]).toMatchObject({
      storeId: STORE,
      platformCode: 10009,
      platformOrderNo: "TW-B-1",
      currency: "USD",
      items: [
        { sku: "TEE-RED-M", quantity: 2, unitPrice: "24.99" },
        { sku: "MUG-WHITE", quantity: 1, unitPrice: "12.00" },
      ],
    });
    const stats = fake.stats(app.appId);
    expect(stats.requests[LINGXING_PATHS.createOrders]).toBe(1);
  });

  it("does not retry an order Lingxing refused as invalid", async () => {
    const app = newApp({ skus: ["TEE-RED-M"] });
    const adapter = adapterFor(app);
    const [result] = await adapter.pushOrders([withLine("TW-V-1", "NOT-IN-CATALOG")]);
    expect(result).toMatchObject({ outcome: "rejected", message: "SKU不存在: NOT-IN-CATALOG" });
    const stats = fake.stats(app.appId);
    expect(stats.requests[LINGXING_PATHS.createOrders]).toBe(1);
    expect(stats.ordersCreated).toBe(0);
  });

  it("reports an order pushed before as a duplicate carrying the existing Lingxing id", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    const [first] = await adapter.pushOrders([orderInput("TW-D-1")]);
    const [again] = await adapter.pushOrders([orderInput("TW-D-1"), orderInput("TW-D-2")]);
    expect(first).toMatchObject({ outcome: "created" });
    expect(again).toEqual({
      reference: "TW-D-1",
      outcome: "duplicate",
      erpOrderId: first?.outcome === "created" ? first.erpOrderId : "",
    });
    const stats = fake.stats(app.appId);
    expect(stats.duplicatesRejected).toBe(1);
    expect(stats.ordersCreated).toBe(2);
  });

  it("cuts the calls per order with the batch size (50 orders per create call)", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    expect(adapter.maxBatchSize).toBe(LINGXING_MAX_BATCH_SIZE);
    const batch = Array.from({ length: 120 }, (_, i) => orderInput(`TW-N-${i}`));
    const results = await adapter.pushOrders(batch);
    expect(results.every((r) => r.outcome === "created")).toBe(true);
    expect(fake.stats(app.appId).requests[LINGXING_PATHS.createOrders]).toBe(3);
  });

  it("sends orders of different Lingxing stores in separate requests", async () => {
    const app = newApp();
    const results = await adapterFor(app).pushOrders([
      orderInput("TW-S-1", { erpStoreId: "110000000000000001" }),
      orderInput("TW-S-2", { erpStoreId: "110000000000000002" }),
      orderInput("TW-S-3", { erpStoreId: null }),
    ]);
    expect(results.map((r) => r.outcome)).toEqual(["created", "created", "created"]);
    expect(
      fake
        .orders(app.appId)
        .map((o) => o.storeId)
        .sort(),
    ).toEqual(["110000000000000001", "110000000000000002", STORE]);
  });

  it("rejects without a call an order that has no Lingxing store or an incomplete address", async () => {
    const app = newApp();
    const results = await adapterFor(app, { defaultStoreId: undefined }).pushOrders([
      orderInput("TW-X-1", { erpStoreId: null }),
    ]);
    expect(results).toEqual([
      {
        reference: "TW-X-1",
        outcome: "rejected",
        code: "missing_store",
        message: "No Lingxing store (store_id) is configured for this order",
      },
    ]);
    expect(fake.stats(app.appId).requests[LINGXING_PATHS.createOrders]).toBeUndefined();
  });

  it("answers a lost create (timeout after Lingxing accepted it) with a retryable error, then finds the order", async () => {
    const app = newApp();
    const adapter = adapterFor(app, { timeoutMs: 300 });
    await adapter.findOrders(["warm-up"]);
    fake.failNext(app.appId, "timeout-after-accept");
    const error = await caught(adapter.pushOrders([orderInput("TW-T-1")]));
    expect(error.retryable).toBe(true);
    expect(error.details).toMatchObject({ kind: "retryable" });
    expect(error.message).toMatch(/outcome unknown/);
    expect(fake.stats(app.appId).requests[LINGXING_PATHS.createOrders]).toBe(1);
    const found = await adapter.findOrders(["TW-T-1"]);
    expect(found.get("TW-T-1")).toEqual({
      reference: "TW-T-1",
      erpOrderId: fake.orders(app.appId)[0]?.globalOrderNo,
      status: "pending_review",
    });
  });

  it("never re-posts a create after HTTP 500, but retries a read", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    await adapter.findOrders(["warm-up"]);
    fake.failNext(app.appId, "http500");
    const error = await caught(adapter.pushOrders([orderInput("TW-H-1")]));
    expect(error.details).toMatchObject({ kind: "retryable" });
    expect(fake.stats(app.appId).requests[LINGXING_PATHS.createOrders]).toBe(1);
    fake.failNext(app.appId, "http500");
    await expect(adapter.findOrders(["TW-H-1"])).resolves.toEqual(new Map());
  });

  it("re-posts a create that the gateway refused before processing it (3001008)", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    await adapter.findOrders(["warm-up"]);
    fake.failNext(app.appId, "3001008");
    const [result] = await adapter.pushOrders([orderInput("TW-R-1")]);
    expect(result).toMatchObject({ outcome: "created" });
    expect(fake.stats(app.appId).requests[LINGXING_PATHS.createOrders]).toBe(2);
  });

  it("narrows a refusal of the whole request (102) down to the order at fault", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    await adapter.findOrders(["warm-up"]);
    fake.failNext(app.appId, 102);
    const [single] = await adapter.pushOrders([orderInput("TW-Q-1")]);
    expect(single).toEqual({ reference: "TW-Q-1", outcome: "rejected", code: "102", message: "参数不合法" });

    fake.failNext(app.appId, 102);
    const results = await adapter.pushOrders([orderInput("TW-Q-2"), orderInput("TW-Q-3")]);
    expect(results.map((r) => r.outcome)).toEqual(["created", "created"]);
    expect(fake.stats(app.appId).requests[LINGXING_PATHS.createOrders]).toBe(4);
  });
});

describe("reading orders and shipments back from Lingxing", () => {
  it("finds pushed orders by reference and leaves unknown ones out", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    const [created] = await adapter.pushOrders([orderInput("TW-F-1")]);
    const found = await adapter.findOrders(["TW-F-1", "TW-F-404"]);
    expect([...found.keys()]).toEqual(["TW-F-1"]);
    expect(found.get("TW-F-1")?.erpOrderId).toBe(created?.outcome === "created" ? created.erpOrderId : "");
  });

  it("lists shipments with tracking only for orders the warehouse shipped", async () => {
    const app = newApp();
    const adapter = adapterFor(app);
    await adapter.pushOrders([orderInput("TW-SH-1"), orderInput("TW-SH-2")]);
    const shippedAt = Date.parse("2024-05-15T02:30:00Z");
    const { woNumber } = fake.shipOrder(app.appId, "TW-SH-1", {
      carrier: "云途",
      trackingNumber: "YT2405150000000001",
      shippedAt,
    });
    const shipments = await adapter.listShipments(["TW-SH-1", "TW-SH-2"]);
    expect(shipments).toEqual([
      {
        externalId: woNumber,
        orderReference: "TW-SH-1",
        carrier: "云途",
        carrierCode: null,
        trackingNumbers: ["YT2405150000000001"],
        trackingUrl: null,
        shippedAt: "2024-05-15T10:30:00+08:00",
        lines: [
          { sku: "TEE-RED-M", quantity: 2 },
          { sku: "MUG-WHITE", quantity: 1 },
        ],
      },
    ]);
    expect((await adapter.findOrders(["TW-SH-1"])).get("TW-SH-1")?.status).toBe("shipped");
  });

  it("has no invoices to list: Lingxing offers no sales-invoice API", () => {
    expect(adapterFor(newApp(), { gate: governedGate() }).listInvoices).toBeUndefined();
  });

  it("asks the gate before every request, token calls included, and always releases", async () => {
    const app = newApp();
    const gate = governedGate();
    const adapter = adapterFor(app, { gate });
    await adapter.pushOrders([orderInput("TW-G-1")]);
    await adapter.listShipments(["TW-G-1"]);
    expect(gate.acquired).toEqual([
      LINGXING_PATHS.accessToken,
      LINGXING_PATHS.createOrders,
      LINGXING_PATHS.listOutboundOrders,
    ]);
    expect(gate.released).toEqual([{ ok: true }, { ok: true }, { ok: true }]);
  });
});

describe("the fake's HTTP control API (what workerd tests use)", () => {
  async function control(path: string, body?: Record<string, unknown>): Promise<Response> {
    return fetch(`${fake.url}/__control${path}`, {
      method: body ? "POST" : "GET",
      ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
    });
  }

  it("registers an app, ships an order and reports stats and orders over HTTP", async () => {
    const appId = `ak_${randomBytes(8).toString("hex").slice(0, 13)}`;
    expect(
      (await control("/apps", { appId, appSecret: "s3cret-over-http", skus: ["TEE-RED-M", "MUG-WHITE"] }))
        .status,
    ).toBe(204);
    const adapter = adapterFor({ appId, appSecret: "s3cret-over-http" });
    await adapter.pushOrders([orderInput("TW-HTTP-1")]);
    const shipped = await control("/ship", {
      appId,
      platformOrderNo: "TW-HTTP-1",
      carrier: "USPS",
      trackingNumber: "9400111899223344556677",
      shippedAt: "2024-05-15T02:30:00Z",
    });
    expect(shipped.status).toBe(200);
    const [shipment] = await adapter.listShipments(["TW-HTTP-1"]);
    expect(shipment).toMatchObject({ carrier: "USPS", trackingNumbers: ["9400111899223344556677"] });
    expect(
      (await control("/ship", { appId, platformOrderNo: "nope", carrier: "x", trackingNumber: "y" })).status,
    ).toBe(404);

    expect((await control("/fail-next", { appId, failure: "3001008" })).status).toBe(204);
    await adapter.findOrders(["TW-HTTP-1"]);
    const stats = (await (await control(`/stats?appId=${appId}`)).json()) as {
      overLimit: number;
      ordersCreated: number;
    };
    expect(stats).toMatchObject({ overLimit: 0, ordersCreated: 1 });
    const { orders } = (await (await control(`/orders?appId=${appId}`)).json()) as {
      orders: { platformOrderNo: string }[];
    };
    expect(orders.map((o) => o.platformOrderNo)).toEqual(["TW-HTTP-1"]);
    expect((await control("/expire-token", { appId })).status).toBe(204);
    expect((await control("/config", { latencyMs: 0 })).status).toBe(204);
    expect((await control("/nothing")).status).toBe(404);
  });
});
