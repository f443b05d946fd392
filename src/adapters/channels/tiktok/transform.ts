import type { Address, Order, OrderLine, TaxLine } from "../../../domain/commerce";
import { toMinorUnits } from "../../../domain/money";
import type { OrdersPage } from "../interface";
import {
  type TikTokLineItem,
  type TikTokOrder,
  type TikTokOrderStatus,
  type TikTokRecipientAddress,
  tiktokOrderIdentitySchema,
  tiktokOrderSchema,
} from "./types";

/**
 * Pure mapping of TikTok Shop 202309 order objects (Get Order Detail / Get Order List) into Tradewind's
 * `Order`.
 *
 * - TikTok sends one line item per unit sold: units of one SKU at one list price become one `OrderLine`
 *   whose `externalLineId` is the SKU id (suffixed with the price when the same SKU sold at two prices),
 *   stable however the units are split into packages. Units TikTok cancelled inside a live order are left
 *   out, as Shopify's current quantities leave removed units out; a cancelled order keeps all its units.
 * - Money: amounts are decimal strings in `payment.currency`; `subtotal` is after product discounts and
 *   `shipping` after shipping discounts (as Shopify's current prices), `discount` is every seller and
 *   platform discount on products and shipping, `total` is what the buyer paid (`total_amount`).
 * - Status: TikTok has one order status; `fulfillmentStatus` carries it verbatim (AWAITING_SHIPMENT,
 *   IN_TRANSIT, …), `financialStatus` is UNPAID before payment (and for an order cancelled unpaid), else PAID.
 *   `cancelledAt` is `cancel_time` (else `update_time`) for CANCELLED orders.
 */

/** The order cannot be mapped (inconsistent currencies, impossible amounts). */
export class TikTokPayloadError extends Error {
  override readonly name = "TikTokPayloadError";
}

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

function minor(amount: string | undefined, currency: string, what: string): number {
  if (amount === undefined || amount.trim() === "") return 0;
  try {
    return toMinorUnits(amount, currency);
  } catch {
    throw new TikTokPayloadError(`${what} "${amount}" is not an amount in ${currency}`);
  }
}

function nonNegative(value: number, what: string): number {
  if (value < 0) throw new TikTokPayloadError(`${what} is negative`);
  return value;
}

const text = (value: string | undefined): string | null => {
  const trimmed = value?.trim();
  return trimmed === undefined || trimmed === "" ? null : trimmed;
};

// ─────────────────────────────── address ───────────────────────────────

const US_STATE_CODES: Readonly<Record<string, string>> = {
  alabama: "AL",
  alaska: "AK",
  arizona: "AZ",
  arkansas: "AR",
  california: "CA",
  colorado: "CO",
  connecticut: "CT",
  delaware: "DE",
  "district of columbia": "DC",
  florida: "FL",
  georgia: "GA",
  hawaii: "HI",
  idaho: "ID",
  illinois: "IL",
  indiana: "IN",
  iowa: "IA",
  kansas: "KS",
  kentucky: "KY",
  louisiana: "LA",
  maine: "ME",
  maryland: "MD",
  massachusetts: "MA",
  michigan: "MI",
  minnesota: "MN",
  mississippi: "MS",
  missouri: "MO",
  montana: "MT",
  nebraska: "NE",
  nevada: "NV",
  "new hampshire": "NH",
  "new jersey": "NJ",
  "new mexico": "NM",
  "new york": "NY",
  "north carolina": "NC",
  "north dakota": "ND",
  ohio: "OH",
  oklahoma: "OK",
  oregon: "OR",
  pennsylvania: "PA",
  "rhode island": "RI",
  "south carolina": "SC",
  "south dakota": "SD",
  tennessee: "TN",
  texas: "TX",
  utah: "UT",
  vermont: "VT",
  virginia: "VA",
  washington: "WA",
  "west virginia": "WV",
  wisconsin: "WI",
  wyoming: "WY",
  "puerto rico": "PR",
};

/** Level names TikTok gives the part of an address that is a town. */
const CITY_LEVEL_NAMES = new Set(["city", "post town", "town", "municipality", "locality"]);

interface District {
  level: number;
  levelName: string;
  name: string;
}

/**
 * TikTok splits the administrative part of an address into `district_info` levels: L0 the country, then
 * L1… downwards (US: State, County, City; GB: Country (England), County, Post town). The province is the
 * first level below the country that is not itself a country (GB's "England"); the city is the level named
 * as a town, else the deepest level below the province.
 */
function districts(address: TikTokRecipientAddress): { province: string | null; city: string | null } {
  const levels: District[] = [];
  for (const d of address.district_info ?? []) {
    const level = Number(/^L(\d+)$/i.exec(d.address_level ?? "")?.[1] ?? Number.NaN);
    const name = text(d.address_name);
    if (!Number.isInteger(level) || level < 1 || name === null) continue;
    levels.push({ level, levelName: (d.address_level_name ?? "").trim().toLowerCase(), name });
  }
  levels.sort((a, b) => a.level - b.level);
  const province =
    levels.find((d) => d.levelName !== "country" && !CITY_LEVEL_NAMES.has(d.levelName)) ?? null;
  const below = levels.filter((d) => province === null || d.level > province.level);
  const city = below.find((d) => CITY_LEVEL_NAMES.has(d.levelName)) ?? below.at(-1) ?? null;
  return { province: province?.name ?? null, city: city?.name ?? null };
}

export function toAddress(address: TikTokRecipientAddress | undefined): Address | null {
  if (address === undefined) return null;
  const countryCode = text(address.region_code)?.toUpperCase() ?? null;
  const { province, city } = districts(address);
  const name =
    text(address.name) ?? text([address.first_name, address.last_name].filter(Boolean).join(" ")) ?? null;
  const line1 = text(address.address_line1) ?? text(address.address_detail);
  const rest = [address.address_line2, address.address_line3, address.address_line4]
    .map(text)
    .filter((part): part is string => part !== null);
  const mapped: Address = {
    name,
    company: null,
    line1,
    line2: rest.length > 0 ? rest.join(", ") : null,
    city,
    province,
    provinceCode: countryCode === "US" && province ? (US_STATE_CODES[province.toLowerCase()] ?? null) : null,
    postalCode: text(address.postal_code),
    countryCode: countryCode?.length === 2 ? countryCode : null,
    phone: text(address.phone_number),
  };
  return Object.values(mapped).every((v) => v === null) ? null : mapped;
}

// ─────────────────────────────── lines ───────────────────────────────

function unitTax(item: TikTokLineItem, currency: string): number {
  return (item.item_tax ?? []).reduce(
    (sum, tax) => sum + nonNegative(minor(tax.tax_amount, currency, `tax of line item ${item.id}`), "tax"),
    0,
  );
}

function toLines(order: TikTokOrder, currency: string): OrderLine[] {
  const units =
    order.status === "CANCELLED"
      ? order.line_items
      : order.line_items.filter((item) => item.display_status !== "CANCELLED");
  const groups = new Map<string, { items: TikTokLineItem[]; unitPrice: number }>();
  for (const item of units) {
    if (item.currency !== undefined && item.currency !== "" && item.currency !== currency) {
      throw new TikTokPayloadError(`line item ${item.id} is in ${item.currency}, the order in ${currency}`);
    }
    const unitPrice = nonNegative(
      minor(item.original_price, currency, `price of line item ${item.id}`),
      `price of line item ${item.id}`,
    );
    const key = `${item.sku_id}\u0000${unitPrice}`;
    const group = groups.get(key) ?? { items: [], unitPrice };
    group.items.push(item);
    groups.set(key, group);
  }
  const pricesPerSku = new Map<string, number>();
  for (const { items } of groups.values()) {
    const sku = items[0]?.sku_id ?? "";
    pricesPerSku.set(sku, (pricesPerSku.get(sku) ?? 0) + 1);
  }
  const lines: OrderLine[] = [];
  for (const { items, unitPrice } of groups.values()) {
    const [first] = items;
    if (first === undefined) continue;
    const discount = items.reduce(
      (sum, item) =>
        sum +
        nonNegative(minor(item.seller_discount, currency, `seller discount of ${item.id}`), "discount") +
        nonNegative(minor(item.platform_discount, currency, `platform discount of ${item.id}`), "discount"),
      0,
    );
    const skuId = first.sku_id;
    lines.push({
      externalLineId: (pricesPerSku.get(skuId) ?? 1) > 1 ? `${skuId}@${unitPrice}` : skuId,
      sku: text(first.seller_sku),
      title: text(first.product_name) ?? text(first.sku_name) ?? text(first.seller_sku) ?? skuId,
      variantTitle: text(first.sku_name),
      productExternalId: text(first.product_id),
      variantExternalId: skuId,
      quantity: items.length,
      unitPriceMinor: unitPrice,
      discountMinor: discount,
      taxMinor: items.reduce((sum, item) => sum + unitTax(item, currency), 0),
    });
  }
  return lines;
}

/** Taxes summed per TikTok tax type over all units, plus tax on shipping. */
function toTaxLines(order: TikTokOrder, currency: string): TaxLine[] {
  const byType = new Map<string, { amount: number; rate: number | null }>();
  for (const item of order.line_items) {
    if (order.status !== "CANCELLED" && item.display_status === "CANCELLED") continue;
    for (const tax of item.item_tax ?? []) {
      const title = text(tax.tax_type) ?? "TAX";
      const entry = byType.get(title) ?? { amount: 0, rate: taxRate(tax.tax_rate) };
      entry.amount += minor(tax.tax_amount, currency, `tax of line item ${item.id}`);
      byType.set(title, entry);
    }
  }
  const lines: TaxLine[] = [...byType].map(([title, { amount, rate }]) => ({
    title,
    rate,
    amountMinor: amount,
  }));
  const shippingTax = minor(order.payment.shipping_fee_tax, currency, "shipping tax");
  if (shippingTax !== 0) lines.push({ title: "SHIPPING_FEE_TAX", rate: null, amountMinor: shippingTax });
  return lines;
}

/** TikTok writes rates as fractions ("0.0725"); a value above 1 can only be a percentage. */
function taxRate(value: string | undefined): number | null {
  const rate = value === undefined || value.trim() === "" ? Number.NaN : Number(value);
  if (!Number.isFinite(rate) || rate < 0) return null;
  return rate > 1 ? rate / 100 : rate;
}

// ─────────────────────────────── order ───────────────────────────────

function financialStatusOf(order: TikTokOrder): string {
  if (order.status === "UNPAID") return "UNPAID";
  if (order.status === "CANCELLED" && order.paid_time === undefined) return "UNPAID";
  return "PAID";
}

function cancelledAt(order: TikTokOrder): string | null {
  if (order.status !== "CANCELLED") return null;
  return iso(order.cancel_time ?? order.update_time);
}

export function toOrder(order: TikTokOrder, shopId: string): Order {
  const { payment } = order;
  const currency = payment.currency;
  const address = toAddress(order.recipient_address);
  const shippingDiscounts =
    minor(payment.shipping_fee_seller_discount, currency, "shipping seller discount") +
    minor(payment.shipping_fee_platform_discount, currency, "shipping platform discount") +
    minor(payment.shipping_fee_cofunded_discount, currency, "shipping co-funded discount");
  const productDiscounts =
    minor(payment.seller_discount, currency, "seller discount") +
    minor(payment.platform_discount, currency, "platform discount");
  const shippingTitle = text(order.delivery_option_name) ?? text(order.shipping_provider) ?? "Shipping";
  const originalShipping = minor(
    payment.original_shipping_fee ?? payment.shipping_fee,
    currency,
    "original shipping fee",
  );
  return {
    channel: "tiktok",
    storeId: shopId,
    externalId: order.id,
    externalNumber: order.id,
    currency,
    customer: {
      externalId: text(order.user_id),
      email: text(order.buyer_email),
      phone: address?.phone ?? null,
      name: address?.name ?? null,
    },
    shippingAddress: address,
    // TikTok has no billing address: the buyer pays through TikTok.
    billingAddress: null,
    lines: toLines(order, currency),
    shippingLines: [
      { title: shippingTitle, code: text(order.delivery_option_id), priceMinor: originalShipping },
    ],
    taxLines: toTaxLines(order, currency),
    // TikTok does not say which vouchers a buyer used, only what they took off.
    discountCodes: [],
    subtotalMinor: nonNegative(minor(payment.sub_total, currency, "subtotal"), "subtotal"),
    shippingMinor: nonNegative(minor(payment.shipping_fee, currency, "shipping fee"), "shipping fee"),
    taxMinor: nonNegative(minor(payment.tax, currency, "tax"), "tax"),
    discountMinor: nonNegative(productDiscounts + shippingDiscounts, "discounts"),
    totalMinor: nonNegative(minor(payment.total_amount, currency, "total"), "total"),
    financialStatus: financialStatusOf(order),
    fulfillmentStatus: order.status satisfies TikTokOrderStatus,
    cancelledAt: cancelledAt(order),
    placedAt: iso(order.create_time),
    updatedAt: iso(order.update_time),
    note: text(order.buyer_message),
    tags: [],
  };
}

/**
 * Maps raw order objects from a Get Order Detail or Get Order List answer. An order of unexpected shape
 * or with amounts that cannot be mapped goes to `rejected` with the reason, never stopping the others.
 */
export function mapTikTokOrders(
  raw: readonly unknown[],
  shopId: string,
): Pick<OrdersPage, "orders" | "rejected"> {
  const orders: Order[] = [];
  const rejected: OrdersPage["rejected"] = [];
  for (const candidate of raw) {
    const identity = tiktokOrderIdentitySchema.safeParse(candidate);
    const id = identity.success ? identity.data.id : "";
    const updateTime = identity.success ? identity.data.update_time : undefined;
    const reject = (error: string) =>
      rejected.push({
        externalId: id === "" ? "unknown" : id,
        externalNumber: id === "" ? null : id,
        updatedAt: typeof updateTime === "number" && Number.isFinite(updateTime) ? iso(updateTime) : null,
        error,
      });
    const parsed = tiktokOrderSchema.safeParse(candidate);
    if (!parsed.success) {
      reject(
        `TikTok order ${id || "(no id)"} has an unexpected shape: ${parsed.error.issues
          .slice(0, 3)
          .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
          .join("; ")}`,
      );
      continue;
    }
    try {
      orders.push(toOrder(parsed.data, shopId));
    } catch (error) {
      if (!(error instanceof TikTokPayloadError)) throw error;
      reject(`TikTok order ${parsed.data.id} could not be mapped: ${error.message}`);
    }
  }
  return { orders, rejected };
}
