import type { ProductImage, VariantAsset } from "../interface";
import { distinctImages, productImage, textOrNull } from "../product-images";
import type { ShopifyMediaNode, ShopifyProduct } from "./types";

/**
 * Pure mapping of Shopify products (media and variants gathered) into one `VariantAsset` per variant.
 *
 * Which picture: the variant's own (its first media) when it has one — the black tee must not show the
 * white one — else the product's featured media, else its first picture. Only images count: videos and
 * 3D models have no `image`, and an image still processing has `image: null` until Shopify is done.
 */

/** Shopify names the only variant of a product without options "Default Title": no variant to speak of. */
const DEFAULT_VARIANT_TITLE = "Default Title";

/** The picture of one media node, or null when it is not a (ready) image with a web address. */
export function imageOfMedia(media: ShopifyMediaNode | null | undefined): ProductImage | null {
  const image = media?.image;
  if (media?.__typename !== "MediaImage" || !image) return null;
  return productImage({
    url: image.url,
    // The media's own alt text is what the merchant edits; the image's is the older copy of it.
    alt: textOrNull(media.alt) ?? textOrNull(image.altText),
    width: image.width,
    height: image.height,
  });
}

function later(a: string, b: string): string {
  const [ta, tb] = [Date.parse(a), Date.parse(b)];
  if (Number.isNaN(tb)) return a;
  return Number.isNaN(ta) || tb > ta ? b : a;
}

export function toVariantAssets(product: ShopifyProduct): VariantAsset[] {
  const productImages = distinctImages([
    imageOfMedia(product.featuredMedia),
    ...product.media.nodes.map(imageOfMedia),
  ]);
  return product.variants.map((variant) => {
    const own = distinctImages(variant.media.nodes.map(imageOfMedia));
    const images = distinctImages([...own, ...productImages]);
    const title = textOrNull(variant.title);
    return {
      productExternalId: product.id,
      variantExternalId: variant.id,
      sku: textOrNull(variant.sku),
      title: product.title,
      variantTitle: title === DEFAULT_VARIANT_TITLE ? null : title,
      image: images[0] ?? null,
      images,
      updatedAt: later(product.updatedAt, variant.updatedAt),
    };
  });
}
