import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import {
  allowedTransitions,
  canTransition,
  ORDER_STATUSES,
  type OrderStatus,
} from "../../domain/order-state";
import { NotFoundError, PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { actingCaller } from "./acting";
import { type OrderDetail, orderDetailStatements, toOrderDetail } from "./order-view";

/**
 * Where a person's move takes the order: a fixed status (hold), or back to where the order was going
 * (release: `synced` when the ERP already holds it, else `created`).
 */
export type TransitionTarget = { kind: "status"; to: OrderStatus } | { kind: "release" };

interface MoveRow extends Record<string, unknown> {
  current_status: OrderStatus;
  release_to: "synced" | "created";
  moved: boolean;
}

/** Statuses from which `to` is legal, as the state machine table says. */
function legalSources(to: OrderStatus): OrderStatus[] {
  return ORDER_STATUSES.filter((from) => canTransition(from, to));
}

/**
 * Moves one order and records the move (from, to, actor, reason) in one statement, then reads the order
 * back in the same batch: one round trip, one transaction.
 *
 * Concurrency: the current row is locked (`for update`) and the update requires the status it saw, so two
 * concurrent moves serialize on the row and the second sees the first's result: exactly one succeeds and
 * the other is a 412 naming the status it found.
 */
export async function transitionOrder({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; target: TransitionTarget; reason: string };
}): Promise<OrderDetail> {
  const { tenantId: t, actor } = actingCaller(ctx);
  const { id, target, reason } = input;
  const to: SQL = target.kind === "status" ? sql`${target.to}::text` : sql`locked.release_to`;
  const sources = target.kind === "status" ? legalSources(target.to) : (["on_hold"] satisfies OrderStatus[]);
  const [move, order, transitions, ledger, shipments, invoices] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<MoveRow>(sql`
      with locked as (
        select o.id, o.status,
               case when exists (select 1 from erp_push_ledger l
                                  where l.tenant_id = o.tenant_id and l.order_id = o.id and l.status = 'created')
                    then 'synced' else 'created' end as release_to
          from orders o where o.tenant_id = ${t} and o.id = ${id}
           for update
      ), moved as (
        update orders o set status = ${to}, updated_at = now()
          from locked
         where o.tenant_id = ${t} and o.id = locked.id
           and o.status = locked.status and locked.status = any(${sql.param(sources)}::text[])
        returning o.id, locked.status as from_status, o.status as to_status
      ), recorded as (
        insert into order_transitions (tenant_id, order_id, from_status, to_status, actor, reason)
        select ${t}, moved.id, moved.from_status, moved.to_status, ${JSON.stringify(actor)}::jsonb, ${reason}
          from moved
        returning order_id
      )
      select locked.status as current_status, locked.release_to, exists (select 1 from recorded) as moved
        from locked`),
    ...orderDetailStatements(db, t, id),
  ]);
  const row = move.rows[0];
  if (!row) throw new NotFoundError("Order not found");
  if (!row.moved) {
    const wanted: OrderStatus = target.kind === "status" ? target.to : row.release_to;
    throw new PreconditionFailedError(`An order in status ${row.current_status} cannot move to ${wanted}`, {
      details: { from: row.current_status, to: wanted, allowed: allowedTransitions(row.current_status) },
    });
  }
  const detail = toOrderDetail([order, transitions, ledger, shipments, invoices]);
  if (!detail) throw new NotFoundError("Order not found");
  return detail;
}
