import type * as z from "zod";
import type { Order } from "../../../domain/commerce";
import { ShopifyPayloadError, toOrder } from "./transform";
import {
  restInventoryLevelSchema,
  restOrderSchema,
  restRefundSchema,
  restShopSchema,
  type ShopifyLineItem,
  type ShopifyMailingAddress,
  type ShopifyMoneyBag,
  type ShopifyOrder,
  type ShopifyRestAddress,
  type ShopifyRestMoneyBag,
  type ShopifyRestOrder,
  type ShopifyTaxLine,
} from "./types";

/**
 * Pure mapping of Shopify webhook bodies (REST Admin API shape: see the REST schemas in types.ts) into
 * Tradewind's DTOs.
 *
 * An order body is translated field by field into the GraphQL shape and handed to `toOrder`, so a webhook and
 * a pull of the same order yield the same `Order`, down to the timestamps (REST's shop-local offsets are
 * rewritten in UTC, as GraphQL gives them) and the statuses (REST's `paid` / null become GraphQL's PAID /
 * UNFULFILLED). Where the body cannot say what a pull would, the caller is told to fetch the order
 * (`order_ref`) instead of being handed a near miss:
 * - Shopify's minimal `{"id": …}` body (sent in place of a payload too large to deliver), or any body
 *   without `line_items`;
 * - an order edited or refunded after checkout: REST has the order's tax lines as placed only, while the
 *   mapping reports them as they stand now (GraphQL `currentTaxLines`);
 * - a body of another shape than expected (another API version, `includeFields`): the reason says what.
 *
 * Known remaining differences from a pull, both outside what REST carries: a customer's display name is
 * rebuilt as "first last" (Shopify may order names family-first in some locales), and fulfilment states
 * REST has no word for (IN_PROGRESS, ON_HOLD, SCHEDULED…) read as UNFULFILLED.
 */

/** The order topics whose body is a whole order. */
export const SHOPIFY_ORDER_TOPICS = [
  "orders/create",
  "orders/updated",
  "orders/cancelled",
  "orders/fulfilled",
  "orders/paid",
] as const;
export type ShopifyOrderTopic = (typeof SHOPIFY_ORDER_TOPICS)[number];

/** Topics whose names are worth reading back from their enum (the enum alone cannot say where the "/" was). */
const KNOWN_TOPICS = [
  ...SHOPIFY_ORDER_TOPICS,
  "orders/partially_fulfilled",
  "orders/edited",
  "orders/delete",
  "refunds/create",
  "inventory_levels/update",
  "inventory_levels/connect",
  "inventory_levels/disconnect",
  "inventory_items/create",
  "inventory_items/update",
  "inventory_items/delete",
  "fulfillments/create",
  "fulfillments/update",
  "products/create",
  "products/update",
  "products/delete",
  "app/uninstalled",
  "app/scopes_update",
  "shop/update",
] as const;

/** "orders/create" → "ORDERS_CREATE" (the GraphQL `WebhookSubscriptionTopic`). */
export function webhookTopicEnum(topic: string): string {
  const name = topic.trim();
  if (!/^[a-z][a-z_]*\/[a-z][a-z_]*$/.test(name)) {
    throw new RangeError(`Not a Shopify webhook topic: "${topic}" (expected e.g. "orders/create")`);
  }
  return name.replace("/", "_").toUpperCase();
}

const TOPIC_NAMES = new Map<string, string>(KNOWN_TOPICS.map((name) => [webhookTopicEnum(name), name]));

/** "ORDERS_CREATE" → "orders/create"; null for a topic this module does not know. */
export function webhookTopicName(topicEnum: string): string | null {
  return TOPIC_NAMES.get(topicEnum) ?? null;
}

/**
 * `JSON.parse` of a webhook's raw body that keeps integers beyond 2^53 as their digits, so no id loses
 * precision on the way to a GID. Throws `ShopifyPayloadError` when the body is not JSON.
 */
export function parseShopifyWebhookBody(rawBody: string): unknown {
  try {
    return JSON.parse(rawBody, (_key, value: unknown, context?: { source?: string }) =>
      typeof value === "number" &&
      !Number.isSafeInteger(value) &&
      context?.source !== undefined &&
      /^\d+$/.test(context.source)
        ? context.source
        : value,
    );
  } catch {
    // Never the parser's message: it may quote the body, and the body holds customers' data.
    throw new ShopifyPayloadError("Shopify webhook body is not JSON");
  }
}

export type ShopifyOrderWebhook =
  | { kind: "order"; order: Order }
  /** Fetch the order (`getOrders`): the body does not tell all a pull would. `reason` is for logs. */
  | { kind: "order_ref"; externalId: string; reason: string };

export interface ShopifyRefundWebhook {
  orderExternalId: string;
  refundId: string;
}

export interface ShopifyInventoryLevelWebhook {
  inventoryItemId: string;
  /** The location's GID, as inventory pulls store it in `InventoryLevel.locationId`. */
  locationId: string;
  /** Null when Shopify does not track the item's stock. */
  available: number | null;
  updatedAt: string;
}

export interface ShopifyAppUninstalledWebhook {
  shopDomain: string;
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".") || "(body)"}: ${issue.message}`)
    .join("; ");
}

function record(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ShopifyPayloadError(`Shopify ${what} webhook body is not a JSON object`);
  }
  return body as Record<string, unknown>;
}

/** The GID of a REST resource: `admin_graphql_api_id` when given (it must name `resource`), else built from `id`. */
function gidOf(resource: string, id: string, adminGraphqlApiId: unknown): string {
  const built = `gid://shopify/${resource}/${id}`;
  if (adminGraphqlApiId === undefined || adminGraphqlApiId === null) return built;
  if (typeof adminGraphqlApiId !== "string" || adminGraphqlApiId !== built) {
    throw new ShopifyPayloadError(
      `admin_graphql_api_id ${JSON.stringify(adminGraphqlApiId)} does not name ${resource} ${id}`,
    );
  }
  return built;
}

/** REST id field → digits; throws the precise reason when it is missing or not an exact integer. */
function idDigits(fields: Record<string, unknown>, key: string, what: string): string {
  const value = fields[key];
  if (typeof value === "string" && /^\d+$/.test(value)) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return String(value);
  if (value === undefined || value === null) {
    throw new ShopifyPayloadError(`Shopify ${what} webhook body has no ${key}`);
  }
  throw new ShopifyPayloadError(
    typeof value === "number"
      ? `Shopify ${what} webhook ${key} ${value} is not an exact integer (parse the body with parseShopifyWebhookBody)`
      : `Shopify ${what} webhook ${key} is not a numeric id`,
  );
}

/** REST timestamps carry the shop's offset ("2026-11-20T02:15:30-08:00"); GraphQL gives UTC ("…T10:15:30Z"). */
function utcTimestamp(value: string, what: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new ShopifyPayloadError(`${what} is not a timestamp: "${value}"`);
  return new Date(time).toISOString().replace(".000Z", "Z");
}

const nullableUtc = (value: string | null, what: string) =>
  value === null ? null : utcTimestamp(value, what);

/** REST `financial_status` ("partially_refunded") → GraphQL `OrderDisplayFinancialStatus` (PARTIALLY_REFUNDED). */
function financialStatus(value: string | null): string | null {
  return value === null || value.trim() === "" ? null : value.trim().toUpperCase();
}

/** REST `fulfillment_status` → GraphQL `OrderDisplayFulfillmentStatus`; REST says null for "nothing shipped yet". */
function fulfillmentStatus(value: string | null): string {
  const status = value?.trim().toLowerCase() ?? "";
  if (status === "") return "UNFULFILLED";
  if (status === "partial") return "PARTIALLY_FULFILLED";
  return status.toUpperCase();
}

function moneyBag(bag: ShopifyRestMoneyBag): ShopifyMoneyBag {
  const { amount, currency_code: currencyCode } = bag.shop_money;
  return { shopMoney: { amount: String(amount), currencyCode } };
}

function mailingAddress(address: ShopifyRestAddress | null): ShopifyMailingAddress | null {
  if (address === null) return null;
  const fullName = [address.first_name, address.last_name].filter(
    (part) => part !== null && part.trim() !== "",
  );
  return {
    name: address.name ?? (fullName.length > 0 ? fullName.join(" ") : null),
    company: address.company,
    address1: address.address1,
    address2: address.address2,
    city: address.city,
    province: address.province,
    provinceCode: address.province_code,
    zip: address.zip,
    countryCodeV2: address.country_code,
    phone: address.phone,
  };
}

function taxLine(line: ShopifyRestOrder["tax_lines"][number]): ShopifyTaxLine {
  return { title: line.title, rate: line.rate, priceSet: moneyBag(line.price_set) };
}

/** Shopify's `Customer.displayName`: the full name, else the email, else the phone. */
function displayName(customer: NonNullable<ShopifyRestOrder["customer"]>): string | null {
  const parts = [customer.first_name, customer.last_name]
    .map((part) => part?.trim() ?? "")
    .filter((part) => part !== "");
  if (parts.length > 0) return parts.join(" ");
  return customer.email ?? customer.phone ?? null;
}

/** The REST order as the GraphQL order `toOrder` reads. */
function graphqlOrder(rest: ShopifyRestOrder, orderId: string): ShopifyOrder {
  const lineItems: ShopifyLineItem[] = rest.line_items.map((line) => ({
    id: gidOf("LineItem", line.id, line.admin_graphql_api_id),
    sku: line.sku,
    title: line.title,
    variantTitle: line.variant_title,
    quantity: line.quantity,
    currentQuantity: line.current_quantity,
    originalUnitPriceSet: moneyBag(line.price_set),
    totalDiscountSet: moneyBag(line.total_discount_set),
    taxLines: line.tax_lines.map(taxLine),
    variant: line.variant_id === null ? null : { id: `gid://shopify/ProductVariant/${line.variant_id}` },
    product: line.product_id === null ? null : { id: `gid://shopify/Product/${line.product_id}` },
  }));
  const tags = rest.tags
    .split(",")
    .map((tag) => tag.trim())
    .filter((tag) => tag !== "");
  return {
    id: orderId,
    name: rest.name,
    email: rest.email,
    phone: rest.phone,
    createdAt: utcTimestamp(rest.created_at, "created_at"),
    updatedAt: utcTimestamp(rest.updated_at, "updated_at"),
    processedAt: nullableUtc(rest.processed_at, "processed_at"),
    cancelledAt: nullableUtc(rest.cancelled_at, "cancelled_at"),
    cancelReason: rest.cancel_reason === null ? null : rest.cancel_reason.toUpperCase(),
    note: rest.note,
    tags,
    discountCodes: rest.discount_codes.map((discount) => discount.code),
    currencyCode: rest.currency,
    displayFinancialStatus: financialStatus(rest.financial_status),
    displayFulfillmentStatus: fulfillmentStatus(rest.fulfillment_status),
    customer:
      rest.customer === null
        ? null
        : {
            id: gidOf("Customer", rest.customer.id, rest.customer.admin_graphql_api_id),
            displayName: displayName(rest.customer),
          },
    shippingAddress: mailingAddress(rest.shipping_address),
    billingAddress: mailingAddress(rest.billing_address),
    currentSubtotalPriceSet: moneyBag(rest.current_subtotal_price_set),
    currentShippingPriceSet: moneyBag(rest.current_shipping_price_set),
    currentTotalTaxSet: moneyBag(rest.current_total_tax_set),
    currentTotalDiscountsSet: moneyBag(rest.current_total_discounts_set),
    currentTotalPriceSet: moneyBag(rest.current_total_price_set),
    // REST's order tax lines are those as placed; `order_ref` below covers the orders where that differs.
    currentTaxLines: rest.tax_lines.map(taxLine),
    lineItems,
    // GraphQL leaves lines removed by an edit out of `shippingLines` unless asked to include them.
    shippingLines: rest.shipping_lines
      .filter((line) => line.is_removed !== true)
      .map((line) => ({
        id: line.id === null ? null : `gid://shopify/ShippingLine/${line.id}`,
        title: line.title,
        code: line.code,
        originalPriceSet: moneyBag(line.price_set),
      })),
  };
}

/**
 * The body of an order topic (`SHOPIFY_ORDER_TOPICS`) of the shop `shopDomain`. Throws `ShopifyPayloadError`
 * when the body names no order (not an object, no id) or holds amounts the mapping cannot take (another
 * currency than the order's, a malformed decimal): the same orders a pull reports as rejected.
 */
export function toOrderWebhook(body: unknown, shopDomain: string): ShopifyOrderWebhook {
  const fields = record(body, "order");
  const externalId = gidOf("Order", idDigits(fields, "id", "order"), fields.admin_graphql_api_id);
  const ref = (reason: string): ShopifyOrderWebhook => ({ kind: "order_ref", externalId, reason });
  if (!("line_items" in fields)) {
    return ref(Object.keys(fields).length === 1 ? "minimal payload (id only)" : "no line_items in the body");
  }
  const parsed = restOrderSchema.safeParse(fields);
  if (!parsed.success) return ref(`unexpected shape: ${describeIssues(parsed.error)}`);
  const rest = parsed.data;
  const edited = rest.line_items.some((line) => line.current_quantity !== line.quantity);
  if (edited || (rest.refunds?.length ?? 0) > 0) {
    return ref("edited or refunded: the body has the tax lines as placed, not as they stand");
  }
  try {
    return { kind: "order", order: toOrder(graphqlOrder(rest, externalId), shopDomain) };
  } catch (error) {
    if (error instanceof RangeError) {
      throw new ShopifyPayloadError(`Shopify order ${rest.name}: ${error.message}`);
    }
    if (error instanceof ShopifyPayloadError) {
      throw new ShopifyPayloadError(`Shopify order ${rest.name}: ${error.message}`);
    }
    throw error;
  }
}

/** `refunds/create`: which order to read again. */
export function toRefundWebhook(body: unknown): ShopifyRefundWebhook {
  const fields = record(body, "refund");
  const parsed = restRefundSchema.safeParse(fields);
  if (!parsed.success) {
    throw new ShopifyPayloadError(`Shopify refund webhook body: ${describeIssues(parsed.error)}`);
  }
  return {
    orderExternalId: `gid://shopify/Order/${parsed.data.order_id}`,
    refundId: gidOf("Refund", parsed.data.id, parsed.data.admin_graphql_api_id),
  };
}

/** `inventory_levels/update`: one item's `available` at one location (the item's SKU is looked up apart). */
export function toInventoryLevelWebhook(body: unknown): ShopifyInventoryLevelWebhook {
  const fields = record(body, "inventory level");
  const parsed = restInventoryLevelSchema.safeParse(fields);
  if (!parsed.success) {
    throw new ShopifyPayloadError(`Shopify inventory level webhook body: ${describeIssues(parsed.error)}`);
  }
  const level = parsed.data;
  return {
    inventoryItemId: `gid://shopify/InventoryItem/${level.inventory_item_id}`,
    locationId: `gid://shopify/Location/${level.location_id}`,
    available: level.available,
    updatedAt: utcTimestamp(level.updated_at, "updated_at"),
  };
}

/** `app/uninstalled`: the body is the shop. */
export function toAppUninstalledWebhook(body: unknown): ShopifyAppUninstalledWebhook {
  const fields = record(body, "app/uninstalled");
  const parsed = restShopSchema.safeParse(fields);
  if (!parsed.success) {
    throw new ShopifyPayloadError(`Shopify app/uninstalled webhook body: ${describeIssues(parsed.error)}`);
  }
  return { shopDomain: parsed.data.myshopify_domain.trim().toLowerCase() };
}

export function isShopifyOrderTopic(topic: string): topic is ShopifyOrderTopic {
  return (SHOPIFY_ORDER_TOPICS as readonly string[]).includes(topic);
}
