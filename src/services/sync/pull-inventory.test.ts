import { describe, expect, it } from "vitest";
import type { InventoryLevel } from "../../domain/commerce";
import { inventoryCheckpointOf, inventoryRowsOf } from "./pull-inventory";

const MAIN = "gid://shopify/Location/76543210";

describe("inventoryRowsOf", () => {
  it("keeps the most recently changed level when two items of a page share a SKU at a location", () => {
    const levels: InventoryLevel[] = [
      { sku: "TW-MUG-350", locationId: MAIN, available: 4, updatedAt: "2026-11-20T09:00:00Z" },
      { sku: "TW-MUG-350", locationId: MAIN, available: 9, updatedAt: "2026-11-20T10:00:00Z" },
      { sku: "TW-MUG-350", locationId: MAIN, available: 1, updatedAt: "2026-11-19T10:00:00Z" },
      { sku: "TW-CAP-OLV", locationId: MAIN, available: 0, updatedAt: "2026-11-18T10:00:00Z" },
    ];
    expect(inventoryRowsOf(levels)).toEqual({
      rows: [
        { sku: "TW-MUG-350", location_id: MAIN, available: 9, source_updated_at: "2026-11-20T10:00:00Z" },
        { sku: "TW-CAP-OLV", location_id: MAIN, available: 0, source_updated_at: "2026-11-18T10:00:00Z" },
      ],
      invalid: [],
    });
  });

  it("sets aside a level that does not fit the inventory model instead of storing it", () => {
    const { rows, invalid } = inventoryRowsOf([
      { sku: "TW-TOTE-NAT", locationId: MAIN, available: 2.5, updatedAt: "2026-11-20T09:00:00Z" },
    ]);
    expect(rows).toEqual([]);
    expect(invalid).toEqual([
      { sku: "TW-TOTE-NAT", locationId: MAIN, error: expect.stringContaining("available") },
    ]);
  });
});

describe("inventoryCheckpointOf", () => {
  it("resumes from a saved page cursor and starts a new pass from the top otherwise", () => {
    expect(inventoryCheckpointOf({ pageCursor: "eyJsYXN0X2lkIjo0N30=" })).toEqual({
      pageCursor: "eyJsYXN0X2lkIjo0N30=",
    });
    expect(inventoryCheckpointOf({ pageCursor: null })).toEqual({ pageCursor: null });
    expect(inventoryCheckpointOf({})).toEqual({ pageCursor: null });
  });
});
