import * as z from "zod";
import { ErpOrderInput } from "../domain/erp-order";

/**
 * Bodies of `channel-pull` and `erp-push` messages. Producers (cron, manual sync, the pull itself,
 * replays) build them with these schemas; consumers validate them again. A failed message's body is what
 * `sync_failures.payload` keeps, so a person can edit it and replay it through the same schema.
 */

export const SYNC_TRIGGERS = ["cron", "manual", "replay", "webhook", "event"] as const;
export const SyncTrigger = z.enum(SYNC_TRIGGERS);
export type SyncTrigger = z.infer<typeof SyncTrigger>;

export const STREAM_RESOURCES = ["orders", "inventory", "shipments", "push_backlog"] as const;
export const StreamResource = z.enum(STREAM_RESOURCES);
export type StreamResource = z.infer<typeof StreamResource>;

/** Run one stream of a connection: a channel's orders/inventory, an ERP's shipments or push backlog. */
export const StreamRunMessage = z.object({
  type: z.literal("stream.run"),
  tenantId: z.uuid(),
  connectionId: z.uuid(),
  resource: StreamResource,
  trigger: SyncTrigger,
  /** The sync_jobs row this run reports to; created by the first consumer when absent. */
  jobId: z.uuid().optional(),
});

/** A backfill of a channel's orders from a date; large ones go through the channel's bulk export. */
export const BackfillMessage = z.object({
  type: z.literal("orders.backfill"),
  tenantId: z.uuid(),
  connectionId: z.uuid(),
  jobId: z.uuid(),
  since: z.iso.datetime({ offset: true }),
  mode: z.enum(["paged", "bulk"]),
  /** Set once the bulk export has started; the consumer polls it with delayed redeliveries. */
  bulkOperationId: z.string().min(1).max(500).optional(),
  /** Page cursor of a paged backfill that had to yield (time budget) and continues in a new message. */
  cursor: z.string().min(1).max(2000).optional(),
  /**
   * Bulk: where in the export's result file the next order starts (0 until the first chunk is stored).
   * Set together with `bulkOperationId` by every producer since exports are grouped by order; an
   * operation without it was started ungrouped and is started again.
   */
  byte: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});

/** Write a shipment back to its channel as a fulfilment (a replay of a failed write-back). */
export const FulfilShipmentMessage = z.object({
  type: z.literal("shipment.fulfil"),
  tenantId: z.uuid(),
  shipmentId: z.uuid(),
  trigger: SyncTrigger,
});

/** Make a channel connection's webhook subscriptions match it (after it was created or edited). */
export const SyncWebhooksMessage = z.object({
  type: z.literal("webhooks.sync"),
  tenantId: z.uuid(),
  connectionId: z.uuid(),
});

export const ChannelPullMessage = z.discriminatedUnion("type", [
  StreamRunMessage,
  BackfillMessage,
  FulfilShipmentMessage,
  SyncWebhooksMessage,
]);
export type ChannelPullMessage = z.infer<typeof ChannelPullMessage>;

/** Push these orders (as they are now in Tradewind) to the ERP connection. */
export const PushOrdersMessage = z.object({
  type: z.literal("orders.push"),
  tenantId: z.uuid(),
  erpConnectionId: z.uuid(),
  orderIds: z.array(z.uuid()).min(1).max(100),
  trigger: SyncTrigger,
});

/** Push one order with an explicit, possibly hand-edited ERP payload (replay of a failed push). */
export const PushEditedOrderMessage = z.object({
  type: z.literal("order.push_edited"),
  tenantId: z.uuid(),
  erpConnectionId: z.uuid(),
  orderId: z.uuid(),
  input: ErpOrderInput,
  trigger: SyncTrigger,
});

export const ErpPushMessage = z.discriminatedUnion("type", [PushOrdersMessage, PushEditedOrderMessage]);
export type ErpPushMessage = z.infer<typeof ErpPushMessage>;
