import { describe, expect, it } from "vitest";
import { Order } from "../../../domain/commerce";
import bulkRecords from "./fixtures/bulk-export-orders-records.json";
import bulkCompleted from "./fixtures/bulk-operation-completed.json";
import bulkCompletedEmpty from "./fixtures/bulk-operation-completed-empty.json";
import bulkFailed from "./fixtures/bulk-operation-failed-timeout.json";
import bulkRunning from "./fixtures/bulk-operation-running.json";
import cancelledPage from "./fixtures/orders-page-cancelled-refunded.json";
import jpyPage from "./fixtures/orders-page-jpy-zero-decimal.json";
import noAddressPage from "./fixtures/orders-page-no-shipping-address-no-sku.json";
import usdPage from "./fixtures/orders-page-usd-discounts-and-edit.json";
import {
  type BulkExportOrder,
  gidResource,
  groupedBulkOrders,
  orderFromPage,
  ShopifyPayloadError,
  toBulkExportStatus,
  toOrder,
} from "./transform";
import { bulkOperationDataSchema, ordersPageDataSchema, pageOrderSchema, type ShopifyOrder } from "./types";

const SHOP = "acme.myshopify.com";

function ordersOf(fixture: { data: unknown }): ShopifyOrder[] {
  return ordersPageDataSchema
    .parse(fixture.data)
    .orders.nodes.map((node) => orderFromPage(pageOrderSchema.parse(node)));
}

function mapped(fixture: { data: unknown }) {
  // Every mapped order must satisfy the commerce contract, not only the assertions below.
  return ordersOf(fixture).map((order) => Order.parse(toOrder(order, SHOP)));
}

describe("toOrder", () => {
  it("maps a multi-line order with a discount code and state tax into shop-currency minor units", () => {
    const [order] = mapped(usdPage);
    expect(order).toMatchObject({
      channel: "shopify",
      storeId: SHOP,
      externalId: "gid://shopify/Order/5820001041",
      externalNumber: "#1041",
      currency: "USD",
      customer: {
        externalId: "gid://shopify/Customer/7100000000001",
        email: "ava.thompson@example.com",
        phone: "+16505550101",
        name: "Ava Thompson",
      },
      discountCodes: ["WELCOME10"],
      subtotalMinor: 9540,
      shippingMinor: 0,
      taxMinor: 691,
      discountMinor: 1060,
      totalMinor: 10231,
      financialStatus: "PAID",
      fulfillmentStatus: "UNFULFILLED",
      cancelledAt: null,
      placedAt: "2026-11-20T10:15:29Z",
      updatedAt: "2026-11-20T10:16:02Z",
      note: "Leave at the front desk",
      tags: ["vip", "wholesale"],
    });
    expect(order?.lines).toEqual([
      {
        externalLineId: "gid://shopify/LineItem/14800000010411",
        sku: "TW-TEE-BLK-M",
        title: "Organic Cotton Tee",
        variantTitle: "Black / M",
        productExternalId: "gid://shopify/Product/8801",
        variantExternalId: "gid://shopify/ProductVariant/45001",
        quantity: 2,
        unitPriceMinor: 2400,
        discountMinor: 480,
        taxMinor: 313,
      },
      {
        externalLineId: "gid://shopify/LineItem/14800000010412",
        sku: "TW-HOOD-NVY-M",
        title: "Fleece Hoodie",
        variantTitle: "Navy / M",
        productExternalId: "gid://shopify/Product/8802",
        variantExternalId: "gid://shopify/ProductVariant/45011",
        quantity: 1,
        unitPriceMinor: 5800,
        discountMinor: 580,
        taxMinor: 378,
      },
    ]);
    expect(order?.taxLines).toEqual([{ title: "CA State Tax", rate: 0.0725, amountMinor: 691 }]);
    expect(order?.shippingLines).toEqual([{ title: "Free Shipping", code: "FREE", priceMinor: 0 }]);
    expect(order?.shippingAddress).toEqual({
      name: "Ava Thompson",
      company: null,
      line1: "1600 Amphitheatre Pkwy",
      line2: "Apt 4",
      city: "Mountain View",
      province: "California",
      provinceCode: "CA",
      postalCode: "94043",
      countryCode: "US",
      phone: "+16505550101",
    });
  });

  it("reads the shop's money even when the buyer paid in another currency", () => {
    const [order] = mapped(usdPage);
    // presentmentMoney of this order is in CAD (139.68); the shop currency is USD.
    expect(order?.currency).toBe("USD");
    expect(order?.totalMinor).toBe(10231);
  });

  it("ships what is still on an edited order: current quantity, its share of line tax", () => {
    const [, edited] = mapped(usdPage);
    expect(edited?.lines).toEqual([
      expect.objectContaining({
        sku: "TW-MUG-350",
        quantity: 2,
        unitPriceMinor: 1450,
        discountMinor: 0,
        taxMinor: 210,
      }),
    ]);
    expect(edited).toMatchObject({
      financialStatus: "PARTIALLY_REFUNDED",
      subtotalMinor: 2900,
      shippingMinor: 595,
      taxMinor: 210,
      totalMinor: 3705,
      shippingLines: [{ title: "Standard", code: "STANDARD", priceMinor: 595 }],
      note: null,
      customer: { phone: null, name: "Noah Garcia" },
      shippingAddress: { company: "Garcia Design LLC", line2: null, phone: null },
    });
  });

  it("keeps yen amounts whole: JPY has no minor digits", () => {
    const [order] = mapped(jpyPage);
    expect(order).toMatchObject({
      currency: "JPY",
      externalNumber: "#2007",
      subtotalMinor: 7200,
      shippingMinor: 700,
      taxMinor: 720,
      totalMinor: 8620,
      taxLines: [{ title: "消費税", rate: 0.1, amountMinor: 720 }],
      shippingLines: [{ title: "ヤマト運輸 宅急便", code: "YAMATO", priceMinor: 700 }],
      customer: { name: "山田 花子" },
      shippingAddress: { countryCode: "JP", provinceCode: "JP-13", postalCode: "150-8510" },
    });
    expect(order?.lines.map((l) => [l.sku, l.quantity, l.unitPriceMinor, l.taxMinor])).toEqual([
      ["MC-SET-01", 1, 3600, 360],
      ["MC-WHISK-80", 2, 1800, 360],
    ]);
  });

  it("copes with a guest's digital order: no shipping address, no customer, lines without SKU", () => {
    const [order] = mapped(noAddressPage);
    expect(order).toMatchObject({
      shippingAddress: null,
      customer: { externalId: null, email: "guest.buyer@example.com", phone: null, name: "Mia Chen" },
      billingAddress: { company: null, line2: null, phone: null, countryCode: "US" },
      shippingLines: [],
      taxLines: [],
      taxMinor: 0,
      totalMinor: 6500,
      note: null,
      // An imported order: processed two days before Shopify created it.
      placedAt: "2026-11-18T09:30:00Z",
    });
    expect(order?.lines).toEqual([
      expect.objectContaining({
        sku: null,
        title: "Custom engraving",
        variantTitle: null,
        productExternalId: null,
      }),
      expect.objectContaining({ sku: null, title: "Gift card", variantTitle: "$50", unitPriceMinor: 5000 }),
    ]);
  });

  it("maps a cancelled, refunded order with nothing left to ship", () => {
    const [order] = mapped(cancelledPage);
    expect(order).toMatchObject({
      cancelledAt: "2026-11-20T12:00:00Z",
      financialStatus: "REFUNDED",
      totalMinor: 0,
      note: "Customer changed their mind",
    });
    expect(order?.lines).toEqual([
      expect.objectContaining({ sku: "TW-CAP-OLV", quantity: 0, discountMinor: 0, taxMinor: 0 }),
    ]);
  });

  it("refuses an order whose amounts are in two currencies", () => {
    const [order] = ordersOf(usdPage);
    if (order === undefined) throw new Error("fixture has no order");
    const broken: ShopifyOrder = {
      ...order,
      currentTotalPriceSet: { shopMoney: { amount: "139.68", currencyCode: "CAD" } },
    };
    expect(() => toOrder(broken, SHOP)).toThrow(ShopifyPayloadError);
  });
});

/** Feeds every record to one assembler, as the client does line by line, and collects what it completes. */
function readGrouped(records: readonly unknown[]): BulkExportOrder[] {
  const assembler = groupedBulkOrders();
  const done: BulkExportOrder[] = [];
  for (const record of records) {
    const order = assembler.add(record);
    if (order !== null) done.push(order);
  }
  const last = assembler.end();
  if (last !== null) done.push(last);
  return done;
}

function assembledOrders(records: readonly unknown[]): ShopifyOrder[] {
  return readGrouped(records).map((result) => {
    if ("rejected" in result) throw new Error(`unexpected rejection: ${result.rejected.error}`);
    return result.order;
  });
}

const [firstOrderRecord, ...afterFirstOrder] = bulkRecords;
const secondOrderAt = bulkRecords.findIndex((r, i) => i > 0 && !("__parentId" in r));

describe("groupedBulkOrders", () => {
  it("rebuilds orders from a grouped bulk export, each order's line items and shipping lines directly after it", () => {
    const orders = assembledOrders(bulkRecords).map((order) => Order.parse(toOrder(order, SHOP)));
    expect(orders.map((o) => o.externalNumber)).toEqual(["#1041", "#2007"]);
    // The same orders, mapped from a page, are identical: bulk and paging agree.
    const [fromPage] = mapped(usdPage);
    const [jpy] = mapped(jpyPage);
    expect(orders).toEqual([fromPage, jpy]);
  });

  it("hands over an order only once the next order begins, so a reader can stop at an order boundary", () => {
    const assembler = groupedBulkOrders();
    const completed = bulkRecords.map((record) => assembler.add(record));
    // Nothing is complete until the second order's record arrives; it completes the first.
    expect(completed.slice(0, secondOrderAt).every((c) => c === null)).toBe(true);
    const first = completed[secondOrderAt];
    expect(first !== null && first !== undefined && "order" in first && first.order.name).toBe("#1041");
    expect(completed.slice(secondOrderAt + 1).every((c) => c === null)).toBe(true);
    const last = assembler.end();
    expect(last !== null && "order" in last && last.order.lineItems).toHaveLength(2);
    expect(assembler.end()).toBeNull();
  });

  it("refuses only the order whose own record has an unexpected shape, skipping its lines", () => {
    const broken = { ...firstOrderRecord, name: 42, currentTotalPriceSet: null };
    const results = readGrouped([broken, ...afterFirstOrder]);
    expect(results).toHaveLength(2);
    expect(results[0]).toEqual({
      rejected: {
        externalId: "gid://shopify/Order/5820001041",
        externalNumber: null,
        updatedAt: "2026-11-20T10:16:02Z",
        error: expect.stringMatching(
          /^Shopify order gid:\/\/shopify\/Order\/5820001041 has an unexpected shape: /,
        ),
      },
    });
    expect(results[1] !== undefined && "order" in results[1] && results[1].order.name).toBe("#2007");
  });

  it("refuses an order one of whose line items has an unexpected shape, and goes on with the next", () => {
    const records = bulkRecords.map((record) =>
      record.id === "gid://shopify/LineItem/14800000010412" ? { ...record, currentQuantity: "two" } : record,
    );
    const results = readGrouped(records);
    expect(results[0]).toEqual({
      rejected: {
        externalId: "gid://shopify/Order/5820001041",
        externalNumber: "#1041",
        updatedAt: "2026-11-20T10:16:02Z",
        error: expect.stringContaining(
          "line item gid://shopify/LineItem/14800000010412 has an unexpected shape",
        ),
      },
    });
    expect(results[1] !== undefined && "order" in results[1] && results[1].order.lineItems).toHaveLength(2);
  });

  it("refuses a file whose children are not grouped under their order (an ungrouped export)", () => {
    const ungrouped = [
      ...bulkRecords.filter((r) => !("__parentId" in r)),
      ...bulkRecords.filter((r) => "__parentId" in r),
    ];
    expect(() => readGrouped(ungrouped)).toThrow(/not grouped by order/);
  });

  it("refuses to start reading inside an order: a line item before any order", () => {
    expect(() =>
      readGrouped([{ id: "gid://shopify/LineItem/1", __parentId: "gid://shopify/Order/404" }]),
    ).toThrow(ShopifyPayloadError);
  });

  it("refuses a record that is not a JSON object", () => {
    expect(() => readGrouped([firstOrderRecord, ["not", "an", "object"]])).toThrow(ShopifyPayloadError);
  });

  it("ignores child records of connections it does not read", () => {
    const orders = assembledOrders([
      firstOrderRecord,
      { id: "gid://shopify/Fulfillment/9", __parentId: "gid://shopify/Order/5820001041" },
    ]);
    expect(orders).toHaveLength(1);
    expect(orders[0]?.lineItems).toEqual([]);
  });
});

describe("toBulkExportStatus", () => {
  const status = (fixture: { data: unknown }) => {
    const operation = bulkOperationDataSchema.parse(fixture.data).bulkOperation;
    if (operation === null) throw new Error("fixture has no operation");
    return toBulkExportStatus(operation);
  };

  it("a completed export points at its JSONL file", () => {
    expect(status(bulkCompleted)).toEqual({
      status: "completed",
      url: expect.stringMatching(/^https:\/\/storage\.googleapis\.com\/.+-final\?/),
      objectCount: 1247,
      errorCode: null,
    });
  });

  it("a completed export of nothing has no file", () => {
    expect(status(bulkCompletedEmpty)).toEqual({
      status: "completed",
      url: null,
      objectCount: 0,
      errorCode: null,
    });
  });

  it("a failed export reports Shopify's error code and no file", () => {
    expect(status(bulkFailed)).toEqual({
      status: "failed",
      url: null,
      objectCount: 58112,
      errorCode: "TIMEOUT",
    });
  });

  it("a running export reports its progress", () => {
    expect(status(bulkRunning)).toEqual({ status: "running", url: null, objectCount: 731, errorCode: null });
  });
});

describe("gidResource", () => {
  it("reads the resource type of a Shopify global id", () => {
    expect(gidResource("gid://shopify/LineItem/14800000010411")).toBe("LineItem");
    expect(gidResource("gid://shopify/ShippingLine/4400000001")).toBe("ShippingLine");
    expect(gidResource("14800000010411")).toBeNull();
  });
});
