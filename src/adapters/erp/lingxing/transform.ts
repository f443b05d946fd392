import type { Shipment, ShipmentLine } from "../../../domain/commerce";
import type { ErpOrderInput } from "../../../domain/erp-order";
import { fromMinorUnits } from "../../../domain/money";
import type { UpstreamFailureKind } from "../../../lib/upstream-gate";
import type { ErpOrderStatus } from "../interface";
import {
  LINGXING_ORDER_STATUS,
  LINGXING_OUTBOUND_SHIPPED,
  type LingxingCreateOrder,
  type LingxingCreateOrdersRequest,
  type LingxingErrorKind,
  type LingxingListedOrder,
  type LingxingOutboundOrder,
  lingxingCreateOrdersDataSchema,
  lingxingEnvelopeSchema,
} from "./types";

// ---------------------------------------------------------------------------------------------------------
// Envelopes and error codes

const CODE_KINDS: ReadonlyMap<string, LingxingErrorKind> = new Map<string, LingxingErrorKind>([
  ["2001001", "credentials"], // app not exist
  ["2001002", "credentials"], // app secret not correct
  ["2001003", "token_expired"], // access token is missing or expire
  ["2001004", "credentials"], // the api not authorized, please grant first
  ["2001005", "token_mismatch"], // access token not match
  ["2001006", "bad_signature"], // api sign not correct
  ["2001007", "signature_expired"], // api sign has expired
  ["2001008", "refresh_rejected"], // refresh token expired. please get access token again
  ["2001009", "refresh_rejected"], // refresh token is invalid
  ["3001001", "invalid_request"], // missing query param(access_token,sign,timestamp,app_key)
  ["3001002", "credentials"], // ip not permit, please add ip to white list first.
  ["3001008", "rate_limited"], // requests too frequently. please request later.
  ["103", "rate_limited"], // 请求过于频繁,请稍后再试
  ["401", "credentials"], // 授权被禁用，请检查授权状态 (appId disabled)
  ["403", "credentials"], // 授权失效，请更新授权有效期 (appId expired or API not granted)
  ["500", "server_error"],
  ["-1", "server_error"],
]);

/** Unknown codes (102 参数不合法, 400 服务不存在, business refusals) are refusals of this request. */
export function classifyLingxingCode(code: string): LingxingErrorKind {
  return CODE_KINDS.get(code) ?? "invalid_request";
}

/** What the rate governor and the breaker should learn from a refusal of this kind. */
export function upstreamFailureOf(kind: LingxingErrorKind): UpstreamFailureKind {
  switch (kind) {
    case "rate_limited":
      return "rate_limited";
    case "token_expired":
    case "token_mismatch":
    case "credentials":
    case "refresh_rejected":
      return "auth";
    case "server_error":
    case "signature_expired":
      return "retryable";
    case "bad_signature":
    case "invalid_request":
      return "permanent";
  }
}

export type LingxingAnswer =
  | { ok: true; data: unknown; total: number | null; requestId: string | null }
  | {
      ok: false;
      code: string;
      message: string;
      kind: LingxingErrorKind;
      requestId: string | null;
    }
  | { ok: false; code: null; kind: "malformed" };

/** "0" (business) and "200" (auth server) are Lingxing's two success codes. */
export function interpretLingxingBody(body: unknown): LingxingAnswer {
  const parsed = lingxingEnvelopeSchema.safeParse(body);
  if (!parsed.success) return { ok: false, code: null, kind: "malformed" };
  const { code, msg, message, request_id, data, total } = parsed.data;
  const requestId = request_id ?? null;
  if (code === "0" || code === "200") return { ok: true, data, total: total ?? null, requestId };
  return {
    ok: false,
    code,
    message: (message ?? msg ?? "").trim(),
    kind: classifyLingxingCode(code),
    requestId,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Order create

export type CreateOrderMapping =
  | { ok: true; order: LingxingCreateOrder }
  /** Tradewind can tell before sending that Lingxing would refuse it: a person must fix the order or mapping. */
  | { ok: false; code: string; message: string };

/**
 * An order as Lingxing's 创建订单 wants it. Amounts are decimal strings in the order's currency (Lingxing
 * defaults to the store currency, so `amount_currency` is always sent); the reference is the platform order
 * number Lingxing keeps unique per store.
 */
export function toLingxingCreateOrder(input: ErpOrderInput): CreateOrderMapping {
  const { order } = input;
  const address = order.shippingAddress;
  const receiverName = address?.name ?? order.customer.name;
  const missing = [
    ["receiver_country_code", address?.countryCode],
    ["receiver_name", receiverName],
    ["city", address?.city],
    ["address_line1", address?.line1],
  ]
    .filter(([, value]) => value === null || value === undefined || value.trim() === "")
    .map(([field]) => field);
  if (address === null || missing.length > 0) {
    return {
      ok: false,
      code: "incomplete_address",
      message: `Lingxing requires a shipping address with ${missing.join(", ")}`,
    };
  }
  if ((input.warehouseCode === null) !== (input.logisticsChannelCode === null)) {
    return {
      ok: false,
      code: "warehouse_logistics_pair",
      message:
        "Lingxing needs the warehouse (wid) and the logistics method (logistics_type_id) together: map both or neither",
    };
  }

  const currency = order.currency;
  const money = (minor: number) => fromMinorUnits(minor, currency);
  const optional = (value: string | null | undefined) =>
    value === null || value === undefined || value.trim() === "" ? undefined : value;

  return {
    ok: true,
    order: {
      platform_order_no: input.reference,
      receiver_country_code: (address.countryCode ?? "").toUpperCase(),
      receiver_name: receiverName ?? "",
      city: address.city ?? "",
      address_line1: address.line1 ?? "",
      address_line2: optional(address.line2),
      state_or_region: optional(address.provinceCode ?? address.province),
      postal_code: optional(address.postalCode),
      receiver_mobile: optional(address.phone ?? order.customer.phone),
      receiver_company_name: optional(address.company),
      buyer_email: optional(order.customer.email),
      buyer_name: optional(order.customer.name),
      buyer_note: optional(order.note),
      remark: `Tradewind ${order.channel} order ${order.externalNumber}`,
      amount_currency: currency,
      order_total_amount: money(order.totalMinor),
      customer_shipping_amount: money(order.shippingMinor),
      customer_tax_amount: money(order.taxMinor),
      global_purchase_time: Math.floor(Date.parse(order.placedAt) / 1000),
      wid: input.warehouseCode ?? undefined,
      logistics_type_id: input.logisticsChannelCode ?? undefined,
      items: input.lines.map((line) => ({
        sku: line.erpSku,
        quantity: line.quantity,
        unit_price: money(line.unitPriceMinor),
      })),
    },
  };
}

export function toCreateOrdersRequest(
  platformCode: number,
  storeId: string,
  orders: LingxingCreateOrder[],
): LingxingCreateOrdersRequest {
  return { platform_code: platformCode, store_id: storeId, orders };
}

export interface CreateOrdersOutcome {
  /** reference → Lingxing 系统单号 (global_order_no). */
  created: Map<string, string>;
  /** reference → Lingxing's reason (duplicate platform order number, unknown SKU, …). */
  refused: Map<string, string>;
  /** References Lingxing answered about neither way. */
  unanswered: string[];
}

/**
 * Splits a 创建订单 answer into per-order outcomes. Lingxing reports a refused order only by its message
 * (no code), and does not say whether it refused it as a duplicate; the client settles that by looking the
 * refused references up. Returns null when `data` is not the documented shape.
 */
export function readCreateOrdersOutcome(data: unknown, references: string[]): CreateOrdersOutcome | null {
  const parsed = lingxingCreateOrdersDataSchema.safeParse(data);
  if (!parsed.success) return null;
  const wanted = new Set(references);
  const created = new Map<string, string>();
  const refused = new Map<string, string>();
  for (const row of parsed.data.success_details) {
    if (wanted.has(row.platform_order_no)) created.set(row.platform_order_no, row.global_order_no);
  }
  for (const row of parsed.data.error_details) {
    if (wanted.has(row.platform_order_no) && !created.has(row.platform_order_no)) {
      refused.set(row.platform_order_no, row.error_message?.trim() || "Lingxing refused the order");
    }
  }
  const unanswered = references.filter((reference) => !created.has(reference) && !refused.has(reference));
  return { created, refused, unanswered };
}

// ---------------------------------------------------------------------------------------------------------
// Order list

const CANCELLED = 7;

/**
 * Orders found under the references. A platform order can appear in several system orders (split orders)
 * and a merged order carries several platform orders; the first live (not cancelled) system order wins.
 */
export function toErpOrderStatuses(
  list: LingxingListedOrder[],
  references: string[],
): Map<string, ErpOrderStatus> {
  const wanted = new Set(references);
  const found = new Map<string, ErpOrderStatus & { cancelled: boolean }>();
  for (const entry of list) {
    const cancelled = entry.status === CANCELLED;
    for (const info of entry.platform_info) {
      for (const number of [info.platform_order_no, info.platform_order_name]) {
        if (number === null || number === undefined || !wanted.has(number)) continue;
        const previous = found.get(number);
        if (previous !== undefined && (cancelled || !previous.cancelled)) continue;
        found.set(number, {
          reference: number,
          erpOrderId: entry.global_order_no,
          status: LINGXING_ORDER_STATUS[entry.status] ?? `status_${entry.status}`,
          cancelled,
        });
      }
    }
  }
  return new Map(
    [...found].map(([reference, { cancelled: _cancelled, ...status }]) => [reference, status] as const),
  );
}

// ---------------------------------------------------------------------------------------------------------
// Outbound orders → shipments

/** Lingxing shows times in China Standard Time (UTC+8, no daylight saving). */
export const LINGXING_UTC_OFFSET = "+08:00";

const LINGXING_DATETIME = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})$/;

/** "2023-08-01 15:09:28" → "2023-08-01T15:09:28+08:00"; "", "0000-00-00 00:00:00" → null. */
export function lingxingDateTimeToIso(
  text: string | null | undefined,
  utcOffset = LINGXING_UTC_OFFSET,
): string | null {
  const match = LINGXING_DATETIME.exec(text?.trim() ?? "");
  if (match === null || match[1] === "0000-00-00") return null;
  const iso = `${match[1]}T${match[2]}${utcOffset}`;
  return Number.isNaN(Date.parse(iso)) ? null : iso;
}

/**
 * Shipped outbound orders (销售出库单, status 3 已发货) that carry a tracking number, as Tradewind shipments.
 * The carrier is the logistics provider (物流服务商, e.g. 云途); Lingxing gives no carrier code or tracking URL.
 * A bundle's split-out components (bundle_type 2) are left out: the bundle line itself is what was sold.
 */
export function toShipments(
  outbound: LingxingOutboundOrder[],
  references: string[],
  utcOffset = LINGXING_UTC_OFFSET,
): Shipment[] {
  const wanted = new Set(references);
  const shipments: Shipment[] = [];
  for (const wo of outbound) {
    if (wo.status !== LINGXING_OUTBOUND_SHIPPED) continue;
    const reference = wo.platform_order_no.find((number) => wanted.has(number));
    if (reference === undefined) continue;
    const trackingNumber = wo.tracking_no?.trim() || wo.waybill_no?.trim() || "";
    if (trackingNumber === "") continue;
    const shippedAt =
      lingxingDateTimeToIso(wo.delivered_at, utcOffset) ??
      lingxingDateTimeToIso(wo.stock_delivered_at, utcOffset) ??
      lingxingDateTimeToIso(wo.update_at, utcOffset);
    if (shippedAt === null) continue;
    const lines: ShipmentLine[] = wo.product_info
      .filter((item) => item.bundle_type !== 2 && item.count > 0 && (item.sku?.trim() ?? "") !== "")
      .map((item) => ({ sku: item.sku?.trim() ?? "", quantity: item.count }));
    shipments.push({
      externalId: wo.wo_number,
      orderReference: reference,
      carrier: wo.logistics_provider_name?.trim() || wo.logistics_type_name?.trim() || "unknown",
      carrierCode: null,
      trackingNumbers: [trackingNumber],
      trackingUrl: null,
      shippedAt,
      lines,
    });
  }
  return shipments;
}
