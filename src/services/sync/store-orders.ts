import { sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";
import type { Order } from "../../domain/commerce";
import type { Actor } from "../context";

/** What people search orders by: number, customer email, name, phone (lower-cased, trigram-indexed). */
export function orderSearchText(order: Order): string {
  return [
    order.externalNumber,
    order.customer.email,
    order.customer.name,
    order.customer.phone,
    order.shippingAddress?.name,
    order.shippingAddress?.phone,
  ]
    .filter((part): part is string => typeof part === "string" && part !== "")
    .join(" ")
    .toLowerCase()
    .slice(0, 2000);
}

export interface StoreOrdersInput {
  tenantId: string;
  connectionId: string;
  channel: string;
  orders: Order[];
  actor: Actor;
}

/**
 * The statements that store one page of channel orders, for one batch (one round trip, one transaction):
 *
 * 1. upsert by (tenant, channel, external id); an update only wins when the channel's `updatedAt` is newer
 *    (an older or equal one is a stale or repeated delivery and changes nothing);
 * 2. record `→ created` for the orders this transaction inserted;
 * 3. cancel the orders the channel cancelled (from any state that has not shipped), recorded too;
 * 4. return the orders of this page that now wait for the ERP (inserted or changed, still `created`).
 *
 * Rows written by this transaction are recognised by `updated_at = now()`: `now()` is the transaction's
 * start time in every statement of the batch, so no id has to travel between statements.
 */
export function storeOrdersStatements(db: HttpDb, input: StoreOrdersInput) {
  const { tenantId: t, connectionId, channel } = input;
  const rows = input.orders.map((order) => ({
    store_id: order.storeId,
    external_id: order.externalId,
    external_number: order.externalNumber,
    currency: order.currency,
    total_minor: order.totalMinor,
    customer_email: order.customer.email,
    customer_name: order.customer.name,
    search_text: orderSearchText(order),
    data: order,
    placed_at: order.placedAt,
    channel_updated_at: order.updatedAt,
  }));
  const externalIds = input.orders.map((order) => order.externalId);
  const actor = JSON.stringify(input.actor);
  return [
    db.execute<{ id: string }>(sql`
      insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                          total_minor, customer_email, customer_name, search_text, data, placed_at, channel_updated_at)
      select ${t}, ${connectionId}, ${channel}, x.store_id, x.external_id, x.external_number, x.currency,
             x.total_minor, x.customer_email, x.customer_name, x.search_text, x.data, x.placed_at, x.channel_updated_at
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(
               store_id text, external_id text, external_number text, currency text, total_minor bigint,
               customer_email text, customer_name text, search_text text, data jsonb, placed_at timestamptz,
               channel_updated_at timestamptz)
      on conflict (tenant_id, channel, external_id) do update set
        connection_id = excluded.connection_id,
        store_id = excluded.store_id,
        external_number = excluded.external_number,
        currency = excluded.currency,
        total_minor = excluded.total_minor,
        customer_email = excluded.customer_email,
        customer_name = excluded.customer_name,
        search_text = excluded.search_text,
        data = excluded.data,
        placed_at = excluded.placed_at,
        channel_updated_at = excluded.channel_updated_at,
        version = orders.version + 1,
        updated_at = now()
      where orders.channel_updated_at < excluded.channel_updated_at
      returning id`),
    db.execute(sql`
      insert into order_transitions (tenant_id, order_id, from_status, to_status, actor, reason)
      select tenant_id, id, null, 'created', ${actor}::jsonb, ${`received from ${channel}`}
        from orders
       where tenant_id = ${t} and channel = ${channel} and external_id = any(${sql.param(externalIds)}::text[])
         and created_at = now()`),
    db.execute(sql`
      with cancelled as (
        select id, status from orders
         where tenant_id = ${t} and channel = ${channel} and external_id = any(${sql.param(externalIds)}::text[])
           and updated_at = now() and data->>'cancelledAt' is not null
           and status in ('created', 'synced', 'on_hold', 'failed')
           for update
      ), moved as (
        update orders o set status = 'cancelled' from cancelled
         where o.tenant_id = ${t} and o.id = cancelled.id
        returning o.id, cancelled.status as from_status
      )
      insert into order_transitions (tenant_id, order_id, from_status, to_status, actor, reason)
      select ${t}, id, from_status, 'cancelled', ${actor}::jsonb, ${`cancelled in ${channel}`} from moved`),
    db.execute<{ id: string }>(sql`
      select id from orders
       where tenant_id = ${t} and channel = ${channel} and external_id = any(${sql.param(externalIds)}::text[])
         and updated_at = now() and status = 'created'`),
  ] as const;
}
