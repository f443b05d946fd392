import type { ErpType, Invoice, Shipment } from "../../domain/commerce";
import type { ErpOrderInput } from "../../domain/erp-order";

/**
 * What the sync engine needs from an ERP. One implementation per ERP (src/adapters/erp/<erp>/client.ts).
 *
 * Errors: a whole call that fails throws `UpstreamError` (src/lib/errors.ts) with `retryable` and, where
 * the ERP said so, `retryAfterSeconds`; its `kind` is one of "retryable" | "rate_limited" | "auth" |
 * "permanent". A batch call that the ERP answered reports per-order outcomes instead of throwing.
 */

export type { ErpOrderInput } from "../../domain/erp-order";

export type ErpPushResult =
  | { reference: string; outcome: "created"; erpOrderId: string }
  /** The ERP already had an order with this reference (we posted it before): not created again. */
  | { reference: string; outcome: "duplicate"; erpOrderId: string }
  /** The ERP refused this order (validation): a person must fix it; never retried as is. */
  | { reference: string; outcome: "rejected"; code: string; message: string };

export interface ErpOrderStatus {
  reference: string;
  erpOrderId: string;
  /** The ERP's own status word, for display. */
  status: string;
}

export interface ErpAdapter {
  readonly erp: ErpType;
  /** Most orders one `pushOrders` call accepts. */
  readonly maxBatchSize: number;
  pushOrders(batch: ErpOrderInput[]): Promise<ErpPushResult[]>;
  /** Orders the ERP holds under these references (missing ones are absent from the map). */
  findOrders(references: string[]): Promise<Map<string, ErpOrderStatus>>;
  /** Shipments (with tracking) of orders with these references; orders not yet shipped are absent. */
  listShipments(references: string[]): Promise<Shipment[]>;
  /** Invoices issued for orders with these references, where the ERP has sales invoices (Lingxing has none). */
  listInvoices?(references: string[]): Promise<Invoice[]>;
}
