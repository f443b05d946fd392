import type { ErpPushMessage, SyncTrigger } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";

const MAX_IDS_PER_MESSAGE = 100;
const MAX_MESSAGES_PER_SEND = 100;

/**
 * Asks for these orders to be pushed to the ERP. A send that fails is logged, not thrown: the orders are
 * stored and `created`, and the ERP connection's `push_backlog` stream re-enqueues whatever waits too long.
 */
export async function enqueueOrderPushes(
  ctx: ServiceContext,
  input: { tenantId: string; erpConnectionId: string; orderIds: string[]; trigger: SyncTrigger },
): Promise<boolean> {
  const messages: { body: ErpPushMessage }[] = [];
  for (let i = 0; i < input.orderIds.length; i += MAX_IDS_PER_MESSAGE) {
    messages.push({
      body: {
        type: "orders.push",
        tenantId: input.tenantId,
        erpConnectionId: input.erpConnectionId,
        orderIds: input.orderIds.slice(i, i + MAX_IDS_PER_MESSAGE),
        trigger: input.trigger,
      },
    });
  }
  try {
    for (let i = 0; i < messages.length; i += MAX_MESSAGES_PER_SEND) {
      await ctx.queues.erpPush.sendBatch(messages.slice(i, i + MAX_MESSAGES_PER_SEND));
    }
    return true;
  } catch (error) {
    ctx.logger.error("enqueueing ERP pushes failed; the push backlog sweep will retry", {
      tenantId: input.tenantId,
      orders: input.orderIds.length,
      error: String(error),
    });
    return false;
  }
}
