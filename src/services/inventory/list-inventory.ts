import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { callerOf, isoOf } from "../users/caller";
import { escapeLike } from "../users/list-users";

export interface ListInventoryInput {
  page: number;
  pageSize: number;
  connectionId?: string | undefined;
  /** Exactly this SKU (case-sensitive, as channels and ERPs compare them). */
  sku?: string | undefined;
  /** SKUs starting with this text (case-sensitive). */
  skuPrefix?: string | undefined;
  locationId?: string | undefined;
}

/** One SKU's stock at one location of one channel connection, as last pulled. */
export interface InventoryLevelView {
  connectionId: string;
  channel: string;
  storeId: string;
  sku: string;
  locationId: string;
  available: number;
  /** The channel's own time of this quantity. */
  sourceUpdatedAt: string;
  /** When Tradewind last saw the level change. */
  updatedAt: string;
}

interface InventoryLevelRow extends Record<string, unknown> {
  connection_id: string;
  channel: string;
  store_id: string;
  sku: string;
  location_id: string;
  available: number | string;
  source_updated_at: string | Date;
  updated_at: string | Date;
}

/**
 * A page of the tenant's inventory levels, by SKU then location. One round trip: the page and the total
 * are two statements of one batch. Filters combine (AND).
 */
export async function listInventory({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListInventoryInput;
}): Promise<Page<InventoryLevelView>> {
  const t = callerOf(ctx).tenantId;
  const filters: SQL[] = [sql`il.tenant_id = ${t}`];
  if (input.connectionId !== undefined) filters.push(sql`il.connection_id = ${input.connectionId}`);
  if (input.sku !== undefined) filters.push(sql`il.sku = ${input.sku}`);
  if (input.skuPrefix !== undefined) filters.push(sql`il.sku like ${`${escapeLike(input.skuPrefix)}%`}`);
  if (input.locationId !== undefined) filters.push(sql`il.location_id = ${input.locationId}`);
  const where = sql.join(filters, sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<InventoryLevelRow>(sql`
      select il.connection_id, c.provider as channel, c.account as store_id, il.sku, il.location_id,
             il.available, il.source_updated_at, il.updated_at
        from inventory_levels il
        join connections c on c.tenant_id = il.tenant_id and c.id = il.connection_id
       where ${where}
       order by il.sku, il.location_id, il.connection_id
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: string }>(
      sql`select count(*)::text as total from inventory_levels il where ${where}`,
    ),
  ]);
  return toPage(items.rows.map(toInventoryLevelView), count.rows[0]?.total, input);
}

function toInventoryLevelView(row: InventoryLevelRow): InventoryLevelView {
  return {
    connectionId: row.connection_id,
    channel: row.channel,
    storeId: row.store_id,
    sku: row.sku,
    locationId: row.location_id,
    available: Number(row.available),
    sourceUpdatedAt: isoOf(row.source_updated_at),
    updatedAt: isoOf(row.updated_at),
  };
}
