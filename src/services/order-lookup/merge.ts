import type { Order } from "../../domain/commerce";
import type { OrderStatus } from "../../domain/order-state";

/**
 * How one lookup's answers come together: what each store said at the channel, and what Tradewind holds
 * (the `orders` table, with its shipments). Pure, so the rules are tested on their own.
 */

/** `ok`: searched; `failed`: the store refused or broke; `timeout`: no answer in time; `skipped`: not searched. */
export type StoreLookupStatus = "ok" | "failed" | "timeout" | "skipped";

export interface StoreLookup {
  connectionId: string;
  storeName: string;
  provider: string;
  status: StoreLookupStatus;
  /** Why it failed or was skipped (no secrets: adapters scrub their messages). */
  error?: string;
  /** Matching orders the store returned. */
  found: number;
  /** The store holds more matches than it was asked for (the newest are shown). */
  truncated: boolean;
}

export interface ShipmentSummary {
  carrier: string;
  carrierCode: string | null;
  trackingNumbers: string[];
  trackingUrl: string | null;
  shippedAt: string;
}

export interface LookedUpOrder {
  /** Tradewind's id of the order when it is stored (pulled or received); null when only the store knows it yet. */
  orderId: string | null;
  connectionId: string;
  storeName: string;
  channel: string;
  storeId: string;
  /** Tradewind's state of the stored order (created, synced, shipped, …); null when not stored. */
  status: OrderStatus | null;
  /** Which copy is shown: the store's answer just now, or the stored one (newer, or the store not reachable). */
  source: "channel" | "stored";
  order: Order;
  /** The newest shipment Tradewind knows of, and every tracking number of the order, newest first. */
  latestShipment: ShipmentSummary | null;
  trackingNumbers: string[];
}

/** An order a store returned just now. */
export interface ChannelMatch {
  connectionId: string;
  storeName: string;
  order: Order;
}

/** An order Tradewind holds that matches the criteria, with its shipments newest first. */
export interface StoredMatch {
  orderId: string;
  connectionId: string;
  storeName: string;
  status: OrderStatus;
  order: Order;
  shipments: ShipmentSummary[];
}

const keyOf = (connectionId: string, externalId: string) => `${connectionId}\u0000${externalId}`;

function time(value: string): number {
  const t = Date.parse(value);
  return Number.isNaN(t) ? Number.NEGATIVE_INFINITY : t;
}

function trackingNumbersOf(shipments: readonly ShipmentSummary[]): string[] {
  return [...new Set(shipments.flatMap((s) => s.trackingNumbers))];
}

/**
 * One entry per (store, order): when both the store and Tradewind have it, the copy with the later
 * `updatedAt` is shown (the store's on a tie: it was just read), and Tradewind's id, state and shipments
 * are kept either way. Stored orders a store did not return stay in the answer (the store was down,
 * skipped, or returned only its newest few). Newest placed first, at most `limit`.
 */
export function mergeLookups(
  channel: readonly ChannelMatch[],
  stored: readonly StoredMatch[],
  limit: number,
): LookedUpOrder[] {
  const merged = new Map<string, LookedUpOrder>();
  for (const match of stored) {
    const shipments = [...match.shipments].sort((a, b) => time(b.shippedAt) - time(a.shippedAt));
    merged.set(keyOf(match.connectionId, match.order.externalId), {
      orderId: match.orderId,
      connectionId: match.connectionId,
      storeName: match.storeName,
      channel: match.order.channel,
      storeId: match.order.storeId,
      status: match.status,
      source: "stored",
      order: match.order,
      latestShipment: shipments[0] ?? null,
      trackingNumbers: trackingNumbersOf(shipments),
    });
  }
  for (const match of channel) {
    const key = keyOf(match.connectionId, match.order.externalId);
    const known = merged.get(key);
    if (known !== undefined) {
      if (time(match.order.updatedAt) >= time(known.order.updatedAt)) {
        merged.set(key, { ...known, source: "channel", order: match.order, storeId: match.order.storeId });
      }
      continue;
    }
    merged.set(key, {
      orderId: null,
      connectionId: match.connectionId,
      storeName: match.storeName,
      channel: match.order.channel,
      storeId: match.order.storeId,
      status: null,
      source: "channel",
      order: match.order,
      latestShipment: null,
      trackingNumbers: [],
    });
  }
  return [...merged.values()]
    .sort(
      (a, b) =>
        time(b.order.placedAt) - time(a.order.placedAt) || a.connectionId.localeCompare(b.connectionId),
    )
    .slice(0, Math.max(0, limit));
}

/** Some store that should have answered did not: the answer may be missing its orders. */
export function isPartial(stores: readonly StoreLookup[]): boolean {
  return stores.some((store) => store.status === "failed" || store.status === "timeout");
}
