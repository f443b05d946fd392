import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { type OrderDetail, orderDetailStatements, toOrderDetail } from "./order-view";

/** One order with its transitions, push ledger, shipments and invoices: one Postgres round trip. */
export async function getOrder({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<OrderDetail> {
  const t = callerOf(ctx).tenantId;
  const results = await tenantBatch(ctx.db.http, t, (db) => orderDetailStatements(db, t, input.id));
  const order = toOrderDetail(results);
  if (!order) throw new NotFoundError("Order not found");
  return order;
}
