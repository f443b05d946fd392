import type * as z from "zod";
import type {
  Address,
  InventoryLevel,
  Order,
  OrderLine,
  ShippingLine,
  TaxLine,
} from "../../../domain/commerce";
import { toMinorUnits } from "../../../domain/money";
import type { BulkExportStatus, OrdersPage } from "../interface";
import { AVAILABLE_QUANTITY } from "./queries";
import {
  lineItemSchema,
  orderCoreSchema,
  type ShopifyBulkOperation,
  type ShopifyInventoryItem,
  type ShopifyInventoryLevel,
  type ShopifyLineItem,
  type ShopifyMailingAddress,
  type ShopifyMoneyBag,
  type ShopifyOrder,
  type ShopifyPageInventoryItem,
  type ShopifyPageOrder,
  type ShopifyShippingLine,
  type ShopifyTaxLine,
  shippingLineSchema,
} from "./types";

/**
 * Pure mapping from Shopify Admin GraphQL payloads to Tradewind's commerce DTOs.
 *
 * Which numbers: the order as it stands now (`current*` totals, `currentQuantity`), because an order edited
 * or partly refunded after checkout must not be shipped as first placed. Shopify reports a line's discount
 * and taxes for the quantity as ordered, so they are scaled to the current quantity.
 *
 * Currency: the shop's (`currencyCode`, `shopMoney`), never the buyer's presentment currency.
 */

/** Thrown when a payload breaks an invariant the mapping relies on (e.g. a money bag in another currency). */
export class ShopifyPayloadError extends Error {
  override readonly name = "ShopifyPayloadError";
}

/** "gid://shopify/LineItem/123" → "LineItem"; null for anything that is not a Shopify GID. */
export function gidResource(gid: string): string | null {
  const match = /^gid:\/\/shopify\/([A-Za-z]+)\/[^/]+$/.exec(gid);
  return match?.[1] ?? null;
}

function minor(bag: ShopifyMoneyBag, currency: string, what: string): number {
  if (bag.shopMoney.currencyCode !== currency) {
    throw new ShopifyPayloadError(`${what} is in ${bag.shopMoney.currencyCode}, the order in ${currency}`);
  }
  return toMinorUnits(bag.shopMoney.amount, currency);
}

/** A per-line amount Shopify reports for the ordered quantity, scaled to the quantity still on the order. */
function forCurrentQuantity(amount: number, ordered: number, current: number): number {
  if (current === ordered) return amount;
  if (ordered <= 0 || current <= 0) return 0;
  return Math.round((amount * current) / ordered);
}

function toAddress(address: ShopifyMailingAddress | null): Address | null {
  if (address === null) return null;
  const blank = (value: string | null) => (value === null || value.trim() === "" ? null : value);
  const mapped: Address = {
    name: blank(address.name),
    company: blank(address.company),
    line1: blank(address.address1),
    line2: blank(address.address2),
    city: blank(address.city),
    province: blank(address.province),
    provinceCode: blank(address.provinceCode),
    postalCode: blank(address.zip),
    countryCode:
      address.countryCodeV2 !== null && address.countryCodeV2.length === 2 ? address.countryCodeV2 : null,
    phone: blank(address.phone),
  };
  return Object.values(mapped).every((value) => value === null) ? null : mapped;
}

function toTaxLine(line: ShopifyTaxLine, currency: string): TaxLine {
  return {
    title: line.title,
    rate: line.rate !== null && line.rate >= 0 ? line.rate : null,
    amountMinor: minor(line.priceSet, currency, `tax line "${line.title}"`),
  };
}

function toOrderLine(line: ShopifyLineItem, currency: string): OrderLine {
  const what = `line ${line.id}`;
  const tax = line.taxLines.reduce((sum, taxLine) => sum + minor(taxLine.priceSet, currency, what), 0);
  const current = Math.max(0, line.currentQuantity);
  return {
    externalLineId: line.id,
    sku: line.sku !== null && line.sku.trim() !== "" ? line.sku.trim() : null,
    title: line.title,
    variantTitle: line.variantTitle !== null && line.variantTitle !== "" ? line.variantTitle : null,
    productExternalId: line.product?.id ?? null,
    variantExternalId: line.variant?.id ?? null,
    quantity: current,
    unitPriceMinor: minor(line.originalUnitPriceSet, currency, what),
    discountMinor: Math.max(
      0,
      forCurrentQuantity(minor(line.totalDiscountSet, currency, what), line.quantity, current),
    ),
    taxMinor: Math.max(0, forCurrentQuantity(tax, line.quantity, current)),
  };
}

function toShippingLine(line: ShopifyShippingLine, currency: string): ShippingLine {
  return {
    title: line.title,
    code: line.code !== null && line.code !== "" ? line.code : null,
    priceMinor: minor(line.originalPriceSet, currency, `shipping line "${line.title}"`),
  };
}

/** Maps one Shopify order (all lines gathered) of the shop `shopDomain`. */
export function toOrder(order: ShopifyOrder, shopDomain: string): Order {
  const currency = order.currencyCode;
  const shippingAddress = toAddress(order.shippingAddress);
  const billingAddress = toAddress(order.billingAddress);
  return {
    channel: "shopify",
    storeId: shopDomain,
    externalId: order.id,
    externalNumber: order.name,
    currency,
    customer: {
      externalId: order.customer?.id ?? null,
      email: order.email,
      phone: order.phone,
      name: order.customer?.displayName ?? shippingAddress?.name ?? billingAddress?.name ?? null,
    },
    shippingAddress,
    billingAddress,
    lines: order.lineItems.map((line) => toOrderLine(line, currency)),
    shippingLines: order.shippingLines.map((line) => toShippingLine(line, currency)),
    taxLines: order.currentTaxLines.map((line) => toTaxLine(line, currency)),
    discountCodes: order.discountCodes,
    subtotalMinor: minor(order.currentSubtotalPriceSet, currency, "subtotal"),
    shippingMinor: minor(order.currentShippingPriceSet, currency, "shipping"),
    taxMinor: minor(order.currentTotalTaxSet, currency, "tax"),
    discountMinor: minor(order.currentTotalDiscountsSet, currency, "discounts"),
    totalMinor: minor(order.currentTotalPriceSet, currency, "total"),
    financialStatus: order.displayFinancialStatus,
    fulfillmentStatus: order.displayFulfillmentStatus,
    cancelledAt: order.cancelledAt,
    // processedAt is when the sale happened (it differs from createdAt for imported orders).
    placedAt: order.processedAt ?? order.createdAt,
    updatedAt: order.updatedAt,
    note: order.note !== null && order.note !== "" ? order.note : null,
    tags: order.tags,
  };
}

/** An order of a page, its inline connections flattened (more lines may still be due: see `lineItems.pageInfo`). */
export function orderFromPage(node: ShopifyPageOrder): ShopifyOrder {
  const { lineItems, shippingLines, ...core } = node;
  return { ...core, lineItems: lineItems.nodes, shippingLines: shippingLines.nodes };
}

/** An order of a bulk export as its records describe it: assembled, or refused with the reason. */
export type BulkExportOrder = { order: ShopifyOrder } | { rejected: OrdersPage["rejected"][number] };

/** The first few problems zod found, for a person to read. */
function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
    .join("; ");
}

const stringOrNull = (value: unknown) => (typeof value === "string" ? value : null);

/**
 * Rebuilds orders from a bulk export made with `groupObjects: true`, one record (JSONL line) at a time.
 * Each order's own record comes first; its line items and shipping lines follow directly, as records of
 * their own that point at it through `__parentId` and carry no connection name (the GID's resource type
 * says what they are). An order is therefore complete when the next order begins or the file ends, and
 * only the order being read is ever held.
 *
 * A record of unexpected shape refuses its order alone (the rest of that order's records are skipped).
 * A child that does not belong to the order before it means the file is not grouped, or reading started
 * inside an order: that throws, since no order of such a file can be trusted to be whole.
 */
export function groupedBulkOrders(): {
  /** Takes the next record; returns the order that this one completed (a new order's record does), if any. */
  add(record: unknown): BulkExportOrder | null;
  /** At the end of the file (or of what was read): the order being read, if any. */
  end(): BulkExportOrder | null;
} {
  let current: { id: string; result: BulkExportOrder } | null = null;

  const begin = (fields: Record<string, unknown>): { id: string; result: BulkExportOrder } => {
    const id = fields.id;
    if (typeof id !== "string") throw new ShopifyPayloadError("Bulk export order record has no id");
    const core = orderCoreSchema.safeParse(fields);
    if (core.success) return { id, result: { order: { ...core.data, lineItems: [], shippingLines: [] } } };
    const name = stringOrNull(fields.name);
    return {
      id,
      result: {
        rejected: {
          externalId: id,
          externalNumber: name,
          updatedAt: stringOrNull(fields.updatedAt),
          error: `Shopify order ${name ?? id} has an unexpected shape: ${describeIssues(core.error)}`,
        },
      },
    };
  };

  const attach = (order: ShopifyOrder, fields: Record<string, unknown>): string | null => {
    const id = typeof fields.id === "string" ? fields.id : "";
    const kind = gidResource(id) ?? (typeof fields.__typename === "string" ? fields.__typename : null);
    if (kind === "LineItem") {
      const line = lineItemSchema.safeParse(fields);
      if (!line.success) return `line item ${id} has an unexpected shape: ${describeIssues(line.error)}`;
      order.lineItems.push(line.data);
    } else if (kind === "ShippingLine") {
      const line = shippingLineSchema.safeParse(fields);
      if (!line.success) return `shipping line ${id} has an unexpected shape: ${describeIssues(line.error)}`;
      order.shippingLines.push(line.data);
    }
    // Any other child type is a connection this mapping does not read.
    return null;
  };

  return {
    add(record) {
      if (typeof record !== "object" || record === null || Array.isArray(record)) {
        throw new ShopifyPayloadError("Bulk export record is not a JSON object");
      }
      const fields = record as Record<string, unknown>;
      const parentId = fields.__parentId;
      if (typeof parentId !== "string") {
        const done = current?.result ?? null;
        current = begin(fields);
        return done;
      }
      if (current === null) {
        throw new ShopifyPayloadError(
          `Bulk export record ${String(fields.id)} comes before any order: the file is not grouped by order, or reading started inside an order`,
        );
      }
      if (parentId !== current.id) {
        throw new ShopifyPayloadError(
          `Bulk export record ${String(fields.id)} belongs to ${parentId}, not to the order before it (${current.id}): the file is not grouped by order`,
        );
      }
      if ("order" in current.result) {
        const problem = attach(current.result.order, fields);
        if (problem !== null) {
          const { order } = current.result;
          current.result = {
            rejected: {
              externalId: order.id,
              externalNumber: order.name,
              updatedAt: order.updatedAt,
              error: `Shopify order ${order.name}: ${problem}`,
            },
          };
        }
      }
      return null;
    },
    end() {
      const done = current?.result ?? null;
      current = null;
      return done;
    },
  };
}

const BULK_STATUS: Record<ShopifyBulkOperation["status"], BulkExportStatus["status"]> = {
  CREATED: "created",
  RUNNING: "running",
  // Cancellation requested but not yet effective: still running as far as the caller is concerned.
  CANCELING: "running",
  COMPLETED: "completed",
  FAILED: "failed",
  CANCELED: "canceled",
  EXPIRED: "expired",
};

export function toBulkExportStatus(operation: ShopifyBulkOperation): BulkExportStatus {
  return {
    status: BULK_STATUS[operation.status],
    // A completed export with no objects has no file.
    url: operation.status === "COMPLETED" ? operation.url : null,
    objectCount: operation.objectCount,
    errorCode: operation.errorCode,
  };
}

/** An inventory item of a page, its inline levels flattened (more may still be due: see `inventoryLevels.pageInfo`). */
export function inventoryItemFromPage(node: ShopifyPageInventoryItem): ShopifyInventoryItem {
  return { ...node, inventoryLevels: node.inventoryLevels.nodes };
}

/**
 * The SKU under which an item's stock is synced, or null when there is nothing to sync: no SKU (nothing in
 * Tradewind or an ERP can name it) or not tracked (Shopify keeps selling whatever the count says, so its
 * `available` is no statement about stock).
 */
export function inventorySkuOf(item: Pick<ShopifyInventoryItem, "sku" | "tracked">): string | null {
  if (!item.tracked) return null;
  const sku = item.sku?.trim() ?? "";
  return sku === "" ? null : sku;
}

function laterTimestamp(a: string, b: string | null): string {
  if (b === null) return a;
  const [ta, tb] = [Date.parse(a), Date.parse(b)];
  if (Number.isNaN(tb)) return a;
  return Number.isNaN(ta) || tb > ta ? b : a;
}

function toInventoryLevel(sku: string, level: ShopifyInventoryLevel): InventoryLevel {
  const available = level.quantities.find((q) => q.name === AVAILABLE_QUANTITY);
  if (available === undefined) {
    throw new ShopifyPayloadError(`Inventory level ${level.id} has no "${AVAILABLE_QUANTITY}" quantity`);
  }
  return {
    sku,
    locationId: level.location.id,
    // May be negative: an oversold item at that location.
    available: available.quantity,
    // A level's own time and its quantity's may differ by the write that moved it; the later one is the
    // moment this number became true.
    updatedAt: laterTimestamp(level.updatedAt, available.updatedAt),
  };
}

/** Every level of one item (all levels gathered), as Tradewind inventory levels; none when not syncable. */
export function toInventoryLevels(item: ShopifyInventoryItem): InventoryLevel[] {
  const sku = inventorySkuOf(item);
  if (sku === null) return [];
  return item.inventoryLevels.map((level) => toInventoryLevel(sku, level));
}
