import { describe, expect, it } from "vitest";
import mug from "./fixtures/product-detail-mug-two-colours.json";
import { imageOf, toTikTokVariantAssets } from "./product-transform";
import { tiktokProductSchema } from "./types";

describe("TikTok product → variant assets", () => {
  it("gives each SKU its own sales-attribute picture first, then the main images; values joined as the variant title", () => {
    const [sage, charcoal] = toTikTokVariantAssets(tiktokProductSchema.parse(mug));
    expect(sage).toEqual({
      productExternalId: "1729382476852855024",
      variantExternalId: "1729382476852921560",
      sku: "MUG-12-SAGE",
      title: "Stoneware Coffee Mug 12oz",
      variantTitle: "Sage Green / 12 oz",
      image: {
        url: "https://p16-oec-va.ibyteimg.com/tos-maliva-i-o3syd03w52-us/9f1a2b3c4d5e6f708192a3b4c5d6e7f8~tplv-o3syd03w52-origin-jpeg.jpeg?from=1826719393",
        alt: null,
        width: 800,
        height: 800,
      },
      images: [
        expect.objectContaining({ url: expect.stringContaining("9f1a2b3c4d5e6f708192a3b4c5d6e7f8") }),
        expect.objectContaining({
          url: expect.stringContaining("c668cdf70b7f483c94dbe2a4a0a1e0f8"),
          width: 1200,
        }),
        expect.objectContaining({
          url: expect.stringContaining("5e1d3b9c8a2f4e7d9b6c0a1f2e3d4c5b"),
          width: 900,
        }),
      ],
      updatedAt: "2025-03-02T09:15:27.000Z",
    });
    // No picture of its own, a blank seller SKU: the first main image, no SKU.
    expect(charcoal?.sku).toBeNull();
    expect(charcoal?.variantTitle).toBe("Charcoal");
    expect(charcoal?.image?.url).toContain("c668cdf70b7f483c94dbe2a4a0a1e0f8");
    expect(charcoal?.images).toHaveLength(2);
  });

  it("a product never edited is dated by its creation; a product without SKUs has no assets", () => {
    const { update_time: _, ...created } = mug;
    const [first] = toTikTokVariantAssets(tiktokProductSchema.parse(created));
    expect(first?.updatedAt).toBe("2025-02-28T00:00:00.000Z");
    expect(toTikTokVariantAssets(tiktokProductSchema.parse({ ...mug, skus: [] }))).toEqual([]);
  });

  it("uses the first web URL of an image; none is no picture", () => {
    expect(imageOf({ urls: ["tos://internal", "https://p16.example/x.jpeg"], width: 0 })).toEqual({
      url: "https://p16.example/x.jpeg",
      alt: null,
      width: null,
      height: null,
    });
    expect(imageOf({ uri: "tos-maliva/x", urls: [] })).toBeNull();
    expect(imageOf(undefined)).toBeNull();
  });
});
