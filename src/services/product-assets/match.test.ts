import { describe, expect, it } from "vitest";
import type { OrderLine } from "../../domain/commerce";
import { assetsForLines, matchLineAsset, type ProductAssetView } from "./match";

const SHOPIFY = "11111111-1111-4111-8111-111111111111";
const TIKTOK = "33333333-3333-4333-8333-333333333333";

function asset(overrides: Partial<ProductAssetView>): ProductAssetView {
  return {
    id: crypto.randomUUID(),
    connectionId: SHOPIFY,
    externalProductId: "gid://shopify/Product/8801",
    externalVariantId: "gid://shopify/ProductVariant/45001",
    sku: "TW-TEE-BLK-M",
    title: "Organic Cotton Tee",
    variantTitle: "Black / M",
    imageUrl: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/organic-cotton-tee-black.jpg?v=1",
    imageAlt: "Organic Cotton Tee in Black / M",
    width: 2048,
    height: 2048,
    images: [],
    sourceUpdatedAt: "2026-03-01T00:00:00.000Z",
    updatedAt: "2026-03-01T00:00:00.000Z",
    ...overrides,
  };
}

const line = (overrides: Partial<OrderLine>): OrderLine => ({
  externalLineId: "gid://shopify/LineItem/1",
  sku: "TW-TEE-BLK-M",
  title: "Organic Cotton Tee",
  variantTitle: "Black / M",
  productExternalId: "gid://shopify/Product/8801",
  variantExternalId: "gid://shopify/ProductVariant/45001",
  quantity: 2,
  unitPriceMinor: 2400,
  discountMinor: 0,
  taxMinor: 0,
  ...overrides,
});

describe("matching a picture to an order line", () => {
  it("prefers the store's exact variant, then the store's SKU, then another store's SKU", () => {
    const exact = asset({});
    const sameSkuOtherVariant = asset({
      externalVariantId: "gid://shopify/ProductVariant/99",
      sku: "tw-tee-blk-m ",
    });
    const otherStore = asset({ connectionId: TIKTOK, externalVariantId: "1729", sku: "TW-TEE-BLK-M" });
    expect(matchLineAsset(line({}), SHOPIFY, [otherStore, sameSkuOtherVariant, exact])).toEqual({
      asset: exact,
      matchedBy: "variant",
    });
    // The variant was re-created: same SKU in the same store.
    expect(
      matchLineAsset(line({ variantExternalId: "gid://shopify/ProductVariant/777" }), SHOPIFY, [
        otherStore,
        sameSkuOtherVariant,
      ]),
    ).toEqual({
      asset: sameSkuOtherVariant,
      matchedBy: "sku",
    });
    // A TikTok line for a SKU pictured only in Shopify.
    expect(matchLineAsset(line({ variantExternalId: "1729999" }), TIKTOK, [exact])).toEqual({
      asset: exact,
      matchedBy: "sku_other_store",
    });
  });

  it("the newest of equals wins; no variant and no SKU finds nothing", () => {
    const old = asset({
      connectionId: TIKTOK,
      externalVariantId: "a",
      sourceUpdatedAt: "2026-01-01T00:00:00.000Z",
    });
    const recent = asset({
      connectionId: SHOPIFY,
      externalVariantId: "b",
      sourceUpdatedAt: "2026-02-01T00:00:00.000Z",
    });
    expect(
      matchLineAsset(line({ variantExternalId: null }), "44444444-4444-4444-8444-444444444444", [old, recent])
        ?.asset,
    ).toBe(recent);
    expect(matchLineAsset(line({ variantExternalId: null, sku: null }), SHOPIFY, [old, recent])).toBeNull();
    expect(matchLineAsset(line({ variantExternalId: null, sku: "  " }), SHOPIFY, [old, recent])).toBeNull();
  });

  it("lists every line with its picture or none", () => {
    const lines = [
      line({}),
      line({
        externalLineId: "gid://shopify/LineItem/2",
        sku: null,
        variantExternalId: null,
        title: "Gift wrapping",
        variantTitle: null,
        quantity: 1,
      }),
    ];
    const result = assetsForLines(lines, SHOPIFY, [asset({})]);
    expect(result.map((l) => [l.externalLineId, l.matchedBy, l.asset?.imageUrl ?? null])).toEqual([
      [
        "gid://shopify/LineItem/1",
        "variant",
        "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/organic-cotton-tee-black.jpg?v=1",
      ],
      ["gid://shopify/LineItem/2", null, null],
    ]);
    expect(result[1]).toMatchObject({ title: "Gift wrapping", quantity: 1 });
  });
});
