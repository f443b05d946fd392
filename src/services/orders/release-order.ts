import type { ServiceContext } from "../context";
import { enqueueOrderPushes } from "../sync/enqueue";
import type { OrderDetail } from "./order-view";
import { transitionOrder } from "./transition-order";

/**
 * A held order goes back to where it was going: `synced` when its push ledger row says the ERP created
 * it, else `created` — and then it is pushed at once (an order never pushed before has no ledger row
 * yet; the ERP connection's push-backlog sweep picks it up). Only a held order can be released (412).
 */
export async function releaseOrder({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason?: string | undefined };
}): Promise<OrderDetail> {
  const order = await transitionOrder({
    ctx,
    input: { id: input.id, target: { kind: "release" }, reason: input.reason ?? "released" },
  });
  if (order.status === "created" && order.erpLedger !== null && ctx.tenantId !== undefined) {
    await enqueueOrderPushes(ctx, {
      tenantId: ctx.tenantId,
      erpConnectionId: order.erpLedger.erpConnectionId,
      orderIds: [order.id],
      trigger: "manual",
    });
  }
  return order;
}
