// The channel side of order lookup: Shopify's order search and TikTok's lookup by order id, against the
// faithful fakes (search syntax, cost accounting, errors), and the fakes' own search behaviour.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createShopifyAdapter } from "../../src/adapters/channels/shopify/client";
import { orderLookupQuery, orderLookupSearch } from "../../src/adapters/channels/shopify/queries";
import { createTikTokAdapter } from "../../src/adapters/channels/tiktok/client";
import { Order } from "../../src/domain/commerce";
import { UpstreamError } from "../../src/lib/errors";
import { type UpstreamGate, type UpstreamOutcome, ungatedUpstream } from "../../src/lib/upstream-gate";
import { type ShopifyFake, startShopifyFake } from "../fakes/shopify";
import { buildTikTokOrder, startTikTokFake, type TikTokFake } from "../fakes/tiktok";

let shopify: ShopifyFake;
let tiktok: TikTokFake;
let shopCount = 0;

beforeAll(async () => {
  [shopify, tiktok] = await Promise.all([startShopifyFake(), startTikTokFake()]);
});
afterAll(async () => {
  await Promise.all([shopify.close(), tiktok.close()]);
});

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

function newShop() {
  const shop = `lookup-${++shopCount}-${Date.now().toString(36)}.myshopify.com`;
  const accessToken = `shpat_${randomBytes(16).toString("hex")}`;
  shopify.createShop({ shop, accessToken });
  return { shop, accessToken };
}

function shopifyAdapter(shop: { shop: string; accessToken: string }, gate: UpstreamGate = ungatedUpstream) {
  return createShopifyAdapter({
    shopDomain: shop.shop,
    credentials: { accessToken: shop.accessToken },
    apiBase: `${shopify.url}/shops/{shop}`,
    gate,
    timeoutMs: 2000,
    maxAttempts: 1,
    sleep: async () => undefined,
  });
}

describe("Shopify order search (order lookup)", () => {
  it("builds Shopify search syntax: fielded name and email, a plain term of digits for the phone", () => {
    expect(orderLookupSearch({ orderNumber: "#1001" })).toBe('name:"1001"');
    expect(orderLookupSearch({ orderNumber: "1001", email: "ava@example.com" })).toBe(
      'name:"1001" email:"ava@example.com"',
    );
    expect(orderLookupSearch({ phone: "+1 (650) 555-0101" })).toBe('"16505550101"');
    expect(orderLookupSearch({ email: 'a"b@example.com' })).toBe('email:"a b@example.com"');
    expect(orderLookupSearch({})).toBeNull();
    const doc = orderLookupQuery({ search: 'name:"1001"', first: 3 });
    expect(doc.variables).toEqual({ first: 3, query: 'name:"1001"' });
    expect(doc.cost).toBeLessThanOrEqual(1000);
  });

  it("a customer's text is one quoted value: connectives, fields, colons, quotes and backslashes stay inside it", () => {
    const hostile = [
      "1001 OR status:any",
      "1001) OR (name:*",
      '1001" OR name:"1002',
      '1001\\" OR email:"x@y.example',
      "-name:1001",
      "NOT 1001",
      "1001\nOR created_at:>2020-01-01",
    ];
    for (const text of hostile) {
      const search = orderLookupSearch({ orderNumber: text }) ?? "";
      // name:"…" and nothing after it: the only quotes are the two that open and close the value.
      expect(search, text).toMatch(/^name:"[^"\\]*"$/);
      expect(search.split('"'), text).toHaveLength(3);
      const email = orderLookupSearch({ email: `${text}@example.com` }) ?? "";
      expect(email, text).toMatch(/^email:"[^"\\]*"$/);
    }
    // Phone numbers go in as their digits only.
    expect(orderLookupSearch({ phone: '+1 650" OR status:any' })).toBe('"1650"');
  });

  it("the fake, like Shopify, reads a quoted value as one term: a smuggled OR finds neither order", async () => {
    const shop = newShop();
    const [first, second] = shopify.seedOrders(shop.shop, 2);
    if (!first || !second) throw new Error("seed failed");
    const adapter = shopifyAdapter(shop);
    const smuggled = await adapter.searchOrders({
      criteria: { orderNumber: `${first.name} OR name:${second.name}` },
      limit: 3,
    });
    expect(smuggled.orders).toEqual([]);
  });

  it("finds an order by its number (with or without #, any case), by email and by phone; all criteria must match", async () => {
    const shop = newShop();
    const [first, second] = shopify.seedOrders(shop.shop, [
      { email: "Ava.Thompson@Example.com", phone: "+16505550199" },
      { email: "noah@garcia-design.example", phone: null },
    ]);
    if (!first || !second) throw new Error("seed failed");
    const adapter = shopifyAdapter(shop);

    const byNumber = await adapter.searchOrders({ criteria: { orderNumber: first.name }, limit: 3 });
    expect(byNumber.orders.map((o) => o.externalId)).toEqual([first.id]);
    expect(Order.safeParse(byNumber.orders[0]).success).toBe(true);
    const bare = await adapter.searchOrders({
      criteria: { orderNumber: first.name.replace("#", "") },
      limit: 3,
    });
    expect(bare.orders.map((o) => o.externalId)).toEqual([first.id]);

    const byEmail = await adapter.searchOrders({ criteria: { email: "ava.thompson@example.com" }, limit: 3 });
    expect(byEmail.orders.map((o) => o.externalId)).toEqual([first.id]);

    // Formats differ, digits agree; a number without its country code still matches.
    for (const phone of ["+1 (650) 555-0199", "650-555-0199", "16505550199"]) {
      const byPhone = await adapter.searchOrders({ criteria: { phone }, limit: 3 });
      expect(
        byPhone.orders.map((o) => o.externalId),
        phone,
      ).toEqual([first.id]);
    }

    // An order number with someone else's email is no match: every criterion must hold.
    const mismatch = await adapter.searchOrders({
      criteria: { orderNumber: first.name, email: "noah@garcia-design.example" },
      limit: 3,
    });
    expect(mismatch.orders).toEqual([]);
    const none = await adapter.searchOrders({ criteria: { orderNumber: "#999999" }, limit: 3 });
    expect(none).toEqual({ orders: [], rejected: [], truncated: false });
  });

  it("returns the newest matches first, at most `limit`, and says when there are more", async () => {
    const shop = newShop();
    const seeded = shopify.seedOrders(
      shop.shop,
      Array.from({ length: 5 }, () => ({ email: "repeat@example.com" })),
    );
    const result = await shopifyAdapter(shop).searchOrders({
      criteria: { email: "repeat@example.com" },
      limit: 3,
    });
    expect(result.orders.map((o) => o.externalId)).toEqual(
      seeded
        .slice(-3)
        .reverse()
        .map((o) => o.id),
    );
    expect(result.truncated).toBe(true);
  });

  it("asks the governor for the document's requested cost, which is what the fake computes, and returns the permit with Shopify's measurements", async () => {
    const shop = newShop();
    shopify.seedOrders(shop.shop, [{ email: "cost@example.com" }]);
    const gate = recordingGate();
    await shopifyAdapter(shop, gate).searchOrders({ criteria: { email: "cost@example.com" }, limit: 3 });
    const stats = shopify.stats(shop.shop);
    expect(gate.acquired).toEqual(stats.requestedCosts);
    expect(gate.released[0]?.ok).toBe(true);
    expect(gate.released[0]?.actualCost).toBeLessThan(gate.acquired[0] ?? 0);
    expect(gate.released[0]?.throttle?.maximumAvailable).toBe(2000);
  });

  it("a shop that fails answers with a classified error: 503 retryable, hang a timeout, bad token auth", async () => {
    const shop = newShop();
    const adapter = shopifyAdapter(shop);
    shopify.failNext(shop.shop, 503);
    const down = await adapter
      .searchOrders({ criteria: { orderNumber: "1001" }, limit: 3 })
      .catch((e: unknown) => e);
    expect(down).toBeInstanceOf(UpstreamError);
    expect((down as UpstreamError).kind).toBe("retryable");

    shopify.failNext(shop.shop, "hang");
    const slow = createShopifyAdapter({
      shopDomain: shop.shop,
      credentials: { accessToken: shop.accessToken },
      apiBase: `${shopify.url}/shops/{shop}`,
      gate: ungatedUpstream,
      timeoutMs: 200,
      maxAttempts: 1,
    });
    const hung = await slow
      .searchOrders({ criteria: { orderNumber: "1001" }, limit: 3 })
      .catch((e: unknown) => e);
    expect(hung).toBeInstanceOf(UpstreamError);
    expect((hung as UpstreamError).message).toMatch(/timed out/);

    const wrongToken = shopifyAdapter({ shop: shop.shop, accessToken: "shpat_wrong_token_000" });
    const refused = await wrongToken
      .searchOrders({ criteria: { orderNumber: "1001" }, limit: 3 })
      .catch((e: unknown) => e);
    expect((refused as UpstreamError).kind).toBe("auth");
  });

  it("like Shopify, the fake leaves out a search field it does not know and says so in extensions.search", async () => {
    const shop = newShop();
    shopify.seedOrders(shop.shop, 3);
    const response = await fetch(`${shopify.url}/shops/${shop.shop}/admin/api/2026-10/graphql.json`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-shopify-access-token": shop.accessToken },
      body: JSON.stringify({ query: '{ orders(first: 5, query: "phone:16505550101") { nodes { id } } }' }),
    });
    const body = (await response.json()) as {
      data: { orders: { nodes: unknown[] } };
      extensions: { search?: { path: string[]; warnings: { field: string; message: string }[] }[] };
    };
    // The unknown filter was dropped: every order came back.
    expect(body.data.orders.nodes).toHaveLength(3);
    expect(body.extensions.search).toEqual([
      {
        path: ["orders"],
        query: "phone:16505550101",
        warnings: [
          { field: "phone", message: "Invalid search field for this query.", code: "invalid_field" },
        ],
      },
    ]);
  });

  it("the client refuses an answer whose search terms Shopify did not apply, instead of passing it on", async () => {
    const shop = newShop();
    shopify.seedOrders(shop.shop, [{ email: "warned@example.com" }]);
    // A proxy in front of the fake adds the warning Shopify gives for a dropped term.
    const adapter = createShopifyAdapter({
      shopDomain: shop.shop,
      credentials: { accessToken: shop.accessToken },
      apiBase: `${shopify.url}/shops/{shop}`,
      gate: ungatedUpstream,
      maxAttempts: 1,
      fetch: async (url, init) => {
        const answer = await fetch(url, init);
        const json = (await answer.json()) as { extensions: Record<string, unknown> };
        json.extensions.search = [
          { path: ["orders"], warnings: [{ field: "email", message: "Invalid search field" }] },
        ];
        return new Response(JSON.stringify(json), { status: 200, headers: answer.headers });
      },
    });
    const error = await adapter
      .searchOrders({ criteria: { email: "warned@example.com" }, limit: 3 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).kind).toBe("permanent");
    expect((error as UpstreamError).message).toMatch(/ignored search terms \(email: Invalid search field\)/);
  });
});

describe("TikTok Shop order lookup", () => {
  let nextShop = 7494049642643000000n;
  function newTikTokShop() {
    const shop = {
      shopId: String(nextShop++),
      appKey: `6${randomBytes(6).toString("hex")}`,
      appSecret: randomBytes(20).toString("hex"),
      accessToken: `ROW_${randomBytes(24).toString("base64url")}`,
    };
    const { cipher } = tiktok.registerShop(shop);
    const adapter = createTikTokAdapter({
      shopId: shop.shopId,
      credentials: { ...shop, shopCipher: cipher },
      apiBase: tiktok.url,
      gate: ungatedUpstream,
      timeoutMs: 2000,
      maxAttempts: 1,
    });
    return { ...shop, adapter };
  }

  it("searches by order id only: Get Order Detail for the id; email and phone are not searchable there", async () => {
    const shop = newTikTokShop();
    const [order] = tiktok.putOrders(shop.shopId, [
      buildTikTokOrder({ buyerEmail: "relay@scs2.tiktok.com" }),
    ]);
    if (!order) throw new Error("seed failed");
    expect(shop.adapter.orderSearchCriteria).toEqual(["orderNumber"]);

    const found = await shop.adapter.searchOrders({ criteria: { orderNumber: order.id }, limit: 3 });
    expect(found.orders.map((o) => o.externalId)).toEqual([order.id]);
    expect(tiktok.stats(shop.shopId).requests["/order/202309/orders"]).toBe(1);

    // Not an id, or unknown: nothing, and a non-id never reaches TikTok.
    expect(
      (await shop.adapter.searchOrders({ criteria: { orderNumber: "#W1001" }, limit: 3 })).orders,
    ).toEqual([]);
    expect(
      (await shop.adapter.searchOrders({ criteria: { orderNumber: "576461413000000001" }, limit: 3 })).orders,
    ).toEqual([]);
    expect(tiktok.stats(shop.shopId).requests["/order/202309/orders"]).toBe(2);
  });

  it("a TikTok 5xx is a retryable UpstreamError", async () => {
    const shop = newTikTokShop();
    tiktok.failNext(shop.shopId, 503);
    const error = await shop.adapter
      .searchOrders({ criteria: { orderNumber: "576461413038785752" }, limit: 3 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
  });
});
