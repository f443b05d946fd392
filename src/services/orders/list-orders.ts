import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { OrderStatus } from "../../domain/order-state";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { escapeLike } from "../users/list-users";
import { ORDER_SUMMARY_COLUMNS, type OrderSummary, type OrderSummaryRow, toOrderSummary } from "./order-view";
import { type TimeRange, timeRangeFilters } from "./time-range";

export const ORDER_SORTS = ["-placedAt", "placedAt", "-updatedAt", "updatedAt"] as const;
export type OrderSort = (typeof ORDER_SORTS)[number];

export interface ListOrdersInput {
  page: number;
  pageSize: number;
  status?: OrderStatus[] | undefined;
  channel?: string | undefined;
  connectionId?: string | undefined;
  storeId?: string | undefined;
  placed?: TimeRange | undefined;
  search?: string | undefined;
  sort?: OrderSort | undefined;
}

const ORDER: Record<OrderSort, SQL> = {
  "-placedAt": sql`o.placed_at desc, o.id desc`,
  placedAt: sql`o.placed_at asc, o.id asc`,
  "-updatedAt": sql`o.updated_at desc, o.id desc`,
  updatedAt: sql`o.updated_at asc, o.id asc`,
};

/**
 * A page of the tenant's orders, newest placed first by default. One round trip: the page and the total
 * are two statements of one batch. `search` is a case-insensitive substring of the order number or the
 * customer's email, name or phone, matched on `search_text` (trigram index `orders_search_trgm_idx`).
 */
export async function listOrders({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListOrdersInput;
}): Promise<Page<OrderSummary>> {
  const t = callerOf(ctx).tenantId;
  const filters: SQL[] = [sql`o.tenant_id = ${t}`];
  if (input.status && input.status.length > 0) {
    filters.push(sql`o.status = any(${sql.param([...new Set(input.status)])}::text[])`);
  }
  if (input.channel !== undefined) filters.push(sql`o.channel = ${input.channel}`);
  if (input.connectionId !== undefined) filters.push(sql`o.connection_id = ${input.connectionId}`);
  if (input.storeId !== undefined) filters.push(sql`o.store_id = ${input.storeId}`);
  if (input.placed) filters.push(...timeRangeFilters(sql`o.placed_at`, input.placed));
  const search = input.search?.trim();
  if (search) filters.push(sql`o.search_text ilike ${`%${escapeLike(search)}%`}`);
  const where = sql.join(filters, sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<OrderSummaryRow>(sql`
      select ${ORDER_SUMMARY_COLUMNS} from orders o
       where ${where}
       order by ${ORDER[input.sort ?? "-placedAt"]}
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: string }>(sql`select count(*)::text as total from orders o where ${where}`),
  ]);
  return toPage(items.rows.map(toOrderSummary), count.rows[0]?.total, input);
}
