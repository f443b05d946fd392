// Product assets end to end against the real Postgres and the Shopify and TikTok fakes: pictures read from
// the stores' catalogues and stored per variant (newer wins), listed by SKU, and matched to order lines for
// the ticket view and the chat bot; tenant isolation, validation and security.
import { describe, expect, it } from "vitest";
import { assetsForOrderLines } from "../../src/services/product-assets/assets-for-order-lines";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import { createChannelConnection, createErpConnection } from "../support/hub";
import { createTikTokStore, pullStoreOrders } from "../support/stores";
import { shopifyFake } from "../support/sync";
import { tiktokFake } from "../support/webhooks";

const SYNC = "/api/v1/product-assets/sync";

interface SyncResult {
  connectionId: string;
  pages: number;
  variants: number;
  created: number;
  updated: number;
  unchanged: number;
  withoutImage: number;
  rejected: { count: number; items: { productExternalId: string; error: string }[] };
  nextCursor: string | null;
  done: boolean;
}

interface Asset {
  id: string;
  connectionId: string;
  externalProductId: string;
  externalVariantId: string;
  sku: string | null;
  title: string;
  variantTitle: string | null;
  imageUrl: string;
  imageAlt: string | null;
  width: number | null;
  height: number | null;
  images: { url: string; alt: string | null }[];
  sourceUpdatedAt: string;
}

interface OrderAssets {
  orderId: string;
  connectionId: string;
  externalNumber: string;
  lines: {
    externalLineId: string;
    sku: string | null;
    variantExternalId: string | null;
    title: string;
    asset: Asset | null;
    matchedBy: "variant" | "sku" | "sku_other_store" | null;
  }[];
}

async function shop() {
  const admin = await signedInUser({ superuser: true });
  const agent = await signedInUser({ tenant: admin.tenant, permissions: ["orders:read"] });
  const connection = await createChannelConnection(admin.token, { displayName: "Acme US" });
  await shopifyFake.createShop(connection.account, String(connection.sentCredentials.accessToken));
  const sync = async (body: Record<string, unknown> = {}, token = admin.token) => {
    const response = await call(
      SYNC,
      bearer(token, { method: "POST", body: { connectionId: connection.id, ...body } }),
    );
    return { status: response.status, body: await envelope<SyncResult>(response) };
  };
  return { admin, agent, connection, sync, tenantId: admin.tenant.id };
}

describe("syncing product pictures from a store", () => {
  it("stores one asset per pictured Shopify variant; again changes nothing; a new picture is an update", async () => {
    const s = await shop();
    const first = await s.sync();
    expect(first.status).toBe(200);
    expect(first.body.data).toEqual({
      connectionId: s.connection.id,
      pages: 1,
      variants: 8,
      created: 7,
      updated: 0,
      unchanged: 0,
      withoutImage: 1,
      removed: 0,
      rejected: { count: 0, items: [] },
      nextCursor: null,
      done: true,
    });
    const rows = await ownerSql()`
      select external_variant_id, sku, image_url, jsonb_array_length(images) as images
        from product_assets where tenant_id = ${s.tenantId} order by external_variant_id`;
    expect(rows).toHaveLength(7);
    expect(rows.find((r) => r.sku === "TW-TEE-BLK-M")).toMatchObject({
      external_variant_id: "gid://shopify/ProductVariant/45001",
      images: 3,
    });

    const again = await s.sync();
    expect(again.body.data).toMatchObject({ created: 0, updated: 0, unchanged: 7 });

    const cap = (
      await shopifyFake.control<{ products: { id: string; title: string }[] }>(
        `products?shop=${encodeURIComponent(s.connection.account)}`,
      )
    ).products.find((p) => p.title === "Canvas Cap");
    await shopifyFake.control("products/update", {
      body: {
        shop: s.connection.account,
        id: cap?.id,
        patch: {
          images: [
            { url: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/cap-v2.jpg?v=2", alt: "Cap v2" },
          ],
        },
      },
    });
    const changed = await s.sync();
    expect(changed.body.data).toMatchObject({ created: 0, updated: 1, unchanged: 6 });
    const [capRow] = await ownerSql()`
      select image_url, image_alt from product_assets where tenant_id = ${s.tenantId} and sku = 'TW-CAP-OLV'`;
    expect(capRow).toEqual({
      image_url: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/cap-v2.jpg?v=2",
      image_alt: "Cap v2",
    });
  });

  it("a picture taken away at the store is taken away here; an older read never undoes a newer one", async () => {
    const s = await shop();
    await s.sync();
    const products = async () =>
      (
        await shopifyFake.control<{ products: { id: string; title: string }[] }>(
          `products?shop=${encodeURIComponent(s.connection.account)}`,
        )
      ).products;
    const capId = (await products()).find((p) => p.title === "Canvas Cap")?.id;
    const mugId = (await products()).find((p) => p.title === "Enamel Mug")?.id;
    const capRow = async () =>
      (
        await ownerSql()`
        select image_url from product_assets where tenant_id = ${s.tenantId} and sku = 'TW-CAP-OLV'`
      )[0];

    // Tradewind holds a newer read of the cap than the store is about to give: the store's change loses.
    await ownerSql()`
      update product_assets set source_updated_at = now() + interval '1 day'
       where tenant_id = ${s.tenantId} and sku = 'TW-CAP-OLV'`;
    const kept = await capRow();
    await shopifyFake.control("products/update", {
      body: {
        shop: s.connection.account,
        id: capId,
        patch: { images: [{ url: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/cap-old.jpg" }] },
      },
    });
    expect((await s.sync()).body.data).toMatchObject({ created: 0, updated: 0, removed: 0, unchanged: 7 });
    expect(await capRow()).toEqual(kept);
    await shopifyFake.control("products/update", {
      body: { shop: s.connection.account, id: capId, patch: { images: [] } },
    });
    expect((await s.sync()).body.data).toMatchObject({ withoutImage: 2, removed: 0 });
    expect(await capRow()).toEqual(kept);

    // The store's read is the newer one: the mug's picture, now gone there, goes here too.
    await shopifyFake.control("products/update", {
      body: { shop: s.connection.account, id: mugId, patch: { images: [] } },
    });
    expect((await s.sync()).body.data).toMatchObject({ withoutImage: 3, removed: 1 });
    const mugRows = await ownerSql()`
      select 1 from product_assets a where a.tenant_id = ${s.tenantId} and a.title = 'Enamel Mug'`;
    expect(mugRows).toEqual([]);
  });

  it("a cursor the store refuses is a 422 naming the cursor, for Shopify and for TikTok", async () => {
    const s = await shop();
    const shopify = await s.sync({ cursor: "bm90LWEtY3Vyc29y" });
    expect(shopify.status).toBe(422);
    expect(shopify.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "The store did not accept the cursor",
      details: {
        cursor: ["Pass back the nextCursor of this store's previous sync, or omit it to start over"],
      },
    });
    const tiktok = await createTikTokStore(s.admin.token, "Acme TikTok");
    const response = await call(
      SYNC,
      bearer(s.admin.token, {
        method: "POST",
        body: { connectionId: tiktok.connection.id, cursor: "not-a-page-token" },
      }),
    );
    expect(response.status).toBe(422);
    expect((await envelope(response)).error?.details).toHaveProperty("cursor");
  });

  it("is bounded: one page per call when asked, continued with the cursor until done", async () => {
    const s = await shop();
    await shopifyFake.control("products", {
      body: {
        shop: s.connection.account,
        products: Array.from({ length: 3 }, (_, i) => ({
          title: `Enamel Pin ${i}`,
          images: [{ alt: `Pin ${i}` }],
          variants: [{ sku: `TW-PIN-${i}`, title: "Default Title" }],
        })),
      },
    });
    const first = await s.sync({ maxPages: 1 });
    expect(first.body.data).toMatchObject({ pages: 1, done: false });
    expect(first.body.data?.nextCursor).toEqual(expect.any(String));
    const rest = await s.sync({ cursor: first.body.data?.nextCursor });
    expect(rest.body.data).toMatchObject({ done: true, nextCursor: null });
    const [count] =
      await ownerSql()`select count(*)::int as n from product_assets where tenant_id = ${s.tenantId}`;
    expect(count?.n).toBe(10);
  });

  it("reads a TikTok shop's products through Search Products and Get Product", async () => {
    const s = await shop();
    const tiktok = await createTikTokStore(s.admin.token, "Acme TikTok");
    await tiktokFake.control("products", { shopId: tiktok.shopId, demo: true });
    const response = await call(
      SYNC,
      bearer(s.admin.token, { method: "POST", body: { connectionId: tiktok.connection.id } }),
    );
    const result = (await envelope<SyncResult>(response)).data;
    expect(result).toMatchObject({ variants: 3, created: 3, withoutImage: 0, done: true });
    const rows = await ownerSql()`
      select external_variant_id, sku, variant_title from product_assets
       where tenant_id = ${s.tenantId} and connection_id = ${tiktok.connection.id} order by sku`;
    expect(rows).toEqual([
      { external_variant_id: "1729385519472838872", sku: "COAST-BAM-4", variant_title: "Set of 4" },
      { external_variant_id: "1729382476852921561", sku: "MUG-12-CHAR", variant_title: "Charcoal" },
      { external_variant_id: "1729382476852921560", sku: "MUG-12-SAGE", variant_title: "Sage Green" },
    ]);
  });

  it("refuses what cannot be synced: unknown connection 404, an ERP 412, a store answering 503 502, bad body 422", async () => {
    const s = await shop();
    const unknown = await call(
      SYNC,
      bearer(s.admin.token, { method: "POST", body: { connectionId: crypto.randomUUID() } }),
    );
    expect(unknown.status).toBe(404);
    expect((await envelope(unknown)).error).toEqual({ code: "NOT_FOUND", message: "Connection not found" });

    const erp = await createErpConnection(s.admin.token);
    const notStore = await call(
      SYNC,
      bearer(s.admin.token, { method: "POST", body: { connectionId: erp.id } }),
    );
    expect(notStore.status).toBe(412);
    expect((await envelope(notStore)).error).toEqual({
      code: "PRECONDITION_FAILED",
      message: "Product pictures come from a store: this connection is not one",
      details: { connectionId: erp.id, kind: "erp" },
    });

    // The adapter retries a 5xx; every attempt failing is a 502 naming the upstream.
    for (let i = 0; i < 4; i++) await shopifyFake.failNext(s.connection.account, 503);
    const down = await s.sync();
    expect(down.status).toBe(502);
    expect(down.body.error?.code).toBe("UPSTREAM_ERROR");

    const bad = await call(
      SYNC,
      bearer(s.admin.token, { method: "POST", body: { connectionId: "x", extra: 1 } }),
    );
    expect(bad.status).toBe(422);
    expect(Object.keys((await envelope(bad)).error?.details ?? {}).sort()).toEqual(
      ["_root", "connectionId"].sort(),
    );
  });
});

describe("pictures for order lines", () => {
  it("GET /orders/{id}/assets gives each line its variant's picture; a line without one gets none", async () => {
    const s = await shop();
    await shopifyFake.control("orders", {
      body: {
        shop: s.connection.account,
        orders: [
          {
            lines: [
              { sku: "TW-TEE-WHT-L", quantity: 2 },
              { sku: null, title: "Gift wrapping", unitPrice: "5.00" },
            ],
          },
        ],
      },
    });
    const [order] = await pullStoreOrders(s.tenantId, s.connection.id);
    await s.sync();

    const response = await call(`/api/v1/orders/${order?.id}/assets`, bearer(s.agent.token));
    expect(response.status).toBe(200);
    const data = (await envelope<OrderAssets>(response)).data;
    expect(data?.orderId).toBe(order?.id);
    expect(data?.externalNumber).toBe("#1001");
    const [tee, wrap] = data?.lines ?? [];
    expect(tee).toMatchObject({
      sku: "TW-TEE-WHT-L",
      variantExternalId: "gid://shopify/ProductVariant/45002",
      matchedBy: "variant",
      asset: { sku: "TW-TEE-WHT-L", variantTitle: "White / L", imageAlt: "Organic Cotton Tee in White / L" },
    });
    expect(tee?.asset?.imageUrl).toMatch(/^https:\/\/cdn\.shopify\.com\//);
    expect(wrap).toMatchObject({ title: "Gift wrapping", asset: null, matchedBy: null });
  });

  it("the bot's matcher: a TikTok order line matched by its SKU id; a SKU pictured only in another store by SKU", async () => {
    const s = await shop();
    const tiktok = await createTikTokStore(s.admin.token, "Acme TikTok");
    await tiktokFake.control("products", { shopId: tiktok.shopId, demo: true });
    await tiktokFake.seedOrders(tiktok.shopId, [
      {},
      {
        lines: [
          { skuId: "1730000000000000999", sellerSku: "TW-CAP-OLV", productName: "Canvas Cap", quantity: 1 },
        ],
      },
    ]);
    const [withMug, withCap] = await pullStoreOrders(s.tenantId, tiktok.connection.id);
    await s.sync();
    await call(SYNC, bearer(s.admin.token, { method: "POST", body: { connectionId: tiktok.connection.id } }));

    const ctx = testContext();
    ctx.tenantId = s.tenantId;
    ctx.actor = { type: "system", name: "chat" };
    const result = await assetsForOrderLines({
      ctx,
      input: { orderIds: [withMug?.id ?? "", withCap?.id ?? "", crypto.randomUUID()] },
    });
    expect(result.map((r) => r.orderId)).toEqual([withMug?.id, withCap?.id]);
    const mugLines = result[0]?.lines ?? [];
    expect(mugLines.map((l) => [l.sku, l.matchedBy])).toEqual([
      ["MUG-12-SAGE", "variant"],
      ["COAST-BAM-4", "variant"],
    ]);
    expect(mugLines[0]?.asset?.connectionId).toBe(tiktok.connection.id);
    expect(result[1]?.lines[0]).toMatchObject({
      sku: "TW-CAP-OLV",
      matchedBy: "sku_other_store",
      asset: { connectionId: s.connection.id, title: "Canvas Cap" },
    });
    await expect(assetsForOrderLines({ ctx, input: { orderIds: ["not-a-uuid"] } })).rejects.toMatchObject({
      code: "VALIDATION_ERROR",
      details: { orderIds: ["Every id must be a UUID"] },
    });
  });

  it("GET /product-assets?sku= lists a SKU's pictures, case-insensitively", async () => {
    const s = await shop();
    await s.sync();
    const response = await call("/api/v1/product-assets?sku=tw-tee-blk-m", bearer(s.agent.token));
    expect(response.status).toBe(200);
    const items = (await envelope<{ items: Asset[] }>(response)).data?.items ?? [];
    expect(items).toHaveLength(1);
    expect(items[0]).toMatchObject({
      connectionId: s.connection.id,
      externalProductId: "gid://shopify/Product/8801",
      externalVariantId: "gid://shopify/ProductVariant/45001",
      sku: "TW-TEE-BLK-M",
      title: "Organic Cotton Tee",
      variantTitle: "Black / M",
      width: 2048,
      height: 2048,
    });
    expect(items[0]?.images.map((i) => i.alt)).toEqual([
      "Organic Cotton Tee in Black / M",
      "Organic Cotton Tee in White / L",
      "Organic Cotton Tee worn outdoors",
    ]);
    const missing = await call("/api/v1/product-assets", bearer(s.agent.token));
    expect(missing.status).toBe(422);
    expect((await envelope(missing)).error?.details).toHaveProperty("sku");
  });
});

describe("product assets: tenant isolation and security", () => {
  it("another tenant sees none of the pictures and none of the orders", async () => {
    const a = await shop();
    const b = await shop();
    await a.sync();
    await shopifyFake.control("orders", { body: { shop: a.connection.account, count: 1 } });
    const [aOrder] = await pullStoreOrders(a.tenantId, a.connection.id);

    const list = await call("/api/v1/product-assets?sku=TW-TEE-BLK-M", bearer(b.agent.token));
    expect((await envelope<{ items: Asset[] }>(list)).data?.items).toEqual([]);
    const other = await call(`/api/v1/orders/${aOrder?.id}/assets`, bearer(b.agent.token));
    expect(other.status).toBe(404);
    expect((await envelope(other)).error).toEqual({ code: "NOT_FOUND", message: "Order not found" });
    // B cannot sync A's store either.
    const sync = await call(
      SYNC,
      bearer(b.admin.token, { method: "POST", body: { connectionId: a.connection.id } }),
    );
    expect(sync.status).toBe(404);
  });

  it("401 without a token; 403 without orders:read (lists) or sync:admin (sync)", async () => {
    const s = await shop();
    expect((await call("/api/v1/product-assets?sku=X")).status).toBe(401);
    expect((await call(`/api/v1/orders/${crypto.randomUUID()}/assets`)).status).toBe(401);
    expect(
      (await call(SYNC, { method: "POST", body: "{}", headers: { "content-type": "application/json" } }))
        .status,
    ).toBe(401);
    const stranger = await signedInUser({ tenant: s.admin.tenant, permissions: ["users:read"] });
    expect((await call("/api/v1/product-assets?sku=X", bearer(stranger.token))).status).toBe(403);
    expect((await call(`/api/v1/orders/${crypto.randomUUID()}/assets`, bearer(stranger.token))).status).toBe(
      403,
    );
    const agentSync = await s.sync({}, s.agent.token);
    expect(agentSync.status).toBe(403);
    expect(agentSync.body.error?.code).toBe("FORBIDDEN");
    const malformed = await call("/api/v1/orders/not-a-uuid/assets", bearer(s.agent.token));
    expect(malformed.status).toBe(422);
  });
});
