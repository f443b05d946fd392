import type { ChannelType, InventoryLevel, Order } from "../../domain/commerce";
import type { OrderSearchCriteria, OrderSearchCriterion } from "./order-search";

/**
 * What the sync engine needs from a sales channel. One implementation per channel
 * (src/adapters/channels/<channel>/client.ts); services only ever see this interface and the DTOs.
 *
 * Errors: every method throws `UpstreamError` from src/lib/errors.ts with `retryable` and, where the
 * channel said so, `retryAfterSeconds`; credentials refused → `UpstreamError` with `retryable: false` and
 * `kind: "auth"`.
 */
export interface OrdersPage {
  orders: Order[];
  /**
   * Orders of this page the adapter could not map (unexpected shape, impossible amounts): reported so
   * the engine records them and moves on, instead of one bad order stopping the stream for good.
   */
  rejected: { externalId: string; externalNumber: string | null; updatedAt: string | null; error: string }[];
  /** Opaque; pass back as `cursor` for the next page. Null = this was the last page. */
  nextCursor: string | null;
}

export interface BulkExportStatus {
  status: "created" | "running" | "completed" | "failed" | "canceled" | "expired";
  /** Result file (JSONL) when completed; null when completed with no objects. */
  url: string | null;
  objectCount: number;
  errorCode: string | null;
}

/** One stretch of a completed export's file: whole orders only. */
export interface BulkExportChunk {
  orders: Order[];
  /** Orders of this stretch the adapter could not map; same meaning as in `OrdersPage`. */
  rejected: OrdersPage["rejected"];
  /** Byte offset in the file where the next order starts: pass it as `fromByte`. Null = the file is read to its end. */
  nextByte: number | null;
}

export interface FulfillmentInput {
  orderExternalId: string;
  carrier: string;
  trackingNumbers: string[];
  trackingUrl: string | null;
  /** Empty = fulfil every remaining line. */
  lines: { externalLineId: string; quantity: number }[];
  notifyCustomer: boolean;
}

/** What a channel's webhook subscriptions for one callback URL look like after a sync. */
export interface WebhookSubscriptionsResult {
  created: string[];
  updated: string[];
  unchanged: string[];
  /** Subscriptions to the callback URL for topics no longer wanted. */
  removed: string[];
}

/** The bulk-export part of a channel that has one. */
export type ChannelBulkExport = Required<
  Pick<ChannelAdapter, "startOrdersBulkExport" | "getBulkExport" | "readBulkExportOrders">
>;

/** Whether this channel's adapter offers a bulk export (otherwise backfills page). */
export function hasBulkExport(adapter: ChannelAdapter): adapter is ChannelAdapter & ChannelBulkExport {
  return (
    adapter.startOrdersBulkExport !== undefined &&
    adapter.getBulkExport !== undefined &&
    adapter.readBulkExportOrders !== undefined
  );
}

/** What a store found for a customer's order lookup (see `ChannelAdapter.searchOrders`). */
export interface OrderSearchResult {
  /** Matching orders, newest placed first, at most the `limit` asked for. */
  orders: Order[];
  /** Matching orders the adapter could not map; same meaning as in `OrdersPage`. */
  rejected: OrdersPage["rejected"];
  /** The store may hold more matches than were returned. */
  truncated: boolean;
}

/** One picture of a product, as the channel's CDN serves it. */
export interface ProductImage {
  url: string;
  alt: string | null;
  width: number | null;
  height: number | null;
}

/**
 * The pictures of one sellable variant (one SKU), for showing the right one beside an order line. The
 * variant is known by the same id order lines carry (`OrderLine.variantExternalId`).
 */
export interface VariantAsset {
  productExternalId: string;
  variantExternalId: string;
  sku: string | null;
  /** The product's title. */
  title: string;
  /** "Black / M"; null for a product sold in one variant only. */
  variantTitle: string | null;
  /** The picture to show: the variant's own, else the product's featured one, else its first; null if none. */
  image: ProductImage | null;
  /** Every picture of the variant and then of its product, in the channel's order, each URL once. */
  images: ProductImage[];
  /** The later of the product's and the variant's last change at the channel: newer wins when stored. */
  updatedAt: string;
}

export interface ProductAssetsPage {
  assets: VariantAsset[];
  /** Products the adapter could not map (unexpected shape), reported instead of failing the page. */
  rejected: { productExternalId: string; error: string }[];
  /** Opaque; pass back as `cursor`. Null = this was the last page. */
  nextCursor: string | null;
}

export interface ChannelAdapter {
  readonly channel: ChannelType;
  /**
   * Which lookup criteria this channel can search by. A criterion it cannot search by (TikTok masks
   * buyers' emails and phone numbers) makes a lookup naming it skip this store: every criterion given
   * must match, and the store could not check that one.
   */
  readonly orderSearchCriteria?: readonly OrderSearchCriterion[];
  /**
   * A customer's orders at this store (order lookup): every given criterion must match (see
   * `matchesOrderSearch`, which the adapter applies to what the channel returned). Callers give only
   * criteria listed in `orderSearchCriteria`.
   */
  searchOrders?(input: { criteria: OrderSearchCriteria; limit: number }): Promise<OrderSearchResult>;
  /** One page of the catalogue's variants with their pictures, in the channel's stable order. */
  listProductAssets?(input: { cursor: string | null; pageSize: number }): Promise<ProductAssetsPage>;
  /**
   * The current state of these orders (channel external ids), read directly: a webhook that only names an
   * order, or whose payload is incomplete, is resolved through this. Ids the channel does not know are
   * simply absent from `orders`; orders it knows but the adapter cannot map are in `rejected`.
   */
  getOrders?(externalIds: readonly string[]): Promise<Pick<OrdersPage, "orders" | "rejected">>;
  /**
   * Makes the channel's webhook subscriptions for `callbackUrl` exactly `topics` (channel topic names):
   * creates the missing ones, updates those that differ, removes ours for other topics, and leaves the
   * rest alone. Idempotent: a second call with the same input changes nothing.
   */
  syncWebhookSubscriptions?(input: {
    callbackUrl: string;
    topics: readonly string[];
  }): Promise<WebhookSubscriptionsResult>;
  /** Removes every subscription to `callbackUrl` (disconnect); none left is success. */
  removeWebhookSubscriptions?(input: { callbackUrl: string }): Promise<{ removed: string[] }>;
  /** Orders updated at or after `updatedSince`, oldest update first, one page per call. */
  listOrdersUpdatedSince(input: {
    updatedSince: string;
    cursor: string | null;
    pageSize: number;
  }): Promise<OrdersPage>;
  /**
   * Starts an asynchronous export of every order updated since `updatedSince` (large backfills). The three
   * bulk-export methods come together or not at all: a channel without a bulk export (TikTok Shop) leaves
   * them out and its backfills page through `listOrdersUpdatedSince`.
   */
  startOrdersBulkExport?(input: { updatedSince: string }): Promise<{ operationId: string }>;
  getBulkExport?(operationId: string): Promise<BulkExportStatus>;
  /**
   * Reads a completed export's file from `fromByte` (0 at first, then a `nextByte` returned before) and
   * maps the next `maxOrders` orders, each with all its lines. Only that stretch of the file is read, so
   * memory stays bounded whatever the size of the export, and a backfill can resume at any `nextByte`.
   */
  readBulkExportOrders?(input: {
    url: string;
    fromByte: number;
    maxOrders: number;
  }): Promise<BulkExportChunk>;
  /**
   * Creates the fulfilment with carrier and tracking. Idempotent: when the order already carries a
   * fulfilment with the same tracking number, returns that one instead of creating another.
   */
  createFulfillment(input: FulfillmentInput): Promise<{ fulfillmentId: string; created: boolean }>;
  listInventoryLevels?(input: { cursor: string | null; pageSize: number }): Promise<{
    levels: InventoryLevel[];
    nextCursor: string | null;
  }>;
}
