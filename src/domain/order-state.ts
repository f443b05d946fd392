/**
 * The order state machine (DESIGN.md §3): created → synced → shipped → invoiced, plus on_hold, cancelled
 * and failed. This table is the only place that says which moves are legal; services ask `assertTransition`
 * and record every move (from, to, actor, reason) in `order_transitions`.
 *
 * - created: stored from the channel, not yet in the ERP.
 * - synced: the ERP holds it (push ledger `created`).
 * - shipped: the ERP reported a shipment and it was written back to the channel.
 * - invoiced: an invoice was recorded for it (terminal).
 * - on_hold: a person stopped it; released back to where it was going (created or synced).
 * - failed: the ERP refused it; after a fix it is pushed again (→ created → synced).
 * - cancelled: cancelled in the channel before it shipped (terminal).
 */
export const ORDER_STATUSES = [
  "created",
  "synced",
  "shipped",
  "invoiced",
  "on_hold",
  "cancelled",
  "failed",
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

const TRANSITIONS: Readonly<Record<OrderStatus, readonly OrderStatus[]>> = {
  created: ["synced", "on_hold", "cancelled", "failed"],
  synced: ["shipped", "on_hold", "cancelled"],
  shipped: ["invoiced"],
  invoiced: [],
  on_hold: ["created", "synced", "cancelled"],
  cancelled: [],
  failed: ["created", "synced", "on_hold", "cancelled"],
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

export function allowedTransitions(from: OrderStatus): readonly OrderStatus[] {
  return TRANSITIONS[from];
}

export function isOrderStatus(value: string): value is OrderStatus {
  return (ORDER_STATUSES as readonly string[]).includes(value);
}

/** States from which the ERP should (still) receive the order. */
export function awaitsErpPush(status: OrderStatus): boolean {
  return status === "created";
}
