import { describe, expect, it } from "vitest";
import { allocateShipmentLines } from "./write-back";

const orderLines = [
  { externalLineId: "L1", sku: "TEE-M", quantity: 2 },
  { externalLineId: "L2", sku: "CAP", quantity: 1 },
  { externalLineId: "L3", sku: "TEE-M", quantity: 3 },
  { externalLineId: "L4", sku: null, quantity: 1 },
];

describe("which order lines a shipment covers", () => {
  it("maps SKUs to their lines", () => {
    expect(allocateShipmentLines([{ sku: "CAP", quantity: 1 }], orderLines)).toEqual([
      { externalLineId: "L2", quantity: 1 },
    ]);
  });

  it("spreads a SKU over every line that holds it, as far as each line goes", () => {
    expect(allocateShipmentLines([{ sku: "TEE-M", quantity: 4 }], orderLines)).toEqual([
      { externalLineId: "L1", quantity: 2 },
      { externalLineId: "L3", quantity: 2 },
    ]);
  });

  it("handles the same SKU reported twice without over-fulfilling a line", () => {
    expect(
      allocateShipmentLines(
        [
          { sku: "TEE-M", quantity: 2 },
          { sku: "TEE-M", quantity: 3 },
        ],
        orderLines,
      ),
    ).toEqual([
      { externalLineId: "L1", quantity: 2 },
      { externalLineId: "L3", quantity: 3 },
    ]);
  });

  it("ignores SKUs the order does not hold and quantities beyond it", () => {
    expect(
      allocateShipmentLines(
        [
          { sku: "MUG", quantity: 1 },
          { sku: "CAP", quantity: 5 },
        ],
        orderLines,
      ),
    ).toEqual([{ externalLineId: "L2", quantity: 1 }]);
  });
});
