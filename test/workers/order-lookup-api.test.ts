// Order lookup across stores, end to end against the real Postgres and Redis and the Shopify and TikTok
// fakes: two Shopify shops and a TikTok shop, searched at once through their rate governors; one store down;
// stale-while-revalidate (observed through the fakes' request counts, never timings); the cron warm-up;
// tenant isolation, validation and security.
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { cacheKeys } from "../../src/cache/keys";
import worker from "../../src/index";
import { criteriaHash, parseLookupCriteria } from "../../src/services/order-lookup/criteria";
import { lookUpOrders } from "../../src/services/order-lookup/look-up-orders";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import { CONNECTIONS, type Connection, createChannelConnection } from "../support/hub";
import { shopifyFake, simulatedQueues } from "../support/sync";
import { randomTikTokShopId, tiktokFake } from "../support/webhooks";

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

function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
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

/** A TikTok Shop connection through the API, registered with the fake under the same credentials. */
async function tiktokConnection(token: string, displayName: string) {
  const shopId = randomTikTokShopId();
  const credentials = {
    appKey: `6${randomHex(6)}`,
    appSecret: randomHex(20),
    accessToken: `ROW_${randomHex(24)}`,
    shopCipher: `ROW_${randomHex(16)}`,
  };
  const response = await call(
    CONNECTIONS,
    bearer(token, {
      method: "POST",
      body: { provider: "tiktok", account: shopId, displayName, credentials },
    }),
  );
  const created = await envelope<Connection>(response);
  if (response.status !== 201 || !created.data)
    throw new Error(`TikTok connection: ${JSON.stringify(created)}`);
  await tiktokFake.registerShop({
    shopId,
    appKey: credentials.appKey,
    appSecret: credentials.appSecret,
    accessToken: credentials.accessToken,
    cipher: credentials.shopCipher,
  });
  return { ...created.data, shopId };
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
  const tiktok = await tiktokConnection(admin.token, "Acme TikTok");
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

/** Pulls a store's orders into Tradewind as the engine does (a channel-pull message through the Worker's consumer). */
async function pullOrders(tenantId: string, connectionId: string) {
  const queues = simulatedQueues(tenantId);
  await queues.send("channel-pull", {
    type: "stream.run",
    tenantId,
    connectionId,
    resource: "orders",
    trigger: "manual",
  });
  await queues.drain();
  return (await ownerSql()`
    select id, external_id from orders where tenant_id = ${tenantId} and connection_id = ${connectionId}`) as unknown as {
    id: string;
    external_id: string;
  }[];
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
  const cached = await redis.get<{ storedAt: number; result: unknown }>(entry);
  if (!cached) throw new Error("no cached answer to age");
  await redis.set(entry, { ...cached, storedAt: cached.storedAt - seconds * 1000 }, { ex: 900 });
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
    const failed = (await t.lookup({ orderNumber: tiktokOrder?.id ?? "" })).body.data;
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
    const stored = await pullOrders(t.tenantId, t.us.id);
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
  it("after a five-minute run, a lookup by a recent order's number or email is a cache hit", {
    timeout: 20_000,
  }, async () => {
    const t = await threeStores();
    const seeded = await seedShopify(t.us.account, [
      { email: `warm1.${randomHex(3)}@example.com` },
      { email: `warm2.${randomHex(3)}@example.com` },
    ]);
    await pullOrders(t.tenantId, t.us.id);
    // A lookup marks the tenant as one that uses order lookup (the cron warms only those).
    await t.lookup({ orderNumber: "W-NOT-AN-ORDER" });

    const controller = createScheduledController({ cron: "*/5 * * * *", scheduledTime: Date.now() });
    const execution = createExecutionContext();
    await worker.scheduled(controller, env, execution);
    await waitOnExecutionContext(execution);

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
