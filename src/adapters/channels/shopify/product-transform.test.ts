import { describe, expect, it } from "vitest";
import page from "./fixtures/products-page-tee-video-no-image.json";
import { imageOfMedia, toVariantAssets } from "./product-transform";
import { pageProductSchema, productsPageDataSchema, type ShopifyProduct } from "./types";

function products(): ShopifyProduct[] {
  return productsPageDataSchema.parse(page).products.nodes.map((raw) => {
    const { variants, ...rest } = pageProductSchema.parse(raw);
    return { ...rest, variants: variants.nodes };
  });
}

describe("Shopify product → variant assets", () => {
  it("gives each variant its own picture first, then the product's, each URL once; videos and unprocessed images are not pictures", () => {
    const [tee] = products();
    if (!tee) throw new Error("fixture");
    const [black, white, grey] = toVariantAssets(tee);
    expect(black).toEqual({
      productExternalId: "gid://shopify/Product/8801",
      variantExternalId: "gid://shopify/ProductVariant/45001",
      sku: "TW-TEE-BLK-M",
      title: "Organic Cotton Tee",
      variantTitle: "Black / M",
      image: {
        url: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/organic-cotton-tee-black.jpg?v=1740906927",
        alt: "Organic Cotton Tee in Black / M",
        width: 2048,
        height: 2048,
      },
      images: [
        {
          url: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/organic-cotton-tee-black.jpg?v=1740906927",
          alt: "Organic Cotton Tee in Black / M",
          width: 2048,
          height: 2048,
        },
        {
          url: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/organic-cotton-tee-white.jpg?v=1740906927",
          alt: "White tee, folded",
          width: 1600,
          height: 2000,
        },
      ],
      // The product changed after the variant: the later of the two.
      updatedAt: "2026-03-02T09:15:27Z",
    });
    // Blank media alt falls back to the image's alt text; the SKU is trimmed; the variant is newer.
    expect(white?.image?.url).toMatch(/organic-cotton-tee-white/);
    expect(white?.image?.alt).toBe("White tee, folded");
    expect(white?.sku).toBe("TW-TEE-WHT-L");
    expect(white?.images.map((i) => i.url)[1]).toMatch(/organic-cotton-tee-black/);
    expect(white?.updatedAt).toBe("2026-03-04T11:30:00Z");
    // No picture of its own and a blank SKU: the product's featured picture, no SKU.
    expect(grey?.sku).toBeNull();
    expect(grey?.image?.url).toMatch(/organic-cotton-tee-black/);
  });

  it("a product without pictures gives its variant none, and its only variant no variant title", () => {
    const [, wrap] = products();
    if (!wrap) throw new Error("fixture");
    expect(toVariantAssets(wrap)).toEqual([
      {
        productExternalId: "gid://shopify/Product/8807",
        variantExternalId: "gid://shopify/ProductVariant/45061",
        sku: null,
        title: "Gift wrapping",
        variantTitle: null,
        image: null,
        images: [],
        updatedAt: "2026-01-10T12:00:00Z",
      },
    ]);
  });

  it("only http(s) images of MediaImage nodes are pictures; zero sizes read as unknown", () => {
    expect(imageOfMedia({ __typename: "Video" })).toBeNull();
    expect(imageOfMedia(null)).toBeNull();
    expect(
      imageOfMedia({
        __typename: "MediaImage",
        alt: null,
        image: { url: "data:image/png;base64,AAAA", altText: null, width: 1, height: 1 },
      }),
    ).toBeNull();
    expect(
      imageOfMedia({
        __typename: "MediaImage",
        alt: "  ",
        image: { url: "https://cdn.shopify.com/x.jpg", altText: null, width: 0, height: null },
      }),
    ).toEqual({ url: "https://cdn.shopify.com/x.jpg", alt: null, width: null, height: null });
  });
});
