import type { ChannelPullMessage, ErpPushMessage, StreamResource } from "../../queues/hub-messages";
import type { SyncOperation } from "./statements";

/*
 * What makes two failures "the same work failing again": the engine and the dead-letter recorder both
 * name failures through these, so a failure recorded by one is resolved by the other's later success.
 */

/** A push of one order to its ERP (plain or hand-edited). */
export function pushFailureFingerprint(orderId: string): string {
  return `push:${orderId}`;
}

/** One stream of one connection (a channel's orders or inventory, an ERP's shipments or push backlog). */
export function pullFailureFingerprint(connectionId: string, resource: StreamResource): string {
  return `pull:${connectionId}:${resource}`;
}

/** One backfill job. */
export function backfillFailureFingerprint(jobId: string): string {
  return `backfill:${jobId}`;
}

/** The write-back of one shipment to its channel. */
export function writebackFailureFingerprint(shipmentId: string): string {
  return `writeback:${shipmentId}`;
}

/** One failure a message stands for, with the payload that replays exactly that work. */
export interface SyncFailureSubject {
  tenantId: string;
  operation: SyncOperation;
  fingerprint: string;
  /** The connection the work ran against: the ERP for pushes, the channel for pulls; null when unknown. */
  connectionId: string | null;
  orderId: string | null;
  shipmentId: string | null;
  payload: ChannelPullMessage | ErpPushMessage;
}

/**
 * The failures a failed message stands for. A push of several orders is one failure per order, each with
 * the message narrowed to that order, so a person replays (or resolves) one order without the others.
 */
export function syncFailureSubjects(message: ChannelPullMessage | ErpPushMessage): SyncFailureSubject[] {
  const base = { tenantId: message.tenantId, orderId: null, shipmentId: null };
  switch (message.type) {
    case "orders.push":
      return [...new Set(message.orderIds)].map((orderId) => ({
        ...base,
        operation: "push",
        fingerprint: pushFailureFingerprint(orderId),
        connectionId: message.erpConnectionId,
        orderId,
        payload: { ...message, orderIds: [orderId] },
      }));
    case "order.push_edited":
      return [
        {
          ...base,
          operation: "push",
          fingerprint: pushFailureFingerprint(message.orderId),
          connectionId: message.erpConnectionId,
          orderId: message.orderId,
          payload: message,
        },
      ];
    case "stream.run":
      return [
        {
          ...base,
          operation: "pull",
          fingerprint: pullFailureFingerprint(message.connectionId, message.resource),
          connectionId: message.connectionId,
          payload: message,
        },
      ];
    case "orders.backfill":
      return [
        {
          ...base,
          operation: "pull",
          fingerprint: backfillFailureFingerprint(message.jobId),
          connectionId: message.connectionId,
          payload: message,
        },
      ];
    case "webhooks.sync":
      return [
        {
          ...base,
          operation: "pull",
          fingerprint: `webhooks-sync:${message.connectionId}`,
          connectionId: message.connectionId,
          payload: message,
        },
      ];
    case "shipment.fulfil":
      return [
        {
          ...base,
          operation: "writeback",
          fingerprint: writebackFailureFingerprint(message.shipmentId),
          connectionId: null,
          shipmentId: message.shipmentId,
          payload: message,
        },
      ];
    default: {
      const unknown: never = message;
      throw new Error(`No failure subject for message ${JSON.stringify(unknown)}`);
    }
  }
}
