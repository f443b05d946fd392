import { backoffSeconds } from "../lib/backoff";
import { NotFoundError, PreconditionFailedError, UpstreamError } from "../lib/errors";
import type { ServiceContext } from "../services/context";
import { recordDeadLetters } from "../services/dead-letters/record-dead-letters";
import { runBackfill } from "../services/sync/backfill";
import { errorText } from "../services/sync/failure-kind";
import { pullChannelInventory } from "../services/sync/pull-inventory";
import { pullChannelOrders } from "../services/sync/pull-orders";
import { sweepPushBacklog } from "../services/sync/push-backlog";
import { pushOrdersToErp } from "../services/sync/push-orders";
import { fulfilShipment, pollErpShipments } from "../services/sync/write-back";
import { syncConnectionWebhooks } from "../services/webhooks/register-webhooks";
import { consumeMessages, PermanentMessageError } from "./consume";
import { ChannelPullMessage, ErpPushMessage } from "./hub-messages";
import { QUEUES } from "./names";

/**
 * `channel-pull`: one stream run, backfill step or write-back replay per message. Services record their
 * own permanent failures (sync_failures) and return; what they throw is worth retrying, with backoff.
 */
export function consumeChannelPull(ctx: ServiceContext, batch: MessageBatch): Promise<void> {
  return consumeMessages(ctx, batch, ChannelPullMessage, async (message, raw) => {
    const owner = `msg:${raw.id}`;
    switch (message.type) {
      case "stream.run": {
        // A message without a job (cron, replays) gets one named after the message: the id survives its
        // retries, so every attempt reports to one sync_jobs row instead of leaving `queued` ones behind.
        const input = { ...message, owner, jobId: message.jobId ?? (await jobIdOfMessage(raw.id)) };
        switch (message.resource) {
          case "orders":
            await pullChannelOrders({ ctx, input });
            return;
          case "shipments":
            await pollErpShipments({ ctx, input });
            return;
          case "push_backlog":
            await sweepPushBacklog({ ctx, input });
            return;
          case "inventory":
            await pullChannelInventory({ ctx, input });
            return;
          default: {
            const unknown: never = message.resource;
            throw new PermanentMessageError(`unknown resource ${String(unknown)}`);
          }
        }
      }
      case "orders.backfill":
        await runBackfill({ ctx, input: message });
        return;
      case "shipment.fulfil":
        await fulfilShipment({ ctx, input: message });
        return;
      case "webhooks.sync":
        await syncConnectionWebhooks({ ctx, input: message });
        return;
      default: {
        const unknown: never = message;
        throw new PermanentMessageError(`unknown message ${JSON.stringify(unknown)}`);
      }
    }
  });
}

/**
 * `erp-push`: the batch's order pushes are grouped per (tenant, ERP connection) and pushed together, so
 * the ERP sees as few calls as its batch size allows. A group's messages share its fate: all acked, or all
 * retried (the ledger makes the retry safe: what was created is not posted again).
 */
export async function consumeErpPush(ctx: ServiceContext, batch: MessageBatch): Promise<void> {
  const groups = new Map<
    string,
    { orderIds: Set<string>; messages: Message[]; tenantId: string; erpConnectionId: string; replay: boolean }
  >();
  const edited: { message: Message; body: Extract<ErpPushMessage, { type: "order.push_edited" }> }[] = [];
  const invalid: Message[] = [];
  for (const message of batch.messages) {
    const parsed = ErpPushMessage.safeParse(message.body);
    if (!parsed.success) {
      invalid.push(message);
      continue;
    }
    const body = parsed.data;
    if (body.type === "order.push_edited") {
      edited.push({ message, body });
      continue;
    }
    const key = `${body.tenantId}:${body.erpConnectionId}:${body.trigger === "replay"}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        orderIds: new Set(),
        messages: [],
        tenantId: body.tenantId,
        erpConnectionId: body.erpConnectionId,
        replay: body.trigger === "replay",
      };
      groups.set(key, group);
    }
    for (const id of body.orderIds) group.orderIds.add(id);
    group.messages.push(message);
  }
  if (invalid.length > 0) {
    // The shared path records invalid bodies in dead_letters.
    await consumeMessages(
      ctx,
      { ...batch, messages: invalid } as MessageBatch,
      ErpPushMessage,
      async () => undefined,
    );
  }
  for (const group of groups.values()) {
    await settle(ctx, group.messages, () =>
      pushOrdersToErp({
        ctx,
        input: {
          tenantId: group.tenantId,
          erpConnectionId: group.erpConnectionId,
          orderIds: [...group.orderIds],
          trigger: group.replay ? "replay" : "event",
        },
      }),
    );
  }
  for (const { message, body } of edited) {
    await settle(ctx, [message], () =>
      pushOrdersToErp({
        ctx,
        input: {
          tenantId: body.tenantId,
          erpConnectionId: body.erpConnectionId,
          orderIds: [body.orderId],
          trigger: body.trigger,
          edited: { orderId: body.orderId, input: body.input },
        },
      }),
    );
  }
}

async function settle(
  ctx: ServiceContext,
  messages: Message[],
  push: () => Promise<{ retryError?: unknown; blocked?: boolean; deferSeconds?: number }>,
): Promise<void> {
  let outcome: { retryError?: unknown; blocked?: boolean; deferSeconds?: number };
  try {
    outcome = await push();
  } catch (error) {
    outcome = { retryError: error };
  }
  const { retryError } = outcome;
  if (retryError !== undefined && !outcome.blocked && isPermanentServiceError(retryError)) {
    // The connection is gone or its credentials cannot be opened: no retry helps. Recorded for operators
    // (acked only once recorded; if recording fails, the messages are retried and not lost).
    await recordDeadLetters({
      ctx,
      input: messages.map((m) => ({
        queue: QUEUES.ERP_PUSH,
        messageId: m.id,
        body: m.body,
        attempts: m.attempts,
        error: errorText(retryError),
      })),
    });
    for (const message of messages) message.ack();
    return;
  }
  if (outcome.blocked || (retryError === undefined && outcome.deferSeconds === undefined)) {
    // Done, or blocked on the connection itself (recorded as its sync failure, replayable by a person).
    for (const message of messages) message.ack();
    return;
  }
  const retryAfterSeconds = Math.max(
    retryError instanceof UpstreamError ? (retryError.retryAfterSeconds ?? 0) : 0,
    outcome.deferSeconds ?? 0,
  );
  for (const message of messages) {
    const delaySeconds = backoffSeconds(message.attempts, { retryAfterSeconds });
    message.retry({ delaySeconds });
  }
  ctx.logger.warn("erp push retried", {
    messages: messages.length,
    ...(retryError === undefined
      ? { deferredSeconds: outcome.deferSeconds }
      : { error: errorText(retryError) }),
  });
}

/** A failure of ours that no retry can fix (the connection was deleted, its credentials cannot be opened). */
function isPermanentServiceError(error: unknown): boolean {
  return error instanceof NotFoundError || error instanceof PreconditionFailedError;
}

/** A UUID derived from a queue message id (SHA-256, RFC 4122 variant bits, version 8 = custom). */
async function jobIdOfMessage(messageId: string): Promise<string> {
  const digest = new Uint8Array(
    await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`job:${messageId}`)),
  );
  const bytes = digest.slice(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
