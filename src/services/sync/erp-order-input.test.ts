import { describe, expect, it } from "vitest";
import type { Order } from "../../domain/commerce";
import { buildErpOrderInput, erpReferenceOf } from "./erp-order-input";

const order: Order = {
  channel: "shopify",
  storeId: "acme.myshopify.com",
  externalId: "gid://shopify/Order/5820000000001",
  externalNumber: "#1001",
  currency: "USD",
  customer: { externalId: null, email: "ava@example.com", phone: null, name: "Ava Thompson" },
  shippingAddress: null,
  billingAddress: null,
  lines: [
    line("L1", "TW-TEE-BLK-M", 2, 2400),
    line("L2", null, 1, 500, "Gift wrapping"),
    line("L3", "TW-CAP-OLV", 0, 1900),
  ],
  shippingLines: [{ title: "Express", code: "EXPRESS", priceMinor: 1500 }],
  taxLines: [],
  discountCodes: [],
  subtotalMinor: 5300,
  shippingMinor: 1500,
  taxMinor: 0,
  discountMinor: 0,
  totalMinor: 6800,
  financialStatus: "PAID",
  fulfillmentStatus: "UNFULFILLED",
  cancelledAt: null,
  placedAt: "2026-11-20T10:00:00Z",
  updatedAt: "2026-11-20T10:05:00Z",
  note: null,
  tags: [],
};

function line(id: string, sku: string | null, quantity: number, unitPriceMinor: number, title = "Item") {
  return {
    externalLineId: id,
    sku,
    title,
    variantTitle: null,
    productExternalId: null,
    variantExternalId: null,
    quantity,
    unitPriceMinor,
    discountMinor: 0,
    taxMinor: 0,
  };
}

const none = { sku: new Map(), warehouse: new Map(), logistics: new Map() };

describe("mapping an order for the ERP", () => {
  it("sends the lines a warehouse can pick, under the ERP's product codes", () => {
    const built = buildErpOrderInput(order, {
      reference: "TW1",
      mappings: { ...none, sku: new Map([["TW-TEE-BLK-M", "ERP-TEE-01"]]) },
      requireSkuMapping: false,
      erpStoreId: "1001",
    });
    expect(built).toMatchObject({
      ok: true,
      value: {
        reference: "TW1",
        erpStoreId: "1001",
        lines: [{ externalLineId: "L1", erpSku: "ERP-TEE-01", quantity: 2 }],
      },
    });
  });

  it("keeps the channel SKU when no mapping exists, unless the tenant requires one", () => {
    const loose = buildErpOrderInput(order, {
      reference: "TW1",
      mappings: none,
      requireSkuMapping: false,
      erpStoreId: null,
    });
    expect(loose.ok && loose.value.lines[0]?.erpSku).toBe("TW-TEE-BLK-M");
    const strict = buildErpOrderInput(order, {
      reference: "TW1",
      mappings: none,
      requireSkuMapping: true,
      erpStoreId: null,
    });
    expect(strict).toEqual({ ok: false, problem: 'SKU "TW-TEE-BLK-M" has no ERP product mapping' });
  });

  it("maps the shipping method to a logistics channel and the store to a warehouse, with * as the default", () => {
    const built = buildErpOrderInput(order, {
      reference: "TW1",
      mappings: {
        sku: new Map(),
        warehouse: new Map([["*", "WH-DEFAULT"]]),
        logistics: new Map([
          ["EXPRESS", "DHL-EXPRESS"],
          ["*", "POST"],
        ]),
      },
      requireSkuMapping: false,
      erpStoreId: null,
    });
    expect(built.ok && [built.value.warehouseCode, built.value.logisticsChannelCode]).toEqual([
      "WH-DEFAULT",
      "DHL-EXPRESS",
    ]);
  });

  it("refuses an order with nothing to ship", () => {
    const giftWrapOnly = { ...order, lines: [line("L2", null, 1, 500, "Gift wrapping")] };
    expect(
      buildErpOrderInput(giftWrapOnly, {
        reference: "TW1",
        mappings: none,
        requireSkuMapping: false,
        erpStoreId: null,
      }),
    ).toEqual({
      ok: false,
      problem: "the order has no line with a SKU to fulfil",
    });
  });

  it("derives a stable, compact reference from the order id", () => {
    expect(erpReferenceOf("123ea9df-fbc2-4b59-9abf-91d00de7d595")).toBe("TW123EA9DFFBC24B599ABF91D00DE7D595");
  });
});
