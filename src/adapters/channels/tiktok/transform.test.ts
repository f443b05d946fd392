import { describe, expect, it } from "vitest";
import { Order } from "../../../domain/commerce";
import cancelledDetail from "./fixtures/order-detail-cancelled.json";
import gbpDetail from "./fixtures/order-detail-gbp-partly-cancelled.json";
import jpyDetail from "./fixtures/order-detail-jpy-zero-decimal.json";
import usdDetail from "./fixtures/order-detail-usd-multi-unit.json";
import searchPage from "./fixtures/order-search-page-with-unmappable.json";
import { mapTikTokOrders, toAddress } from "./transform";
import { tiktokOrderDetailDataSchema, tiktokOrderSearchDataSchema } from "./types";

const SHOP = "7494049642642441621";

function mapped(fixture: { data: unknown }) {
  const { orders, rejected } = mapTikTokOrders(tiktokOrderDetailDataSchema.parse(fixture.data).orders, SHOP);
  expect(rejected).toEqual([]);
  // Every mapped order must satisfy the commerce contract, not only the assertions below.
  return orders.map((order) => Order.parse(order));
}

describe("TikTok order → Order", () => {
  it("groups per-unit line items of a USD order into lines with discounts and sales tax", () => {
    const [order] = mapped(usdDetail);
    expect(order).toMatchObject({
      channel: "tiktok",
      storeId: SHOP,
      externalId: "576461413038785752",
      externalNumber: "576461413038785752",
      currency: "USD",
      subtotalMinor: 5498,
      shippingMinor: 0,
      taxMinor: 399,
      // 5.00 seller + 2.00 platform off the products, 5.99 free shipping.
      discountMinor: 1299,
      totalMinor: 5897,
      financialStatus: "PAID",
      fulfillmentStatus: "AWAITING_SHIPMENT",
      cancelledAt: null,
      placedAt: "2024-07-01T10:40:00.000Z",
      updatedAt: "2024-07-01T10:50:00.000Z",
      note: "Please gift wrap the mugs",
      discountCodes: [],
      billingAddress: null,
    });
    expect(order?.lines).toEqual([
      {
        externalLineId: "1729382476852921560",
        sku: "MUG-12-SAGE",
        title: "Stoneware Coffee Mug 12oz",
        variantTitle: "Sage Green",
        productExternalId: "1729382476852855024",
        variantExternalId: "1729382476852921560",
        quantity: 2,
        unitPriceMinor: 2499,
        discountMinor: 700,
        taxMinor: 312,
      },
      {
        externalLineId: "1729385519472838872",
        sku: "COAST-BAM-4",
        title: "Bamboo Coaster Set",
        variantTitle: "Set of 4",
        productExternalId: "1729385519472707800",
        variantExternalId: "1729385519472838872",
        quantity: 1,
        unitPriceMinor: 1200,
        discountMinor: 0,
        taxMinor: 87,
      },
    ]);
    expect(order?.shippingLines).toEqual([
      { title: "Standard shipping", code: "7091146663229654785", priceMinor: 599 },
    ]);
    expect(order?.taxLines).toEqual([{ title: "SALES_TAX", rate: 0.0725, amountMinor: 399 }]);
    expect(order?.shippingAddress).toEqual({
      name: "Maria Gonzalez",
      company: null,
      line1: "1234 Sunset Blvd",
      line2: "Apt 5B",
      city: "Los Angeles",
      province: "California",
      provinceCode: "CA",
      postalCode: "90026",
      countryCode: "US",
      phone: "(+1)213*****68",
    });
    expect(order?.customer).toEqual({
      externalId: "7021436810468230477",
      email: "v2bd7rk2ib5uyufl4htjoclxyvy8@scs2.tiktok.com",
      phone: "(+1)213*****68",
      name: "Maria Gonzalez",
    });
  });

  it("keeps every unit of a cancelled order and dates the cancellation by cancel_time", () => {
    const [order] = mapped(cancelledDetail);
    expect(order).toMatchObject({
      fulfillmentStatus: "CANCELLED",
      financialStatus: "PAID",
      cancelledAt: "2024-07-02T07:00:00.000Z",
      updatedAt: "2024-07-02T07:01:40.000Z",
      totalMinor: 2643,
      shippingMinor: 499,
      note: null,
    });
    expect(order?.lines).toMatchObject([{ sku: "TOWEL-LIN-NAT", quantity: 1, taxMinor: 145 }]);
    expect(order?.shippingAddress).toMatchObject({
      city: "Brooklyn",
      province: "New York",
      provinceCode: "NY",
    });
  });

  it("maps a GBP order, leaving out the unit TikTok cancelled and reading UK district levels", () => {
    const [order] = mapped(gbpDetail);
    expect(order).toMatchObject({
      currency: "GBP",
      subtotalMinor: 3500,
      shippingMinor: 299,
      taxMinor: 0,
      discountMinor: 300,
      totalMinor: 3799,
      fulfillmentStatus: "AWAITING_COLLECTION",
      taxLines: [],
      customer: { email: null },
    });
    expect(order?.lines).toEqual([
      expect.objectContaining({
        externalLineId: "1730001234567800001",
        quantity: 2,
        unitPriceMinor: 1900,
        discountMinor: 300,
        taxMinor: 0,
      }),
    ]);
    expect(order?.shippingAddress).toEqual({
      name: "Oliver Hughes",
      company: null,
      line1: "Flat 3",
      line2: "27 Marchmont Street",
      city: "London",
      province: "Greater London",
      provinceCode: null,
      postalCode: "WC1N 1AP",
      countryCode: "GB",
      phone: "(+44)7700****21",
    });
  });

  it("reads JPY amounts as whole yen (zero-decimal currency)", () => {
    const [order] = mapped(jpyDetail);
    expect(order).toMatchObject({
      currency: "JPY",
      subtotalMinor: 3760,
      shippingMinor: 0,
      discountMinor: 700,
      totalMinor: 3760,
      fulfillmentStatus: "IN_TRANSIT",
    });
    expect(order?.lines).toMatchObject([{ quantity: 2, unitPriceMinor: 1980, discountMinor: 200 }]);
    expect(order?.shippingLines).toEqual([
      { title: "通常配送", code: "7501122334455667788", priceMinor: 500 },
    ]);
    expect(order?.shippingAddress).toMatchObject({ province: "東京都", city: "渋谷区", countryCode: "JP" });
  });

  it("splits one SKU sold at two list prices into two lines with distinct ids", () => {
    const data = structuredClone(usdDetail.data);
    const [raw] = data.orders;
    const second = raw?.line_items[1];
    if (second === undefined) throw new Error("fixture changed");
    second.original_price = "22.99";
    const { orders } = mapTikTokOrders(data.orders, SHOP);
    expect(orders[0]?.lines.map((l) => [l.externalLineId, l.quantity, l.unitPriceMinor])).toEqual([
      ["1729382476852921560@2499", 1, 2499],
      ["1729382476852921560@2299", 1, 2299],
      ["1729385519472838872", 1, 1200],
    ]);
  });

  it("puts orders it cannot map in `rejected` with their id and time, and maps the rest", () => {
    const page = tiktokOrderSearchDataSchema.parse(searchPage.data);
    const { orders, rejected } = mapTikTokOrders(page.orders, SHOP);
    expect(orders.map((o) => o.externalId)).toEqual(["576461413038785752", "576461413038785801"]);
    expect(rejected).toEqual([
      {
        externalId: "576461413038785999",
        externalNumber: "576461413038785999",
        updatedAt: "2024-07-01T10:51:40.000Z",
        error: expect.stringMatching(/^TikTok order 576461413038785999 has an unexpected shape: payment/),
      },
      {
        externalId: "576461413038785998",
        externalNumber: "576461413038785998",
        updatedAt: "2024-07-01T10:53:20.000Z",
        error: 'TikTok order 576461413038785998 could not be mapped: total "58,97" is not an amount in USD',
      },
    ]);
  });

  it("rejects a line item priced in another currency than the order", () => {
    const data = structuredClone(usdDetail.data);
    const item = data.orders[0]?.line_items[0];
    if (item === undefined) throw new Error("fixture changed");
    item.currency = "CAD";
    const { orders, rejected } = mapTikTokOrders(data.orders, SHOP);
    expect(orders).toEqual([]);
    expect(rejected[0]?.error).toMatch(/line item 577086512123755123 is in CAD, the order in USD/);
  });

  it("treats an empty address as none", () => {
    expect(toAddress({ district_info: [] })).toBeNull();
    expect(toAddress(undefined)).toBeNull();
  });
});
