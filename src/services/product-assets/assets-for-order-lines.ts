import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { Order } from "../../domain/commerce";
import { UnauthorizedError, ValidationError } from "../../lib/errors";
import { isUuid } from "../../lib/ids";
import type { ServiceContext } from "../context";
import { ASSET_COLUMNS, type AssetRow, toAssetView } from "./asset-view";
import { assetsForLines, type LineAsset } from "./match";

/** Orders per call: a ticket or a chat links a few. */
export const MAX_ORDERS_PER_ASSET_LOOKUP = 50;
/** Candidate assets read per call (variant and SKU matches of every line). */
const MAX_CANDIDATES = 1000;

export interface OrderLineAssets {
  orderId: string;
  connectionId: string;
  externalNumber: string;
  lines: LineAsset[];
}

interface OrderRow extends Record<string, unknown> {
  id: string;
  connection_id: string;
  data: unknown;
}

/**
 * The picture for every line of the given orders (by the line's variant, else its SKU: see
 * `matchLineAsset`), for the ticket view and the chat bot. Orders the tenant does not have are left out.
 * One round trip: the orders and every candidate asset are two statements of one batch. Acts for
 * `ctx.tenantId` (authentication, or the bot's session).
 */
export async function assetsForOrderLines({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { orderIds: readonly string[] };
}): Promise<OrderLineAssets[]> {
  const tenantId = ctx.tenantId;
  if (tenantId === undefined) throw new UnauthorizedError("Authentication required");
  const orderIds = [...new Set(input.orderIds.map((id) => id.toLowerCase()))];
  if (orderIds.length > MAX_ORDERS_PER_ASSET_LOOKUP) {
    throw new ValidationError("Too many orders", { orderIds: [`At most ${MAX_ORDERS_PER_ASSET_LOOKUP}`] });
  }
  if (orderIds.some((id) => !isUuid(id))) {
    throw new ValidationError("Invalid order id", { orderIds: ["Every id must be a UUID"] });
  }
  if (orderIds.length === 0) return [];
  const ids = sql.param(orderIds);
  const [orders, candidates] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<OrderRow>(sql`
      select o.id, o.connection_id, o.data from orders o
       where o.tenant_id = ${tenantId} and o.id = any(${ids}::uuid[])`),
    db.execute<AssetRow>(sql`
      with wanted as (
        select o.connection_id, l->>'variantExternalId' as variant_id, lower(trim(l->>'sku')) as sku
          from orders o cross join lateral jsonb_array_elements(o.data->'lines') l
         where o.tenant_id = ${tenantId} and o.id = any(${ids}::uuid[])
      )
      -- Two index lookups (the variant key, and lower(sku)), never a scan of the tenant's catalogue; past the
      -- cap, the lines' exact variants are kept before other pictures of their SKUs.
      select ${ASSET_COLUMNS} from (
        select distinct on (c.id) c.* from (
          select a.*, true as exact from product_assets a
            join wanted w on w.connection_id = a.connection_id and w.variant_id = a.external_variant_id
           where a.tenant_id = ${tenantId}
          union all
          select a.*, false as exact from product_assets a
           where a.tenant_id = ${tenantId}
             and lower(a.sku) in (select w.sku from wanted w where w.sku is not null and w.sku <> '')
        ) c
        order by c.id, c.exact desc
      ) a
       order by a.exact desc, a.source_updated_at desc, a.id
       limit ${MAX_CANDIDATES}`),
  ]);
  const assets = candidates.rows.map(toAssetView);
  const byId = new Map(orders.rows.map((row) => [row.id, row]));
  const out: OrderLineAssets[] = [];
  for (const id of orderIds) {
    const row = byId.get(id);
    if (row === undefined) continue;
    const order = Order.safeParse(typeof row.data === "string" ? JSON.parse(row.data) : row.data);
    if (!order.success) continue;
    out.push({
      orderId: row.id,
      connectionId: row.connection_id,
      externalNumber: order.data.externalNumber,
      lines: assetsForLines(order.data.lines, row.connection_id, assets),
    });
  }
  return out;
}
