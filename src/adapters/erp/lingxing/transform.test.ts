import { describe, expect, it } from "vitest";
import { Shipment } from "../../../domain/commerce";
import { ErpOrderInput } from "../../../domain/erp-order";
import createAllCreated from "./fixtures/create-orders-all-created.json";
import createPartlyRefused from "./fixtures/create-orders-partly-refused.json";
import erpOrderInput from "./fixtures/erp-order-input.json";
import error102 from "./fixtures/error-102-invalid-params.json";
import error103 from "./fixtures/error-103-throttled.json";
import error400 from "./fixtures/error-400-no-such-service.json";
import error403 from "./fixtures/error-403-app-expired.json";
import error2001001 from "./fixtures/error-2001001-app-not-exist.json";
import error2001003 from "./fixtures/error-2001003-token-expired.json";
import error2001005 from "./fixtures/error-2001005-token-not-match.json";
import error2001006 from "./fixtures/error-2001006-sign-not-correct.json";
import error3001001 from "./fixtures/error-3001001-missing-params.json";
import error3001002 from "./fixtures/error-3001002-ip-not-whitelisted.json";
import error3001008 from "./fixtures/error-3001008-too-frequent.json";
import orderList from "./fixtures/order-list-by-platform-order-nos.json";
import outboundShipped from "./fixtures/outbound-orders-shipped.json";
import tokenSuccess from "./fixtures/token-success.json";
import {
  interpretLingxingBody,
  lingxingDateTimeToIso,
  readCreateOrdersOutcome,
  toCreateOrdersRequest,
  toErpOrderStatuses,
  toLingxingCreateOrder,
  toShipments,
  upstreamFailureOf,
} from "./transform";
import { lingxingListOrdersDataSchema, lingxingOutboundOrdersSchema } from "./types";

const paidShopifyOrder = ErpOrderInput.parse(erpOrderInput);

describe("mapping a channel order into Lingxing's 创建订单 payload", () => {
  it("sends a paid Shopify order with mapped SKUs, warehouse and logistics method as a manual order", () => {
    const mapped = toLingxingCreateOrder(paidShopifyOrder);
    expect(mapped).toEqual({
      ok: true,
      order: {
        platform_order_no: "TW-SHOP-1001",
        receiver_country_code: "US",
        receiver_name: "Rue Winchester",
        city: "Winchester",
        address_line1: "3824 Rosewood Court",
        address_line2: "Apt 2",
        state_or_region: "KY",
        postal_code: "40391",
        receiver_mobile: "+1 859-555-0134",
        receiver_company_name: undefined,
        buyer_email: "rue.winchester@example.com",
        buyer_name: "Rue Winchester",
        buyer_note: "Please gift wrap",
        remark: "Tradewind shopify order #1064",
        amount_currency: "USD",
        order_total_amount: "71.69",
        customer_shipping_amount: "5.99",
        customer_tax_amount: "3.72",
        global_purchase_time: 1715677950,
        wid: "25",
        logistics_type_id: "101",
        items: [
          { sku: "TEE-RED-M", quantity: 2, unit_price: "24.99" },
          { sku: "MUG-WHITE", quantity: 1, unit_price: "12.00" },
        ],
      },
    });
  });

  it("writes yen amounts without decimals", () => {
    const yen = ErpOrderInput.parse({
      ...erpOrderInput,
      order: { ...erpOrderInput.order, currency: "JPY", totalMinor: 7169, shippingMinor: 599, taxMinor: 372 },
      lines: [{ ...erpOrderInput.lines[0], unitPriceMinor: 2499 }],
    });
    const mapped = toLingxingCreateOrder(yen);
    if (!mapped.ok) throw new Error(mapped.message);
    expect(mapped.order.order_total_amount).toBe("7169");
    expect(mapped.order.items[0]?.unit_price).toBe("2499");
  });

  it("refuses, before sending, an order whose shipping address lacks what Lingxing requires", () => {
    const noCity = ErpOrderInput.parse({
      ...erpOrderInput,
      order: {
        ...erpOrderInput.order,
        shippingAddress: { ...erpOrderInput.order.shippingAddress, city: " ", countryCode: null },
      },
    });
    expect(toLingxingCreateOrder(noCity)).toEqual({
      ok: false,
      code: "incomplete_address",
      message: "Lingxing requires a shipping address with receiver_country_code, city",
    });
    const noAddress = ErpOrderInput.parse({
      ...erpOrderInput,
      order: { ...erpOrderInput.order, shippingAddress: null },
    });
    expect(toLingxingCreateOrder(noAddress)).toMatchObject({ ok: false, code: "incomplete_address" });
  });

  it("refuses a warehouse mapping without its logistics method (Lingxing needs both)", () => {
    const halfMapped = ErpOrderInput.parse({ ...erpOrderInput, logisticsChannelCode: null });
    expect(toLingxingCreateOrder(halfMapped)).toMatchObject({ ok: false, code: "warehouse_logistics_pair" });
  });

  it("leaves warehouse and logistics out when neither is mapped", () => {
    const unmapped = ErpOrderInput.parse({
      ...erpOrderInput,
      warehouseCode: null,
      logisticsChannelCode: null,
    });
    const mapped = toLingxingCreateOrder(unmapped);
    expect(mapped.ok && mapped.order.wid === undefined && mapped.order.logistics_type_id === undefined).toBe(
      true,
    );
  });

  it("puts orders of one store under one request for the custom platform", () => {
    const mapped = toLingxingCreateOrder(paidShopifyOrder);
    if (!mapped.ok) throw new Error(mapped.message);
    expect(toCreateOrdersRequest(10009, "110283406273996288", [mapped.order])).toMatchObject({
      platform_code: 10009,
      store_id: "110283406273996288",
      orders: [{ platform_order_no: "TW-SHOP-1001" }],
    });
  });
});

describe("reading Lingxing's 创建订单 answer", () => {
  it("gives every created order its Lingxing system order number", () => {
    const answer = interpretLingxingBody(createAllCreated);
    if (!answer.ok) throw new Error("expected success");
    const outcome = readCreateOrdersOutcome(answer.data, ["TW-SHOP-1001", "TW-SHOP-1002"]);
    expect(outcome).toEqual({
      created: new Map([
        ["TW-SHOP-1001", "103336708973801472"],
        ["TW-SHOP-1002", "103336708973801473"],
      ]),
      refused: new Map(),
      unanswered: [],
    });
  });

  it("separates created orders from refused ones and notices orders it did not mention", () => {
    const answer = interpretLingxingBody(createPartlyRefused);
    if (!answer.ok) throw new Error("expected success");
    const outcome = readCreateOrdersOutcome(answer.data, [
      "TW-SHOP-1001",
      "TW-SHOP-1002",
      "TW-SHOP-1003",
      "TW-SHOP-1004",
    ]);
    expect(outcome).toEqual({
      created: new Map([["TW-SHOP-1001", "103336708973801"]]),
      refused: new Map([
        ["TW-SHOP-1002", "平台单号已存在"],
        ["TW-SHOP-1003", "SKU不存在: HOODIE-XXL"],
      ]),
      unanswered: ["TW-SHOP-1004"],
    });
  });

  it("does not guess when the answer is not the documented shape", () => {
    expect(readCreateOrdersOutcome({ list: [] }, ["TW-SHOP-1001"])).toEqual({
      created: new Map(),
      refused: new Map(),
      unanswered: ["TW-SHOP-1001"],
    });
    expect(readCreateOrdersOutcome("nonsense", ["TW-SHOP-1001"])).toBeNull();
  });
});

describe("finding pushed orders in Lingxing's order list", () => {
  const list = lingxingListOrdersDataSchema.parse(orderList.data).list;

  it("reports the live system order of a split order, not the cancelled original", () => {
    const statuses = toErpOrderStatuses(list, ["TW-SHOP-1001", "TW-SHOP-1002", "TW-SHOP-9999"]);
    expect(statuses).toEqual(
      new Map([
        [
          "TW-SHOP-1001",
          { reference: "TW-SHOP-1001", erpOrderId: "103351413752115713", status: "awaiting_shipment" },
        ],
        ["TW-SHOP-1002", { reference: "TW-SHOP-1002", erpOrderId: "103351413752115800", status: "shipped" }],
      ]),
    );
  });

  it("still reports an order whose only system order was cancelled", () => {
    const statuses = toErpOrderStatuses(list.slice(0, 1), ["TW-SHOP-1001"]);
    expect(statuses.get("TW-SHOP-1001")).toEqual({
      reference: "TW-SHOP-1001",
      erpOrderId: "103351413752115712",
      status: "cancelled",
    });
  });

  it("reads the total Lingxing sends as a string", () => {
    expect(lingxingListOrdersDataSchema.parse(orderList.data).total).toBe(3);
  });
});

describe("turning shipped outbound orders (销售出库单) into shipments", () => {
  const outbound = lingxingOutboundOrdersSchema.parse(outboundShipped.data);
  const shipments = toShipments(outbound, ["TW-SHOP-1002", "TW-SHOP-1003", "TW-SHOP-1004"]);

  it("maps a shipped mug with its YunExpress tracking number and China-time ship date", () => {
    expect(shipments[0]).toEqual({
      externalId: "WO103341008688546816",
      orderReference: "TW-SHOP-1002",
      carrier: "云途",
      carrierCode: null,
      trackingNumbers: ["YT2308011234567890"],
      trackingUrl: null,
      shippedAt: "2023-08-02T18:30:05+08:00",
      lines: [{ sku: "MUG-WHITE", quantity: 1 }],
    });
  });

  it("ships a bundle as the bundle, not its split-out parts, dated by the stock movement when needed", () => {
    expect(shipments[1]).toMatchObject({
      orderReference: "TW-SHOP-1003",
      carrier: "USPS",
      trackingNumbers: ["9400111899223344556677"],
      shippedAt: "2023-08-03T09:00:00+08:00",
      lines: [{ sku: "GIFT-SET", quantity: 1 }],
    });
  });

  it("leaves out outbound orders without tracking and orders that are not ours", () => {
    expect(shipments.map((s) => s.orderReference)).toEqual(["TW-SHOP-1002", "TW-SHOP-1003"]);
  });

  it("produces valid Shipment DTOs", () => {
    for (const shipment of shipments) expect(Shipment.parse(shipment)).toEqual(shipment);
  });

  it("reads Lingxing's empty and zero dates as no date", () => {
    expect(lingxingDateTimeToIso("0000-00-00 00:00:00")).toBeNull();
    expect(lingxingDateTimeToIso("")).toBeNull();
    expect(lingxingDateTimeToIso("2023-08-01 15:09:28")).toBe("2023-08-01T15:09:28+08:00");
  });
});

describe("classifying Lingxing's answers", () => {
  it("accepts the auth server's string code 200 as success", () => {
    expect(interpretLingxingBody(tokenSuccess)).toMatchObject({ ok: true, data: { expires_in: 7199 } });
  });

  const cases: [string, unknown, { code: string; kind: string; failure: string }][] = [
    ["unknown appId", error2001001, { code: "2001001", kind: "credentials", failure: "auth" }],
    ["expired access token", error2001003, { code: "2001003", kind: "token_expired", failure: "auth" }],
    ["superseded access token", error2001005, { code: "2001005", kind: "token_mismatch", failure: "auth" }],
    ["wrong signature", error2001006, { code: "2001006", kind: "bad_signature", failure: "permanent" }],
    [
      "missing public parameters",
      error3001001,
      { code: "3001001", kind: "invalid_request", failure: "permanent" },
    ],
    ["caller IP not whitelisted", error3001002, { code: "3001002", kind: "credentials", failure: "auth" }],
    ["token bucket empty", error3001008, { code: "3001008", kind: "rate_limited", failure: "rate_limited" }],
    ["business-side throttle", error103, { code: "103", kind: "rate_limited", failure: "rate_limited" }],
    ["invalid parameters", error102, { code: "102", kind: "invalid_request", failure: "permanent" }],
    ["unknown API path", error400, { code: "400", kind: "invalid_request", failure: "permanent" }],
    ["expired app authorisation", error403, { code: "403", kind: "credentials", failure: "auth" }],
  ];
  for (const [name, body, expected] of cases) {
    it(`classifies ${name} (${expected.code}) as ${expected.failure}`, () => {
      const answer = interpretLingxingBody(body);
      if (answer.ok || answer.code === null) throw new Error("expected a refusal");
      expect({ code: answer.code, kind: answer.kind, failure: upstreamFailureOf(answer.kind) }).toEqual(
        expected,
      );
    });
  }

  it("keeps the message of either envelope family", () => {
    expect(interpretLingxingBody(error103)).toMatchObject({
      message: "请求过于频繁,请稍后再试 [C0C1B855-48A2-6BB6-5636-5AC80042386C]",
      requestId: "4B750B70-2026-FE98-B88F-400B91D3F1E4",
    });
    expect(interpretLingxingBody(error2001006)).toMatchObject({ message: "api sign not correct" });
  });

  it("calls a body without a code malformed", () => {
    expect(interpretLingxingBody({ hello: "world" })).toEqual({ ok: false, code: null, kind: "malformed" });
    expect(interpretLingxingBody(undefined)).toEqual({ ok: false, code: null, kind: "malformed" });
  });
});
