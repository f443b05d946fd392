import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { actingCaller } from "./acting";
import { type OrderDetail, orderDetailStatements, toOrderDetail } from "./order-view";

export interface RecordInvoiceInput {
  orderId: string;
  /** The invoicing system's id for it; recording the same one again changes nothing. */
  externalId: string;
  number: string;
  currency: string;
  totalMinor: number;
  issuedAt: string;
  /** Who issued it (an accounting system's name); default "manual". */
  source?: string;
}

/**
 * Records an order's invoice (from an accounting system or a person; Lingxing has no sales invoices).
 * A shipped order moves to `invoiced` in the same transaction; a synced one keeps the invoice and moves
 * when its shipment is written back. Idempotent per (source, external id). One round trip.
 */
export async function recordInvoice({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: RecordInvoiceInput;
}): Promise<OrderDetail> {
  const { tenantId: t, actor } = actingCaller(ctx);
  const source = input.source ?? "manual";
  const [recorded, ...detail] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ status: string; recorded: boolean }>(sql`
      with target as (
        select id, status from orders where tenant_id = ${t} and id = ${input.orderId} for update
      ), invoice as (
        insert into invoices (tenant_id, order_id, source, external_id, number, currency, total_minor, issued_at)
        select ${t}, target.id, ${source}, ${input.externalId}, ${input.number}, ${input.currency},
               ${input.totalMinor}, ${input.issuedAt}
          from target where target.status in ('synced', 'shipped', 'invoiced')
        on conflict (tenant_id, order_id, source, external_id) do nothing
        returning order_id
      ), moved as (
        update orders o set status = 'invoiced', updated_at = now()
          from target where o.tenant_id = ${t} and o.id = target.id and target.status = 'shipped'
        returning o.id
      ), logged as (
        insert into order_transitions (tenant_id, order_id, from_status, to_status, actor, reason)
        select ${t}, moved.id, 'shipped', 'invoiced', ${JSON.stringify(actor)}::jsonb,
               ${`invoice ${input.number} recorded`} from moved
      )
      select target.status, exists (select 1 from invoice) or target.status in ('synced', 'shipped', 'invoiced') as recorded
        from target`),
    ...orderDetailStatements(db, t, input.orderId),
  ]);
  const row = recorded.rows[0];
  if (!row) throw new NotFoundError("Order not found");
  if (!row.recorded) {
    throw new PreconditionFailedError(`An order in status ${row.status} cannot be invoiced`, {
      details: { from: row.status, to: "invoiced" },
    });
  }
  const order = toOrderDetail(detail as unknown as Parameters<typeof toOrderDetail>[0]);
  if (!order) throw new NotFoundError("Order not found");
  return order;
}
