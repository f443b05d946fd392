import { sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";
import { allowedTransitions, type OrderStatus } from "../../domain/order-state";
import type { Actor } from "../context";

/**
 * Moves these orders to `to` from the given states (those the state machine allows), and records each move, in one statement (row locks make concurrent moves of the same order serialise; an
 * order in any other state is left alone). For a batch: callers put it beside the work that caused it.
 */
export function transitionOrdersStatement(
  db: HttpDb,
  input: {
    tenantId: string;
    orderIds: string[];
    to: OrderStatus;
    /**
     * The states this move may start from: a subset of what the state machine allows. The engine names
     * them, so that e.g. a push never lifts a person's hold (`on_hold → synced` is a person's move).
     */
    from: readonly OrderStatus[];
    actor: Actor;
    reason: string;
  },
) {
  const from = input.from.filter((status) => allowedTransitions(status).includes(input.to));
  const t = input.tenantId;
  return db.execute<{ id: string; from_status: string }>(sql`
    with prev as (
      select id, status from orders
       where tenant_id = ${t} and id = any(${sql.param(input.orderIds)}::uuid[])
         and status = any(${sql.param(from)}::text[])
         for update
    ), moved as (
      update orders o set status = ${input.to}, updated_at = now() from prev
       where o.tenant_id = ${t} and o.id = prev.id
      returning o.id, prev.status as from_status
    )
    insert into order_transitions (tenant_id, order_id, from_status, to_status, actor, reason)
    select ${t}, id, from_status, ${input.to}, ${JSON.stringify(input.actor)}::jsonb, ${input.reason} from moved
    returning order_id as id, from_status`);
}
