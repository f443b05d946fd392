import { sql } from "drizzle-orm";
import { isoOf } from "../users/caller";
import type { ProductAssetView, ProductImageView } from "./match";

/** The columns of `product_assets` (alias `a`) every read selects. */
export const ASSET_COLUMNS = sql.raw(
  "a.id, a.connection_id, a.external_product_id, a.external_variant_id, a.sku, a.title, a.variant_title, " +
    "a.image_url, a.image_alt, a.width, a.height, a.images, a.source_updated_at, a.updated_at",
);

export interface AssetRow extends Record<string, unknown> {
  id: string;
  connection_id: string;
  external_product_id: string;
  external_variant_id: string;
  sku: string | null;
  title: string;
  variant_title: string | null;
  image_url: string;
  image_alt: string | null;
  width: number | string | null;
  height: number | string | null;
  images: unknown;
  source_updated_at: string | Date;
  updated_at: string | Date;
}

const dimension = (value: unknown): number | null => {
  const n = typeof value === "string" ? Number(value) : value;
  return typeof n === "number" && Number.isInteger(n) && n > 0 ? n : null;
};

function imagesOf(raw: unknown): ProductImageView[] {
  const list = typeof raw === "string" ? (JSON.parse(raw) as unknown) : raw;
  if (!Array.isArray(list)) return [];
  return list.flatMap((item) => {
    if (typeof item !== "object" || item === null) return [];
    const image = item as Record<string, unknown>;
    if (typeof image.url !== "string") return [];
    return [
      {
        url: image.url,
        alt: typeof image.alt === "string" ? image.alt : null,
        width: dimension(image.width),
        height: dimension(image.height),
      },
    ];
  });
}

export function toAssetView(row: AssetRow): ProductAssetView {
  return {
    id: row.id,
    connectionId: row.connection_id,
    externalProductId: row.external_product_id,
    externalVariantId: row.external_variant_id,
    sku: row.sku,
    title: row.title,
    variantTitle: row.variant_title,
    imageUrl: row.image_url,
    imageAlt: row.image_alt,
    width: dimension(row.width),
    height: dimension(row.height),
    images: imagesOf(row.images),
    sourceUpdatedAt: isoOf(row.source_updated_at),
    updatedAt: isoOf(row.updated_at),
  };
}
