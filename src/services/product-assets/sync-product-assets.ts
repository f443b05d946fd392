import { sql } from "drizzle-orm";
import type { ProductAssetsPage, VariantAsset } from "../../adapters/channels/interface";
import { tenantBatch } from "../../db/tenant";
import { PreconditionFailedError, UpstreamError, ValidationError } from "../../lib/errors";
import { loadConnectionForSync } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import { channelAdapterFor } from "../sync/adapters";
import { callerOf } from "../users/caller";

/** Products asked per page (the adapter lowers it to what the channel's cost or page limits allow). */
const PAGE_SIZE = 10;
/** One call reads at most this many pages, then hands back a cursor to continue from. */
export const MAX_PAGES_PER_SYNC = 10;
/** …and stops starting new pages after this long: a request must answer well inside the Worker's limits. */
const SYNC_BUDGET_MS = 20_000;
/** Rejected products reported back (the count is always complete). */
const MAX_REPORTED_REJECTIONS = 20;

export interface ProductAssetSyncResult {
  connectionId: string;
  pages: number;
  /** Variants seen, and what storing them did. */
  variants: number;
  created: number;
  updated: number;
  /** Already stored with the same or a newer source time. */
  unchanged: number;
  /** Variants with no picture at all (nothing to show, so nothing stored). */
  withoutImage: number;
  /** Stored pictures deleted: their variant has none at the store any more (by a newer source time). */
  removed: number;
  rejected: { count: number; items: ProductAssetsPage["rejected"] };
  /** Pass back as `cursor` to continue; null when the catalogue was read to its end. */
  nextCursor: string | null;
  done: boolean;
}

/** The newest asset per variant (a page repeating a variant must not upsert one row twice). */
function byVariant(assets: readonly VariantAsset[]): VariantAsset[] {
  const latest = new Map<string, VariantAsset>();
  for (const asset of assets) {
    const known = latest.get(asset.variantExternalId);
    if (known === undefined || Date.parse(asset.updatedAt) > Date.parse(known.updatedAt)) {
      latest.set(asset.variantExternalId, asset);
    }
  }
  return [...latest.values()];
}

/**
 * Reads a store's catalogue — every variant with its pictures — and stores one asset per variant
 * (`product_assets`, upserted by (tenant, connection, variant); the newer source time wins, an equal or
 * older one changes nothing). Bounded: at most `maxPages` (≤ `MAX_PAGES_PER_SYNC`) pages or ~20 s per call, each page
 * stored in one transaction; `nextCursor` continues where it stopped (from the start when omitted).
 * Channel calls go through the account's rate governor like the pulls; their failures are `UpstreamError`s.
 */
export async function syncProductAssets({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { connectionId: string; cursor?: string | null; maxPages?: number };
}): Promise<ProductAssetSyncResult> {
  const tenantId = callerOf(ctx).tenantId;
  const connection = await loadConnectionForSync({
    ctx,
    input: { tenantId, connectionId: input.connectionId },
  });
  if (connection.kind !== "channel") {
    throw new PreconditionFailedError("Product pictures come from a store: this connection is not one", {
      details: { connectionId: connection.id, kind: connection.kind },
    });
  }
  if (!connection.enabled) {
    throw new PreconditionFailedError("The store is disabled: enable it to read its products", {
      details: { connectionId: connection.id },
    });
  }
  const adapter = channelAdapterFor(ctx, connection);
  if (adapter.listProductAssets === undefined) {
    throw new PreconditionFailedError(
      `Reading product pictures from ${connection.provider} is not supported`,
      {
        details: { connectionId: connection.id, provider: connection.provider },
      },
    );
  }

  const result: ProductAssetSyncResult = {
    connectionId: connection.id,
    pages: 0,
    variants: 0,
    created: 0,
    updated: 0,
    unchanged: 0,
    withoutImage: 0,
    removed: 0,
    rejected: { count: 0, items: [] },
    nextCursor: input.cursor ?? null,
    done: false,
  };
  const started = Date.now();
  const maxPages = Math.max(
    1,
    Math.min(MAX_PAGES_PER_SYNC, Math.floor(input.maxPages ?? MAX_PAGES_PER_SYNC)),
  );
  let cursor = input.cursor ?? null;
  for (;;) {
    const page = await adapter.listProductAssets({ cursor, pageSize: PAGE_SIZE }).catch((error: unknown) => {
      // A cursor the store refuses outright is the caller's (not one this store gave, or expired): 422.
      if (
        result.pages === 0 &&
        cursor !== null &&
        error instanceof UpstreamError &&
        error.kind === "permanent"
      ) {
        throw new ValidationError("The store did not accept the cursor", {
          cursor: ["Pass back the nextCursor of this store's previous sync, or omit it to start over"],
        });
      }
      throw error;
    });
    const assets = byVariant(page.assets);
    const pictured = assets.filter((asset) => asset.image !== null);
    result.variants += assets.length;
    result.withoutImage += assets.length - pictured.length;
    result.rejected.count += page.rejected.length;
    result.rejected.items.push(
      ...page.rejected.slice(0, MAX_REPORTED_REJECTIONS - result.rejected.items.length),
    );
    if (assets.length > 0) {
      const stored = await storeAssets(ctx, tenantId, connection.id, assets);
      result.created += stored.created;
      result.updated += stored.updated;
      result.removed += stored.removed;
      result.unchanged += pictured.length - stored.created - stored.updated;
    }
    result.pages += 1;
    cursor = page.nextCursor;
    if (cursor === null || result.pages >= maxPages || Date.now() - started > SYNC_BUDGET_MS) break;
  }
  result.nextCursor = cursor;
  result.done = cursor === null;
  ctx.logger.info("product assets synced", {
    connectionId: connection.id,
    pages: result.pages,
    created: result.created,
    updated: result.updated,
    done: result.done,
  });
  return result;
}

/**
 * One page's assets in one round trip and one transaction: pictured variants upserted (a newer source time
 * wins), and the stored picture of a variant that has none any more deleted — by the same rule, so an older
 * read never takes away a picture a newer one stored.
 */
async function storeAssets(
  ctx: ServiceContext,
  tenantId: string,
  connectionId: string,
  assets: readonly VariantAsset[],
): Promise<{ created: number; updated: number; removed: number }> {
  const rows = assets.flatMap((asset) =>
    asset.image === null
      ? []
      : [
          {
            external_product_id: asset.productExternalId,
            external_variant_id: asset.variantExternalId,
            sku: asset.sku,
            title: asset.title,
            variant_title: asset.variantTitle,
            image_url: asset.image.url,
            image_alt: asset.image.alt,
            width: asset.image.width,
            height: asset.image.height,
            images: asset.images,
            source_updated_at: asset.updatedAt,
          },
        ],
  );
  const unpictured = assets
    .filter((asset) => asset.image === null)
    .map((asset) => ({ external_variant_id: asset.variantExternalId, source_updated_at: asset.updatedAt }));
  const [written, deleted] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{ inserted: boolean }>(sql`
      insert into product_assets (tenant_id, connection_id, external_product_id, external_variant_id, sku, title,
                                  variant_title, image_url, image_alt, width, height, images, source_updated_at)
      select ${tenantId}, ${connectionId}, x.external_product_id, x.external_variant_id, x.sku, x.title,
             x.variant_title, x.image_url, x.image_alt, x.width, x.height, coalesce(x.images, '[]'::jsonb),
             x.source_updated_at
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as x(
               external_product_id text, external_variant_id text, sku text, title text, variant_title text,
               image_url text, image_alt text, width integer, height integer, images jsonb,
               source_updated_at timestamptz)
      on conflict (tenant_id, connection_id, external_variant_id) do update set
        external_product_id = excluded.external_product_id,
        sku = excluded.sku,
        title = excluded.title,
        variant_title = excluded.variant_title,
        image_url = excluded.image_url,
        image_alt = excluded.image_alt,
        width = excluded.width,
        height = excluded.height,
        images = excluded.images,
        source_updated_at = excluded.source_updated_at,
        updated_at = now()
      where product_assets.source_updated_at < excluded.source_updated_at
      returning (xmax = 0) as inserted`),
    db.execute<{ id: string }>(sql`
      delete from product_assets a
       using jsonb_to_recordset(${JSON.stringify(unpictured)}::jsonb)
             as x(external_variant_id text, source_updated_at timestamptz)
       where a.tenant_id = ${tenantId} and a.connection_id = ${connectionId}
         and a.external_variant_id = x.external_variant_id and a.source_updated_at < x.source_updated_at
      returning a.id`),
  ]);
  const created = written.rows.filter(
    (row) => row.inserted === true || String(row.inserted) === "true",
  ).length;
  return { created, updated: written.rows.length - created, removed: deleted.rows.length };
}
