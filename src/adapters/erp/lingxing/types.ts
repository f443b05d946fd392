import * as z from "zod";

/**
 * Lingxing (领星 ERP) OpenAPI shapes, as documented at apidoc.lingxing.com (mirrored in public SDKs).
 *
 * Two envelope families share one body shape here:
 * - the auth server and the API gateway answer `{ code, msg, data }` with `code` as a string: "200" on a
 *   token success, "2001006" etc. on a gateway refusal (data then holds `{ throwable, throwTime, … }`);
 * - business APIs answer `{ code, message, error_details, request_id, response_time, data, total }` with a
 *   numeric `code`, 0 on success.
 * `code` is therefore read as string-or-number and compared as text.
 */

export const LINGXING_PATHS = {
  /** multipart/form-data `appId`, `appSecret`; token bucket 100. */
  accessToken: "/api/auth-server/oauth/access-token",
  /** multipart/form-data `appId`, `refreshToken` (single use); token bucket 100. */
  refreshToken: "/api/auth-server/oauth/refresh",
  /** 多平台 → 创建订单 (manual orders of a multi-platform store, incl. custom platforms); token bucket 10. */
  createOrders: "/pb/mp/order/v2/create",
  /** 多平台 → 查询订单管理订单列表; up to 200 platform order numbers per call; token bucket 10. */
  listOrders: "/pb/mp/order/v2/list",
  /** 仓库 → 查询销售出库单列表 (self-fulfilled outbound orders with tracking numbers); token bucket 1. */
  listOutboundOrders: "/erp/sc/routing/wms/order/wmsOrderList",
} as const;
export type LingxingPath = (typeof LINGXING_PATHS)[keyof typeof LINGXING_PATHS];

/** Token-bucket capacity (concurrent requests per appId + path) from each API's documentation page. */
export const LINGXING_BUCKET_CAPACITY: Readonly<Record<LingxingPath, number>> = {
  [LINGXING_PATHS.accessToken]: 100,
  [LINGXING_PATHS.refreshToken]: 100,
  [LINGXING_PATHS.createOrders]: 10,
  [LINGXING_PATHS.listOrders]: 10,
  [LINGXING_PATHS.listOutboundOrders]: 1,
};

const codeSchema = z.union([z.string(), z.number()]).transform((code) => String(code).trim());
/** Ids documented as `[int]` may arrive as numbers or strings; 18-digit ones only survive as strings. */
const idSchema = z.union([z.string(), z.number()]).transform((id) => String(id));
const countSchema = z
  .union([z.string(), z.number()])
  .transform((value) => Number(value))
  .pipe(z.number().int().nonnegative());

/** Any Lingxing answer: token, gateway refusal or business envelope. */
export const lingxingEnvelopeSchema = z.object({
  code: codeSchema,
  msg: z.string().nullish(),
  message: z.string().nullish(),
  request_id: z.string().nullish(),
  error_details: z.unknown().optional(),
  data: z.unknown().optional(),
  total: countSchema.nullish(),
});
export type LingxingEnvelope = z.infer<typeof lingxingEnvelopeSchema>;

/** `data` of a successful access-token / refresh answer (`code: "200"`). */
export const lingxingTokenDataSchema = z.object({
  // SECRET: both tokens are credentials; they go to the token store and nowhere else.
  access_token: z.string().min(1),
  refresh_token: z.string().min(1),
  /** Seconds; documented as a string type, sent as a number (7199). */
  expires_in: z
    .union([z.string(), z.number()])
    .transform((value) => Number(value))
    .pipe(z.number().positive()),
});
export type LingxingTokenData = z.infer<typeof lingxingTokenDataSchema>;

// ---------------------------------------------------------------------------------------------------------
// POST /pb/mp/order/v2/create

export interface LingxingCreateOrderItem {
  /** 本地SKU (SKU or MSKU is required; Tradewind maps to the local SKU). */
  sku: string;
  quantity: number;
  /** Unit price as a decimal string, in the order's `amount_currency`. */
  unit_price: string;
}

export interface LingxingCreateOrder {
  /** 平台单号: unique per store; Lingxing refuses a second order with the same number. */
  platform_order_no: string;
  receiver_country_code: string;
  receiver_name: string;
  city: string;
  address_line1: string;
  /**
   * Documented as "自发货订单额外字段": Lingxing accepts them once it has granted the permission (then they
   * appear under `address_info` in the order list); without it they are ignored.
   */
  address_line2?: string;
  state_or_region?: string;
  postal_code?: string;
  receiver_mobile?: string;
  buyer_email?: string;
  buyer_name?: string;
  receiver_company_name?: string;
  buyer_note?: string;
  /** 客服备注. */
  remark?: string;
  amount_currency: string;
  order_total_amount: string;
  customer_shipping_amount: string;
  customer_tax_amount: string;
  /** 订购时间, epoch seconds. */
  global_purchase_time: number;
  /** 仓库id and 物流方式id: each requires the other. */
  wid?: string;
  logistics_type_id?: string;
  items: LingxingCreateOrderItem[];
}

export interface LingxingCreateOrdersRequest {
  /** 平台code: 10009 = 自定义平台 (custom platform), 10002 = Shopify, … */
  platform_code: number;
  /** 多平台店铺 store_id (from 查询多平台店铺信息). */
  store_id: string;
  orders: LingxingCreateOrder[];
}

export const lingxingCreateOrdersDataSchema = z.object({
  error_details: z
    .array(z.object({ platform_order_no: idSchema, error_message: z.string().nullish() }))
    .nullish()
    .transform((rows) => rows ?? []),
  success_details: z
    .array(z.object({ platform_order_no: idSchema, global_order_no: idSchema }))
    .nullish()
    .transform((rows) => rows ?? []),
});
export type LingxingCreateOrdersData = z.infer<typeof lingxingCreateOrdersDataSchema>;

// ---------------------------------------------------------------------------------------------------------
// POST /pb/mp/order/v2/list

export interface LingxingListOrdersRequest {
  offset: number;
  /** 20 ≤ length ≤ 500 (Lingxing answers code 102 below 20). */
  length: number;
  /** Up to 200; for Shopify, eBay, Newegg, Coupang, Mercado and Shopline stores use `platform_order_names`. */
  platform_order_nos?: string[];
  platform_order_names?: string[];
  store_id?: string[];
}

/** System order status (`status`) of 订单管理, with Tradewind's word for display. */
export const LINGXING_ORDER_STATUS: Readonly<Record<number, string>> = {
  1: "syncing", // 同步中
  2: "synced", // 已同步
  3: "awaiting_payment", // 待付款
  4: "pending_review", // 待审核
  5: "awaiting_shipment", // 待发货
  6: "shipped", // 已发货
  7: "cancelled", // 已取消/不发货
  8: "hidden", // 不显示
  9: "platform_fulfilled", // 平台发货
};

export const lingxingListedOrderSchema = z.object({
  global_order_no: idSchema,
  store_id: idSchema.nullish(),
  status: z.union([z.string(), z.number()]).transform((value) => Number(value)),
  platform_info: z
    .array(
      z.object({
        platform_order_no: idSchema.nullish(),
        platform_order_name: z.string().nullish(),
      }),
    )
    .nullish()
    .transform((rows) => rows ?? []),
});
export type LingxingListedOrder = z.infer<typeof lingxingListedOrderSchema>;

export const lingxingListOrdersDataSchema = z.object({
  total: countSchema,
  list: z.array(lingxingListedOrderSchema),
});

// ---------------------------------------------------------------------------------------------------------
// POST /erp/sc/routing/wms/order/wmsOrderList

export interface LingxingListOutboundOrdersRequest {
  page: number;
  /** ≤ 200. */
  page_size: number;
  /** 1 物流下单, 2 发货中, 3 已发货, 4 已删除. */
  status_arr?: number[];
  platform_order_no_arr?: string[];
}

/** Outbound order status 3 = 已发货 (left the warehouse). */
export const LINGXING_OUTBOUND_SHIPPED = 3;

export const lingxingOutboundOrderSchema = z.object({
  wo_number: z.string().min(1),
  order_number: idSchema.nullish(),
  status: z.union([z.string(), z.number()]).transform((value) => Number(value)),
  platform_order_no: z
    .array(idSchema)
    .nullish()
    .transform((numbers) => numbers ?? []),
  tracking_no: z.string().nullish(),
  waybill_no: z.string().nullish(),
  logistics_provider_name: z.string().nullish(),
  logistics_type_name: z.string().nullish(),
  /** "YYYY-MM-DD HH:mm:ss" in Lingxing's time zone (China Standard Time); "" until it happened. */
  delivered_at: z.string().nullish(),
  stock_delivered_at: z.string().nullish(),
  update_at: z.string().nullish(),
  product_info: z
    .array(
      z.object({
        sku: z.string().nullish(),
        count: z.union([z.string(), z.number()]).transform((value) => Number(value)),
        /** 0 plain, 1 bundle, 2 a bundle's split-out component. */
        bundle_type: z
          .union([z.string(), z.number()])
          .transform((value) => Number(value))
          .nullish(),
      }),
    )
    .nullish()
    .transform((rows) => rows ?? []),
});
export type LingxingOutboundOrder = z.infer<typeof lingxingOutboundOrderSchema>;

export const lingxingOutboundOrdersSchema = z.array(lingxingOutboundOrderSchema);

// ---------------------------------------------------------------------------------------------------------
// Error codes

/** What a Lingxing code means for the caller; `transform.ts` classifies, `client.ts` acts. */
export type LingxingErrorKind =
  /** 2001003 token missing or expired: refresh and retry once. */
  | "token_expired"
  /** 2001005 token does not match (superseded by a newer one): refresh and retry once. */
  | "token_mismatch"
  /** 2001001 unknown appId, 2001002 wrong appSecret, 2001004 API not granted, 3001002 IP not whitelisted, 401/403 app disabled/expired. */
  | "credentials"
  /** 2001008 refresh token expired, 2001009 refresh token invalid (or already used). */
  | "refresh_rejected"
  /** 2001006 signature wrong: a bug on our side, never fixed by retrying. */
  | "bad_signature"
  /** 2001007 signature expired (timestamp outside the 2-minute window): a fresh timestamp fixes it. */
  | "signature_expired"
  /** 3001008 gateway token bucket empty, 103 business-side throttle. */
  | "rate_limited"
  /** 3001001 public parameters missing, 102 / 400 invalid parameters, other refusals. */
  | "invalid_request"
  /** 500 / -1: the server failed. */
  | "server_error";
