import { describe, expect, it } from "vitest";
import { InventoryLevel } from "../../../domain/commerce";
import followUp from "./fixtures/inventory-item-levels-follow-up.json";
import twoLocations from "./fixtures/inventory-items-page-two-locations.json";
import untrackedDigital from "./fixtures/inventory-items-page-untracked-digital-last.json";
import { inventoryItemFromPage, inventorySkuOf, ShopifyPayloadError, toInventoryLevels } from "./transform";
import {
  inventoryItemLevelsDataSchema,
  inventoryItemsPageDataSchema,
  type ShopifyInventoryItem,
} from "./types";

const MAIN = "gid://shopify/Location/76543210";
const THREE_PL = "gid://shopify/Location/76543211";

function itemsOf(fixture: { data: unknown }): ShopifyInventoryItem[] {
  return inventoryItemsPageDataSchema.parse(fixture.data).inventoryItems.nodes.map(inventoryItemFromPage);
}

/** Every level of a page, each checked against the commerce contract. */
function levelsOf(fixture: { data: unknown }) {
  return itemsOf(fixture).flatMap((item) => toInventoryLevels(item).map((l) => InventoryLevel.parse(l)));
}

describe("toInventoryLevels", () => {
  it("maps each stocked location of a SKU to one level with its available quantity", () => {
    const levels = levelsOf(twoLocations);
    expect(levels.filter((l) => l.sku === "TW-TEE-BLK-M")).toEqual([
      { sku: "TW-TEE-BLK-M", locationId: MAIN, available: 31, updatedAt: "2026-11-20T10:16:02Z" },
      { sku: "TW-TEE-BLK-M", locationId: THREE_PL, available: 12, updatedAt: "2026-11-18T07:40:11Z" },
    ]);
  });

  it("keeps an oversold location's negative quantity, dated by the later of level and quantity", () => {
    const [mug] = levelsOf(twoLocations).filter((l) => l.sku === "TW-MUG-350");
    // The quantity moved two seconds after the level's own timestamp: that is when -2 became true.
    expect(mug).toEqual({
      sku: "TW-MUG-350",
      locationId: MAIN,
      available: -2,
      updatedAt: "2026-11-20T09:12:47Z",
    });
  });

  it("trims a SKU typed with spaces, and dates a quantity that never changed by its level", () => {
    const tote = levelsOf(twoLocations).filter((l) => l.sku === "TW-TOTE-NAT");
    expect(tote).toEqual([
      { sku: "TW-TOTE-NAT", locationId: MAIN, available: 0, updatedAt: "2026-10-02T15:03:00Z" },
      { sku: "TW-TOTE-NAT", locationId: THREE_PL, available: 64, updatedAt: "2026-11-19T22:30:09Z" },
    ]);
  });

  it("skips items without a SKU: nothing in Tradewind or an ERP could name their stock", () => {
    const levels = levelsOf(twoLocations);
    expect(levels).toHaveLength(5);
    expect(new Set(levels.map((l) => l.sku))).toEqual(new Set(["TW-TEE-BLK-M", "TW-MUG-350", "TW-TOTE-NAT"]));
    const [, , , blank, giftWrap] = itemsOf(twoLocations);
    expect(blank && inventorySkuOf(blank)).toBeNull();
    expect(giftWrap && inventorySkuOf(giftWrap)).toBeNull();
  });

  it("skips an untracked item even with a SKU: Shopify sells it whatever its count says", () => {
    const [ebook] = itemsOf(untrackedDigital);
    expect(ebook?.sku).toBe("TW-EBOOK-CARE-GUIDE");
    expect(levelsOf(untrackedDigital)).toEqual([]);
  });

  it("adds the levels of a follow-up page to the item's inline ones", () => {
    const [first] = itemsOf(twoLocations);
    if (first === undefined) throw new Error("fixture has no item");
    const more = inventoryItemLevelsDataSchema.parse(followUp.data).inventoryItem;
    const item = {
      ...first,
      inventoryLevels: [...first.inventoryLevels, ...(more?.inventoryLevels.nodes ?? [])],
    };
    expect(toInventoryLevels(item).map((l) => [l.locationId, l.available])).toEqual([
      [MAIN, 31],
      [THREE_PL, 12],
      ["gid://shopify/Location/76543221", 7],
      ["gid://shopify/Location/76543222", 3],
    ]);
  });

  it("a level without an available quantity is a payload Shopify changed, not a zero", () => {
    const [first] = itemsOf(twoLocations);
    if (first === undefined) throw new Error("fixture has no item");
    const [level] = first.inventoryLevels;
    if (level === undefined) throw new Error("fixture has no level");
    const broken = { ...first, inventoryLevels: [{ ...level, quantities: [] }] };
    expect(() => toInventoryLevels(broken)).toThrow(ShopifyPayloadError);
  });
});
