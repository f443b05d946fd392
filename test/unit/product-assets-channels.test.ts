// The channel side of product assets: Shopify products with media and variants, TikTok Search Products +
// Get Product, against the faithful fakes (paging, cost accounting, follow-up pages, refusals).
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { VariantAsset } from "../../src/adapters/channels/interface";
import { createShopifyAdapter } from "../../src/adapters/channels/shopify/client";
import {
  MAX_SINGLE_QUERY_COST,
  maxProductsPerPage,
  maxVariantsPerPage,
  productsPageQuery,
  productVariantsQuery,
  VARIANTS_PER_PRODUCT,
} from "../../src/adapters/channels/shopify/queries";
import { createTikTokAdapter } from "../../src/adapters/channels/tiktok/client";
import { type UpstreamGate, ungatedUpstream } from "../../src/lib/upstream-gate";
import { type ShopifyFake, startShopifyFake } from "../fakes/shopify";
import {
  buildTikTokProduct,
  startTikTokFake,
  TIKTOK_DEMO_PRODUCTS,
  TIKTOK_PRODUCT_NOT_FOUND,
  type TikTokFake,
} from "../fakes/tiktok";

let shopify: ShopifyFake;
let tiktok: TikTokFake;
let shopCount = 0;

beforeAll(async () => {
  [shopify, tiktok] = await Promise.all([startShopifyFake(), startTikTokFake()]);
});
afterAll(async () => {
  await Promise.all([shopify.close(), tiktok.close()]);
});

function newShop() {
  const shop = `assets-${++shopCount}-${Date.now().toString(36)}.myshopify.com`;
  const accessToken = `shpat_${randomBytes(16).toString("hex")}`;
  shopify.createShop({ shop, accessToken });
  return { shop, accessToken };
}

function costGate(): UpstreamGate & { costs: number[] } {
  const costs: number[] = [];
  return {
    costs,
    async acquire({ cost }) {
      costs.push(cost);
      return { release: async () => undefined };
    },
  };
}

function shopifyAdapter(shop: { shop: string; accessToken: string }, gate: UpstreamGate = ungatedUpstream) {
  return createShopifyAdapter({
    shopDomain: shop.shop,
    credentials: { accessToken: shop.accessToken },
    apiBase: `${shopify.url}/shops/{shop}`,
    gate,
    timeoutMs: 2000,
    sleep: async () => undefined,
  });
}

async function allShopifyAssets(adapter: ReturnType<typeof shopifyAdapter>, pageSize: number) {
  const assets: VariantAsset[] = [];
  const cursors: (string | null)[] = [];
  let cursor: string | null = null;
  do {
    const page = await adapter.listProductAssets({ cursor, pageSize });
    assets.push(...page.assets);
    cursor = page.nextCursor;
    cursors.push(cursor);
  } while (cursor !== null);
  return { assets, pages: cursors.length };
}

describe("Shopify product assets", () => {
  it("page and follow-up documents stay within the cost ceiling", () => {
    expect(maxProductsPerPage()).toBeGreaterThanOrEqual(5);
    expect(productsPageQuery({ cursor: null, first: 250 }).cost).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
    expect(productsPageQuery({ cursor: null, first: 250 }).variables.first).toBe(maxProductsPerPage());
    expect(
      productVariantsQuery({ productId: "gid://shopify/Product/1", after: "x" }).cost,
    ).toBeLessThanOrEqual(MAX_SINGLE_QUERY_COST);
    expect(maxVariantsPerPage()).toBeGreaterThan(VARIANTS_PER_PRODUCT);
  });

  it("maps every catalogue variant: its own picture first, the product's otherwise, none for a product without pictures", async () => {
    const shop = newShop();
    const { assets } = await allShopifyAssets(shopifyAdapter(shop), 50);
    const bySku = new Map(assets.map((a) => [a.sku, a]));
    expect(assets).toHaveLength(8);

    const black = bySku.get("TW-TEE-BLK-M");
    const white = bySku.get("TW-TEE-WHT-L");
    expect(black?.variantExternalId).toBe("gid://shopify/ProductVariant/45001");
    expect(black?.productExternalId).toBe("gid://shopify/Product/8801");
    expect(black?.variantTitle).toBe("Black / M");
    expect(black?.image?.alt).toBe("Organic Cotton Tee in Black / M");
    expect(white?.image?.alt).toBe("Organic Cotton Tee in White / L");
    expect(black?.image?.url).not.toBe(white?.image?.url);
    // The variant's picture first, then the product's others, each once.
    expect(black?.images.map((i) => i.alt)).toEqual([
      "Organic Cotton Tee in Black / M",
      "Organic Cotton Tee in White / L",
      "Organic Cotton Tee worn outdoors",
    ]);
    expect(black?.image).toMatchObject({ width: 2048, height: 2048 });
    expect(black?.image?.url).toMatch(/^https:\/\/cdn\.shopify\.com\/s\/files\//);

    // The hoodie's video is media but not a picture.
    expect(bySku.get("TW-HOOD-NVY-M")?.images).toHaveLength(1);
    // One variant, "Default Title": no variant title; the product's picture.
    const tote = bySku.get("TW-TOTE-NAT");
    expect(tote?.variantTitle).toBeNull();
    expect(tote?.image?.alt).toBe("Market Tote");
    // Gift wrapping: no SKU, no picture.
    const wrap = assets.find((a) => a.title === "Gift wrapping");
    expect(wrap?.sku).toBeNull();
    expect(wrap?.image).toBeNull();
    expect(wrap?.images).toEqual([]);
  });

  it("pages through the catalogue with Shopify's cursors, and reads a product's further variants in follow-up pages", async () => {
    const shop = newShop();
    const variants = Array.from({ length: 27 }, (_, i) => ({ sku: `TW-SOCK-${i}`, title: `Size ${i}` }));
    const [big] = shopify.seedProducts(shop.shop, [
      { title: "Sock Rainbow", images: [{ alt: "Socks" }], variants },
    ]);
    const gate = costGate();
    const { assets, pages } = await allShopifyAssets(shopifyAdapter(shop, gate), 3);
    expect(pages).toBe(3);
    expect(assets.filter((a) => a.productExternalId === big?.id)).toHaveLength(27);
    expect(new Set(assets.map((a) => a.variantExternalId)).size).toBe(8 + 27);
    // Three product pages and one follow-up page of variants, each costed as the fake costs it.
    expect(gate.costs).toEqual(shopify.stats(shop.shop).requestedCosts);
    expect(gate.costs).toHaveLength(4);
    expect(shopify.stats(shop.shop).maxCostExceeded).toBe(0);
  });

  it("a changed picture moves the product's updatedAt (the variant's too when its own picture changes)", async () => {
    const shop = newShop();
    const before = (await allShopifyAssets(shopifyAdapter(shop), 50)).assets.find(
      (a) => a.sku === "TW-CAP-OLV",
    );
    const [product] = shopify.listProducts(shop.shop).filter((p) => p.title === "Canvas Cap");
    if (!product || !before) throw new Error("catalogue missing the cap");
    shopify.updateProduct(shop.shop, product.id, {
      images: [
        {
          url: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/cap-olive-v2.jpg?v=2",
          alt: "Cap, new",
        },
      ],
    });
    const after = (await allShopifyAssets(shopifyAdapter(shop), 50)).assets.find(
      (a) => a.sku === "TW-CAP-OLV",
    );
    expect(after?.image?.url).toBe(
      "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/cap-olive-v2.jpg?v=2",
    );
    expect(Date.parse(after?.updatedAt ?? "")).toBeGreaterThan(Date.parse(before.updatedAt));
  });
});

describe("TikTok Shop product assets", () => {
  let nextShop = 7494049642644000000n;
  function newTikTokShop() {
    const shop = {
      shopId: String(nextShop++),
      appKey: `6${randomBytes(6).toString("hex")}`,
      appSecret: randomBytes(20).toString("hex"),
      accessToken: `ROW_${randomBytes(24).toString("base64url")}`,
    };
    const { cipher } = tiktok.registerShop(shop);
    const endpoints: string[] = [];
    const adapter = createTikTokAdapter({
      shopId: shop.shopId,
      credentials: { ...shop, shopCipher: cipher },
      apiBase: tiktok.url,
      gate: {
        async acquire({ endpoint }) {
          endpoints.push(endpoint);
          return { release: async () => undefined };
        },
      },
      timeoutMs: 2000,
      sleep: async () => undefined,
    });
    return { ...shop, adapter, endpoints };
  }

  it("reads Search Products then Get Product per product: the SKU's own picture, else the product's first", async () => {
    const shop = newTikTokShop();
    tiktok.putProducts(
      shop.shopId,
      TIKTOK_DEMO_PRODUCTS.map((seed) => buildTikTokProduct(seed)),
    );
    const page = await shop.adapter.listProductAssets({ cursor: null, pageSize: 10 });
    expect(page.nextCursor).toBeNull();
    expect(page.rejected).toEqual([]);
    const bySku = new Map(page.assets.map((a) => [a.sku, a]));
    const sage = bySku.get("MUG-12-SAGE");
    expect(sage).toMatchObject({
      productExternalId: "1729382476852855024",
      variantExternalId: "1729382476852921560",
      title: "Stoneware Coffee Mug 12oz",
      variantTitle: "Sage Green",
    });
    expect(sage?.image?.url).toMatch(/1729382476852921560s~tplv/);
    expect(sage?.image).toMatchObject({ width: 800, height: 800, alt: null });
    expect(sage?.images).toHaveLength(3);
    // The coaster set's SKU has no picture of its own: the product's main image.
    const coaster = bySku.get("COAST-BAM-4");
    expect(coaster?.image?.url).toMatch(/1729385519472707800m0~tplv/);
    // One budget per API: the detail path's id is not a separate endpoint.
    expect(shop.endpoints).toEqual([
      "/product/202309/products/search",
      "/product/202309/products/{product_id}",
      "/product/202309/products/{product_id}",
    ]);
  });

  it("pages with TikTok's page token, and reports a product TikTok refuses instead of failing the page", async () => {
    const shop = newTikTokShop();
    tiktok.putProducts(
      shop.shopId,
      Array.from({ length: 3 }, (_, i) =>
        buildTikTokProduct({ title: `Mug ${i}`, skus: [{ sellerSku: `MUG-${i}`, value: "Blue" }] }),
      ),
    );
    tiktok.failNext(shop.shopId, TIKTOK_PRODUCT_NOT_FOUND, { api: "/product/202309/products/{product_id}" });
    const first = await shop.adapter.listProductAssets({ cursor: null, pageSize: 2 });
    expect(first.assets).toHaveLength(1);
    expect(first.rejected).toHaveLength(1);
    expect(first.rejected[0]?.error).toMatch(/12052048/);
    expect(first.nextCursor).not.toBeNull();
    const second = await shop.adapter.listProductAssets({ cursor: first.nextCursor, pageSize: 2 });
    expect(second.assets.map((a) => a.sku)).toEqual(["MUG-2"]);
    expect(second.nextCursor).toBeNull();
  });
});
