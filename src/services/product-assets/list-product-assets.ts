import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { ASSET_COLUMNS, type AssetRow, toAssetView } from "./asset-view";
import type { ProductAssetView } from "./match";

/** A SKU sold in several stores has an asset per store and variant; more than this is not one SKU. */
const MAX_ASSETS = 100;

/**
 * The stored pictures of a SKU (case-insensitive), every store's, newest source first; optionally of one
 * store only. One round trip (index `product_assets_sku_idx`).
 */
export async function listProductAssets({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sku: string; connectionId?: string | undefined };
}): Promise<{ items: ProductAssetView[] }> {
  const tenantId = callerOf(ctx).tenantId;
  const filters: SQL[] = [
    sql`a.tenant_id = ${tenantId}`,
    sql`lower(a.sku) = ${input.sku.trim().toLowerCase()}`,
  ];
  if (input.connectionId !== undefined) filters.push(sql`a.connection_id = ${input.connectionId}`);
  const [rows] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<AssetRow>(sql`
      select ${ASSET_COLUMNS} from product_assets a
       where ${sql.join(filters, sql` and `)}
       order by a.source_updated_at desc, a.id
       limit ${MAX_ASSETS}`),
  ]);
  return { items: rows.rows.map(toAssetView) };
}
