import { ValidationError } from "../../lib/errors";
import { ChannelPullMessage, ErpPushMessage } from "../../queues/hub-messages";
import type { SyncOperation } from "./statements";

export type SyncMessage = ChannelPullMessage | ErpPushMessage;

/** Which queue replays a failure of each operation, and the message types that operation may carry. */
const OPERATION_MESSAGES = {
  push: { queue: "erpPush", types: ["orders.push", "order.push_edited"] },
  pull: { queue: "channelPull", types: ["stream.run", "orders.backfill", "webhooks.sync"] },
  writeback: { queue: "channelPull", types: ["shipment.fulfil"] },
} as const satisfies Record<SyncOperation, { queue: "erpPush" | "channelPull"; types: readonly string[] }>;

export type ReplayQueue = (typeof OPERATION_MESSAGES)[SyncOperation]["queue"];

export function replayQueueOf(operation: SyncOperation): ReplayQueue {
  return OPERATION_MESSAGES[operation].queue;
}

function schemaOf(operation: SyncOperation) {
  return operation === "push" ? ErpPushMessage : ChannelPullMessage;
}

/** The message a failure's payload is, or null when it no longer parses (edit it first). */
export function parseFailurePayload(operation: SyncOperation, payload: unknown): SyncMessage | null {
  const parsed = schemaOf(operation).safeParse(payload);
  if (!parsed.success) return null;
  return (OPERATION_MESSAGES[operation].types as readonly string[]).includes(parsed.data.type)
    ? parsed.data
    : null;
}

/** The body sent on replay: the payload, marked as a replay where the message carries a trigger. */
export function replayBodyOf(message: SyncMessage): SyncMessage {
  // A backfill has no trigger: it is started by a person or the first pull, never by a schedule; a
  // webhook subscription sync has none either.
  return message.type === "orders.backfill" || message.type === "webhooks.sync"
    ? message
    : { ...message, trigger: "replay" };
}

/** What a failure is about; an edited payload must keep all of it. */
export interface FailureIdentity {
  tenantId: string;
  operation: SyncOperation;
  orderId: string | null;
  connectionId: string | null;
  /** The payload as recorded (before this edit). */
  payload: unknown;
}

/** Ids are UUIDs: compared case-insensitively, as Postgres compares them. */
function sameId(a: unknown, b: unknown): boolean {
  return String(a).toLowerCase() === String(b).toLowerCase();
}

function ordersOf(message: SyncMessage): string[] | null {
  if (message.type === "orders.push")
    return [...new Set(message.orderIds.map((id) => id.toLowerCase()))].sort();
  if (message.type === "order.push_edited") return [message.orderId.toLowerCase()];
  return null;
}

/**
 * An edited payload is accepted when it is a valid message of the failure's operation (a push stays a
 * push; pull and write-back stay channel-pull messages) and is still about the same work: the same
 * tenant, and for a push the same order(s) and ERP connection, for a pull the same connection, for a
 * write-back the same shipment. A replay can never be aimed at another tenant, order or connection.
 * Refusals are a 422 whose details name `payload.<field>`.
 */
export function checkEditedPayload(failure: FailureIdentity, edited: unknown): SyncMessage {
  const parsed = schemaOf(failure.operation).safeParse(edited);
  if (!parsed.success) {
    const details: Record<string, string[]> = {};
    for (const issue of parsed.error.issues) {
      const path = ["payload", ...issue.path.map(String)].join(".");
      details[path] ??= [];
      details[path].push(issue.message);
    }
    throw new ValidationError("The payload is not a valid message for this failure", details);
  }
  const message = parsed.data;
  const original = parseFailurePayload(failure.operation, failure.payload);
  const problems: Record<string, string[]> = {};
  const mustStay = (field: string, actual: unknown, expected: unknown, what: string) => {
    if (expected !== null && expected !== undefined && !sameId(actual, expected)) {
      problems[`payload.${field}`] = [
        `Must stay ${String(expected)}: a replay cannot target another ${what}`,
      ];
    }
  };

  const allowed: readonly string[] = OPERATION_MESSAGES[failure.operation].types;
  if (!allowed.includes(message.type)) {
    problems["payload.type"] = [`A ${failure.operation} failure replays as ${allowed.join(" or ")}`];
  }
  mustStay("tenantId", message.tenantId, failure.tenantId, "tenant");

  if (message.type === "orders.push" || message.type === "order.push_edited") {
    const expectedConnection =
      original && "erpConnectionId" in original ? original.erpConnectionId : failure.connectionId;
    mustStay("erpConnectionId", message.erpConnectionId, expectedConnection, "ERP connection");
    const expectedOrders =
      (original && ordersOf(original)) ?? (failure.orderId ? [failure.orderId.toLowerCase()] : null);
    const orders = ordersOf(message) ?? [];
    if (expectedOrders && orders.join(",") !== expectedOrders.join(",")) {
      const field = message.type === "orders.push" ? "orderIds" : "orderId";
      problems[`payload.${field}`] = [
        `Must stay ${expectedOrders.join(", ")}: a replay cannot target another order`,
      ];
    }
  } else if (
    message.type === "stream.run" ||
    message.type === "orders.backfill" ||
    message.type === "webhooks.sync"
  ) {
    const expectedConnection =
      original && "connectionId" in original ? original.connectionId : failure.connectionId;
    mustStay("connectionId", message.connectionId, expectedConnection, "connection");
  } else {
    const expectedShipment = original?.type === "shipment.fulfil" ? original.shipmentId : null;
    mustStay("shipmentId", message.shipmentId, expectedShipment, "shipment");
  }

  if (Object.keys(problems).length > 0) {
    throw new ValidationError("The payload must stay about the same work", problems);
  }
  return message;
}
