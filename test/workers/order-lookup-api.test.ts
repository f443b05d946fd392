// Order lookup across stores, end to end against the real Postgres and Redis and the Shopify and TikTok
// fakes: two Shopify shops and a TikTok shop, searched at once through their rate governors; one store down;
// stale-while-revalidate (observed through the fakes' request counts, never timings); the cron warm-up;
// tenant isolation, validation and security.
import { env } from "cloudflare:workers";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { cacheKeys } from "../../src/cache/keys";
import { tenantBatch } from "../../src/db/tenant";
import { criteriaHash, parseLookupCriteria } from "../../src/services/order-lookup/criteria";
import {
  lookUpOrders,
  lookupCacheKeys,
  storeLookupAnswer,
} from "../../src/services/order-lookup/look-up-orders";
import { lookupFailureForLog, type OrderLookupResult } from "../../src/services/order-lookup/search-stores";
import { warmOrderLookups } from "../../src/services/order-lookup/warm-order-lookups";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import { createChannelConnection, randomHex } from "../support/hub";
import { createTikTokStore, pullStoreOrders } from "../support/stores";
import { shopifyFake } from "../support/sync";
import { tiktokFake } from "../support/webhooks";

const LOOKUP = "/api/v1/order-lookup";

interface StoreLookup {
  connectionId: string;
  storeName: string;
  provider: string;
  status: "ok" | "failed" | "timeout" | "skipped";
  error?: string;
  found: number;
  truncated: boolean;
}

interface LookedUpOrder {
  orderId: string | null;
  connectionId: string;
  storeName: string;
  channel: string;
  status: string | null;
  source: "channel" | "stored";
  order: {
    externalId: string;
    externalNumber: string;
    note: string | null;
    customer: { email: string | null };
  };
  latestShipment: { carrier: string; trackingNumbers: string[] } | null;
  trackingNumbers: string[];
}

interface Lookup {
  orders: LookedUpOrder[];
  stores: StoreLookup[];
  partial: boolean;
  searchedAt: string;
  cache: "miss" | "fresh" | "stale";
  ageSeconds: number;
}

interface SeededShopifyOrder {
  id: string;
  name: string;
}

async function seedShopify(shop: string, orders: Record<string, unknown>[]): Promise<SeededShopifyOrder[]> {
  return (await shopifyFake.control<{ orders: SeededShopifyOrder[] }>("orders", { body: { shop, orders } }))
    .orders;
}

async function shopifyRequests(shop: string): Promise<number> {
  return (await shopifyFake.stats(shop)).requests;
}

async function tiktokRequests(shopId: string): Promise<number> {
  const stats = await tiktokFake.stats(shopId);
  return Object.values(stats.requests).reduce((sum, n) => sum + n, 0);
}

/**
 * A tenant with three stores — two Shopify shops (each numbering its orders from #1001) and a TikTok shop —
 * and an agent who may read orders.
 */
async function threeStores() {
  const admin = await signedInUser({ superuser: true });
  const agent = await signedInUser({ tenant: admin.tenant, permissions: ["orders:read"] });
  const us = await createChannelConnection(admin.token, { displayName: "Acme US" });
  await shopifyFake.createShop(us.account, String(us.sentCredentials.accessToken));
  const eu = await createChannelConnection(admin.token, { displayName: "Acme EU" });
  await shopifyFake.createShop(eu.account, String(eu.sentCredentials.accessToken));
  const store = await createTikTokStore(admin.token, "Acme TikTok");
  const tiktok = { ...store.connection, shopId: store.shopId };
  const lookup = async (query: Record<string, string>, token = agent.token) => {
    const response = await call(`${LOOKUP}?${new URLSearchParams(query)}`, bearer(token));
    return { status: response.status, body: await envelope<Lookup>(response) };
  };
  const requests = async () => ({
    us: await shopifyRequests(us.account),
    eu: await shopifyRequests(eu.account),
    tiktok: await tiktokRequests(tiktok.shopId),
  });
  return { admin, agent, us, eu, tiktok, lookup, requests, tenantId: admin.tenant.id };
}

function storeStatus(result: Lookup | undefined, connectionId: string) {
  return result?.stores.find((s) => s.connectionId === connectionId);
}

async function cacheEntryKey(tenantId: string, input: Record<string, string>) {
  const ctx = testContext();
  const hash = await criteriaHash(parseLookupCriteria(input));
  return {
    ctx,
    entry: ctx.cache.key(cacheKeys.orderLookup.name(tenantId, hash)),
    lock: ctx.cache.key(cacheKeys.orderLookupRefreshLock.name(tenantId, hash)),
  };
}

/** Makes the cached answer of `input` older than its fresh period (as if a few minutes had passed). */
async function ageCachedAnswer(tenantId: string, input: Record<string, string>, seconds: number) {
  const { ctx, entry } = await cacheEntryKey(tenantId, input);
  const redis = ctx.cache.redis;
  if (!redis) throw new Error("tests need Redis");
  const searchedAt = await redis.hget<number>(entry, "searchedAt");
  if (searchedAt === null) throw new Error("no cached answer to age");
  await redis.hset(entry, { searchedAt: Number(searchedAt) - seconds * 1000 });
}

describe("order lookup across three stores", () => {
  it("by order number: both Shopify shops' #1001 and none at TikTok; by TikTok order id: the TikTok order", async () => {
    const t = await threeStores();
    const [usOrder] = await seedShopify(t.us.account, [{ email: "ava@example.com" }]);
    const [euOrder] = await seedShopify(t.eu.account, [{ email: "lena@example.de" }]);
    const tiktokOrders = await tiktokFake.seedOrders(t.tiktok.shopId, [{ buyerEmail: "x@scs2.tiktok.com" }]);
    const tiktokId = tiktokOrders.orders[0]?.id ?? "";
    expect(usOrder?.name).toBe("#1001");
    expect(euOrder?.name).toBe("#1001");

    const { status, body } = await t.lookup({ orderNumber: "#1001" });
    expect(status).toBe(200);
    const result = body.data;
    expect(result?.cache).toBe("miss");
    expect(result?.partial).toBe(false);
    expect(result?.orders.map((o) => [o.storeName, o.order.externalId, o.source, o.orderId]).sort()).toEqual(
      [
        ["Acme EU", euOrder?.id, "channel", null],
        ["Acme US", usOrder?.id, "channel", null],
      ].sort(),
    );
    // "1001" is a possible TikTok order id: TikTok was asked, and knows none.
    expect(storeStatus(result, t.tiktok.id)).toMatchObject({ status: "ok", found: 0, provider: "tiktok" });
    expect(storeStatus(result, t.us.id)).toMatchObject({ status: "ok", found: 1, storeName: "Acme US" });

    const byId = (await t.lookup({ orderNumber: tiktokId })).body.data;
    expect(byId?.orders.map((o) => [o.storeName, o.channel, o.order.externalId])).toEqual([
      ["Acme TikTok", "tiktok", tiktokId],
    ]);
    expect(byId?.stores.map((s) => s.status)).toEqual(["ok", "ok", "ok"]);
  });

  it("by email and by phone: the Shopify shops are searched; TikTok is skipped, as it masks buyers' contacts", async () => {
    const t = await threeStores();
    const email = `ava.${randomHex(3)}@example.com`;
    const [usOrder] = await seedShopify(t.us.account, [
      { email, phone: "+16505550177" },
      { email: "other@example.com" },
    ]);
    const [euOrder] = await seedShopify(t.eu.account, [{ email: email.toUpperCase() }]);
    const before = await t.requests();

    const byEmail = (await t.lookup({ email })).body.data;
    expect(byEmail?.orders.map((o) => o.order.externalId).sort()).toEqual([usOrder?.id, euOrder?.id].sort());
    expect(byEmail?.partial).toBe(false);
    expect(storeStatus(byEmail, t.tiktok.id)).toEqual({
      connectionId: t.tiktok.id,
      storeName: "Acme TikTok",
      provider: "tiktok",
      status: "skipped",
      error: "tiktok does not support lookup by email",
      found: 0,
      truncated: false,
    });
    const after = await t.requests();
    expect(after.tiktok).toBe(before.tiktok);
    // Each shop: the search (ids), then the order found read by id.
    expect(after.us).toBe(before.us + 2);
    expect(after.eu).toBe(before.eu + 2);

    const byPhone = (await t.lookup({ phone: "(650) 555-0177" })).body.data;
    expect(byPhone?.orders.map((o) => o.order.externalId)).toEqual([usOrder?.id]);
    expect(storeStatus(byPhone, t.tiktok.id)?.status).toBe("skipped");

    // Every criterion must hold: the right number with the wrong email finds nothing.
    const mismatch = (await t.lookup({ orderNumber: "#1001", email: "someone.else@example.com" })).body.data;
    expect(mismatch?.orders).toEqual([]);
  });

  it("a customer with many orders gets each store's newest three, and the store says there are more", async () => {
    const t = await threeStores();
    const email = `regular.${randomHex(3)}@example.com`;
    const seeded = await seedShopify(
      t.us.account,
      Array.from({ length: 4 }, () => ({ email })),
    );
    const result = (await t.lookup({ email })).body.data;
    expect(result?.orders.map((o) => o.order.externalId)).toEqual(
      seeded
        .slice(1)
        .reverse()
        .map((o) => o.id),
    );
    expect(storeStatus(result, t.us.id)).toMatchObject({ status: "ok", found: 3, truncated: true });
    expect(storeStatus(result, t.eu.id)).toMatchObject({ status: "ok", found: 0, truncated: false });
  });

  it("one store down: the other two still answer, the failed store is named, and the answer is partial", async () => {
    const t = await threeStores();
    const [usOrder] = await seedShopify(t.us.account, [{}]);
    const [euOrder] = await seedShopify(t.eu.account, [{}]);
    await tiktokFake.failNext(t.tiktok.shopId, "hang");

    const hung = (await t.lookup({ orderNumber: "1001" })).body.data;
    expect(hung?.orders.map((o) => o.order.externalId).sort()).toEqual([usOrder?.id, euOrder?.id].sort());
    expect(hung?.partial).toBe(true);
    expect(storeStatus(hung, t.tiktok.id)?.status).toBe("timeout");
    expect(storeStatus(hung, t.tiktok.id)?.error).toMatch(/timed out/);
    expect(storeStatus(hung, t.us.id)?.status).toBe("ok");

    // A Shopify shop answering 503: the other Shopify shop and TikTok answer.
    const tiktokOrder = (await tiktokFake.seedOrders(t.tiktok.shopId, [{}])).orders[0];
    await shopifyFake.failNext(t.eu.account, 503);
    const beforeFailure = await t.requests();
    const failed = (await t.lookup({ orderNumber: tiktokOrder?.id ?? "" })).body.data;
    // An interactive lookup makes one attempt: the 503 is not retried (the next lookup asks again).
    expect((await t.requests()).eu).toBe(beforeFailure.eu + 1);
    expect(failed?.orders.map((o) => o.order.externalId)).toEqual([tiktokOrder?.id]);
    expect(failed?.partial).toBe(true);
    expect(storeStatus(failed, t.eu.id)).toMatchObject({ status: "failed", found: 0 });
    expect(storeStatus(failed, t.eu.id)?.error).toMatch(/HTTP 503/);
    expect(storeStatus(failed, t.us.id)?.status).toBe("ok");
    expect(storeStatus(failed, t.tiktok.id)).toMatchObject({ status: "ok", found: 1 });
    // The store's credentials never appear in what is said about it.
    expect(JSON.stringify(failed)).not.toContain(String(t.eu.sentCredentials.accessToken));
  });

  it("a stored order carries Tradewind's id, state and tracking; with its store down, the stored copy still shows", async () => {
    const t = await threeStores();
    const [order] = await seedShopify(t.us.account, [{ email: "tracked@example.com" }]);
    const stored = await pullStoreOrders(t.tenantId, t.us.id);
    const local = stored.find((o) => o.external_id === order?.id);
    if (!local) throw new Error("order not pulled");
    await ownerSql()`
      insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, carrier_code,
                             tracking_numbers, shipped_at)
      values (${t.tenantId}, ${local.id}, ${t.us.id}, 'WB-1', 'UPS', 'UPS', ${["1Z999AA10123456784"]},
              now() - interval '1 day'),
             (${t.tenantId}, ${local.id}, ${t.us.id}, 'WB-2', 'USPS', null, ${["9400111899223100000000"]}, now())`;

    // The tenant's first lookup: nothing (not even the cron's warm-up) can take the injected failure first.
    await shopifyFake.failNext(t.us.account, 500);
    const down = (await t.lookup({ orderNumber: order?.name ?? "" })).body.data;
    expect(down?.partial).toBe(true);
    expect(storeStatus(down, t.us.id)?.status).toBe("failed");
    expect(down?.orders.find((o) => o.orderId === local.id)).toMatchObject({
      source: "stored",
      storeName: "Acme US",
    });

    const found = (await t.lookup({ email: "tracked@example.com" })).body.data;
    expect(found?.orders).toHaveLength(1);
    expect(found?.orders[0]).toMatchObject({
      orderId: local.id,
      status: "created",
      source: "channel",
      latestShipment: { carrier: "USPS", trackingNumbers: ["9400111899223100000000"] },
      trackingNumbers: ["9400111899223100000000", "1Z999AA10123456784"],
    });
  });
});

describe("the lookup cache (stale-while-revalidate)", () => {
  it("a second lookup is served from the cache; a stale one answers at once and is refreshed once in the background", async () => {
    const t = await threeStores();
    const email = `swr.${randomHex(3)}@example.com`;
    const [order] = await seedShopify(t.us.account, [{ email, note: "first note" }]);
    const start = await t.requests();

    const first = (await t.lookup({ email })).body.data;
    expect(first?.cache).toBe("miss");
    const afterMiss = await t.requests();
    // US: the search and the order read by id; EU: the search, which found nothing; TikTok: skipped.
    expect(afterMiss).toEqual({ us: start.us + 2, eu: start.eu + 1, tiktok: start.tiktok });

    const second = (await t.lookup({ email: email.toUpperCase() })).body.data;
    expect(second?.cache).toBe("fresh");
    expect(second?.orders).toEqual(first?.orders);
    expect(await t.requests()).toEqual(afterMiss);

    // The store changes; the cached answer grows old.
    await shopifyFake.updateOrder(t.us.account, order?.id ?? "", { note: "second note" });
    await ageCachedAnswer(t.tenantId, { email }, 120);
    const stale = (await t.lookup({ email })).body.data;
    expect(stale?.cache).toBe("stale");
    expect(stale?.ageSeconds).toBeGreaterThanOrEqual(120);
    expect(stale?.orders[0]?.order.note).toBe("first note");
    // The refresh ran after the answer (in waitUntil), once per store.
    const afterRefresh = await t.requests();
    expect(afterRefresh).toEqual({ us: afterMiss.us + 2, eu: afterMiss.eu + 1, tiktok: start.tiktok });

    const refreshed = (await t.lookup({ email })).body.data;
    expect(refreshed?.cache).toBe("fresh");
    expect(refreshed?.orders[0]?.order.note).toBe("second note");
    expect(await t.requests()).toEqual(afterRefresh);
  });

  it("while a refresh holds the lock, a stale answer is served and no second refresh starts", async () => {
    const t = await threeStores();
    const email = `lock.${randomHex(3)}@example.com`;
    await seedShopify(t.us.account, [{ email }]);
    await t.lookup({ email });
    await ageCachedAnswer(t.tenantId, { email }, 300);
    const { ctx, lock } = await cacheEntryKey(t.tenantId, { email });
    await ctx.cache.redis?.set(lock, "another-refresh", { ex: 30 });
    const before = await t.requests();

    const stale = (await t.lookup({ email })).body.data;
    expect(stale?.cache).toBe("stale");
    expect(await t.requests()).toEqual(before);
    // Once the lock is gone, the next stale lookup refreshes.
    await ctx.cache.redis?.del(lock);
    await t.lookup({ email });
    expect((await t.requests()).us).toBe(before.us + 2);
  });

  it("a partial answer is stale at once: the next lookup answers from it and asks the stores again", async () => {
    const t = await threeStores();
    await seedShopify(t.us.account, [{}]);
    await shopifyFake.failNext(t.eu.account, 502);
    const partial = (await t.lookup({ orderNumber: "1001" })).body.data;
    expect(partial?.partial).toBe(true);
    const before = await t.requests();
    const next = (await t.lookup({ orderNumber: "1001" })).body.data;
    expect(next?.cache).toBe("stale");
    expect(next?.partial).toBe(true);
    const after = await t.requests();
    // The refresh asked the shop that had failed again (it has no #1001: the search alone).
    expect(after.eu).toBe(before.eu + 1);
    // The refresh found the store back: the answer now is whole and fresh.
    const whole = (await t.lookup({ orderNumber: "1001" })).body.data;
    expect(whole).toMatchObject({ cache: "fresh", partial: false });
    expect(storeStatus(whole, t.eu.id)?.status).toBe("ok");
  });

  it("cache keys are per tenant and hold no email or phone; another tenant's identical lookup is its own miss", async () => {
    const a = await threeStores();
    const b = await threeStores();
    const email = `shared.${randomHex(3)}@example.com`;
    const [aOrder] = await seedShopify(a.us.account, [{ email }]);
    const [bOrder] = await seedShopify(b.us.account, [{ email }]);

    const fromA = (await a.lookup({ email })).body.data;
    const fromB = (await b.lookup({ email })).body.data;
    expect(fromA?.orders.map((o) => o.order.externalId)).toEqual([aOrder?.id]);
    expect(fromB?.cache).toBe("miss");
    expect(fromB?.orders.map((o) => o.order.externalId)).toEqual([bOrder?.id]);
    expect(JSON.stringify(fromB)).not.toContain(a.us.id);

    // A's token never reaches B's answers, cached or not.
    expect((await a.lookup({ email })).body.data?.orders.map((o) => o.order.externalId)).toEqual([
      aOrder?.id,
    ]);
    const redis = testContext().cache.redis;
    const keys = (await redis?.keys(`${env.CACHE_KEY_PREFIX}lookup:orders:${a.tenantId}:*`)) ?? [];
    expect(keys.length).toBeGreaterThan(0);
    for (const key of keys) {
      expect(key).not.toContain("@");
      expect(key).not.toContain(email);
      expect(key).toMatch(new RegExp(`lookup:orders:${a.tenantId}:[0-9a-f]{64}$`));
    }
  });
});

describe("the cron warms the lookups of recent orders", () => {
  // The warm-up is called as the five-minute cron calls it (src/cron/index.ts), not through the whole cron:
  // the cron's other jobs sweep every tenant's webhook events and emails, which other test files own.
  it("after a warm-up, a lookup by a recent order's number or email is a cache hit", {
    timeout: 20_000,
  }, async () => {
    const t = await threeStores();
    const seeded = await seedShopify(t.us.account, [
      { email: `warm1.${randomHex(3)}@example.com` },
      { email: `warm2.${randomHex(3)}@example.com` },
    ]);
    await pullStoreOrders(t.tenantId, t.us.id);
    // A lookup marks the tenant as one that uses order lookup (the cron warms only those).
    await t.lookup({ orderNumber: "W-NOT-AN-ORDER" });

    const ctx = testContext();
    const outcome = await warmOrderLookups({ ctx });
    await ctx.settle();
    // Cross-tenant: other files' tenants may be warmed too; this tenant's four lookups at least.
    expect(outcome.warmed + outcome.fresh).toBeGreaterThanOrEqual(4);

    const newest = seeded[1];
    const emailOfNewest = (
      await ownerSql()`
      select customer_email from orders where tenant_id = ${t.tenantId} and external_id = ${newest?.id ?? ""}`
    )[0]?.customer_email as string;
    const before = await t.requests();
    const byNumber = (await t.lookup({ orderNumber: newest?.name ?? "" })).body.data;
    expect(byNumber?.cache).toBe("fresh");
    expect(byNumber?.orders.some((o) => o.order.externalId === newest?.id)).toBe(true);
    const byEmail = (await t.lookup({ email: emailOfNewest })).body.data;
    expect(byEmail?.cache).toBe("fresh");
    expect(byEmail?.orders.map((o) => o.order.externalId)).toEqual([newest?.id]);
    // Served from the cache: no store was asked.
    expect(await t.requests()).toEqual(before);
  });

  it("without Redis to read active tenants from, the warm-up does nothing and does not fail the cron", async () => {
    const ctx = testContext();
    const broken = new Proxy(ctx.cache.redis ?? {}, {
      get: (target, name) =>
        name === "zremrangebyscore" || name === "zrange"
          ? () => Promise.reject(new Error("connection refused"))
          : Reflect.get(target, name),
    });
    const outcome = await warmOrderLookups({
      ctx: { ...ctx, cache: { ...ctx.cache, key: ctx.cache.key, redis: broken as typeof ctx.cache.redis } },
    });
    expect(outcome).toEqual({ warmed: 0, fresh: 0, busy: 0, failed: 0 });
  });

  it("the cross-tenant candidate function refuses to run inside a tenant's transaction", async () => {
    const t = await threeStores();
    const ctx = testContext();
    await expect(
      tenantBatch(ctx.db.http, t.tenantId, (db) => [
        db.execute(sql`
          select * from order_lookup_warm_candidates(${sql.param([t.tenantId])}::uuid[], 86400, 3, 20)`),
      ]),
    ).rejects.toMatchObject({ code: "42501", message: "order_lookup_warm_candidates runs for no tenant" });
    // Outside one it answers, for the tenants asked only.
    const other = await signedInUser();
    await ownerSql()`
      insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, status,
                          currency, total_minor, customer_email, search_text, data, placed_at, channel_updated_at)
      values (${t.tenantId}, ${t.us.id}, 'shopify', ${t.us.account}, 'gid://shopify/Order/1', '#1001', 'created',
              'USD', 100, 'ava@example.com', '#1001 ava@example.com', '{}'::jsonb, now(), now())`;
    const rows = await ctx.db.http.execute<{ tenant_id: string; external_number: string }>(sql`
      select tenant_id, external_number
        from order_lookup_warm_candidates(${sql.param([t.tenantId, other.tenant.id])}::uuid[], 86400, 3, 20)`);
    expect(rows.rows).toEqual([{ tenant_id: t.tenantId, external_number: "#1001" }]);
  });
});

describe("the lookup cache never takes a worse answer", () => {
  /** An answer told apart by its one store's name. */
  function answer(searchedAt: number, partial: boolean, storeName: string): OrderLookupResult {
    return {
      orders: [],
      stores: [
        {
          connectionId: crypto.randomUUID(),
          storeName,
          provider: "shopify",
          status: partial ? "failed" : "ok",
          found: 0,
          truncated: false,
        },
      ],
      partial,
      searchedAt: new Date(searchedAt).toISOString(),
    };
  }

  it("an older answer never replaces a newer one; a partial one never replaces a fresh complete one", async () => {
    const t = await threeStores();
    const ctx = testContext();
    const { entry } = lookupCacheKeys(
      ctx,
      t.tenantId,
      await criteriaHash(parseLookupCriteria({ email: "cas@example.com" })),
    );
    const now = Date.now();
    const stored = async () => {
      const result = await ctx.cache.redis?.hget<OrderLookupResult>(entry, "result");
      return result?.stores[0]?.storeName;
    };

    expect(await storeLookupAnswer(ctx, entry, answer(now - 1000, false, "complete"))).toBe(true);
    // A slow search that started earlier and finished later: older, not stored.
    expect(await storeLookupAnswer(ctx, entry, answer(now - 5000, false, "older"))).toBe(false);
    // A later search that lost a store, while the complete answer is fresh: not stored.
    expect(await storeLookupAnswer(ctx, entry, answer(now, true, "partial"))).toBe(false);
    expect(await stored()).toBe("complete");
    const served = await lookUpOrders({
      ctx: { ...ctx, tenantId: t.tenantId },
      input: { email: "cas@example.com" },
    });
    expect(served).toMatchObject({ cache: "fresh", partial: false });

    // Once the complete answer is past its fresh period, a newer partial one may replace it…
    const later = now + cacheKeys.orderLookup.freshSeconds * 1000;
    expect(await storeLookupAnswer(ctx, entry, answer(later, true, "partial later"))).toBe(true);
    expect(await stored()).toBe("partial later");
    // …and a newer complete one replaces a partial one.
    expect(await storeLookupAnswer(ctx, entry, answer(later + 1, false, "complete again"))).toBe(true);
    expect(await stored()).toBe("complete again");
    expect(await ctx.cache.redis?.ttl(entry)).toBeGreaterThan(cacheKeys.orderLookup.ttlSeconds - 60);
  });
});

describe("what reaches the logs", () => {
  it("a failed query is described by its class and SQLSTATE, never by its parameters (the customer's email)", async () => {
    const ctx = testContext();
    const failure = await ctx.db.http
      .execute(sql`select ${"ava.private@example.com"}::int`)
      .catch((error: unknown) => error);
    expect(String(failure)).toContain("ava.private@example.com");
    const fields = lookupFailureForLog(failure);
    expect(JSON.stringify(fields)).not.toContain("ava.private");
    expect(fields).toMatchObject({ sqlstate: "22P02" });
  });
});

describe("the chat bot's entry point", () => {
  it("lookUpOrders works for a context with a tenant and no principal, and refuses one without a tenant", async () => {
    const t = await threeStores();
    const [order] = await seedShopify(t.us.account, [{ email: "bot@example.com" }]);
    const ctx = testContext();
    ctx.tenantId = t.tenantId;
    ctx.actor = { type: "system", name: "chat" };
    const result = await lookUpOrders({ ctx, input: { email: "bot@example.com" } });
    await ctx.settle();
    expect(result.orders.map((o) => o.order.externalId)).toEqual([order?.id]);
    await expect(lookUpOrders({ ctx: testContext(), input: { email: "bot@example.com" } })).rejects.toThrow(
      "Authentication required",
    );
    await expect(lookUpOrders({ ctx, input: {} })).rejects.toMatchObject({
      code: "VALIDATION_ERROR",
      details: { _root: ["Give at least one of orderNumber, email or phone"] },
    });
  });
});

describe("order lookup: validation and security", () => {
  it("answers 422 with each field's messages", async () => {
    const t = await threeStores();
    const none = await t.lookup({});
    expect(none.status).toBe(422);
    expect(none.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid query parameters",
      details: { _root: ["Give at least one of orderNumber, email or phone"] },
    });
    const bad = await t.lookup({ email: "not-an-email", phone: "call me", orderNumber: "#10 01" });
    expect(bad.status).toBe(422);
    expect(Object.keys(bad.body.error?.details ?? {}).sort()).toEqual(["email", "orderNumber", "phone"]);
    const short = await t.lookup({ phone: "555-01" });
    expect(short.body.error?.details).toEqual({ phone: ["At least 7 digits"] });
  });

  it("401 without a token, 403 without orders:read", async () => {
    const t = await threeStores();
    const anonymous = await call(`${LOOKUP}?orderNumber=1001`);
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error?.code).toBe("UNAUTHORIZED");
    const stranger = await signedInUser({ tenant: t.admin.tenant, permissions: ["users:read"] });
    const forbidden = await t.lookup({ orderNumber: "1001" }, stranger.token);
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error?.code).toBe("FORBIDDEN");
  });
});
