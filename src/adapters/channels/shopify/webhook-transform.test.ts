import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Order } from "../../../domain/commerce";
import usdPage from "./fixtures/orders-page-usd-discounts-and-edit.json";
import { orderFromPage, ShopifyPayloadError, toOrder } from "./transform";
import { ordersPageDataSchema, pageOrderSchema } from "./types";
import {
  parseShopifyWebhookBody,
  toAppUninstalledWebhook,
  toInventoryLevelWebhook,
  toOrderWebhook,
  toRefundWebhook,
  webhookTopicEnum,
  webhookTopicName,
} from "./webhook-transform";

const SHOP = "acme.myshopify.com";

/** Read as Shopify's raw body is: through `parseShopifyWebhookBody`, so 18-digit ids survive. */
function body(name: string): unknown {
  return parseShopifyWebhookBody(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8"));
}

function pulledOrder(index: number) {
  const node = ordersPageDataSchema.parse(usdPage.data).orders.nodes[index];
  return toOrder(orderFromPage(pageOrderSchema.parse(node)), SHOP);
}

function mappedOrder(name: string) {
  const result = toOrderWebhook(body(name), SHOP);
  if (result.kind !== "order") throw new Error(`expected a whole order, got ${JSON.stringify(result)}`);
  return Order.parse(result.order);
}

describe("toOrderWebhook", () => {
  it("maps an orders/create body to the very Order a GraphQL pull of the same order gives", () => {
    const fromWebhook = mappedOrder("webhook-orders-create-usd-discounts.json");
    expect(fromWebhook).toEqual(pulledOrder(0));
    // The points where REST and GraphQL disagree in form, spelled out.
    expect(fromWebhook).toMatchObject({
      externalId: "gid://shopify/Order/5820001041",
      placedAt: "2026-11-20T10:15:29Z",
      updatedAt: "2026-11-20T10:16:02Z",
      financialStatus: "PAID",
      fulfillmentStatus: "UNFULFILLED",
      tags: ["vip", "wholesale"],
      customer: { name: "Ava Thompson", externalId: "gid://shopify/Customer/7100000000001" },
    });
  });

  it("maps a large multi-line EUR order in shop money, ignoring the buyer's USD presentment amounts", () => {
    const order = mappedOrder("webhook-orders-updated-large-eur.json");
    expect(order).toMatchObject({
      externalId: "gid://shopify/Order/6240003311",
      externalNumber: "#3311",
      currency: "EUR",
      subtotalMinor: 124929,
      shippingMinor: 690,
      taxMinor: 18911,
      discountMinor: 21972,
      totalMinor: 144530,
      financialStatus: "PARTIALLY_PAID",
      fulfillmentStatus: "PARTIALLY_FULFILLED",
      // +01:00 local times rewritten in UTC.
      placedAt: "2026-11-21T08:02:10Z",
      updatedAt: "2026-11-21T09:40:55Z",
      discountCodes: ["STUDIO15"],
      tags: ["B2B", "studio", "wholesale-de"],
      note: "Bitte Rechnung separat per E-Mail.\nLieferung an den Empfang.",
      customer: { name: "Lena Müller", email: "lena.mueller@example.de", phone: null },
    });
    expect(order.lines).toHaveLength(30);
    expect(order.taxLines).toEqual([
      { title: "DE MwSt", rate: 0.19, amountMinor: 16020 },
      { title: "DE MwSt ermäßigt", rate: 0.07, amountMinor: 2891 },
    ]);
    // The shipping line removed by an edit is not on the order any more.
    expect(order.shippingLines).toEqual([{ title: "DHL Paket", code: "DHL-PAKET", priceMinor: 690 }]);
    expect(order.lines[0]).toEqual({
      externalLineId: "gid://shopify/LineItem/15600000031001",
      sku: "LB-NOTE-A5-DOT",
      title: "Leuchtturm Notebook A5",
      variantTitle: "Dotted / Navy",
      productExternalId: "gid://shopify/Product/9300000000",
      variantExternalId: "gid://shopify/ProductVariant/48100000000",
      quantity: 1,
      unitPriceMinor: 1995,
      discountMinor: 299,
      taxMinor: 322,
    });
    const wrapping = order.lines.find((line) => line.title === "Gift wrapping");
    expect(wrapping).toMatchObject({ sku: null, productExternalId: null, variantExternalId: null });
    expect(order.lines.find((line) => line.title === "Rubber stamp")?.sku).toBe("ST-STAMP-OWL");
    // Every line's amounts add up to the order's, as Shopify's do.
    const lineTotal = order.lines.reduce(
      (sum, l) => sum + l.unitPriceMinor * l.quantity - l.discountMinor,
      0,
    );
    expect(lineTotal).toBe(order.subtotalMinor);
  });

  it("keeps ids beyond 2^53 exact (Shopify's documented example) and maps a cancelled, voided order", () => {
    const order = mappedOrder("webhook-orders-cancelled-large-ids.json");
    expect(order).toMatchObject({
      externalId: "gid://shopify/Order/820982911946154508",
      externalNumber: "#9999",
      financialStatus: "VOIDED",
      fulfillmentStatus: "UNFULFILLED",
      cancelledAt: "2026-01-03T00:00:00Z",
      placedAt: "2026-01-02T23:30:00Z",
      tags: ["tag1", "tag2"],
      customer: { externalId: "gid://shopify/Customer/115310627314723954", name: "John Smith" },
      shippingMinor: 1000,
      totalMinor: 11998,
    });
    expect(order.lines.map((line) => [line.externalLineId, line.sku, line.productExternalId])).toEqual([
      ["gid://shopify/LineItem/866550311766439020", "IPOD2008PINK", "gid://shopify/Product/632910392"],
      ["gid://shopify/LineItem/141249953214522974", null, null],
    ]);
  });

  it("refuses ids that plain JSON.parse has already rounded instead of minting the wrong GID", () => {
    const raw = readFileSync(
      new URL("./fixtures/webhook-orders-cancelled-large-ids.json", import.meta.url),
      "utf8",
    );
    const lossy = JSON.parse(raw) as Record<string, unknown>;
    delete lossy.admin_graphql_api_id;
    expect(() => toOrderWebhook(lossy, SHOP)).toThrow(
      new ShopifyPayloadError(
        "Shopify order webhook id 820982911946154500 is not an exact integer (parse the body with parseShopifyWebhookBody)",
      ),
    );
  });

  it("asks for a fetch when Shopify sent the minimal payload", () => {
    expect(toOrderWebhook(body("webhook-order-minimal.json"), SHOP)).toEqual({
      kind: "order_ref",
      externalId: "gid://shopify/Order/5820001041",
      reason: "minimal payload (id only)",
    });
  });

  it("asks for a fetch for an edited, partly refunded order (REST has its tax lines as placed only)", () => {
    expect(toOrderWebhook(body("webhook-orders-updated-edited-refunded.json"), SHOP)).toEqual({
      kind: "order_ref",
      externalId: "gid://shopify/Order/5820001042",
      reason: "edited or refunded: the body has the tax lines as placed, not as they stand",
    });
  });

  it("asks for a fetch, saying why, when the body lacks fields the mapping needs", () => {
    const order = body("webhook-orders-create-usd-discounts.json") as Record<string, unknown>;
    const { current_shipping_price_set: _, ...older } = order;
    const result = toOrderWebhook(older, SHOP);
    expect(result).toEqual({
      kind: "order_ref",
      externalId: "gid://shopify/Order/5820001041",
      reason: expect.stringContaining("current_shipping_price_set"),
    });
  });

  it("throws a precise ShopifyPayloadError for bodies that name no order", () => {
    expect(() => toOrderWebhook("[]", SHOP)).toThrow(
      new ShopifyPayloadError("Shopify order webhook body is not a JSON object"),
    );
    expect(() => toOrderWebhook([], SHOP)).toThrow(
      new ShopifyPayloadError("Shopify order webhook body is not a JSON object"),
    );
    expect(() => toOrderWebhook({ name: "#1041" }, SHOP)).toThrow(
      new ShopifyPayloadError("Shopify order webhook body has no id"),
    );
    expect(() => toOrderWebhook({ id: "abc" }, SHOP)).toThrow(
      new ShopifyPayloadError("Shopify order webhook id is not a numeric id"),
    );
    expect(() =>
      toOrderWebhook({ id: 5820001041, admin_graphql_api_id: "gid://shopify/Order/1" }, SHOP),
    ).toThrow(
      new ShopifyPayloadError('admin_graphql_api_id "gid://shopify/Order/1" does not name Order 5820001041'),
    );
  });

  it("throws when an amount is in another currency than the order, as a pull rejects it", () => {
    const order = body("webhook-orders-create-usd-discounts.json") as Record<string, unknown>;
    order.current_total_price_set = {
      shop_money: { amount: "139.68", currency_code: "CAD" },
      presentment_money: { amount: "139.68", currency_code: "CAD" },
    };
    expect(() => toOrderWebhook(order, SHOP)).toThrow(
      new ShopifyPayloadError("Shopify order #1041: total is in CAD, the order in USD"),
    );
  });

  it("rejects a body that is not JSON without quoting it", () => {
    expect(() => parseShopifyWebhookBody('{"email":"ava@example.com",')).toThrow(
      new ShopifyPayloadError("Shopify webhook body is not JSON"),
    );
  });
});

describe("other topics", () => {
  it("refunds/create names the order to read again", () => {
    expect(toRefundWebhook(body("webhook-refunds-create.json"))).toEqual({
      orderExternalId: "gid://shopify/Order/5820001042",
      refundId: "gid://shopify/Refund/9300000001042",
    });
    expect(() => toRefundWebhook({ id: 1 })).toThrow(
      new ShopifyPayloadError("Shopify refund webhook body: order_id: Invalid input"),
    );
  });

  it("inventory_levels/update gives the item and the location GID inventory pulls store", () => {
    expect(toInventoryLevelWebhook(body("webhook-inventory-levels-update.json"))).toEqual({
      inventoryItemId: "gid://shopify/InventoryItem/47000045001",
      locationId: "gid://shopify/Location/76543210",
      available: -2,
      updatedAt: "2026-11-20T10:16:03Z",
    });
    expect(() => toInventoryLevelWebhook(null)).toThrow(
      new ShopifyPayloadError("Shopify inventory level webhook body is not a JSON object"),
    );
  });

  it("app/uninstalled gives the shop's myshopify domain", () => {
    expect(toAppUninstalledWebhook(body("webhook-app-uninstalled.json"))).toEqual({
      shopDomain: "acme.myshopify.com",
    });
    expect(() => toAppUninstalledWebhook({ domain: "acme.example" })).toThrow(ShopifyPayloadError);
  });
});

describe("webhook topics", () => {
  it("converts REST topic names to the GraphQL enum and back", () => {
    expect(webhookTopicEnum("orders/create")).toBe("ORDERS_CREATE");
    expect(webhookTopicEnum("inventory_levels/update")).toBe("INVENTORY_LEVELS_UPDATE");
    expect(webhookTopicEnum("app/uninstalled")).toBe("APP_UNINSTALLED");
    expect(webhookTopicName("ORDERS_PARTIALLY_FULFILLED")).toBe("orders/partially_fulfilled");
    expect(webhookTopicName("INVENTORY_LEVELS_UPDATE")).toBe("inventory_levels/update");
    expect(webhookTopicName("CARTS_CREATE")).toBeNull();
    expect(() => webhookTopicEnum("ORDERS_CREATE")).toThrow(RangeError);
  });
});
