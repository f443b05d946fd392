import * as z from "zod";

/**
 * TikTok Shop Open API (202309 versions) shapes Tradewind reads. Schemas are lenient where TikTok leaves
 * fields out by order type or region (most fields), strict on what mapping cannot do without (ids, times,
 * status, currency).
 */

export const TIKTOK_API_VERSION = "202309";

export const TIKTOK_PATHS = {
  orderDetail: `/order/${TIKTOK_API_VERSION}/orders`,
  orderSearch: `/order/${TIKTOK_API_VERSION}/orders/search`,
  shippingProviders: (deliveryOptionId: string) =>
    `/logistics/${TIKTOK_API_VERSION}/delivery_options/${encodeURIComponent(deliveryOptionId)}/shipping_providers`,
  shipPackage: (packageId: string) =>
    `/fulfillment/${TIKTOK_API_VERSION}/packages/${encodeURIComponent(packageId)}/ship`,
  productSearch: `/product/${TIKTOK_API_VERSION}/products/search`,
  productDetail: (productId: string) =>
    `/product/${TIKTOK_API_VERSION}/products/${encodeURIComponent(productId)}`,
} as const;

/** Gate endpoints of the APIs whose path holds an id: one budget and breaker per API. */
export const TIKTOK_ENDPOINTS = {
  shippingProviders: `/logistics/${TIKTOK_API_VERSION}/delivery_options/{delivery_option_id}/shipping_providers`,
  shipPackage: `/fulfillment/${TIKTOK_API_VERSION}/packages/{package_id}/ship`,
  productDetail: `/product/${TIKTOK_API_VERSION}/products/{product_id}`,
} as const;

/** Get Order Detail takes at most 50 ids per call. */
export const TIKTOK_MAX_ORDER_IDS = 50;
/** Get Order List: page_size 1–100. */
export const TIKTOK_MAX_PAGE_SIZE = 100;

/**
 * Codes of TikTok's common errors (partner.tiktokshop.com/docv2/page/common-errors) that decide how a
 * failure is treated. Anything else non-zero is a refusal of the request itself.
 */
export const TIKTOK_ERROR = {
  /** "The access token is invalid" (HTTP 401). */
  accessTokenInvalid: 105001,
  /** "access token is expired, please refresh it" (HTTP 401). */
  accessTokenExpired: 105002,
  /** The app lacks the API package/scope for this API (seller must re-authorize). */
  scopeNotGranted: 105005,
  /** "Invalid credentials. The 'sign' query parameter is invalid." (HTTP 401). */
  invalidSign: 106001,
  /** Missing or invalid shop_cipher. */
  invalidShopCipher: 106013,
  /** Too many requests (HTTP 429). */
  tooManyRequests: 36009002,
  /** "Internal error. Please try again." */
  internalError: 36009003,
  /** Invalid parameters (bad timestamp, app_key, or business params; message names the field). */
  invalidParams: 36009004,
} as const;

export const tiktokEnvelopeSchema = z.object({
  code: z.number().int(),
  message: z.string().catch(""),
  request_id: z.string().catch(""),
  data: z.unknown().optional(),
});
export type TikTokEnvelope = z.infer<typeof tiktokEnvelopeSchema>;

const money = z.string();
const optionalMoney = money.optional();
const unixSeconds = z.number().int().nonnegative();

export const tiktokDistrictSchema = z.object({
  address_level: z.string().optional(),
  address_level_name: z.string().optional(),
  address_name: z.string().optional(),
});

export const tiktokRecipientAddressSchema = z.object({
  name: z.string().optional(),
  first_name: z.string().optional(),
  last_name: z.string().optional(),
  phone_number: z.string().optional(),
  full_address: z.string().optional(),
  address_detail: z.string().optional(),
  address_line1: z.string().optional(),
  address_line2: z.string().optional(),
  address_line3: z.string().optional(),
  address_line4: z.string().optional(),
  postal_code: z.string().optional(),
  region_code: z.string().optional(),
  district_info: z.array(tiktokDistrictSchema).optional(),
});
export type TikTokRecipientAddress = z.infer<typeof tiktokRecipientAddressSchema>;

export const tiktokItemTaxSchema = z.object({
  tax_type: z.string().optional(),
  tax_amount: optionalMoney,
  tax_rate: z.string().optional(),
});

/** One unit of one SKU: TikTok returns a line item per unit sold. */
export const tiktokLineItemSchema = z.object({
  id: z.string().min(1),
  sku_id: z.string().min(1),
  product_id: z.string().optional(),
  product_name: z.string().optional(),
  sku_name: z.string().optional(),
  seller_sku: z.string().optional(),
  original_price: money,
  sale_price: optionalMoney,
  seller_discount: optionalMoney,
  platform_discount: optionalMoney,
  currency: z.string().optional(),
  display_status: z.string().optional(),
  package_id: z.string().optional(),
  package_status: z.string().optional(),
  tracking_number: z.string().optional(),
  shipping_provider_id: z.string().optional(),
  is_gift: z.boolean().optional(),
  item_tax: z.array(tiktokItemTaxSchema).optional(),
});
export type TikTokLineItem = z.infer<typeof tiktokLineItemSchema>;

export const tiktokPaymentSchema = z.object({
  currency: z.string().regex(/^[A-Z]{3}$/),
  sub_total: optionalMoney,
  shipping_fee: optionalMoney,
  seller_discount: optionalMoney,
  platform_discount: optionalMoney,
  total_amount: money,
  original_total_product_price: optionalMoney,
  original_shipping_fee: optionalMoney,
  shipping_fee_seller_discount: optionalMoney,
  shipping_fee_platform_discount: optionalMoney,
  shipping_fee_cofunded_discount: optionalMoney,
  tax: optionalMoney,
  product_tax: optionalMoney,
  shipping_fee_tax: optionalMoney,
});

export const TIKTOK_ORDER_STATUSES = [
  "UNPAID",
  "ON_HOLD",
  "AWAITING_SHIPMENT",
  "PARTIALLY_SHIPPING",
  "AWAITING_COLLECTION",
  "IN_TRANSIT",
  "DELIVERED",
  "COMPLETED",
  "CANCELLED",
] as const;
export type TikTokOrderStatus = (typeof TIKTOK_ORDER_STATUSES)[number];

export const tiktokOrderSchema = z.object({
  id: z.string().regex(/^\d+$/),
  status: z.enum(TIKTOK_ORDER_STATUSES),
  create_time: unixSeconds,
  update_time: unixSeconds,
  paid_time: unixSeconds.optional(),
  cancel_time: unixSeconds.optional(),
  cancel_reason: z.string().optional(),
  buyer_email: z.string().optional(),
  buyer_message: z.string().optional(),
  seller_note: z.string().optional(),
  user_id: z.string().optional(),
  is_on_hold_order: z.boolean().optional(),
  delivery_option_id: z.string().optional(),
  delivery_option_name: z.string().optional(),
  shipping_provider: z.string().optional(),
  shipping_provider_id: z.string().optional(),
  tracking_number: z.string().optional(),
  payment: tiktokPaymentSchema,
  recipient_address: tiktokRecipientAddressSchema.optional(),
  line_items: z.array(tiktokLineItemSchema),
  packages: z.array(z.object({ id: z.string() })).optional(),
});
export type TikTokOrder = z.infer<typeof tiktokOrderSchema>;

/** What any order object must have for its failure to be reported by id (`OrdersPage.rejected`). */
export const tiktokOrderIdentitySchema = z.object({
  id: z.string().catch(""),
  update_time: z.number().optional().catch(undefined),
});

export const tiktokOrderDetailDataSchema = z.object({
  orders: z.array(z.unknown()).catch([]),
});

export const tiktokOrderSearchDataSchema = z.object({
  orders: z.array(z.unknown()).optional().default([]),
  next_page_token: z.string().optional().default(""),
  total_count: z.number().optional(),
});

export const tiktokShippingProvidersDataSchema = z.object({
  shipping_providers: z.array(z.object({ id: z.string(), name: z.string() })).catch([]),
});

/*
 * Products (product assets): Search Products lists the catalogue (`page_size` ≤ 100, `page_token`), Get
 * Product reads one product with its pictures: `main_images` (up to 9) and, per SKU, the `sku_img` of its
 * sales attributes (the picture of "Sage Green"). Images are `{ uri, urls, thumb_urls, width, height }`
 * with URLs on TikTok's CDN; TikTok keeps no alt text.
 */

/** Search Products: page_size 1–100. */
export const TIKTOK_MAX_PRODUCT_PAGE_SIZE = 100;

export const tiktokImageSchema = z.object({
  uri: z.string().optional(),
  urls: z.array(z.string()).optional(),
  thumb_urls: z.array(z.string()).optional(),
  width: z.number().int().optional(),
  height: z.number().int().optional(),
});
export type TikTokImage = z.infer<typeof tiktokImageSchema>;

export const tiktokSalesAttributeSchema = z.object({
  id: z.string().optional(),
  name: z.string().optional(),
  value_id: z.string().optional(),
  value_name: z.string().optional(),
  sku_img: tiktokImageSchema.optional(),
});

export const tiktokProductSkuSchema = z.object({
  id: z.string().regex(/^\d+$/),
  seller_sku: z.string().optional(),
  sales_attributes: z.array(tiktokSalesAttributeSchema).optional(),
});

export const tiktokProductSchema = z.object({
  id: z.string().regex(/^\d+$/),
  title: z.string().optional(),
  status: z.string().optional(),
  main_images: z.array(tiktokImageSchema).optional(),
  skus: z.array(tiktokProductSkuSchema).optional(),
  create_time: unixSeconds.optional(),
  update_time: unixSeconds.optional(),
});
export type TikTokProduct = z.infer<typeof tiktokProductSchema>;

export const tiktokProductSearchDataSchema = z.object({
  products: z
    .array(z.looseObject({ id: z.string() }))
    .optional()
    .default([]),
  next_page_token: z.string().optional().default(""),
  total_count: z.number().optional(),
});
