import type { ServiceContext } from "../context";
import type { OrderDetail } from "./order-view";
import { transitionOrder } from "./transition-order";

/**
 * A held order goes back to where it was going: `synced` when its push ledger row says the ERP created
 * it, else `created` (so the push backlog picks it up again). Only a held order can be released (412).
 */
export function releaseOrder({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason?: string | undefined };
}): Promise<OrderDetail> {
  return transitionOrder({
    ctx,
    input: { id: input.id, target: { kind: "release" }, reason: input.reason ?? "released" },
  });
}
