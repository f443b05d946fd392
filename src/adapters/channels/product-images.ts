import type { ProductImage } from "./interface";

/**
 * What every channel's product mapping does to a picture the same way: only web addresses count, sizes
 * that are not positive are unknown, and a product's pictures are listed once each, in the channel's order.
 */

/** Trimmed text, or null when there is none. */
export function textOrNull(value: string | null | undefined): string | null {
  const trimmed = value?.trim() ?? "";
  return trimmed === "" ? null : trimmed;
}

const size = (value: number | null | undefined): number | null =>
  typeof value === "number" && Number.isInteger(value) && value > 0 ? value : null;

/** A picture as Tradewind keeps it, or null when `url` is not an http(s) address. */
export function productImage(input: {
  url: string | null | undefined;
  alt: string | null;
  width: number | null | undefined;
  height: number | null | undefined;
}): ProductImage | null {
  if (typeof input.url !== "string" || !/^https?:\/\//i.test(input.url)) return null;
  return { url: input.url, alt: input.alt, width: size(input.width), height: size(input.height) };
}

/** The pictures in order, each URL once (a featured picture is usually also the first of the list). */
export function distinctImages(images: readonly (ProductImage | null)[]): ProductImage[] {
  const seen = new Set<string>();
  const out: ProductImage[] = [];
  for (const image of images) {
    if (image === null || seen.has(image.url)) continue;
    seen.add(image.url);
    out.push(image);
  }
  return out;
}
