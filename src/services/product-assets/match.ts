import type { OrderLine } from "../../domain/commerce";

/**
 * Which stored picture belongs beside an order line. Pure, so the rules are tested on their own:
 *
 * 1. the same store's asset for the line's variant (the exact thing sold: the black tee, not the white);
 * 2. else the same store's asset with the line's SKU (a variant re-created since, same SKU);
 * 3. else any store's asset with that SKU (a product sold on TikTok and pictured only in Shopify);
 * the newest source among equals. SKUs compare case-insensitively, trimmed; a line without either finds none.
 */

export interface ProductImageView {
  url: string;
  alt: string | null;
  width: number | null;
  height: number | null;
}

export interface ProductAssetView {
  id: string;
  connectionId: string;
  externalProductId: string;
  externalVariantId: string;
  sku: string | null;
  title: string;
  variantTitle: string | null;
  imageUrl: string;
  imageAlt: string | null;
  width: number | null;
  height: number | null;
  images: ProductImageView[];
  /** The channel's last change of the product or variant. */
  sourceUpdatedAt: string;
  updatedAt: string;
}

export type AssetMatch = "variant" | "sku" | "sku_other_store";

export interface LineAsset {
  externalLineId: string;
  sku: string | null;
  variantExternalId: string | null;
  productExternalId: string | null;
  title: string;
  variantTitle: string | null;
  quantity: number;
  /** The picture for this line, and how it was found; null when none is stored. */
  asset: ProductAssetView | null;
  matchedBy: AssetMatch | null;
}

const skuKey = (sku: string | null | undefined) => {
  const trimmed = sku?.trim().toLowerCase() ?? "";
  return trimmed === "" ? null : trimmed;
};

function newest(assets: readonly ProductAssetView[]): ProductAssetView | null {
  let best: ProductAssetView | null = null;
  for (const asset of assets) {
    if (best === null || Date.parse(asset.sourceUpdatedAt) > Date.parse(best.sourceUpdatedAt)) best = asset;
  }
  return best;
}

export function matchLineAsset(
  line: Pick<OrderLine, "sku" | "variantExternalId">,
  connectionId: string,
  assets: readonly ProductAssetView[],
): { asset: ProductAssetView; matchedBy: AssetMatch } | null {
  if (line.variantExternalId !== null) {
    const exact = newest(
      assets.filter((a) => a.connectionId === connectionId && a.externalVariantId === line.variantExternalId),
    );
    if (exact !== null) return { asset: exact, matchedBy: "variant" };
  }
  const sku = skuKey(line.sku);
  if (sku === null) return null;
  const sameSku = assets.filter((a) => skuKey(a.sku) === sku);
  const here = newest(sameSku.filter((a) => a.connectionId === connectionId));
  if (here !== null) return { asset: here, matchedBy: "sku" };
  const elsewhere = newest(sameSku);
  return elsewhere === null ? null : { asset: elsewhere, matchedBy: "sku_other_store" };
}

/** Every line of an order with its picture (or null). */
export function assetsForLines(
  lines: readonly OrderLine[],
  connectionId: string,
  assets: readonly ProductAssetView[],
): LineAsset[] {
  return lines.map((line) => {
    const match = matchLineAsset(line, connectionId, assets);
    return {
      externalLineId: line.externalLineId,
      sku: line.sku,
      variantExternalId: line.variantExternalId,
      productExternalId: line.productExternalId,
      title: line.title,
      variantTitle: line.variantTitle,
      quantity: line.quantity,
      asset: match?.asset ?? null,
      matchedBy: match?.matchedBy ?? null,
    };
  });
}
