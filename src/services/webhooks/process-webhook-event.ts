import { sql } from "drizzle-orm";
import * as z from "zod";
import type { ChannelAdapter } from "../../adapters/channels/interface";
import { ShopifyPayloadError } from "../../adapters/channels/shopify/transform";
import {
  isShopifyOrderTopic,
  parseShopifyWebhookBody,
  toAppUninstalledWebhook,
  toInventoryLevelWebhook,
  toOrderWebhook,
  toRefundWebhook,
} from "../../adapters/channels/shopify/webhook-transform";
import type { HttpDb } from "../../db/client";
import { tenantBatch } from "../../db/tenant";
import type { Order } from "../../domain/commerce";
import { NotFoundError, PreconditionFailedError, UpstreamError } from "../../lib/errors";
import { type LoadedConnection, loadConnectionForSync } from "../connections/load-connection";
import type { Actor, ServiceContext } from "../context";
import { channelAdapterFor } from "../sync/adapters";
import { enqueueOrderPushes } from "../sync/enqueue";
import { storeOrdersStatements } from "../sync/store-orders";
import { upsertSyncFailure } from "../sync-failures/statements";
import { trackingUpdateOf, upsertParcelState } from "./parcel-tracking";
import { TIKTOK_ORDER_STATUS_CHANGE, TIKTOK_PACKAGE_UPDATE, type WebhookSource } from "./webhook-model";

/** A verified sender's payload that processing cannot use: the event becomes a dead letter, not a retry. */
export class WebhookPayloadError extends Error {
  override readonly name = "WebhookPayloadError";
}

interface EventRow extends Record<string, unknown> {
  id: string;
  tenant_id: string;
  source: WebhookSource;
  connection_id: string | null;
  endpoint_id: string | null;
  topic: string;
  status: string;
  body: string;
  body_encoding: "utf8" | "base64";
}

export type ProcessResult =
  | { status: "processed" | "ignored" | "failed"; outcome: Record<string, unknown> }
  | { status: "skipped"; reason: string };

type Settle = { status: "processed" | "ignored"; outcome: Record<string, unknown> };

/** The statement that settles the event, appended to the transaction that applies it. */
function settleStatement(
  db: HttpDb,
  event: EventRow,
  settle: { status: "processed" | "ignored" | "failed"; outcome: Record<string, unknown>; error?: string },
) {
  const error =
    settle.error === undefined
      ? null
      : JSON.stringify({
          code: "PROCESSING_FAILED",
          message: settle.error.slice(0, 2000),
          at: new Date().toISOString(),
        });
  return db.execute(sql`
    update webhook_events
       set status = ${settle.status}, outcome = ${JSON.stringify(settle.outcome)}::jsonb, processed_at = now(),
           attempts = attempts + 1, last_error = coalesce(${error}::jsonb, last_error), updated_at = now()
     where tenant_id = ${event.tenant_id} and id = ${event.id} and status = 'received'`);
}

/**
 * Applies one stored webhook event through the same services the cron pulls use: an order event upserts
 * the order exactly as a pull would (newer channel `updatedAt` wins, so a late or replayed delivery never
 * moves an order back) and asks for its ERP push; an inventory event upserts the level (newer wins); a
 * parcel event updates the parcel's tracking. The event is settled in the same transaction as its effect.
 *
 * Failures: a payload that cannot be used (malformed, another shop's, refused for good by the channel) is
 * settled `failed` here (a dead letter, replayable after a fix); anything transient is thrown, so the
 * queue retries it with backoff (the attempt and its error are recorded on the event first).
 */
export async function processWebhookEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; eventId: string };
}): Promise<ProcessResult> {
  const t = input.tenantId;
  const [loaded] = await tenantBatch(ctx.db.http, t, (db) => [
    // Loading it also marks it taken (`enqueued_at` past the longest backoff), so the stranded-event sweep
    // does not hand a slow or backed-up event to a second consumer while this one works on it.
    db.execute<EventRow>(sql`
      with taken as (
        update webhook_events set enqueued_at = now() + interval '15 minutes'
         where tenant_id = ${t} and id = ${input.eventId} and status = 'received'
        returning id
      )
      select id, tenant_id, source, connection_id, endpoint_id, topic, status, body, body_encoding
        from webhook_events where tenant_id = ${t} and id = ${input.eventId}`),
  ]);
  const event = loaded.rows[0];
  if (!event) return { status: "skipped", reason: "event not found (its connection or tenant was deleted)" };
  if (event.status !== "received") return { status: "skipped", reason: `already ${event.status}` };
  try {
    const settled = await apply(ctx, event);
    return settled;
  } catch (error) {
    if (isPermanent(error)) {
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      await tenantBatch(ctx.db.http, t, (db) => [
        settleStatement(db, event, { status: "failed", outcome: { deadLetter: true }, error: message }),
      ]);
      ctx.logger.warn("webhook event dead-lettered", {
        tenantId: t,
        webhookEventId: event.id,
        error: message,
      });
      return { status: "failed", outcome: { error: message } };
    }
    await recordAttempt(ctx, event, error);
    throw error;
  }
}

function isPermanent(error: unknown): boolean {
  return (
    error instanceof WebhookPayloadError ||
    error instanceof ShopifyPayloadError ||
    (error instanceof UpstreamError && !error.retryable) ||
    error instanceof NotFoundError ||
    error instanceof PreconditionFailedError ||
    // A channel answer that does not have the documented shape will not have it on a retry either.
    error instanceof z.ZodError
  );
}

async function recordAttempt(ctx: ServiceContext, event: EventRow, error: unknown): Promise<void> {
  const last = JSON.stringify({
    code: error instanceof UpstreamError ? "UPSTREAM_ERROR" : "TRANSIENT",
    message: (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 2000),
    at: new Date().toISOString(),
  });
  try {
    await tenantBatch(ctx.db.http, event.tenant_id, (db) => [
      db.execute(sql`
        update webhook_events
           set attempts = attempts + 1, last_error = ${last}::jsonb, updated_at = now(),
               -- The queue holds it through its backoff (15 min at most): not stranded meanwhile.
               enqueued_at = now() + interval '15 minutes'
         where tenant_id = ${event.tenant_id} and id = ${event.id} and status = 'received'`),
    ]);
  } catch (recordError) {
    ctx.logger.warn("webhook attempt not recorded", { webhookEventId: event.id, error: String(recordError) });
  }
}

function bodyText(event: EventRow): string {
  if (event.body_encoding === "utf8") return event.body;
  throw new WebhookPayloadError("Body is not UTF-8 text");
}

function jsonObject(text: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new WebhookPayloadError("Body is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WebhookPayloadError("Body is not a JSON object");
  }
  return value as Record<string, unknown>;
}

async function apply(ctx: ServiceContext, event: EventRow): Promise<ProcessResult> {
  switch (event.source) {
    case "shopify":
    case "tiktok": {
      if (!event.connection_id) throw new WebhookPayloadError("Channel event without a connection");
      const connection = await loadConnectionForSync({
        ctx,
        input: { tenantId: event.tenant_id, connectionId: event.connection_id },
      });
      if (!connection.enabled)
        return settleOnly(ctx, event, { status: "ignored", outcome: { reason: "connection disabled" } });
      return event.source === "shopify"
        ? applyShopify(ctx, event, connection)
        : applyTikTok(ctx, event, connection);
    }
    case "17track":
      return applyParcelUpdate(ctx, event);
    case "generic":
      return applyGeneric(ctx, event);
    default: {
      const unknown: never = event.source;
      throw new WebhookPayloadError(`Unknown source ${String(unknown)}`);
    }
  }
}

async function settleOnly(ctx: ServiceContext, event: EventRow, settle: Settle): Promise<ProcessResult> {
  await tenantBatch(ctx.db.http, event.tenant_id, (db) => [settleStatement(db, event, settle)]);
  return settle;
}

const webhookActor = (source: WebhookSource): Actor => ({ type: "webhook", source });

/**
 * Stores channel orders exactly like a pull page (upsert, newer wins, `created` / cancellation
 * transitions) and settles the event in the same transaction; orders now waiting for the ERP are pushed.
 */
async function storeOrdersAndSettle(
  ctx: ServiceContext,
  event: EventRow,
  connection: LoadedConnection,
  orders: Order[],
  extra: Record<string, unknown> = {},
): Promise<ProcessResult> {
  if (orders.length === 0) {
    return settleOnly(ctx, event, {
      status: "ignored",
      outcome: { reason: "the channel no longer has this order", ...extra },
    });
  }
  const t = event.tenant_id;
  const ids = orders.map((o) => o.externalId);
  const results = await tenantBatch(ctx.db.http, t, (db) => {
    const statements = storeOrdersStatements(db, {
      tenantId: t,
      connectionId: connection.id,
      channel: connection.provider,
      orders,
      actor: webhookActor(event.source),
    });
    // The settle statement records what the upsert changed: the orders this transaction wrote (updated_at = now()).
    return [
      ...statements,
      db.execute(sql`
        update webhook_events
           set status = 'processed', processed_at = now(), attempts = attempts + 1, updated_at = now(),
               outcome = jsonb_build_object(
                 'orders', ${JSON.stringify(ids)}::jsonb,
                 'changed', (select coalesce(jsonb_agg(external_id), '[]'::jsonb) from orders
                              where tenant_id = ${t} and channel = ${connection.provider}
                                and external_id = any(${sql.param(ids)}::text[]) and updated_at = now())
               ) || ${JSON.stringify(extra)}::jsonb
         where tenant_id = ${t} and id = ${event.id} and status = 'received'
        returning outcome`),
    ] as const;
  });
  const [upserted, , , awaiting, settled] = results;
  const settle: Settle = {
    status: "processed",
    outcome: (settled.rows[0]?.outcome as Record<string, unknown>) ?? {},
  };
  if (upserted.rows.length < orders.length) {
    ctx.logger.info("webhook carried an update no newer than the stored order; nothing changed", {
      tenantId: t,
      webhookEventId: event.id,
      stale: orders.length - upserted.rows.length,
    });
  }
  const waiting = awaiting.rows.map((r) => r.id);
  if (connection.erpConnectionId && waiting.length > 0) {
    await enqueueOrderPushes(ctx, {
      tenantId: t,
      erpConnectionId: connection.erpConnectionId,
      orderIds: waiting,
      trigger: "webhook",
    });
  }
  return settle;
}

async function fetchOrders(adapter: ChannelAdapter, externalIds: string[]): Promise<Order[]> {
  if (!adapter.getOrders) throw new WebhookPayloadError(`${adapter.channel} cannot read orders by id`);
  const { orders, rejected } = await adapter.getOrders(externalIds);
  if (rejected.length > 0 && orders.length === 0) {
    throw new WebhookPayloadError(
      `The channel's order does not fit the order model: ${rejected[0]?.error ?? ""}`,
    );
  }
  return orders;
}

interface SkuLookup {
  getInventoryItemSkus(inventoryItemIds: readonly string[]): Promise<Map<string, string | null>>;
}

function hasSkuLookup(adapter: ChannelAdapter): adapter is ChannelAdapter & SkuLookup {
  return typeof (adapter as Partial<SkuLookup>).getInventoryItemSkus === "function";
}

async function applyShopify(
  ctx: ServiceContext,
  event: EventRow,
  connection: LoadedConnection,
): Promise<ProcessResult> {
  const body = parseShopifyWebhookBody(bodyText(event));
  const topic = event.topic;
  if (isShopifyOrderTopic(topic)) {
    const parsed = toOrderWebhook(body, connection.account);
    if (parsed.kind === "order") return storeOrdersAndSettle(ctx, event, connection, [parsed.order]);
    const orders = await fetchOrders(channelAdapterFor(ctx, connection), [parsed.externalId]);
    return storeOrdersAndSettle(ctx, event, connection, orders, { readFromChannel: parsed.reason });
  }
  switch (topic) {
    case "refunds/create": {
      const refund = toRefundWebhook(body);
      const orders = await fetchOrders(channelAdapterFor(ctx, connection), [refund.orderExternalId]);
      return storeOrdersAndSettle(ctx, event, connection, orders, { refundId: refund.refundId });
    }
    case "inventory_levels/update":
      return applyShopifyInventory(ctx, event, connection, toInventoryLevelWebhook(body));
    case "app/uninstalled":
      return applyUninstall(ctx, event, connection, toAppUninstalledWebhook(body).shopDomain);
    default:
      return settleOnly(ctx, event, {
        status: "ignored",
        outcome: { reason: `topic ${topic} is not handled` },
      });
  }
}

async function applyShopifyInventory(
  ctx: ServiceContext,
  event: EventRow,
  connection: LoadedConnection,
  level: ReturnType<typeof toInventoryLevelWebhook>,
): Promise<ProcessResult> {
  if (level.available === null) {
    return settleOnly(ctx, event, {
      status: "ignored",
      outcome: { reason: "Shopify does not track this item" },
    });
  }
  const adapter = channelAdapterFor(ctx, connection);
  if (!hasSkuLookup(adapter)) throw new WebhookPayloadError("This channel cannot look up inventory items");
  const sku =
    (await adapter.getInventoryItemSkus([level.inventoryItemId])).get(level.inventoryItemId) ?? null;
  if (sku === null) {
    return settleOnly(ctx, event, {
      status: "ignored",
      outcome: {
        reason: "the inventory item has no SKU or is untracked",
        inventoryItemId: level.inventoryItemId,
      },
    });
  }
  const t = event.tenant_id;
  const outcome = {
    sku,
    locationId: level.locationId,
    available: level.available,
    updatedAt: level.updatedAt,
  };
  await tenantBatch(ctx.db.http, t, (db) => [
    // Deliveries can arrive out of order: only a newer channel time moves the stored level.
    db.execute(sql`
      insert into inventory_levels (tenant_id, connection_id, sku, location_id, available, source_updated_at)
      values (${t}, ${connection.id}, ${sku}, ${level.locationId}, ${level.available}, ${level.updatedAt}::timestamptz)
      on conflict (tenant_id, connection_id, sku, location_id) do update set
        available = excluded.available, source_updated_at = excluded.source_updated_at, updated_at = now()
      where inventory_levels.source_updated_at < excluded.source_updated_at`),
    settleStatement(db, event, { status: "processed", outcome }),
  ]);
  return { status: "processed", outcome };
}

/** The app was uninstalled: our token is dead. Stop the connection and tell a person to reconnect. */
async function applyUninstall(
  ctx: ServiceContext,
  event: EventRow,
  connection: LoadedConnection,
  shopDomain: string,
): Promise<ProcessResult> {
  if (shopDomain !== connection.account) {
    throw new WebhookPayloadError(
      `app/uninstalled for ${shopDomain}, but this connection is ${connection.account}`,
    );
  }
  const t = event.tenant_id;
  const outcome = { connectionDisabled: true };
  await tenantBatch(ctx.db.http, t, (db) => [
    db.execute(sql`
      update connections
         set enabled = false, updated_at = now(),
             webhook_state = coalesce(webhook_state, '{}'::jsonb)
               || jsonb_build_object('status', 'uninstalled', 'syncedAt', now())
       where tenant_id = ${t} and id = ${connection.id}`),
    upsertSyncFailure(db, {
      tenantId: t,
      connectionId: connection.id,
      operation: "pull",
      fingerprint: `connection:${connection.id}:uninstalled`,
      payload: { type: "connection.uninstalled", connectionId: connection.id },
      errorKind: "auth",
      error: `The Tradewind app was uninstalled from ${shopDomain}: reinstall it, update the credentials and enable the connection`,
    }),
    settleStatement(db, event, { status: "processed", outcome }),
  ]);
  ctx.logger.warn("channel app uninstalled; connection disabled", {
    tenantId: t,
    connectionId: connection.id,
  });
  return { status: "processed", outcome };
}

/** TikTok notifications name the order; its current state is read from TikTok, then stored like a pull. */
async function applyTikTok(
  ctx: ServiceContext,
  event: EventRow,
  connection: LoadedConnection,
): Promise<ProcessResult> {
  const payload = jsonObject(bodyText(event));
  const type = payload.type;
  if (type !== TIKTOK_ORDER_STATUS_CHANGE && type !== TIKTOK_PACKAGE_UPDATE) {
    return settleOnly(ctx, event, {
      status: "ignored",
      outcome: { reason: `notification type ${String(type)} is not handled` },
    });
  }
  const data = payload.data;
  const orderIds = new Set<string>();
  if (typeof data === "object" && data !== null) {
    const fields = data as Record<string, unknown>;
    for (const candidate of [fields.order_id, ...(Array.isArray(fields.order_ids) ? fields.order_ids : [])]) {
      if ((typeof candidate === "string" && /^\d{1,32}$/.test(candidate)) || typeof candidate === "number") {
        orderIds.add(String(candidate));
      }
    }
  }
  if (orderIds.size === 0) throw new WebhookPayloadError("Notification names no order (`data.order_id`)");
  const orders = await fetchOrders(channelAdapterFor(ctx, connection), [...orderIds]);
  return storeOrdersAndSettle(ctx, event, connection, orders, { notificationType: type });
}

/** 17track: the parcel's latest state, newer carrier events win. */
async function applyParcelUpdate(ctx: ServiceContext, event: EventRow): Promise<ProcessResult> {
  const update = trackingUpdateOf(jsonObject(bodyText(event)));
  if (update === null) {
    return settleOnly(ctx, event, {
      status: "ignored",
      outcome: { reason: `17track event ${event.topic} is not handled` },
    });
  }
  const t = event.tenant_id;
  const outcome = { trackingNumber: update.trackingNumber, status: update.status, stopped: update.stopped };
  await tenantBatch(ctx.db.http, t, (db) => [
    upsertParcelState(db, t, update, event.id),
    settleStatement(db, event, { status: "processed", outcome }),
  ]);
  return { status: "processed", outcome };
}

/**
 * Standard Webhooks deliveries from partners: the envelope (`type`, `timestamp`, `data`) is checked and the
 * event kept for the tenant's own consumers (GET /webhooks/events); no built-in action is taken.
 */
async function applyGeneric(ctx: ServiceContext, event: EventRow): Promise<ProcessResult> {
  const payload = jsonObject(bodyText(event));
  if (typeof payload.type !== "string" || payload.type === "") {
    throw new WebhookPayloadError("Standard Webhooks payload has no `type`");
  }
  if (typeof payload.data !== "object" || payload.data === null) {
    throw new WebhookPayloadError("Standard Webhooks payload has no `data` object");
  }
  return settleOnly(ctx, event, { status: "processed", outcome: { type: payload.type, recorded: true } });
}
