// Reading a Shopify bulk export a stretch at a time: whole orders only, resumable at any returned byte,
// bounded in memory, against the Shopify fake (which serves result files like Cloud Storage, Range included).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BulkExportChunk } from "../../src/adapters/channels/interface";
import { createShopifyAdapter, type ShopifyAdapterInput } from "../../src/adapters/channels/shopify/client";
import { Order } from "../../src/domain/commerce";
import { UpstreamError } from "../../src/lib/errors";
import { type UpstreamGate, type UpstreamOutcome, ungatedUpstream } from "../../src/lib/upstream-gate";
import { type FakeOrderSeed, type ShopifyFake, startShopifyFake } from "../fakes/shopify";

let fake: ShopifyFake;
let shopCount = 0;
const EPOCH = "2020-01-01T00:00:00Z";

beforeAll(async () => {
  fake = await startShopifyFake({ bulkDelayMs: 10 });
});

afterAll(async () => {
  await fake.close();
});

function newShop() {
  const shop = `tw-bulk-${++shopCount}-${Date.now().toString(36)}.myshopify.com`;
  const accessToken = `shpat_${crypto.randomUUID().replaceAll("-", "")}`;
  fake.createShop({ shop, accessToken });
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

/** Seeds `count` orders (every fifth with 15 lines, so some orders span many records) and exports them. */
async function exportedShop(count: number, seed: (i: number) => FakeOrderSeed = manyLinesEveryFifth) {
  const shop = newShop();
  fake.seedOrders(
    shop.shop,
    Array.from({ length: count }, (_, i) => seed(i)),
  );
  const adapter = adapterFor(shop);
  const { operationId } = await adapter.startOrdersBulkExport({ updatedSince: EPOCH });
  for (;;) {
    const status = await adapter.getBulkExport(operationId);
    if (status.status === "completed") {
      if (status.url === null) throw new Error("export without a file");
      const file = Buffer.from(await (await fetch(status.url)).arrayBuffer());
      return { shop, url: status.url, file };
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

function manyLinesEveryFifth(i: number): FakeOrderSeed {
  return i % 5 === 0
    ? {
        lines: Array.from({ length: 15 }, (_, n) => ({
          sku: `PART-${n}`,
          title: `Part ${n}`,
          unitPrice: "2.5",
        })),
      }
    : {};
}

/** The file's orders in file order, as records: each order's id and the byte its line starts at. */
function ordersInFile(file: Buffer): { id: string; start: number }[] {
  const orders: { id: string; start: number }[] = [];
  let start = 0;
  while (start < file.byteLength) {
    const end = file.indexOf(0x0a, start);
    const line = file.subarray(start, end < 0 ? file.byteLength : end).toString("utf8");
    const record = JSON.parse(line) as { id: string; __parentId?: string };
    if (record.__parentId === undefined) orders.push({ id: record.id, start });
    start = end < 0 ? file.byteLength : end + 1;
  }
  return orders;
}

async function readAll(adapter: ReturnType<typeof adapterFor>, url: string, maxOrders: number) {
  const chunks: (BulkExportChunk & { fromByte: number })[] = [];
  let fromByte: number | null = 0;
  while (fromByte !== null) {
    const chunk: BulkExportChunk = await adapter.readBulkExportOrders({ url, fromByte, maxOrders });
    chunks.push({ ...chunk, fromByte });
    fromByte = chunk.nextByte;
  }
  return chunks;
}

function recordingGate(): UpstreamGate & {
  acquired: { endpoint: string; cost: number }[];
  released: UpstreamOutcome[];
} {
  const acquired: { endpoint: string; cost: number }[] = [];
  const released: UpstreamOutcome[] = [];
  return {
    acquired,
    released,
    async acquire(request) {
      acquired.push({ endpoint: request.endpoint, cost: request.cost });
      return {
        async release(outcome) {
          released.push(outcome);
        },
      };
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

describe("reading a bulk export a stretch at a time", () => {
  it("reads the export in chunks of whole orders, each ending where the next order begins, every order once", async () => {
    const { shop, url, file } = await exportedShop(23);
    const gate = recordingGate();
    const adapter = adapterFor(shop, { gate });
    const chunks = await readAll(adapter, url, 5);

    expect(chunks.map((c) => c.orders.length)).toEqual([5, 5, 5, 5, 3]);
    const inFile = ordersInFile(file);
    // Each chunk stops exactly at the first byte of the order that the next chunk starts with.
    expect(chunks.map((c) => c.nextByte)).toEqual([
      inFile[5]?.start,
      inFile[10]?.start,
      inFile[15]?.start,
      inFile[20]?.start,
      null,
    ]);
    const read = chunks.flatMap((c) => c.orders);
    expect(read.map((o) => o.externalId)).toEqual(inFile.map((o) => o.id));
    for (const order of read) Order.parse(order);
    // Orders spanning many records arrive whole.
    expect(read.filter((o) => o.lines.length === 15)).toHaveLength(5);
    expect(chunks.every((c) => c.rejected.length === 0)).toBe(true);

    // The first chunk is a plain download; every later one asks for the file from its byte on.
    expect(fake.stats(shop.shop).bulkRangeRequests).toBe(4);
    expect(gate.acquired).toEqual(Array.from({ length: 5 }, () => ({ endpoint: "bulk-download", cost: 0 })));
    expect(gate.released).toEqual(Array.from({ length: 5 }, () => ({ ok: true })));
  });

  it("resuming from a returned byte yields exactly the orders after it, as a fresh adapter would", async () => {
    const { shop, url, file } = await exportedShop(17);
    const first = await adapterFor(shop).readBulkExportOrders({ url, fromByte: 0, maxOrders: 7 });
    expect(first.nextByte).not.toBeNull();
    // A new adapter (as after a crash and a redelivered message), from the saved byte only.
    const rest = await adapterFor(shop).readBulkExportOrders({
      url,
      fromByte: first.nextByte ?? 0,
      maxOrders: 1000,
    });
    const ids = ordersInFile(file).map((o) => o.id);
    expect(first.orders.map((o) => o.externalId)).toEqual(ids.slice(0, 7));
    expect(rest.orders.map((o) => o.externalId)).toEqual(ids.slice(7));
    expect(rest.nextByte).toBeNull();
  });

  it("still works when the file server ignores Range and answers 200 with the whole file", async () => {
    const { shop, url } = await exportedShop(12);
    const withRanges = await readAll(adapterFor(shop), url, 4);
    const rangesBefore = fake.stats(shop.shop).bulkRangeRequests;
    // A proxy or server without range support: the header never arrives.
    const noRanges: typeof fetch = (input, init) => {
      const headers = new Headers(init?.headers);
      headers.delete("range");
      return fetch(input, { ...init, headers });
    };
    const without = await readAll(adapterFor(shop, { fetch: noRanges }), url, 4);
    expect(fake.stats(shop.shop).bulkRangeRequests).toBe(rangesBefore);
    expect(without.map((c) => c.nextByte)).toEqual(withRanges.map((c) => c.nextByte));
    expect(without.flatMap((c) => c.orders)).toEqual(withRanges.flatMap((c) => c.orders));
  });

  it("an order that does not fit the model is rejected with its id, and the chunk goes on", async () => {
    const shop = newShop();
    const seeded = fake.seedOrders(shop.shop, 8);
    const [, wrongCurrency, , badShape] = seeded;
    if (wrongCurrency === undefined || badShape === undefined) throw new Error("orders missing");
    // A total in another currency than the order's (cannot be mapped), and a number that is not a string.
    fake.updateOrder(shop.shop, wrongCurrency.id, {
      raw: { currentTotalPriceSet: { shopMoney: { amount: "12.00", currencyCode: "EUR" } } },
    });
    fake.updateOrder(shop.shop, badShape.id, { raw: { name: 1044 } });
    const adapter = adapterFor(shop);
    const { operationId } = await adapter.startOrdersBulkExport({ updatedSince: EPOCH });
    await new Promise((r) => setTimeout(r, 30));
    const { url } = await adapter.getBulkExport(operationId);
    if (url === null) throw new Error("no file");

    const chunks = await readAll(adapter, url, 3);
    // Rejected orders count towards a chunk like any other: 3 + 3 + 2 orders in all.
    expect(chunks.map((c) => c.orders.length + c.rejected.length)).toEqual([3, 3, 2]);
    const rejected = chunks.flatMap((c) => c.rejected);
    expect(rejected).toEqual([
      {
        externalId: wrongCurrency.id,
        externalNumber: wrongCurrency.name,
        updatedAt: expect.any(String),
        error: expect.stringMatching(/could not be mapped: .*EUR/),
      },
      {
        externalId: badShape.id,
        externalNumber: null,
        updatedAt: expect.any(String),
        error: expect.stringMatching(/has an unexpected shape: name: /),
      },
    ]);
    expect(chunks.flatMap((c) => c.orders).map((o) => o.externalId)).toEqual(
      seeded.map((o) => o.id).filter((id) => id !== wrongCurrency.id && id !== badShape.id),
    );
  });

  it("reads only about as much of the file as the chunk needs, and cancels the rest", async () => {
    const { shop, url, file } = await exportedShop(400, () => ({}));
    let pulled = 0;
    const counting: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (response.body === null) return response;
      const count = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          pulled += chunk.byteLength;
          controller.enqueue(chunk);
        },
      });
      return new Response(response.body.pipeThrough(count), response);
    };
    const chunk = await adapterFor(shop, { fetch: counting }).readBulkExportOrders({
      url,
      fromByte: 0,
      maxOrders: 10,
    });
    expect(chunk.orders).toHaveLength(10);
    const needed = chunk.nextByte ?? 0;
    expect(needed).toBeLessThan(file.byteLength / 20);
    // What was pulled off the network is a few transport chunks beyond what the ten orders needed.
    expect(pulled).toBeLessThan(file.byteLength / 8);
  });

  it("a byte at or past the end of the file is the end of the export, not an error", async () => {
    const { shop, url, file } = await exportedShop(3);
    expect(
      await adapterFor(shop).readBulkExportOrders({ url, fromByte: file.byteLength, maxOrders: 10 }),
    ).toEqual({ orders: [], rejected: [], nextByte: null });
  });

  it("a byte inside an order (not where an order begins) is refused as a permanent failure", async () => {
    const { shop, url, file } = await exportedShop(3, () => ({
      lines: [{ sku: "A" }, { sku: "B" }],
    }));
    // The second line of the file is the first order's first line item.
    const insideFirstOrder = file.indexOf(0x0a) + 1;
    const error = await failure(
      adapterFor(shop).readBulkExportOrders({ url, fromByte: insideFirstOrder, maxOrders: 10 }),
    );
    expect(error.retryable).toBe(false);
    expect(error.details).toMatchObject({ kind: "permanent" });
    expect(error.message).toMatch(/comes before any order/);
  });

  it("a transport failure while reading is retried from the same byte, and the chunk is the same", async () => {
    const { shop, url } = await exportedShop(9);
    const expected = await adapterFor(shop).readBulkExportOrders({ url, fromByte: 0, maxOrders: 4 });
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls += 1;
      const response = await fetch(input, init);
      if (calls > 1 || response.body === null) return response;
      // The connection drops after the first bytes of the first attempt.
      const reader = response.body.getReader();
      const cut = new ReadableStream<Uint8Array>({
        async start(controller) {
          const { value } = await reader.read();
          if (value !== undefined) controller.enqueue(value.subarray(0, 100));
          controller.error(new TypeError("terminated"));
          await reader.cancel();
        },
      });
      return new Response(cut, response);
    };
    const gate = recordingGate();
    const chunk = await adapterFor(shop, { fetch: flaky, gate }).readBulkExportOrders({
      url,
      fromByte: 0,
      maxOrders: 4,
    });
    expect(chunk).toEqual(expected);
    expect(calls).toBe(2);
    expect(gate.released).toEqual([{ ok: false, failure: "retryable" }, { ok: true }]);
  });

  it("refuses a byte offset that is not a non-negative integer", async () => {
    const shop = newShop();
    await expect(
      adapterFor(shop).readBulkExportOrders({
        url: `${fake.url}/bulk-results/x/1.jsonl`,
        fromByte: -1,
        maxOrders: 5,
      }),
    ).rejects.toThrow(RangeError);
  });
});
