import { type SQL, sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";
import type { OrderStatus } from "../../domain/order-state";
import { isoOf, isoOrNull } from "../users/caller";

/** An order in lists: what a person scans for, without the channel's full payload. */
export interface OrderSummary {
  id: string;
  channel: string;
  storeId: string;
  connectionId: string;
  externalId: string;
  externalNumber: string;
  status: OrderStatus;
  currency: string;
  totalMinor: number;
  customer: { email: string | null; name: string | null };
  placedAt: string;
  channelUpdatedAt: string;
  updatedAt: string;
}

export interface OrderTransitionView {
  from: OrderStatus | null;
  to: OrderStatus;
  actor: Record<string, unknown>;
  reason: string;
  at: string;
}

export interface ErpLedgerView {
  erpConnectionId: string;
  reference: string;
  status: "pending" | "in_flight" | "created" | "rejected";
  erpOrderId: string | null;
  attempts: number;
  lastError: string | null;
  lastAttemptAt: string | null;
  confirmedAt: string | null;
}

export interface ShipmentView {
  id: string;
  externalId: string;
  carrier: string;
  carrierCode: string | null;
  trackingNumbers: string[];
  trackingUrl: string | null;
  lines: Record<string, unknown>[];
  shippedAt: string;
  writebackStatus: "pending" | "done" | "failed";
  channelFulfillmentId: string | null;
  writtenBackAt: string | null;
  lastError: string | null;
}

export interface InvoiceView {
  id: string;
  source: string;
  externalId: string;
  number: string;
  currency: string;
  totalMinor: number;
  issuedAt: string;
}

/** One order with everything that happened to it. */
export interface OrderDetail extends OrderSummary {
  version: number;
  createdAt: string;
  /** The channel order as Tradewind holds it (src/domain/commerce.ts `Order`). */
  data: Record<string, unknown>;
  transitions: OrderTransitionView[];
  erpLedger: ErpLedgerView | null;
  shipments: ShipmentView[];
  invoices: InvoiceView[];
}

type Timestamp = string | Date;

export interface OrderSummaryRow extends Record<string, unknown> {
  id: string;
  channel: string;
  store_id: string;
  connection_id: string;
  external_id: string;
  external_number: string;
  status: OrderStatus;
  currency: string;
  total_minor: string | number;
  customer_email: string | null;
  customer_name: string | null;
  placed_at: Timestamp;
  channel_updated_at: Timestamp;
  updated_at: Timestamp;
}

interface OrderDetailRow extends OrderSummaryRow {
  version: number;
  created_at: Timestamp;
  data: Record<string, unknown> | string;
}

interface TransitionRow extends Record<string, unknown> {
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  actor: Record<string, unknown> | string;
  reason: string;
  occurred_at: Timestamp;
}

interface LedgerRow extends Record<string, unknown> {
  erp_connection_id: string;
  reference: string;
  status: ErpLedgerView["status"];
  erp_order_id: string | null;
  attempts: number;
  last_error: string | null;
  last_attempt_at: Timestamp | null;
  confirmed_at: Timestamp | null;
}

interface ShipmentRow extends Record<string, unknown> {
  id: string;
  external_id: string;
  carrier: string;
  carrier_code: string | null;
  tracking_numbers: string[];
  tracking_url: string | null;
  lines: Record<string, unknown>[] | string;
  shipped_at: Timestamp;
  writeback_status: ShipmentView["writebackStatus"];
  channel_fulfillment_id: string | null;
  written_back_at: Timestamp | null;
  last_error: string | null;
}

interface InvoiceRow extends Record<string, unknown> {
  id: string;
  source: string;
  external_id: string;
  number: string;
  currency: string;
  total_minor: string | number;
  issued_at: Timestamp;
}

export const ORDER_SUMMARY_COLUMNS: SQL = sql`
  o.id, o.channel, o.store_id, o.connection_id, o.external_id, o.external_number, o.status, o.currency,
  o.total_minor, o.customer_email, o.customer_name, o.placed_at, o.channel_updated_at, o.updated_at`;

/** jsonb arrives parsed from the driver, but be tolerant of text. */
export function jsonOf<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

export function toOrderSummary(row: OrderSummaryRow): OrderSummary {
  return {
    id: row.id,
    channel: row.channel,
    storeId: row.store_id,
    connectionId: row.connection_id,
    externalId: row.external_id,
    externalNumber: row.external_number,
    status: row.status,
    currency: row.currency,
    totalMinor: Number(row.total_minor),
    customer: { email: row.customer_email, name: row.customer_name },
    placedAt: isoOf(row.placed_at),
    channelUpdatedAt: isoOf(row.channel_updated_at),
    updatedAt: isoOf(row.updated_at),
  };
}

/**
 * The statements that read one order whole: the order, its transitions (oldest first), its push ledger
 * row, shipments and invoices. Five statements for one batch, so the detail is one round trip; placed
 * after a write in the same batch they read what the write left.
 */
export function orderDetailStatements(db: HttpDb, tenantId: string, orderId: string) {
  return [
    db.execute<OrderDetailRow>(sql`
      select ${ORDER_SUMMARY_COLUMNS}, o.version, o.created_at, o.data
        from orders o where o.tenant_id = ${tenantId} and o.id = ${orderId}`),
    // Transitions of one transaction share `occurred_at`; the arrival (no `from`) comes first among them.
    db.execute<TransitionRow>(sql`
      select from_status, to_status, actor, reason, occurred_at from order_transitions
       where tenant_id = ${tenantId} and order_id = ${orderId}
       order by occurred_at, from_status is not null, id`),
    db.execute<LedgerRow>(sql`
      select erp_connection_id, reference, status, erp_order_id, attempts, last_error, last_attempt_at, confirmed_at
        from erp_push_ledger where tenant_id = ${tenantId} and order_id = ${orderId}
       order by updated_at desc limit 1`),
    db.execute<ShipmentRow>(sql`
      select id, external_id, carrier, carrier_code, tracking_numbers, tracking_url, lines, shipped_at,
             writeback_status, channel_fulfillment_id, written_back_at, last_error
        from shipments where tenant_id = ${tenantId} and order_id = ${orderId}
       order by shipped_at, id`),
    db.execute<InvoiceRow>(sql`
      select id, source, external_id, number, currency, total_minor, issued_at
        from invoices where tenant_id = ${tenantId} and order_id = ${orderId}
       order by issued_at, id`),
  ] as const;
}

type Rows<T> = { rows: T[] };

/** The detail from the results of `orderDetailStatements`; null when the order is not the tenant's. */
export function toOrderDetail(
  results: readonly [
    Rows<OrderDetailRow>,
    Rows<TransitionRow>,
    Rows<LedgerRow>,
    Rows<ShipmentRow>,
    Rows<InvoiceRow>,
  ],
): OrderDetail | null {
  const [orders, transitions, ledgers, shipments, invoices] = results;
  const order = orders.rows[0];
  if (!order) return null;
  const ledger = ledgers.rows[0];
  return {
    ...toOrderSummary(order),
    version: Number(order.version),
    createdAt: isoOf(order.created_at),
    data: jsonOf(order.data),
    transitions: transitions.rows.map((t) => ({
      from: t.from_status,
      to: t.to_status,
      actor: jsonOf(t.actor),
      reason: t.reason,
      at: isoOf(t.occurred_at),
    })),
    erpLedger: ledger
      ? {
          erpConnectionId: ledger.erp_connection_id,
          reference: ledger.reference,
          status: ledger.status,
          erpOrderId: ledger.erp_order_id,
          attempts: Number(ledger.attempts),
          lastError: ledger.last_error,
          lastAttemptAt: isoOrNull(ledger.last_attempt_at),
          confirmedAt: isoOrNull(ledger.confirmed_at),
        }
      : null,
    shipments: shipments.rows.map((s) => ({
      id: s.id,
      externalId: s.external_id,
      carrier: s.carrier,
      carrierCode: s.carrier_code,
      trackingNumbers: s.tracking_numbers,
      trackingUrl: s.tracking_url,
      lines: jsonOf(s.lines),
      shippedAt: isoOf(s.shipped_at),
      writebackStatus: s.writeback_status,
      channelFulfillmentId: s.channel_fulfillment_id,
      writtenBackAt: isoOrNull(s.written_back_at),
      lastError: s.last_error,
    })),
    invoices: invoices.rows.map((i) => ({
      id: i.id,
      source: i.source,
      externalId: i.external_id,
      number: i.number,
      currency: i.currency,
      totalMinor: Number(i.total_minor),
      issuedAt: isoOf(i.issued_at),
    })),
  };
}
