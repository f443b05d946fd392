import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { fromMinorUnits, toMinorUnits } from "../../src/domain/money.ts";

/**
 * A faithful fake of the TikTok Shop Open API (202309) parts Tradewind uses, for tests and the local demo.
 *
 * Requests carry `app_key`, `timestamp` (Unix seconds), `sign` and `shop_cipher` in the query and the seller's
 * access token in `x-tts-access-token`. Answers are `{ code, message, request_id, data }`. Gateway checks,
 * in TikTok's order, each refusing with TikTok's common error code:
 * | check                                                   | HTTP | code     |
 * |---------------------------------------------------------|------|----------|
 * | app_key, timestamp or sign missing                      | 400  | 36009004 |
 * | unknown app_key                                         | 401  | 36009004 ("The 'app_key' parameter is invalid") |
 * | timestamp more than 300 s old or 30 s ahead             | 400  | 36009004 ("The 'timestamp' parameter is invalid") |
 * | sign wrong (recomputed here with node:crypto, independently of src/: app_secret + path + sorted params without sign/access_token + raw body + app_secret, HMAC-SHA256 keyed by app_secret, hex) | 401 | 106001 |
 * | access token missing, unknown or of another app         | 401  | 105001   |
 * | access token expired                                    | 401  | 105002   |
 * | shop_cipher missing or not a shop the token may use     | 400  | 106013   |
 * | more than `qps` requests of this shop to this API within the last second | 429 | 36009002 |
 * Then a queued `failNext` failure, then the API:
 * - `GET /order/202309/orders?ids=a,b` (Get Order Detail): 1–50 ids, else 36009004; answers the known ones
 *   in the order asked (unknown ids are left out) as `data.orders`.
 * - `POST /order/202309/orders/search` (Get Order List): query `page_size` 1–100 (required), `page_token`,
 *   `sort_field` (create_time | update_time, default create_time), `sort_order` (ASC | DESC, default DESC);
 *   body filters `update_time_ge/lt`, `create_time_ge/lt`, `order_status`. Keyset pages: the token holds the
 *   last (time, id) and the filter it belongs to (another filter → 36009004), so an order updated between
 *   pages shows up again further on, as with TikTok. `data: { orders, next_page_token ("" = last), total_count }`.
 *
 * Orders are stored in the 202309 shape (`buildTikTokOrder` makes realistic ones). Seeding an order id that
 * exists, or updating one, moves its `update_time` to now (at least one second past the previous one).
 *
 * - `GET /logistics/202309/delivery_options/{id}/shipping_providers` (Get Shipping Providers): the same
 *   `SHIPPING_PROVIDERS` for every delivery option, as `data.shipping_providers [{ id, name }]`.
 * - `POST /fulfillment/202309/packages/{id}/ship` (Ship Package) `{ self_shipment: { tracking_number,
 *   shipping_provider_id } }`: unknown package → 21011001; order no longer awaiting shipment → 21011006; bad
 *   tracking or provider → 36009004. The package's units get the tracking number and carrier, the order
 *   becomes IN_TRANSIT (PARTIALLY_SHIPPING while other packages wait) and its update_time moves on.
 *
 * - `POST /product/202309/products/search` (Search Products): query `page_size` 1–100 (required), `page_token`;
 *   body filters `status`, `seller_skus`, `update_time_ge/le`, `create_time_ge/le`. Products in id order, keyset
 *   tokens bound to the filter. `data: { products: [{ id, title, status, skus: [{ id, seller_sku, price,
 *   inventory }], sales_regions, create_time, update_time }], next_page_token, total_count }` — no pictures.
 * - `GET /product/202309/products/{id}` (Get Product): the whole product — `main_images` and, per SKU,
 *   `sales_attributes[].sku_img` (`{ height, width, uri, urls, thumb_urls }` on TikTok's CDN). An unknown id
 *   is refused with code 12052048 "Product does not exist" (HTTP 200). (The exact code is an assumption: the
 *   product-not-found code is not in the common-error list we could read; clients treat any unknown
 *   non-zero code as a refusal of that request, which is what matters.)
 *
 * Products are stored in Get Product's shape (`buildTikTokProduct` makes realistic ones; `TIKTOK_DEMO_PRODUCTS`
 * are the products the default orders' SKUs belong to).
 *
 * `failNext` failures queue per shop: 429 (with `Retry-After` when `retryAfterSeconds` is given), 500, 503,
 * "hang" (never answers: the client must time out), "timeout-after-accept" (does the work, then never
 * answers), "internal" (code 36009003), or any TikTok code (number).
 *
 * Tests in workerd cannot call this module's functions, so the controls are also served under `/__control/`
 * (JSON in, JSON out; never counted in stats):
 * | request                                                                 | answer |
 * |-------------------------------------------------------------------------|--------|
 * | POST /__control/shops   { shopId, appKey, appSecret, accessToken, cipher?, accessTokenExpiresAt? (epoch s) } | 200 { shopId, cipher } |
 * | POST /__control/orders  { shopId, orders: object[] } or { shopId, seeds: TikTokOrderSeed[] } or { shopId, count } | 200 { orders: { id, status, update_time }[] } |
 * | POST /__control/orders/update { shopId, id, patch }                      | 200 { order }, 404 unknown |
 * | GET  /__control/orders?shopId=&id=                                       | 200 { order }, 404 unknown |
 * | POST /__control/fail-next { shopId, failure, retryAfterSeconds?, api? }   | 204 (api: only that API's next request) |
 * | POST /__control/expire-token { shopId }                                  | 204 |
 * | POST /__control/config  { qps?, latencyMs? }                              | 204 |
 * | GET  /__control/stats?shopId=                                             | 200 TikTokFakeStats |
 * | POST /__control/products { shopId, products: object[] } or { shopId, seeds: TikTokProductSeed[] } or { shopId, demo: true } | 200 { products: { id, update_time }[] } |
 * | POST /__control/products/update { shopId, id, patch }                    | 200 { product }, 404 unknown |
 */

export type TikTokFakeFailure = 429 | 500 | 503 | "hang" | "timeout-after-accept" | "internal" | number;

export interface TikTokFakeOptions {
  /** TCP port on 127.0.0.1; default 0 (any free port). */
  port?: number;
  /** Requests per second per shop and API before 429. Default 20. */
  qps?: number;
  /** Artificial processing time of each API request. */
  latencyMs?: number;
  /** The fake's clock (epoch ms). */
  now?: () => number;
}

export interface TikTokFakeStats {
  /** API requests per path that passed the credential checks (rate-limited and injected ones included). */
  requests: Record<string, number>;
  signatureFailures: number;
  tokenRefusals: number;
  /** 429s from the QPS limit (never injected ones). A well-governed client keeps it at 0. */
  rateLimited: number;
  /** Injected failures answered, by kind. */
  injected: Record<string, number>;
  /** Most requests of one path seen within one second. */
  maxPerSecond: Record<string, number>;
  packagesShipped: number;
}

export interface TikTokFakeShop {
  shopId: string;
  appKey: string;
  appSecret: string;
  accessToken: string;
  cipher?: string;
  /** Epoch seconds; absent = never expires. */
  accessTokenExpiresAt?: number;
}

export interface TikTokFake {
  url: string;
  close(): Promise<void>;
  registerShop(shop: TikTokFakeShop): { shopId: string; cipher: string };
  /** Stores 202309-shaped orders (replacing those with the same id, whose update_time then moves on). */
  putOrders(shopId: string, orders: readonly TikTokFakeOrder[]): TikTokFakeOrder[];
  updateOrder(shopId: string, id: string, patch: Partial<TikTokFakeOrder>): TikTokFakeOrder;
  order(shopId: string, id: string): TikTokFakeOrder | undefined;
  /** Queues a failure for the shop's next request (of API `api` only, when given: e.g. "/fulfillment/202309/packages/{package_id}/ship"). */
  failNext(
    shopId: string,
    failure: TikTokFakeFailure,
    options?: { retryAfterSeconds?: number; api?: string },
  ): void;
  expireAccessToken(shopId: string): void;
  configure(options: { qps?: number; latencyMs?: number }): void;
  stats(shopId: string): TikTokFakeStats;
  /** Stores Get Product-shaped products (replacing those with the same id, whose update_time then moves on). */
  putProducts(shopId: string, products: readonly TikTokFakeProduct[]): TikTokFakeProduct[];
  updateProduct(shopId: string, id: string, patch: Partial<TikTokFakeProduct>): TikTokFakeProduct;
}

/** A stored product: the 202309 Get Product object. */
export type TikTokFakeProduct = { id: string; update_time: number; create_time: number } & {
  [key: string]: Json;
};

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
/** A stored order: the 202309 Get Order Detail object. */
export type TikTokFakeOrder = { id: string; update_time: number; create_time: number; status: string } & {
  [key: string]: Json;
};

const PATH = {
  orderDetail: "/order/202309/orders",
  orderSearch: "/order/202309/orders/search",
} as const;

type ApiRoute =
  | {
      name: "orderDetail" | "orderSearch" | "shippingProviders" | "productSearch" | "productDetail";
      api: string;
      id: string;
    }
  | { name: "shipPackage"; api: string; id: string };

/** Which API a request is for; `api` names it with its id placeholder (stats and QPS are per API). */
function routeOf(method: string, path: string): ApiRoute | null {
  if (method === "GET" && path === PATH.orderDetail) return { name: "orderDetail", api: path, id: "" };
  if (method === "POST" && path === PATH.orderSearch) return { name: "orderSearch", api: path, id: "" };
  const providers = /^\/logistics\/202309\/delivery_options\/([^/]+)\/shipping_providers$/.exec(path);
  if (method === "GET" && providers?.[1]) {
    return {
      name: "shippingProviders",
      api: "/logistics/202309/delivery_options/{delivery_option_id}/shipping_providers",
      id: providers[1],
    };
  }
  if (method === "POST" && path === "/product/202309/products/search") {
    return { name: "productSearch", api: path, id: "" };
  }
  const product = /^\/product\/202309\/products\/(\d+)$/.exec(path);
  if (method === "GET" && product?.[1]) {
    return { name: "productDetail", api: "/product/202309/products/{product_id}", id: product[1] };
  }
  const ship = /^\/fulfillment\/202309\/packages\/([^/]+)\/ship$/.exec(path);
  if (method === "POST" && ship?.[1]) {
    return { name: "shipPackage", api: "/fulfillment/202309/packages/{package_id}/ship", id: ship[1] };
  }
  return null;
}

/** What Get Shipping Providers answers for every delivery option of the fake. */
export const SHIPPING_PROVIDERS: readonly { id: string; name: string }[] = [
  { id: "6617675021119438849", name: "USPS" },
  { id: "6617675021119438850", name: "UPS" },
  { id: "6617675021119438851", name: "FedEx" },
  { id: "6617675021119438852", name: "DHL eCommerce" },
  { id: "6864371883520903425", name: "Royal Mail" },
  { id: "7401000000000000001", name: "Yamato" },
];

/** Get Product's refusal of an id the shop does not have (see the module comment). */
export const TIKTOK_PRODUCT_NOT_FOUND = 12052048;

const MESSAGES: Record<number, string> = {
  [TIKTOK_PRODUCT_NOT_FOUND]: "Product does not exist.",
  36009002: "Too many requests. Please try again later.",
  36009003: "Internal error. Please try again.",
  105001: "Invalid credentials. The access token is invalid.",
  105002: "access token is expired, please refresh it",
  106001: "Invalid credentials. The 'sign' query parameter is invalid.",
  106013: "Invalid shop_cipher. The shop_cipher does not match an authorized shop.",
};

const STATUSES = new Set([
  "UNPAID",
  "ON_HOLD",
  "AWAITING_SHIPMENT",
  "PARTIALLY_SHIPPING",
  "AWAITING_COLLECTION",
  "IN_TRANSIT",
  "DELIVERED",
  "COMPLETED",
  "CANCELLED",
]);

interface ShopState extends Required<Omit<TikTokFakeShop, "accessTokenExpiresAt">> {
  accessTokenExpiresAt: number | null;
  orders: Map<string, TikTokFakeOrder>;
  products: Map<string, TikTokFakeProduct>;
  failures: { failure: TikTokFakeFailure; retryAfterSeconds?: number; api?: string }[];
  arrivals: Map<string, number[]>;
  stats: TikTokFakeStats;
}

function emptyStats(): TikTokFakeStats {
  return {
    requests: {},
    signatureFailures: 0,
    tokenRefusals: 0,
    rateLimited: 0,
    injected: {},
    maxPerSecond: {},
    packagesShipped: 0,
  };
}

function requestId(now: number): string {
  const stamp = new Date(now).toISOString().replace(/\D/g, "").slice(0, 14);
  return `${stamp}${randomBytes(10).toString("hex").toUpperCase()}`;
}

/** TikTok's signature, written here independently of src/adapters/channels/tiktok/sign.ts. */
function expectedSign(appSecret: string, path: string, query: URLSearchParams, body: string): string {
  const params = [...query.entries()]
    .filter(([key]) => key !== "sign" && key !== "access_token")
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => key + value)
    .join("");
  return createHmac("sha256", appSecret)
    .update(appSecret + path + params + body + appSecret, "utf8")
    .digest("hex");
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

// ─────────────────────────────── orders ───────────────────────────────

let nextOrderId = 576461413038785752n;
let nextLineItemId = 577086512123755123n;
let nextPackageId = 1152921508181116938n;

export interface TikTokOrderLineSeed {
  skuId?: string;
  productId?: string;
  sellerSku?: string;
  productName?: string;
  skuName?: string;
  quantity?: number;
  /** List price of one unit, decimal string. */
  unitPrice?: string;
  /** Per unit. */
  sellerDiscount?: string;
  platformDiscount?: string;
  /** Fraction, e.g. "0.0725"; none = no item tax. */
  taxRate?: string;
}

export interface TikTokOrderSeed {
  id?: string;
  status?: string;
  currency?: string;
  /** Epoch seconds. */
  createTime?: number;
  updateTime?: number;
  lines?: TikTokOrderLineSeed[];
  shippingFee?: string;
  /** Seller-funded shipping discount. */
  shippingDiscount?: string;
  buyerEmail?: string;
  buyerMessage?: string;
  /** "US" (default), "GB", or null for no address. */
  recipient?: "US" | "GB" | null;
}

const RECIPIENTS: Record<"US" | "GB", Json> = {
  US: {
    name: "Maria Gonzalez",
    first_name: "Maria",
    last_name: "Gonzalez",
    phone_number: "(+1)213*****68",
    full_address: "1234 Sunset Blvd Apt 5B, Los Angeles, Los Angeles County, California, United States",
    address_detail: "Apt 5B",
    address_line1: "1234 Sunset Blvd",
    address_line2: "Apt 5B",
    address_line3: "",
    address_line4: "",
    postal_code: "90026",
    region_code: "US",
    district_info: [
      { address_level_name: "Country", address_name: "United States", address_level: "L0" },
      { address_level_name: "State", address_name: "California", address_level: "L1" },
      { address_level_name: "County", address_name: "Los Angeles County", address_level: "L2" },
      { address_level_name: "City", address_name: "Los Angeles", address_level: "L3" },
    ],
  },
  GB: {
    name: "Oliver Hughes",
    phone_number: "(+44)7700****21",
    address_detail: "Flat 3, 27 Marchmont Street",
    address_line1: "Flat 3",
    address_line2: "27 Marchmont Street",
    address_line3: "",
    address_line4: "",
    postal_code: "WC1N 1AP",
    region_code: "GB",
    district_info: [
      { address_level_name: "Country", address_name: "United Kingdom", address_level: "L0" },
      { address_level_name: "Country", address_name: "England", address_level: "L1" },
      { address_level_name: "County", address_name: "Greater London", address_level: "L2" },
      { address_level_name: "Post town", address_name: "London", address_level: "L3" },
    ],
  },
};

/**
 * A realistic 202309 order object: one line item per unit, payment totals that add up
 * (sub_total = list prices − product discounts; total = sub_total + shipping + tax), unit taxes rounded
 * half up in minor units. Defaults: USD, AWAITING_SHIPMENT, two mugs and a coaster set, free shipping.
 */
export function buildTikTokOrder(
  seed: TikTokOrderSeed = {},
  nowSeconds = Math.floor(Date.now() / 1000),
): TikTokFakeOrder {
  const currency = seed.currency ?? (seed.recipient === "GB" ? "GBP" : "USD");
  const status = seed.status ?? "AWAITING_SHIPMENT";
  const createTime = seed.createTime ?? nowSeconds;
  const updateTime = seed.updateTime ?? createTime;
  const lines = seed.lines ?? [
    {
      skuId: "1729382476852921560",
      productId: "1729382476852855024",
      sellerSku: "MUG-12-SAGE",
      productName: "Stoneware Coffee Mug 12oz",
      skuName: "Sage Green",
      quantity: 2,
      unitPrice: "24.99",
      sellerDiscount: "2.50",
      platformDiscount: "1.00",
      taxRate: currency === "USD" ? "0.0725" : undefined,
    },
    {
      skuId: "1729385519472838872",
      productId: "1729385519472707800",
      sellerSku: "COAST-BAM-4",
      productName: "Bamboo Coaster Set",
      skuName: "Set of 4",
      quantity: 1,
      unitPrice: "12.00",
      taxRate: currency === "USD" ? "0.0725" : undefined,
    },
  ];
  const m = (amount: string | undefined) => (amount === undefined ? 0 : toMinorUnits(amount, currency));
  const s = (minor: number) => fromMinorUnits(minor, currency);
  const packageId = String(nextPackageId++);
  const shipped = !["UNPAID", "ON_HOLD", "AWAITING_SHIPMENT", "CANCELLED"].includes(status);
  let original = 0;
  let sellerDiscount = 0;
  let platformDiscount = 0;
  let productTax = 0;
  const lineItems: Json[] = [];
  lines.forEach((line, index) => {
    const skuId = line.skuId ?? `17300000000000${String(index).padStart(5, "0")}`;
    for (let unit = 0; unit < (line.quantity ?? 1); unit++) {
      const price = m(line.unitPrice ?? "10.00");
      const sd = m(line.sellerDiscount);
      const pd = m(line.platformDiscount);
      const sale = price - sd - pd;
      const tax = line.taxRate === undefined ? null : Math.round(sale * Number(line.taxRate));
      original += price;
      sellerDiscount += sd;
      platformDiscount += pd;
      productTax += tax ?? 0;
      lineItems.push({
        id: String(nextLineItemId++),
        sku_id: skuId,
        product_id: line.productId ?? `${skuId.slice(0, -3)}000`,
        product_name: line.productName ?? `Product ${index + 1}`,
        sku_name: line.skuName ?? "Default",
        seller_sku: line.sellerSku ?? `SKU-${index + 1}`,
        sku_image: `https://p16-oec-va.ibyteimg.com/tos-maliva-i-o3syd03w52-us/${skuId}~tplv-o3syd03w52-origin-jpeg.jpeg`,
        original_price: s(price),
        sale_price: s(sale),
        seller_discount: s(sd),
        platform_discount: s(pd),
        currency,
        display_status: status,
        sku_type: "NORMAL",
        is_gift: false,
        package_id: status === "UNPAID" ? "" : packageId,
        package_status: status === "CANCELLED" ? "CANCELLED" : shipped ? "SHIPPED" : "TO_FULFILL",
        shipping_provider_id: "",
        shipping_provider_name: "",
        tracking_number: "",
        rts_time: 0,
        item_tax:
          tax === null ? [] : [{ tax_type: "SALES_TAX", tax_amount: s(tax), tax_rate: line.taxRate ?? "0" }],
      });
    }
  });
  const originalShipping = m(seed.shippingFee ?? "5.99");
  const shippingDiscount = m(seed.shippingDiscount ?? seed.shippingFee ?? "5.99");
  const shipping = originalShipping - shippingDiscount;
  const subTotal = original - sellerDiscount - platformDiscount;
  const recipient =
    seed.recipient === undefined
      ? RECIPIENTS.US
      : seed.recipient === null
        ? null
        : RECIPIENTS[seed.recipient];
  const order: TikTokFakeOrder = {
    id: seed.id ?? String(nextOrderId++),
    status,
    order_type: "NORMAL",
    fulfillment_type: "FULFILLMENT_BY_SELLER",
    delivery_type: "HOME_DELIVERY",
    shipping_type: "SELLER",
    commerce_platform: "TIKTOK_SHOP",
    create_time: createTime,
    update_time: updateTime,
    user_id: "7021436810468230477",
    buyer_email: seed.buyerEmail ?? "v2bd7rk2ib5uyufl4htjoclxyvy8@scs2.tiktok.com",
    buyer_message: seed.buyerMessage ?? "",
    seller_note: "",
    is_on_hold_order: status === "ON_HOLD",
    is_cod: false,
    is_sample_order: false,
    delivery_option_id: "7091146663229654785",
    delivery_option_name: "Standard shipping",
    shipping_provider: "",
    shipping_provider_id: "",
    tracking_number: "",
    packages: status === "UNPAID" ? [] : [{ id: packageId }],
    payment: {
      currency,
      sub_total: s(subTotal),
      shipping_fee: s(shipping),
      seller_discount: s(sellerDiscount),
      platform_discount: s(platformDiscount),
      total_amount: s(subTotal + shipping + productTax),
      original_total_product_price: s(original),
      original_shipping_fee: s(originalShipping),
      shipping_fee_seller_discount: s(shippingDiscount),
      shipping_fee_platform_discount: s(0),
      shipping_fee_cofunded_discount: s(0),
      tax: s(productTax),
      product_tax: s(productTax),
      shipping_fee_tax: s(0),
    },
    line_items: lineItems,
  };
  if (status !== "UNPAID") order.paid_time = createTime + 30;
  if (status === "CANCELLED") {
    order.cancel_time = updateTime;
    order.cancel_reason = "No longer needed";
    order.cancellation_initiator = "BUYER";
  }
  if (recipient !== null) order.recipient_address = recipient;
  return order;
}

// ─────────────────────────────── products ───────────────────────────────

export interface TikTokProductSkuSeed {
  id?: string;
  sellerSku?: string;
  /** Sales attribute value, e.g. "Sage Green"; none = a product without variants. */
  value?: string;
  /** Whether the SKU has its own picture (`sku_img`). Default true when it has a value. */
  image?: boolean;
}

export interface TikTokProductSeed {
  id?: string;
  title?: string;
  /** Main images (1–9). Default 2. */
  mainImages?: number;
  /** Attribute name of the SKUs' values. Default "Color". */
  attribute?: string;
  skus?: TikTokProductSkuSeed[];
  /** Epoch seconds. */
  createTime?: number;
  updateTime?: number;
}

let nextProductId = 1729590000000000000n;
let nextSkuId = 1729591000000000000n;

/** A picture on TikTok's CDN as Get Product describes it (several URLs: mirrors of one file). */
function cdnImage(uri: string, width: number, height: number): Json {
  return {
    uri,
    urls: [
      `https://p16-oec-va.ibyteimg.com/${uri}~tplv-o3syd03w52-origin-jpeg.jpeg?from=1826719393`,
      `https://p19-oec-va.ibyteimg.com/${uri}~tplv-o3syd03w52-origin-jpeg.jpeg?from=1826719393`,
    ],
    thumb_urls: [
      `https://p16-oec-va.ibyteimg.com/${uri}~tplv-o3syd03w52-resize-jpeg:300:300.jpeg?from=1826719393`,
    ],
    width,
    height,
  };
}

/**
 * A realistic 202309 Get Product object: main images, SKUs with price, inventory and sales attributes
 * (each value with its own `sku_img` unless told otherwise), category chain, brand and audit fields.
 * Default: the sage and charcoal stoneware mug, whose sage SKU is the one default orders sell.
 */
export function buildTikTokProduct(
  seed: TikTokProductSeed = {},
  nowSeconds = Math.floor(Date.now() / 1000),
): TikTokFakeProduct {
  const id = seed.id ?? String(nextProductId++);
  const createTime = seed.createTime ?? nowSeconds - 86_400;
  const attribute = seed.attribute ?? "Color";
  const skus = seed.skus ?? [
    { id: "1729382476852921560", sellerSku: "MUG-12-SAGE", value: "Sage Green" },
    { id: "1729382476852921561", sellerSku: "MUG-12-CHAR", value: "Charcoal" },
  ];
  const mainImages = Array.from({ length: Math.max(0, Math.min(9, seed.mainImages ?? 2)) }, (_, index) =>
    cdnImage(`tos-maliva-i-o3syd03w52-us/${id}m${index}`, 1200, 1200),
  );
  return {
    id,
    title: seed.title ?? "Stoneware Coffee Mug 12oz",
    status: "ACTIVATE",
    description: "<p>Hand-glazed stoneware, 12 oz, dishwasher safe.</p>",
    category_chains: [
      { id: "600001", parent_id: "0", local_name: "Home Supplies", is_leaf: false },
      { id: "600024", parent_id: "600001", local_name: "Mugs", is_leaf: true },
    ],
    brand: { id: "7082427311584347905", name: "Tradewind Home" },
    main_images: mainImages,
    package_dimensions: { length: "12", width: "10", height: "10", unit: "CENTIMETER" },
    package_weight: { value: "0.45", unit: "KILOGRAM" },
    skus: skus.map((sku, index) => {
      const skuId = sku.id ?? String(nextSkuId++);
      const withImage = sku.image ?? sku.value !== undefined;
      return {
        id: skuId,
        seller_sku: sku.sellerSku ?? `SKU-${index + 1}`,
        price: { tax_exclusive_price: "24.99", sale_price: "24.99", currency: "USD", unit_price: "24.99" },
        inventory: [{ warehouse_id: "7068517275539719942", quantity: 40 + index }],
        identifier_code: { code: `0${String(400638133393 + index)}`, type: "UPC" },
        sales_attributes:
          sku.value === undefined
            ? []
            : [
                {
                  id: "100000",
                  name: attribute,
                  value_id: String(7_000_000_000_000_000_000n + BigInt(index)),
                  value_name: sku.value,
                  ...(withImage
                    ? { sku_img: cdnImage(`tos-maliva-i-o3syd03w52-us/${skuId}s`, 800, 800) }
                    : {}),
                },
              ],
        external_sku_id: "",
      };
    }),
    is_cod_allowed: false,
    product_attributes: [],
    audit_failed_reasons: [],
    create_time: createTime,
    update_time: seed.updateTime ?? createTime,
    delivery_options: [{ id: "7091146663229654785", name: "Standard shipping", is_available: true }],
    external_product_id: "",
    product_types: [],
    is_not_for_sale: false,
  };
}

/** The products the default orders' SKUs belong to (`buildTikTokOrder` without lines). */
export const TIKTOK_DEMO_PRODUCTS: readonly TikTokProductSeed[] = [
  { id: "1729382476852855024" },
  {
    id: "1729385519472707800",
    title: "Bamboo Coaster Set",
    attribute: "Size",
    mainImages: 1,
    skus: [{ id: "1729385519472838872", sellerSku: "COAST-BAM-4", value: "Set of 4", image: false }],
  },
];

// ─────────────────────────────── webhooks ───────────────────────────────

/** TikTok Shop webhook `type` numbers (202309 event types). */
export const TIKTOK_WEBHOOK_TYPE = {
  ORDER_STATUS_CHANGE: 1,
  REVERSE_STATUS_UPDATE: 2,
  RECIPIENT_ADDRESS_UPDATE: 3,
  PACKAGE_UPDATE: 4,
  PRODUCT_STATUS_CHANGE: 5,
} as const;

export type TikTokWebhookType = keyof typeof TIKTOK_WEBHOOK_TYPE;

/** `data` of ORDER_STATUS_CHANGE (type 1). */
export interface TikTokOrderStatusChangeData {
  order_id: string;
  order_status: string;
  update_time: number;
  is_on_hold_order?: boolean;
}

/** `data` of PACKAGE_UPDATE (type 4): a package of the order was created, split, combined or changed. */
export interface TikTokPackageUpdateData {
  order_id: string;
  package_id: string;
  /** What happened to the package, e.g. "SPLIT", "COMBINE", "UPDATE". */
  sc_type: string;
  /** Who did it, e.g. "SELLER", "SYSTEM". */
  role_type: string;
  update_time: number;
}

/**
 * The raw JSON body TikTok posts to a webhook URL:
 * `{"type":1,"tts_notification_id":"…","shop_id":"…","timestamp":…,"data":{…}}`. Sign it with
 * `signTikTokWebhook` and send the result as the `Authorization` header.
 */
export function tiktokWebhookBody(input: {
  type: TikTokWebhookType | number;
  shopId: string;
  data: TikTokOrderStatusChangeData | TikTokPackageUpdateData | Record<string, Json>;
  /** Epoch seconds; default now. */
  timestamp?: number;
  notificationId?: string;
}): string {
  const type = typeof input.type === "number" ? input.type : TIKTOK_WEBHOOK_TYPE[input.type];
  return JSON.stringify({
    type,
    tts_notification_id:
      input.notificationId ?? String(7327112393057371910n + BigInt(randomBytes(4).readUInt32BE())),
    shop_id: input.shopId,
    timestamp: input.timestamp ?? Math.floor(Date.now() / 1000),
    data: input.data,
  });
}

/** TikTok's webhook `Authorization` header: hex HMAC-SHA256 keyed by the app secret over app key + raw body. */
export function signTikTokWebhook(appKey: string, appSecret: string, rawBody: string): string {
  return createHmac("sha256", appSecret)
    .update(appKey + rawBody, "utf8")
    .digest("hex");
}

// ─────────────────────────────── server ───────────────────────────────

interface PageToken {
  /** Sort value and id of the last order of the previous page. */
  t: number;
  i: string;
  /** The filter and sort the token belongs to. */
  q: string;
}

function encodeToken(token: PageToken): string {
  return Buffer.from(JSON.stringify(token)).toString("base64");
}

function decodeToken(text: string): PageToken | null {
  try {
    const value = JSON.parse(Buffer.from(text, "base64").toString("utf8")) as Partial<PageToken>;
    return typeof value.t === "number" && typeof value.i === "string" && typeof value.q === "string"
      ? { t: value.t, i: value.i, q: value.q }
      : null;
  } catch {
    return null;
  }
}

export async function startTikTokFake(options: TikTokFakeOptions = {}): Promise<TikTokFake> {
  const now = options.now ?? Date.now;
  let qps = options.qps ?? 20;
  let latencyMs = options.latencyMs ?? 0;
  const shops = new Map<string, ShopState>();
  const byCipher = new Map<string, ShopState>();
  const appSecrets = new Map<string, string>();
  const hanging = new Set<ServerResponse>();

  const nowSeconds = () => Math.floor(now() / 1000);
  const shopOf = (shopId: string): ShopState => {
    const shop = shops.get(shopId);
    if (shop === undefined) throw new Error(`unknown TikTok fake shop ${shopId}`);
    return shop;
  };

  const registerShop = (input: TikTokFakeShop) => {
    const cipher = input.cipher ?? `ROW_${randomBytes(16).toString("base64url")}`;
    const existing = shops.get(input.shopId);
    if (existing !== undefined) byCipher.delete(existing.cipher);
    const shop: ShopState = {
      shopId: input.shopId,
      appKey: input.appKey,
      appSecret: input.appSecret,
      accessToken: input.accessToken,
      cipher,
      accessTokenExpiresAt: input.accessTokenExpiresAt ?? null,
      orders: existing?.orders ?? new Map(),
      products: existing?.products ?? new Map(),
      failures: existing?.failures ?? [],
      arrivals: existing?.arrivals ?? new Map(),
      stats: existing?.stats ?? emptyStats(),
    };
    shops.set(input.shopId, shop);
    byCipher.set(cipher, shop);
    appSecrets.set(input.appKey, input.appSecret);
    return { shopId: input.shopId, cipher };
  };

  /** A later update_time than the order had, as TikTok moves it on every change. */
  const bumped = (previous: number | undefined) => Math.max(nowSeconds(), (previous ?? 0) + 1);

  const putOrders = (shopId: string, orders: readonly TikTokFakeOrder[]) => {
    const shop = shopOf(shopId);
    return orders.map((order) => {
      const previous = shop.orders.get(order.id);
      const stored = structuredClone(order);
      if (previous !== undefined) stored.update_time = bumped(previous.update_time);
      shop.orders.set(stored.id, stored);
      return stored;
    });
  };

  const putProducts = (shopId: string, products: readonly TikTokFakeProduct[]) => {
    const shop = shopOf(shopId);
    return products.map((product) => {
      const previous = shop.products.get(product.id);
      const stored = structuredClone(product);
      if (previous !== undefined) stored.update_time = bumped(previous.update_time);
      shop.products.set(stored.id, stored);
      return stored;
    });
  };

  const updateProduct = (shopId: string, id: string, patch: Partial<TikTokFakeProduct>) => {
    const shop = shopOf(shopId);
    const previous = shop.products.get(id);
    if (previous === undefined) throw new Error(`no product ${id} in shop ${shopId}`);
    const next = { ...previous, ...structuredClone(patch), id } as TikTokFakeProduct;
    next.update_time = bumped(previous.update_time);
    shop.products.set(id, next);
    return next;
  };

  const updateOrder = (shopId: string, id: string, patch: Partial<TikTokFakeOrder>) => {
    const shop = shopOf(shopId);
    const previous = shop.orders.get(id);
    if (previous === undefined) throw new Error(`no order ${id} in shop ${shopId}`);
    const next = { ...previous, ...structuredClone(patch), id } as TikTokFakeOrder;
    next.update_time = bumped(previous.update_time);
    if (next.status === "CANCELLED" && previous.status !== "CANCELLED" && patch.cancel_time === undefined) {
      next.cancel_time = next.update_time;
    }
    shop.orders.set(id, next);
    return next;
  };

  // ───── answers ─────

  const reply = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
    res.end(JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, status: number, code: number, message?: string, headers = {}) =>
    reply(
      res,
      status,
      { code, message: message ?? MESSAGES[code] ?? "error", request_id: requestId(now()), data: null },
      headers,
    );
  /** Arrivals of this shop at this path within the last second, this one included. */
  const countArrival = (shop: ShopState, path: string): number => {
    const at = now();
    const recent = (shop.arrivals.get(path) ?? []).filter((t) => at - t < 1000);
    recent.push(at);
    shop.arrivals.set(path, recent);
    shop.stats.maxPerSecond[path] = Math.max(shop.stats.maxPerSecond[path] ?? 0, recent.length);
    return recent.length;
  };

  /** An API's answer, written (or, for "timeout-after-accept", withheld) by `api`. */
  type Answer = { status: number; body: unknown };
  const failure = (status: number, code: number, message?: string): Answer => ({
    status,
    body: { code, message: message ?? MESSAGES[code] ?? "error", request_id: requestId(now()), data: null },
  });
  const success = (data: unknown): Answer => ({
    status: 200,
    body: { code: 0, message: "Success", request_id: requestId(now()), data },
  });

  const orderDetail = (shop: ShopState, query: URLSearchParams): Answer => {
    const ids = (query.get("ids") ?? "")
      .split(",")
      .map((id) => id.trim())
      .filter((id) => id !== "");
    if (ids.length === 0)
      return failure(400, 36009004, "Invalid parameters. The 'ids' parameter is required.");
    if (ids.length > 50) return failure(400, 36009004, "Invalid parameters. At most 50 'ids' per request.");
    const orders = ids.flatMap((id) => {
      const order = shop.orders.get(id);
      return order === undefined ? [] : [order];
    });
    return success({ orders });
  };

  const orderSearch = (shop: ShopState, query: URLSearchParams, raw: string): Answer => {
    const pageSize = Number(query.get("page_size"));
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      return failure(400, 36009004, "Invalid parameters. 'page_size' must be between 1 and 100.");
    }
    const sortField = query.get("sort_field") ?? "create_time";
    const sortOrder = query.get("sort_order") ?? "DESC";
    if (
      (sortField !== "create_time" && sortField !== "update_time") ||
      (sortOrder !== "ASC" && sortOrder !== "DESC")
    ) {
      return failure(400, 36009004, "Invalid parameters. Unsupported 'sort_field' or 'sort_order'.");
    }
    let filter: Record<string, unknown> = {};
    if (raw.trim() !== "") {
      try {
        filter = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return failure(400, 36009004, "Invalid parameters. The request body is not JSON.");
      }
    }
    const bound = (key: string): number | null => {
      const value = filter[key];
      return typeof value === "number" && Number.isInteger(value) ? value : null;
    };
    const status = filter.order_status;
    if (status !== undefined && (typeof status !== "string" || !STATUSES.has(status))) {
      return failure(400, 36009004, "Invalid parameters. Unknown 'order_status'.");
    }
    const q = JSON.stringify([sortField, sortOrder, filter]);
    const tokenText = query.get("page_token");
    const token = tokenText ? decodeToken(tokenText) : null;
    if (tokenText && (token === null || token.q !== q)) {
      return failure(400, 36009004, "Invalid parameters. The 'page_token' parameter is invalid.");
    }
    const key = (o: TikTokFakeOrder) => (sortField === "update_time" ? o.update_time : o.create_time);
    const direction = sortOrder === "ASC" ? 1 : -1;
    const compare = (a: [number, string], b: [number, string]) =>
      direction * (a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    const matching = [...shop.orders.values()]
      .filter((o) => {
        const ge = (k: string, v: number) => bound(k) === null || v >= (bound(k) ?? 0);
        const lt = (k: string, v: number) => bound(k) === null || v < (bound(k) ?? 0);
        return (
          ge("update_time_ge", o.update_time) &&
          lt("update_time_lt", o.update_time) &&
          ge("create_time_ge", o.create_time) &&
          lt("create_time_lt", o.create_time) &&
          (status === undefined || o.status === status)
        );
      })
      .sort((a, b) => compare([key(a), a.id], [key(b), b.id]));
    const after =
      token === null ? matching : matching.filter((o) => compare([key(o), o.id], [token.t, token.i]) > 0);
    const page = after.slice(0, pageSize);
    const last = page.at(-1);
    const more = after.length > pageSize && last !== undefined;
    return success({
      orders: page,
      next_page_token: more ? encodeToken({ t: key(last), i: last.id, q }) : "",
      total_count: matching.length,
    });
  };

  const productSearch = (shop: ShopState, query: URLSearchParams, raw: string): Answer => {
    const pageSize = Number(query.get("page_size"));
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) {
      return failure(400, 36009004, "Invalid parameters. 'page_size' must be between 1 and 100.");
    }
    let filter: Record<string, unknown> = {};
    if (raw.trim() !== "") {
      try {
        filter = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return failure(400, 36009004, "Invalid parameters. The request body is not JSON.");
      }
    }
    const bound = (key: string): number | null => {
      const value = filter[key];
      return typeof value === "number" && Number.isInteger(value) ? value : null;
    };
    const status = typeof filter.status === "string" && filter.status !== "ALL" ? filter.status : null;
    const sellerSkus = Array.isArray(filter.seller_skus) ? filter.seller_skus.map(String) : null;
    const q = JSON.stringify(["products", filter]);
    const tokenText = query.get("page_token");
    const token = tokenText ? decodeToken(tokenText) : null;
    if (tokenText && (token === null || token.q !== q)) {
      return failure(400, 36009004, "Invalid parameters. The 'page_token' parameter is invalid.");
    }
    const within = (key: "update_time" | "create_time", value: number) =>
      (bound(`${key}_ge`) === null || value >= (bound(`${key}_ge`) ?? 0)) &&
      (bound(`${key}_le`) === null || value <= (bound(`${key}_le`) ?? 0));
    const skusOf = (p: TikTokFakeProduct) => (p.skus as { [key: string]: Json }[] | undefined) ?? [];
    const byId = (a: TikTokFakeProduct, b: TikTokFakeProduct) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1);
    const matching = [...shop.products.values()]
      .filter(
        (p) =>
          within("update_time", p.update_time) &&
          within("create_time", p.create_time) &&
          (status === null || p.status === status) &&
          (sellerSkus === null || skusOf(p).some((sku) => sellerSkus.includes(String(sku.seller_sku)))),
      )
      .sort(byId);
    const after = token === null ? matching : matching.filter((p) => BigInt(p.id) > BigInt(token.i));
    const page = after.slice(0, pageSize);
    const last = page.at(-1);
    const more = after.length > pageSize && last !== undefined;
    return success({
      products: page.map((p) => ({
        id: p.id,
        title: p.title,
        status: p.status,
        skus: skusOf(p).map((sku) => ({
          id: sku.id,
          seller_sku: sku.seller_sku,
          price: sku.price,
          inventory: sku.inventory,
        })),
        sales_regions: ["US"],
        create_time: p.create_time,
        update_time: p.update_time,
        is_not_for_sale: false,
      })),
      next_page_token: more ? encodeToken({ t: 0, i: last.id, q }) : "",
      total_count: matching.length,
    });
  };

  const productDetail = (shop: ShopState, productId: string): Answer => {
    const product = shop.products.get(productId);
    return product === undefined ? failure(200, TIKTOK_PRODUCT_NOT_FOUND) : success(product);
  };

  /** Ship Package with the seller's own carrier: the package's units get the tracking number. */
  const shipPackage = (shop: ShopState, packageId: string, raw: string): Answer => {
    let body: { self_shipment?: { tracking_number?: unknown; shipping_provider_id?: unknown } } = {};
    try {
      body = JSON.parse(raw || "{}") as typeof body;
    } catch {
      return failure(400, 36009004, "Invalid parameters. The request body is not JSON.");
    }
    const order = [...shop.orders.values()].find((o) =>
      (o.packages as { id?: string }[] | undefined)?.some((p) => p.id === packageId),
    );
    if (order === undefined) return failure(200, 21011001, "Package not found.");
    if (order.status !== "AWAITING_SHIPMENT" && order.status !== "PARTIALLY_SHIPPING") {
      return failure(200, 21011006, "The order has already been shipped or cancelled.");
    }
    const tracking = body.self_shipment?.tracking_number;
    const providerId = body.self_shipment?.shipping_provider_id;
    const provider = SHIPPING_PROVIDERS.find((p) => p.id === providerId);
    if (typeof tracking !== "string" || tracking.trim() === "" || provider === undefined) {
      return failure(
        400,
        36009004,
        "Invalid parameters. self_shipment needs a tracking_number and a valid shipping_provider_id.",
      );
    }
    const items = order.line_items as { [key: string]: Json }[];
    for (const item of items) {
      if (item.package_id !== packageId || item.display_status === "CANCELLED") continue;
      item.tracking_number = tracking;
      item.shipping_provider_id = provider.id;
      item.shipping_provider_name = provider.name;
      item.package_status = "SHIPPED";
      item.display_status = "IN_TRANSIT";
    }
    const open = items.some((i) => i.display_status !== "CANCELLED" && i.package_status !== "SHIPPED");
    updateOrder(shop.shopId, order.id, {
      status: open ? "PARTIALLY_SHIPPING" : "IN_TRANSIT",
      tracking_number: tracking,
      shipping_provider: provider.name,
      shipping_provider_id: provider.id,
      line_items: items,
    });
    shop.stats.packagesShipped++;
    return success({});
  };

  const api = async (req: IncomingMessage, res: ServerResponse, url: URL, raw: string) => {
    const path = url.pathname;
    const query = url.searchParams;
    const appKey = query.get("app_key");
    const timestamp = query.get("timestamp");
    const sign = query.get("sign");
    if (!appKey || !timestamp || !sign) {
      return refuse(
        res,
        400,
        36009004,
        "Invalid parameters. 'app_key', 'timestamp' and 'sign' are required.",
      );
    }
    const appSecret = appSecrets.get(appKey);
    if (appSecret === undefined) {
      return refuse(res, 401, 36009004, "Invalid parameters. The 'app_key' parameter is invalid.");
    }
    const skew = Number(timestamp) - nowSeconds();
    if (!Number.isInteger(Number(timestamp)) || skew < -300 || skew > 30) {
      return refuse(res, 400, 36009004, "Invalid parameters. The 'timestamp' parameter is invalid.");
    }
    const multipart = /multipart\/form-data/i.test(req.headers["content-type"] ?? "");
    if (!sameText(sign, expectedSign(appSecret, path, query, multipart ? "" : raw))) {
      const shop = byCipher.get(query.get("shop_cipher") ?? "");
      if (shop !== undefined) shop.stats.signatureFailures++;
      return refuse(res, 401, 106001);
    }
    const token = req.headers["x-tts-access-token"];
    const tokenShop = [...shops.values()].find((s) => typeof token === "string" && s.accessToken === token);
    if (tokenShop === undefined || tokenShop.appKey !== appKey) return refuse(res, 401, 105001);
    if (tokenShop.accessTokenExpiresAt !== null && tokenShop.accessTokenExpiresAt <= nowSeconds()) {
      tokenShop.stats.tokenRefusals++;
      return refuse(res, 401, 105002);
    }
    const shop = byCipher.get(query.get("shop_cipher") ?? "");
    if (shop === undefined || shop !== tokenShop) return refuse(res, 400, 106013);

    const route = routeOf(req.method ?? "GET", path);
    if (route === null)
      return refuse(res, 404, 36009004, `Invalid parameters. No API ${req.method} ${path}.`);
    shop.stats.requests[route.api] = (shop.stats.requests[route.api] ?? 0) + 1;
    if (countArrival(shop, route.api) > qps) {
      shop.stats.rateLimited++;
      return refuse(res, 429, 36009002);
    }
    const answer = (): Answer => {
      switch (route.name) {
        case "orderDetail":
          return orderDetail(shop, query);
        case "orderSearch":
          return orderSearch(shop, query, raw);
        case "shippingProviders":
          return success({ shipping_providers: SHIPPING_PROVIDERS });
        case "shipPackage":
          return shipPackage(shop, route.id, raw);
        case "productSearch":
          return productSearch(shop, query, raw);
        case "productDetail":
          return productDetail(shop, route.id);
      }
    };
    // The first queued failure meant for any API or for this one.
    const queued = shop.failures.findIndex((f) => f.api === undefined || f.api === route.api);
    const injected = queued < 0 ? undefined : shop.failures.splice(queued, 1)[0];
    if (injected !== undefined) {
      const name = String(injected.failure);
      shop.stats.injected[name] = (shop.stats.injected[name] ?? 0) + 1;
      switch (injected.failure) {
        case "hang":
        case "timeout-after-accept":
          if (injected.failure === "timeout-after-accept") answer();
          hanging.add(res);
          res.on("close", () => hanging.delete(res));
          return;
        case 429:
          return refuse(
            res,
            429,
            36009002,
            undefined,
            injected.retryAfterSeconds === undefined
              ? {}
              : { "retry-after": String(injected.retryAfterSeconds) },
          );
        case 500:
        case 503:
          res.writeHead(injected.failure, { "content-type": "text/html" });
          res.end(`<html><body><h1>${injected.failure}</h1></body></html>`);
          return;
        case "internal":
          return refuse(res, 200, 36009003);
        default:
          return refuse(
            res,
            injected.failure >= 105000 && injected.failure < 107000 ? 401 : 200,
            injected.failure,
          );
      }
    }
    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
    const { status, body } = answer();
    return reply(res, status, body);
  };

  const control = async (
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    query: URLSearchParams,
    raw: string,
  ) => {
    let body: Record<string, unknown> = {};
    if (req.method === "POST") {
      try {
        body = JSON.parse(raw || "{}") as Record<string, unknown>;
      } catch {
        return reply(res, 400, { error: "body must be JSON" });
      }
    }
    const str = (key: string) =>
      typeof body[key] === "string" && body[key] !== "" ? (body[key] as string) : undefined;
    const shopId = str("shopId") ?? query.get("shopId") ?? undefined;
    const done = () => {
      res.writeHead(204);
      res.end();
    };
    const route = `${req.method} ${path}`;
    if (route !== "POST /shops" && route !== "POST /config" && (!shopId || !shops.has(shopId))) {
      return reply(res, 404, { error: "unknown shopId" });
    }
    const known = shopId ?? "";
    switch (route) {
      case "POST /shops": {
        const appKey = str("appKey");
        const appSecret = str("appSecret");
        const accessToken = str("accessToken");
        if (!shopId || !appKey || !appSecret || !accessToken) {
          return reply(res, 400, { error: "shopId, appKey, appSecret and accessToken are required" });
        }
        const expires = body.accessTokenExpiresAt;
        const cipher = str("cipher");
        return reply(
          res,
          200,
          registerShop({
            shopId,
            appKey,
            appSecret,
            accessToken,
            ...(cipher === undefined ? {} : { cipher }),
            ...(typeof expires === "number" ? { accessTokenExpiresAt: expires } : {}),
          }),
        );
      }
      case "POST /orders": {
        let orders: TikTokFakeOrder[];
        if (Array.isArray(body.orders)) orders = body.orders as TikTokFakeOrder[];
        else if (Array.isArray(body.seeds))
          orders = (body.seeds as TikTokOrderSeed[]).map((s) => buildTikTokOrder(s, nowSeconds()));
        else if (typeof body.count === "number") {
          orders = Array.from({ length: body.count }, () => buildTikTokOrder({}, nowSeconds()));
        } else return reply(res, 400, { error: "orders, seeds or count is required" });
        if (orders.some((o) => typeof o?.id !== "string" || typeof o.update_time !== "number")) {
          return reply(res, 400, { error: "every order needs a string id and a numeric update_time" });
        }
        const stored = putOrders(known, orders);
        return reply(res, 200, {
          orders: stored.map((o) => ({ id: o.id, status: o.status, update_time: o.update_time })),
        });
      }
      case "POST /orders/update": {
        const id = str("id");
        const patch = body.patch;
        if (!id || typeof patch !== "object" || patch === null)
          return reply(res, 400, { error: "id and patch are required" });
        if (!shopOf(known).orders.has(id)) return reply(res, 404, { error: "unknown order" });
        return reply(res, 200, { order: updateOrder(known, id, patch as Partial<TikTokFakeOrder>) });
      }
      case "GET /orders": {
        const order = shopOf(known).orders.get(query.get("id") ?? "");
        return order === undefined ? reply(res, 404, { error: "unknown order" }) : reply(res, 200, { order });
      }
      case "POST /fail-next": {
        const failure = body.failure;
        if (
          typeof failure !== "number" &&
          failure !== "hang" &&
          failure !== "timeout-after-accept" &&
          failure !== "internal"
        ) {
          return reply(res, 400, {
            error:
              'failure must be 429, 500, 503, "hang", "timeout-after-accept", "internal" or a TikTok code',
          });
        }
        const retryAfterSeconds = body.retryAfterSeconds;
        shopOf(known).failures.push({
          failure: failure as TikTokFakeFailure,
          ...(typeof retryAfterSeconds === "number" ? { retryAfterSeconds } : {}),
          ...(typeof body.api === "string" ? { api: body.api } : {}),
        });
        return done();
      }
      case "POST /expire-token":
        shopOf(known).accessTokenExpiresAt = nowSeconds();
        return done();
      case "POST /config":
        if (typeof body.qps === "number") qps = body.qps;
        if (typeof body.latencyMs === "number") latencyMs = body.latencyMs;
        return done();
      case "GET /stats":
        return reply(res, 200, structuredClone(shopOf(known).stats));
      case "POST /products": {
        let products: TikTokFakeProduct[];
        if (Array.isArray(body.products)) products = body.products as TikTokFakeProduct[];
        else if (Array.isArray(body.seeds)) {
          products = (body.seeds as TikTokProductSeed[]).map((seed) =>
            buildTikTokProduct(seed, nowSeconds()),
          );
        } else if (body.demo === true) {
          products = TIKTOK_DEMO_PRODUCTS.map((seed) => buildTikTokProduct(seed, nowSeconds()));
        } else return reply(res, 400, { error: "products, seeds or demo is required" });
        if (products.some((p) => typeof p?.id !== "string" || typeof p.update_time !== "number")) {
          return reply(res, 400, { error: "every product needs a string id and a numeric update_time" });
        }
        const stored = putProducts(known, products);
        return reply(res, 200, { products: stored.map((p) => ({ id: p.id, update_time: p.update_time })) });
      }
      case "POST /products/update": {
        const id = str("id");
        const patch = body.patch;
        if (!id || typeof patch !== "object" || patch === null)
          return reply(res, 400, { error: "id and patch are required" });
        if (!shopOf(known).products.has(id)) return reply(res, 404, { error: "unknown product" });
        return reply(res, 200, { product: updateProduct(known, id, patch as Partial<TikTokFakeProduct>) });
      }
      default:
        return reply(res, 404, { error: `no control route ${route}` });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    if (url.pathname.startsWith("/__control/")) {
      return control(req, res, url.pathname.slice("/__control".length), url.searchParams, raw);
    }
    return api(req, res, url, raw);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent)
        reply(res, 500, { code: 36009003, message: String(error), request_id: "", data: null });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    registerShop,
    putOrders,
    updateOrder,
    order(shopId, id) {
      const order = shops.get(shopId)?.orders.get(id);
      return order === undefined ? undefined : structuredClone(order);
    },
    failNext(shopId, failure, opts = {}) {
      shopOf(shopId).failures.push({ failure, ...opts });
    },
    expireAccessToken(shopId) {
      shopOf(shopId).accessTokenExpiresAt = nowSeconds();
    },
    configure(next) {
      if (next.qps !== undefined) qps = next.qps;
      if (next.latencyMs !== undefined) latencyMs = next.latencyMs;
    },
    stats(shopId) {
      return structuredClone(shops.get(shopId)?.stats ?? emptyStats());
    },
    putProducts,
    updateProduct,
    close() {
      for (const res of hanging) res.destroy();
      hanging.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
