import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createShopifyAdapter, type ShopifyAdapterInput } from "../../src/adapters/channels/shopify/client";
import {
  inventoryItemLevelsQuery,
  inventoryItemsPageQuery,
  LEVELS_PER_INVENTORY_ITEM,
  MAX_SINGLE_QUERY_COST,
  maxInventoryItemsPerPage,
  maxInventoryLevelsPerPage,
} from "../../src/adapters/channels/shopify/queries";
import { InventoryLevel } from "../../src/domain/commerce";
import { UpstreamError } from "../../src/lib/errors";
import { type UpstreamGate, type UpstreamOutcome, ungatedUpstream } from "../../src/lib/upstream-gate";
import { type FakeInventoryLevelSummary, type ShopifyFake, startShopifyFake } from "../fakes/shopify";
import { localBucketGate } from "../support/local-bucket-gate";

let fake: ShopifyFake;
let shopCount = 0;
const MAIN = "gid://shopify/Location/76543210";
const THREE_PL = "gid://shopify/Location/76543211";

beforeAll(async () => {
  fake = await startShopifyFake();
});

afterAll(async () => {
  await fake.close();
});

function newShop(limits: { maximumAvailable?: number; restoreRate?: number } = {}) {
  const shop = `tw-inv-${++shopCount}-${Date.now().toString(36)}.myshopify.com`;
  const accessToken = `shpat_${crypto.randomUUID().replaceAll("-", "")}`;
  fake.createShop({ shop, accessToken, ...limits });
  return { shop, accessToken };
}

function recordingGate(): UpstreamGate & { acquired: number[]; released: UpstreamOutcome[] } {
  const acquired: number[] = [];
  const released: UpstreamOutcome[] = [];
  return {
    acquired,
    released,
    async acquire({ cost }) {
      acquired.push(cost);
      return {
        async release(outcome) {
          released.push(outcome);
        },
      };
    },
  };
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
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    ...overrides,
  });
}

async function wholePass(adapter: ReturnType<typeof adapterFor>, pageSize: number) {
  const pages: InventoryLevel[][] = [];
  let cursor: string | null = null;
  do {
    const page = await adapter.listInventoryLevels({ cursor, pageSize });
    pages.push(page.levels);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return pages;
}

/** What the adapter should report for the fake's state: tracked items with a SKU, every location. */
function expectedLevels(levels: FakeInventoryLevelSummary[]): InventoryLevel[] {
  return levels.flatMap((l) =>
    l.tracked && l.sku !== null
      ? [{ sku: l.sku, locationId: l.locationId, available: l.available, updatedAt: l.updatedAt }]
      : [],
  );
}

const byKey = (a: InventoryLevel, b: InventoryLevel) =>
  `${a.sku}|${a.locationId}`.localeCompare(`${b.sku}|${b.locationId}`);

describe("inventory query cost", () => {
  it("a page of items with their inline levels and a follow-up page stay within the 1,000-point ceiling", () => {
    const items = maxInventoryItemsPerPage();
    expect(items).toBeGreaterThanOrEqual(20);
    expect(inventoryItemsPageQuery({ cursor: null, first: items }).cost).toBeLessThanOrEqual(
      MAX_SINGLE_QUERY_COST,
    );
    expect(inventoryItemsPageQuery({ cursor: null, first: items + 1 }).cost).toBeGreaterThan(
      MAX_SINGLE_QUERY_COST,
    );
    expect(maxInventoryLevelsPerPage()).toBeGreaterThanOrEqual(100);
    expect(
      inventoryItemLevelsQuery({ inventoryItemId: "gid://shopify/InventoryItem/1", after: null }).cost,
    ).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
  });

  it("asks the governor for exactly what Shopify computes as the requested cost", async () => {
    const shop = newShop();
    const gate = recordingGate();
    await wholePass(adapterFor(shop, { gate }), 250);
    const stats = fake.stats(shop.shop);
    expect(gate.acquired).toEqual(stats.requestedCosts);
    // The caller's 250 was cut to what the ceiling allows, and Shopify never refused a query for its cost.
    expect(Math.max(...gate.acquired)).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
    expect(stats.maxCostExceeded).toBe(0);
    for (const outcome of gate.released) {
      expect(outcome).toMatchObject({ ok: true });
      expect(outcome.actualCost).toBeLessThan(gate.acquired[0] ?? 0);
    }
  });
});

describe("listInventoryLevels against the Shopify fake", () => {
  it("pages through the catalogue: every tracked SKU at every location, once, as valid levels", async () => {
    const shop = newShop();
    const pages = await wholePass(adapterFor(shop), 3);
    // Eight catalogue items, three per page; gift wrapping (no SKU) fills a slot but yields nothing.
    expect(pages).toHaveLength(3);
    const levels = pages.flat();
    for (const level of levels) InventoryLevel.parse(level);
    expect([...levels].sort(byKey)).toEqual(expectedLevels(fake.listInventory(shop.shop)).sort(byKey));
    expect(levels.filter((l) => l.sku === "TW-SOCK-3PK").map((l) => l.locationId)).toEqual([MAIN]);
    expect(new Set(levels.filter((l) => l.sku === "TW-TEE-BLK-M").map((l) => l.locationId))).toEqual(
      new Set([MAIN, THREE_PL]),
    );
    expect(fake.stats(shop.shop)).toMatchObject({ requests: 3, throttled: 0, overLimit: 0 });
  });

  it("a level changed in Shopify reads back changed on the next pass, with a later updatedAt", async () => {
    const shop = newShop();
    const adapter = adapterFor(shop);
    const before = (await wholePass(adapter, 10))
      .flat()
      .find((l) => l.sku === "TW-CAP-OLV" && l.locationId === THREE_PL);
    fake.setInventory(shop.shop, { sku: "TW-CAP-OLV", locationId: THREE_PL, available: 2 });
    const after = (await wholePass(adapter, 10))
      .flat()
      .find((l) => l.sku === "TW-CAP-OLV" && l.locationId === THREE_PL);
    expect(after?.available).toBe(2);
    expect(Date.parse(after?.updatedAt ?? "")).toBeGreaterThan(Date.parse(before?.updatedAt ?? ""));
  });

  it("an order placed in Shopify moves its units out of available at the main location", async () => {
    const shop = newShop();
    const stock = () =>
      fake.listInventory(shop.shop).find((l) => l.sku === "TW-MUG-350" && l.locationId === MAIN);
    const before = stock()?.available ?? 0;
    fake.seedOrders(shop.shop, [{ lines: [{ sku: "TW-MUG-350", quantity: 3 }] }]);
    const levels = (await wholePass(adapterFor(shop), 10)).flat();
    expect(levels.find((l) => l.sku === "TW-MUG-350" && l.locationId === MAIN)?.available).toBe(before - 3);
  });

  it("reads the rest of an item stocked at more locations than come inline", async () => {
    const shop = newShop();
    const extra = LEVELS_PER_INVENTORY_ITEM + 4 - 2;
    for (let i = 0; i < extra; i++) {
      fake.setInventory(shop.shop, {
        sku: "TW-TOTE-NAT",
        locationId: `gid://shopify/Location/8800${i}`,
        available: i,
      });
    }
    const gate = recordingGate();
    const levels = (await wholePass(adapterFor(shop, { gate }), 30)).flat();
    const tote = levels.filter((l) => l.sku === "TW-TOTE-NAT");
    expect(tote).toHaveLength(LEVELS_PER_INVENTORY_ITEM + 4);
    expect(new Set(tote.map((l) => l.locationId)).size).toBe(LEVELS_PER_INVENTORY_ITEM + 4);
    // One page of items plus one follow-up for that item's remaining levels.
    expect(gate.acquired).toHaveLength(2);
    expect(gate.acquired[1]).toBe(inventoryItemLevelsQuery({ inventoryItemId: "x", after: null }).cost);
  });

  it("never sends a request the bucket cannot cover when a cost-bucket governor holds the gate", async () => {
    const limits = { maximumAvailable: 1000, restoreRate: 20_000 };
    const shop = newShop(limits);
    const adapter = adapterFor(shop, { gate: localBucketGate(limits) });
    await Promise.all(Array.from({ length: 8 }, () => wholePass(adapter, 30)));
    const stats = fake.stats(shop.shop);
    expect(stats.requestedCost).toBeGreaterThan(5 * limits.maximumAvailable);
    expect(stats.overLimit).toBe(0);
    expect(stats.throttled).toBe(0);
  });

  it("(control) without a governor the same load does overrun the bucket", async () => {
    const limits = { maximumAvailable: 1000, restoreRate: 20_000 };
    const shop = newShop(limits);
    const adapter = adapterFor(shop, { maxAttempts: 2 });
    await Promise.allSettled(Array.from({ length: 8 }, () => wholePass(adapter, 30)));
    expect(fake.stats(shop.shop).overLimit).toBeGreaterThan(0);
  });

  it("a refused access token is an auth failure, never retried", async () => {
    const shop = newShop();
    const gate = recordingGate();
    const adapter = adapterFor({ shop: shop.shop, accessToken: "shpat_not_the_right_token_0000" }, { gate });
    const error = await adapter.listInventoryLevels({ cursor: null, pageSize: 10 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(false);
    expect((error as UpstreamError).details).toMatchObject({ kind: "auth" });
    expect(gate.released).toEqual([{ ok: false, failure: "auth" }]);
  });

  it("a 503 after the first page is retried within the call: the pass completes", async () => {
    const shop = newShop();
    fake.failNext(shop.shop, 503, { after: 1 });
    const pages = await wholePass(adapterFor(shop, { backoffBaseMs: 1, backoffCapMs: 5 }), 3);
    expect(pages.flat()).toHaveLength(expectedLevels(fake.listInventory(shop.shop)).length);
    expect(fake.stats(shop.shop).injected).toMatchObject({ 503: 1 });
  });
});

describe("the fake's inventory control API", () => {
  it("sets a level over HTTP, moving its updatedAt on, and lists every level", async () => {
    const shop = newShop();
    const post = (body: unknown) =>
      fetch(`${fake.url}/__control/inventory`, { method: "POST", body: JSON.stringify(body) });
    const before = fake
      .listInventory(shop.shop)
      .find((l) => l.sku === "TW-HOOD-NVY-M" && l.locationId === MAIN);
    const set = await post({ shop: shop.shop, sku: "TW-HOOD-NVY-M", available: 41 });
    expect(set.status).toBe(200);
    const { level } = (await set.json()) as { level: FakeInventoryLevelSummary };
    expect(level).toMatchObject({ sku: "TW-HOOD-NVY-M", locationId: MAIN, available: 41, tracked: true });
    expect(Date.parse(level.updatedAt)).toBeGreaterThan(Date.parse(before?.updatedAt ?? ""));
    expect((await post({ shop: shop.shop, sku: "NO-SUCH-SKU", available: 1 })).status).toBe(404);
    expect((await post({ shop: shop.shop, sku: "TW-HOOD-NVY-M", available: 1.5 })).status).toBe(400);
    expect(
      (await post({ shop: shop.shop, sku: "TW-HOOD-NVY-M", locationId: "warehouse-1", available: 1 })).status,
    ).toBe(400);
    const listed = (await (await fetch(`${fake.url}/__control/inventory?shop=${shop.shop}`)).json()) as {
      levels: FakeInventoryLevelSummary[];
    };
    expect(listed.levels).toEqual(fake.listInventory(shop.shop));
    expect(listed.levels.find((l) => l.sku === null)).toMatchObject({ tracked: false, available: 0 });
  });
});
