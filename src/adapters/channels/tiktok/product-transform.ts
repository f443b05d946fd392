import type { ProductImage, VariantAsset } from "../interface";
import type { TikTokImage, TikTokProduct } from "./types";

/**
 * Pure mapping of a TikTok Shop product (Get Product, 202309) into one `VariantAsset` per SKU. The SKU id
 * is the variant id order lines carry (`OrderLine.variantExternalId` = `sku_id`).
 *
 * Which picture: the SKU's own (the `sku_img` of its sales attributes, e.g. the "Sage Green" swatch
 * photo), else the product's first main image. TikTok lists several URLs per image (CDN mirrors): the
 * first is used.
 */

const blank = (value: string | undefined): string | null => {
  const trimmed = value?.trim() ?? "";
  return trimmed === "" ? null : trimmed;
};

export function imageOf(image: TikTokImage | undefined): ProductImage | null {
  const url = image?.urls?.find((candidate) => /^https?:\/\//i.test(candidate));
  if (image === undefined || url === undefined) return null;
  return {
    url,
    alt: null,
    width: image.width !== undefined && image.width > 0 ? image.width : null,
    height: image.height !== undefined && image.height > 0 ? image.height : null,
  };
}

function distinct(images: (ProductImage | null)[]): ProductImage[] {
  const seen = new Set<string>();
  const out: ProductImage[] = [];
  for (const image of images) {
    if (image === null || seen.has(image.url)) continue;
    seen.add(image.url);
    out.push(image);
  }
  return out;
}

export function toTikTokVariantAssets(product: TikTokProduct): VariantAsset[] {
  const productImages = distinct((product.main_images ?? []).map(imageOf));
  // A product's last change; a product never edited carries only its creation time.
  const changed = product.update_time ?? product.create_time ?? 0;
  const updatedAt = new Date(changed * 1000).toISOString();
  return (product.skus ?? []).map((sku) => {
    const attributes = sku.sales_attributes ?? [];
    const own = distinct(attributes.map((attribute) => imageOf(attribute.sku_img)));
    const images = distinct([...own, ...productImages]);
    const values = attributes
      .map((attribute) => blank(attribute.value_name))
      .filter((value): value is string => value !== null);
    return {
      productExternalId: product.id,
      variantExternalId: sku.id,
      sku: blank(sku.seller_sku),
      title: blank(product.title) ?? `TikTok product ${product.id}`,
      variantTitle: values.length === 0 ? null : values.join(" / "),
      image: images[0] ?? null,
      images,
      updatedAt,
    };
  });
}
