import type { ServiceContext } from "../context";
import type { OrderDetail } from "./order-view";
import { transitionOrder } from "./transition-order";

/**
 * A person stops an order (it will not be pushed or written back while held). Legal from `created`,
 * `synced` and `failed`; anything else is a 412 naming the order's status.
 */
export function holdOrder({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason: string };
}): Promise<OrderDetail> {
  return transitionOrder({
    ctx,
    input: { id: input.id, target: { kind: "status", to: "on_hold" }, reason: input.reason },
  });
}
