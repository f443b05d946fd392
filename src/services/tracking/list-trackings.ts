import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, type PageRequest, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import {
  PARCEL_COLUMNS,
  PARCEL_STATUS_SQL,
  type ParcelRow,
  type ParcelStatus,
  type ParcelSummary,
  toParcelSummary,
  trackingTenantOf,
} from "./tracking-view";

/**
 * The tenant's parcels — every number it registered and every parcel 17track pushed to it — most recently
 * changed first, page/offset (`{ items, total, page, pageSize, totalPages }`: a support team pages through a
 * filtered status, e.g. every `Exception`). Items leave out the events timeline (GET one parcel for it).
 * One round trip: the count and the page in one batch.
 */
export async function listTrackings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: PageRequest & { status?: ParcelStatus[] | undefined; orderId?: string | undefined };
}): Promise<Page<ParcelSummary>> {
  const t = trackingTenantOf(ctx, "tracking:read");
  const filters: SQL[] = [sql`true`];
  if (input.status && input.status.length > 0) {
    filters.push(sql`${PARCEL_STATUS_SQL} = any(${sql.param(input.status)}::text[])`);
  }
  if (input.orderId) filters.push(sql`r.order_id = ${input.orderId}`);
  const from = sql`
    from (select * from parcel_registrations where tenant_id = ${t}) r
    full join (select * from parcel_trackings where tenant_id = ${t}) p on p.tracking_number = r.tracking_number
   where ${sql.join(filters, sql` and `)}`;
  const [count, page] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ total: number }>(sql`select count(*)::int as total ${from}`),
    db.execute<ParcelRow>(sql`
      select ${PARCEL_COLUMNS} ${from}
       order by greatest(p.updated_at, r.updated_at) desc, coalesce(r.tracking_number, p.tracking_number)
       limit ${input.pageSize} offset ${offsetOf(input)}`),
  ]);
  return toPage(page.rows.map(toParcelSummary), count.rows[0]?.total, input);
}
