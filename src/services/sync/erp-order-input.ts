import type { Order } from "../../domain/commerce";
import type { ErpOrderInput } from "../../domain/erp-order";

export interface ErpMappings {
  sku: ReadonlyMap<string, string>;
  warehouse: ReadonlyMap<string, string>;
  logistics: ReadonlyMap<string, string>;
}

/** Mapping rows whose `source` is this apply when nothing more specific matches. */
export const DEFAULT_MAPPING_SOURCE = "*";

/** The ERP's reference for an order: fixed for the order's life, unique per tenant, ≤ 34 characters. */
export function erpReferenceOf(orderId: string): string {
  return `TW${orderId.replace(/-/g, "").toUpperCase()}`;
}

/**
 * Applies a tenant's mappings to an order: SKUs to ERP product codes (or the SKU itself unless mapping is
 * required), the store to a warehouse, the shipping method to a logistics channel. Lines without a SKU
 * and removed lines (quantity 0) are not sent; an order left with nothing to ship, or with a SKU the
 * tenant requires a mapping for and has none, is a problem a person must solve, never guessed.
 */
export function buildErpOrderInput(
  order: Order,
  input: { reference: string; mappings: ErpMappings; requireSkuMapping: boolean; erpStoreId: string | null },
): { ok: true; value: ErpOrderInput } | { ok: false; problem: string } {
  const problems: string[] = [];
  const lines: ErpOrderInput["lines"] = [];
  for (const line of order.lines) {
    if (line.quantity === 0) continue;
    // A line without a SKU (gift wrapping, a tip, a custom item) is nothing a warehouse can pick:
    // it stays on the order in Tradewind and is not sent to the ERP.
    if (line.sku === null || line.sku.trim() === "") continue;
    const mapped = input.mappings.sku.get(line.sku);
    if (mapped === undefined && input.requireSkuMapping) {
      problems.push(`SKU "${line.sku}" has no ERP product mapping`);
      continue;
    }
    lines.push({
      externalLineId: line.externalLineId,
      erpSku: mapped ?? line.sku,
      quantity: line.quantity,
      unitPriceMinor: line.unitPriceMinor,
    });
  }
  if (problems.length === 0 && lines.length === 0)
    problems.push("the order has no line with a SKU to fulfil");
  if (problems.length > 0) return { ok: false, problem: problems.join("; ") };
  const shipping = order.shippingLines[0];
  const logistics =
    (shipping?.code ? input.mappings.logistics.get(shipping.code) : undefined) ??
    (shipping ? input.mappings.logistics.get(shipping.title) : undefined) ??
    input.mappings.logistics.get(DEFAULT_MAPPING_SOURCE) ??
    null;
  const warehouse =
    input.mappings.warehouse.get(order.storeId) ??
    input.mappings.warehouse.get(DEFAULT_MAPPING_SOURCE) ??
    null;
  return {
    ok: true,
    value: {
      reference: input.reference,
      order,
      lines,
      warehouseCode: warehouse,
      logisticsChannelCode: logistics,
      erpStoreId: input.erpStoreId,
    },
  };
}
