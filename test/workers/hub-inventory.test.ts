// Inventory levels end to end: the engine's `inventory` stream pulls a Shopify shop's catalogue through the
// Worker's own queue consumer into Postgres, and GET /api/v1/inventory lists it. Real Postgres and Redis,
// the Shopify fake, one tenant per test.
import { describe, expect, it } from "vitest";
import { bearer, signedInUser } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import { createChannelConnection } from "../support/hub";
import { shopifyFake, simulatedQueues } from "../support/sync";

const INVENTORY = "/api/v1/inventory";
const MAIN = "gid://shopify/Location/76543210";
const THREE_PL = "gid://shopify/Location/76543211";

interface FakeLevel {
  inventoryItemId: string;
  sku: string | null;
  tracked: boolean;
  locationId: string;
  available: number;
  updatedAt: string;
}

interface StoredLevel {
  sku: string;
  location_id: string;
  available: number;
  source_updated_at: string;
  updated_at: string;
}

interface InventoryLevelView {
  connectionId: string;
  channel: string;
  storeId: string;
  sku: string;
  locationId: string;
  available: number;
  sourceUpdatedAt: string;
  updatedAt: string;
}

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

const iso = (value: string | Date) => new Date(value).toISOString();
const key = (sku: string, locationId: string) => `${sku}@${locationId}`;

/** A tenant with a Shopify connection that pulls orders and inventory, its shop registered with the fake. */
async function inventoryHub(options: { pageSize?: number; accessToken?: string } = {}) {
  const user = await signedInUser({ superuser: true });
  const channel = await createChannelConnection(user.token, {
    settings: { resources: ["orders", "inventory"], pageSize: options.pageSize ?? 3 },
  });
  const shop = channel.account;
  await shopifyFake.createShop(shop, options.accessToken ?? String(channel.sentCredentials.accessToken));
  const queues = simulatedQueues(user.tenant.id);
  const tenantId = user.tenant.id;
  return {
    user,
    channel,
    shop,
    queues,
    pullInventory: () =>
      queues.send("channel-pull", {
        type: "stream.run",
        tenantId,
        connectionId: channel.id,
        resource: "inventory",
        trigger: "manual",
      }),
    /** What the pull should store: tracked items with a SKU, at every location that stocks them. */
    async expected() {
      const { levels } = await shopifyFake.control<{ levels: FakeLevel[] }>(
        `inventory?shop=${encodeURIComponent(shop)}`,
      );
      return new Map(
        levels
          .filter((l) => l.tracked && l.sku !== null)
          .map((l) => [
            key(String(l.sku), l.locationId),
            { available: l.available, updatedAt: iso(l.updatedAt) },
          ]),
      );
    },
    async stored() {
      const rows = (await ownerSql()`
        select sku, location_id, available, source_updated_at, updated_at from inventory_levels
         where tenant_id = ${tenantId} and connection_id = ${channel.id}
         order by sku, location_id`) as unknown as StoredLevel[];
      return new Map(rows.map((r) => [key(r.sku, r.location_id), r]));
    },
    async stream() {
      const [row] = (await ownerSql()`
        select checkpoint, lease_owner, last_success_at, last_error from sync_streams
         where tenant_id = ${tenantId} and connection_id = ${channel.id} and resource = 'inventory'`) as unknown as {
        checkpoint: { pageCursor?: string | null };
        lease_owner: string | null;
        last_success_at: string | null;
        last_error: string | null;
      }[];
      return row;
    },
    setLevel: (sku: string, available: number, locationId?: string) =>
      shopifyFake.control<{ level: FakeLevel }>("inventory", {
        body: { shop, sku, available, ...(locationId ? { locationId } : {}) },
      }),
  };
}

function asComparable(stored: Map<string, StoredLevel>) {
  return new Map(
    [...stored].map(([k, r]) => [k, { available: Number(r.available), updatedAt: iso(r.source_updated_at) }]),
  );
}

describe("inventory stream", () => {
  it("a pull stores every level of the shop's catalogue, page by page, and completes the run", async () => {
    const h = await inventoryHub({ pageSize: 3 });
    await h.pullInventory();
    const drained = await h.queues.drain();
    expect(drained.retried).toBe(0);

    const expected = await h.expected();
    // Seven SKUs, six of them at both locations; gift wrapping (no SKU, untracked) is not stock.
    expect(expected.size).toBe(13);
    expect(asComparable(await h.stored())).toEqual(expected);

    const stream = await h.stream();
    expect(stream?.checkpoint.pageCursor ?? null).toBeNull();
    expect(stream?.lease_owner).toBeNull();
    expect(stream?.last_success_at).not.toBeNull();
    const jobs = (await ownerSql()`
      select type, resource, trigger, status, pages, items_processed from sync_jobs
       where tenant_id = ${h.user.tenant.id} and connection_id = ${h.channel.id}`) as unknown as Record<
      string,
      unknown
    >[];
    expect(jobs).toEqual([
      {
        type: "pull",
        resource: "inventory",
        trigger: "manual",
        status: "succeeded",
        pages: 3,
        items_processed: 13,
      },
    ]);
    const stats = await shopifyFake.stats(h.shop);
    expect(stats).toMatchObject({ requests: 3, throttled: 0, overLimit: 0 });
  });

  it("a level changed in Shopify is updated on the next run; levels that did not change are not rewritten", async () => {
    const h = await inventoryHub({ pageSize: 10 });
    await h.pullInventory();
    await h.queues.drain();
    const first = await h.stored();

    const { level } = await h.setLevel("TW-HOOD-NVY-M", 2, THREE_PL);
    await h.pullInventory();
    await h.queues.drain();
    const second = await h.stored();

    expect(asComparable(second)).toEqual(await h.expected());
    const changed = second.get(key("TW-HOOD-NVY-M", THREE_PL));
    expect(changed).toMatchObject({ available: 2 });
    expect(iso(changed?.source_updated_at ?? "")).toBe(iso(level.updatedAt));
    for (const [k, row] of second) {
      const before = first.get(k);
      if (k === key("TW-HOOD-NVY-M", THREE_PL)) {
        expect(iso(row.updated_at), k).not.toBe(iso(before?.updated_at ?? ""));
      } else {
        expect(iso(row.updated_at), k).toBe(iso(before?.updated_at ?? ""));
      }
    }
  });

  it("a new location stocking a SKU appears on the next run", async () => {
    const h = await inventoryHub({ pageSize: 10 });
    await h.pullInventory();
    await h.queues.drain();
    const popUp = "gid://shopify/Location/76543299";
    await h.setLevel("TW-SOCK-3PK", 15, popUp);
    await h.pullInventory();
    await h.queues.drain();
    const stored = await h.stored();
    expect(stored.size).toBe(14);
    expect(stored.get(key("TW-SOCK-3PK", popUp))).toMatchObject({ available: 15 });
  });

  it("a pull that dies mid-pass resumes from its checkpoint: no page read twice, no level missing", {
    timeout: 20_000,
  }, async () => {
    const h = await inventoryHub({ pageSize: 3 });
    // Page 1 is answered; page 2 fails until the adapter's own retries are spent.
    await shopifyFake.control("fail-next", { body: { shop: h.shop, failure: 503, after: 1 } });
    for (let i = 0; i < 3; i++) await shopifyFake.failNext(h.shop, 503);
    await h.pullInventory();
    const first = await h.queues.drain({ maxRounds: 1 });
    expect(first.retried).toBe(1);

    // Page 1's levels (three items at two locations) and its cursor were saved together.
    expect((await h.stored()).size).toBe(6);
    const interrupted = await h.stream();
    expect(interrupted?.checkpoint.pageCursor).toEqual(expect.any(String));
    expect(interrupted?.lease_owner).toBeNull();
    expect(interrupted?.last_error).toMatch(/HTTP 503/);

    // The queue redelivers the message; the run continues at page 2.
    await h.queues.drain();
    expect(asComparable(await h.stored())).toEqual(await h.expected());
    // Page 1, four failed attempts at page 2, then pages 2 and 3: page 1 was not read again.
    expect((await shopifyFake.stats(h.shop)).requests).toBe(7);
    expect((await h.stream())?.checkpoint.pageCursor ?? null).toBeNull();
  });

  it("a refused access token is recorded as one sync failure, resolved by the next successful run", async () => {
    const h = await inventoryHub({ accessToken: "shpat_revoked_token_000000000000" });
    await h.pullInventory();
    const drained = await h.queues.drain();
    expect(drained.retried).toBe(0);
    const failures = () =>
      ownerSql()`
        select fingerprint, operation, error_kind, status, resolution from sync_failures
         where tenant_id = ${h.user.tenant.id}` as unknown as Promise<Record<string, unknown>[]>;
    expect(await failures()).toEqual([
      {
        fingerprint: `pull:${h.channel.id}:inventory`,
        operation: "pull",
        error_kind: "auth",
        status: "open",
        resolution: null,
      },
    ]);
    expect((await h.stored()).size).toBe(0);

    // The merchant reinstalls the app: the shop now accepts the connection's token.
    await shopifyFake.createShop(h.shop, String(h.channel.sentCredentials.accessToken));
    await h.pullInventory();
    await h.queues.drain();
    expect((await h.stored()).size).toBe(13);
    expect(await failures()).toEqual([
      expect.objectContaining({ status: "resolved", resolution: "superseded" }),
    ]);
  });
});

describe("GET /api/v1/inventory", () => {
  it("lists the pulled levels by SKU and location, with filters and pages", async () => {
    const h = await inventoryHub({ pageSize: 10 });
    await h.pullInventory();
    await h.queues.drain();
    const list = async (query = "") => {
      const response = await call(`${INVENTORY}${query}`, bearer(h.user.token));
      expect(response.status, query).toBe(200);
      return (await envelope<Page<InventoryLevelView>>(response)).data as Page<InventoryLevelView>;
    };

    const all = await list("?pageSize=200");
    expect(all.total).toBe(13);
    const expected = await h.expected();
    expect(
      new Map(
        all.items.map((l) => [
          key(l.sku, l.locationId),
          { available: l.available, updatedAt: l.sourceUpdatedAt },
        ]),
      ),
    ).toEqual(
      new Map([...expected].map(([k, v]) => [k, { available: v.available, updatedAt: v.updatedAt }])),
    );
    expect(all.items[0]).toEqual({
      connectionId: h.channel.id,
      channel: "shopify",
      storeId: h.shop,
      sku: "TW-CAP-OLV",
      locationId: MAIN,
      available: expected.get(key("TW-CAP-OLV", MAIN))?.available,
      sourceUpdatedAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const order = all.items.map((l) => key(l.sku, l.locationId));
    expect(order).toEqual([...order].sort());

    const exact = await list("?sku=TW-TEE-BLK-M");
    expect(exact.items.map((l) => l.locationId)).toEqual([MAIN, THREE_PL]);
    expect((await list("?sku=TW-TEE")).total).toBe(0);

    const prefix = await list("?skuPrefix=TW-TEE-");
    expect(prefix.items.map((l) => l.sku)).toEqual([
      "TW-TEE-BLK-M",
      "TW-TEE-BLK-M",
      "TW-TEE-WHT-L",
      "TW-TEE-WHT-L",
    ]);
    // LIKE's wildcards in a prefix are plain characters.
    expect((await list("?skuPrefix=TW_TEE")).total).toBe(0);
    expect((await list("?skuPrefix=%25")).total).toBe(0);

    const threePl = await list(`?locationId=${encodeURIComponent(THREE_PL)}`);
    expect(threePl.total).toBe(6);
    expect(threePl.items.every((l) => l.locationId === THREE_PL)).toBe(true);
    expect((await list(`?connectionId=${h.channel.id}&skuPrefix=TW-MUG`)).total).toBe(2);
    expect((await list(`?connectionId=${crypto.randomUUID()}`)).total).toBe(0);

    const page2 = await list("?pageSize=5&page=2");
    expect(page2).toMatchObject({ total: 13, page: 2, pageSize: 5, totalPages: 3 });
    expect(page2.items.map((l) => key(l.sku, l.locationId))).toEqual(order.slice(5, 10));
  });

  it("answers 422 for a malformed filter", async () => {
    const reader = await signedInUser({ permissions: ["orders:read"] });
    const response = await call(`${INVENTORY}?connectionId=not-a-uuid`, bearer(reader.token));
    expect(response.status).toBe(422);
    expect((await envelope(response)).error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { connectionId: expect.any(Array) },
    });
  });

  it("answers 401 without a token and 403 without orders:read", async () => {
    const anonymous = await call(INVENTORY);
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error).toEqual({
      code: "UNAUTHORIZED",
      message: "Authentication required",
    });

    const nobody = await signedInUser({ permissions: ["sync:read"] });
    const forbidden = await call(INVENTORY, bearer(nobody.token));
    expect(forbidden.status).toBe(403);
    expect((await envelope(forbidden)).error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission orders:read",
      details: { permission: "orders:read" },
    });

    const reader = await signedInUser({ tenant: nobody.tenant, permissions: ["orders:read"] });
    const allowed = await call(INVENTORY, bearer(reader.token));
    expect(allowed.status).toBe(200);
    expect((await envelope<Page<InventoryLevelView>>(allowed)).data).toEqual({
      items: [],
      total: 0,
      page: 1,
      pageSize: 50,
      totalPages: 0,
    });
  });
});
