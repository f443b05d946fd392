import type { ProductImage, VariantAsset } from "../interface";
import { distinctImages, productImage, textOrNull } from "../product-images";
import type { TikTokImage, TikTokProduct } from "./types";

/**
 * Pure mapping of a TikTok Shop product (Get Product, 202309) into one `VariantAsset` per SKU. The SKU id
 * is the variant id order lines carry (`OrderLine.variantExternalId` = `sku_id`).
 *
 * Which picture: the SKU's own (the `sku_img` of its sales attributes, e.g. the "Sage Green" swatch
 * photo), else the product's first main image. TikTok lists several URLs per image (CDN mirrors): the
 * first is used.
 */

/** The first of an image's CDN addresses that is a web address (TikTok keeps no alt text). */
export function imageOf(image: TikTokImage | undefined): ProductImage | null {
  if (image === undefined) return null;
  const url = image.urls?.find((candidate) => /^https?:\/\//i.test(candidate));
  return productImage({ url, alt: null, width: image.width, height: image.height });
}

export function toTikTokVariantAssets(product: TikTokProduct): VariantAsset[] {
  const productImages = distinctImages((product.main_images ?? []).map(imageOf));
  // A product's last change; a product never edited carries only its creation time.
  const changed = product.update_time ?? product.create_time ?? 0;
  const updatedAt = new Date(changed * 1000).toISOString();
  return (product.skus ?? []).map((sku) => {
    const attributes = sku.sales_attributes ?? [];
    const own = distinctImages(attributes.map((attribute) => imageOf(attribute.sku_img)));
    const images = distinctImages([...own, ...productImages]);
    const values = attributes
      .map((attribute) => textOrNull(attribute.value_name))
      .filter((value): value is string => value !== null);
    return {
      productExternalId: product.id,
      variantExternalId: sku.id,
      sku: textOrNull(sku.seller_sku),
      title: textOrNull(product.title) ?? `TikTok product ${product.id}`,
      variantTitle: values.length === 0 ? null : values.join(" / "),
      image: images[0] ?? null,
      images,
      updatedAt,
    };
  });
}
