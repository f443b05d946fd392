import { createCipheriv, createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A faithful fake of the Lingxing (领星 ERP) OpenAPI parts Tradewind uses, for tests and the local demo.
 *
 * Auth server (multipart/form-data or urlencoded body, or query string; answers `{ code: "200", msg: "OK",
 * data: { access_token, refresh_token, expires_in } }` or `{ code: "2001001", msg, data: null }`):
 * - `POST /api/auth-server/oauth/access-token` (`appId`, `appSecret`): unknown app → 2001001, wrong secret →
 *   2001002. Issues a new token pair and supersedes the previous access and refresh tokens of the app.
 * - `POST /api/auth-server/oauth/refresh` (`appId`, `refreshToken`): unknown app → 2001001; a refresh token
 *   that is not the app's current one, or was used already → 2001009; expired → 2001008. A refresh token works
 *   once; the new pair supersedes the old one.
 *
 * Business APIs (POST, JSON body, `access_token`, `app_key`, `timestamp`, `sign` in the query). Gateway checks,
 * in order, each answered HTTP 200 `{ code: "<code>", msg, data: { throwable, throwTime, … } }`:
 * 3001001 public parameter missing; 2001001 unknown app_key; 2001003 token unknown or expired; 2001005 token
 * superseded or issued to another app; 2001007 timestamp more than `timestampWindowSeconds` (120) away;
 * 2001006 sign wrong (recomputed here independently of src/: ASCII-sorted params incl. body fields, nested
 * values as the JSON text received, empty strings left out → MD5 upper hex → AES-ECB/PKCS5 keyed by the
 * appId → base64); 3001008 token bucket of appId + path empty (a token is held until the response closes;
 * capacity as documented per API unless configured). Then any queued `failNext` failure, then the API:
 * - `/pb/mp/order/v2/create` `{ platform_code, store_id, orders[] }`: bad shape → business code 102; per order
 *   (in `data.error_details[{ platform_order_no, error_message }]`): a platform order number the store
 *   already holds (or repeated in the request) → "平台单号已存在"; missing receiver fields, no items, wid
 *   without logistics_type_id, an SKU outside the app's catalog (only when one is set). Created orders are
 *   in `data.success_details[{ platform_order_no, global_order_no }]` with status 4 (待审核).
 * - `/pb/mp/order/v2/list` `{ offset, length (20–500), platform_order_nos ≤ 200 | platform_order_names |
 *   date_type + start_time + end_time, store_id[], order_status }` → `data: { total: "n", list }`.
 * - `/erp/sc/routing/wms/order/wmsOrderList` `{ page, page_size ≤ 200, status_arr, platform_order_no_arr }`
 *   → `data: [outbound order]`, `total`. An order marked shipped with `shipOrder` has one outbound order
 *   (status 3 已发货, `tracking_no`, `delivered_at` in China time).
 *
 * `failNext(appId, failure)` queues per app and applies to the app's next business request that passed the
 * gateway checks: "timeout-after-accept" (processes the request, e.g. stores the orders, then never answers),
 * "hang" (never answers, does nothing), "http500", or a Lingxing error code ("3001008", 2001003, 102, …)
 * answered in the gateway or business shape it belongs to. `overLimit` counts only arrivals that found the
 * bucket empty, never injected 3001008s: a well-governed client keeps it at 0.
 *
 * Tests in workerd cannot call this module's functions, so the same controls are served over HTTP under
 * `/__control/` (JSON in, JSON out; never counted in stats):
 * | request                                                                  | answer                         |
 * |--------------------------------------------------------------------------|--------------------------------|
 * | POST /__control/apps        { appId, appSecret, skus? }                  | 204                            |
 * | POST /__control/skus        { appId, skus: string[] \| null }             | 204 (null = accept any SKU)    |
 * | POST /__control/fail-next   { appId, failure }                           | 204                            |
 * | POST /__control/ship        { appId, platformOrderNo, carrier, trackingNumber, shippedAt? } | 200 { woNumber }, 404 unknown order |
 * | POST /__control/expire-token { appId }                                   | 204 (current access token expires now) |
 * | POST /__control/config      { latencyMs?, capacity? }                    | 204                            |
 * | GET  /__control/stats?appId={appId}                                      | 200 LingxingFakeStats          |
 * | GET  /__control/orders?appId={appId}                                     | 200 { orders }                 |
 */

export type LingxingFakeFailure = "timeout-after-accept" | "hang" | "http500" | number | string;

export interface LingxingFakeOptions {
  /** TCP port on 127.0.0.1; default 0 (any free port). The local demo uses fixed ones. */
  port?: number;
  /** Default 7199, as Lingxing answers. */
  accessTokenTtlSeconds?: number;
  /** Default 7200 (documented: a refresh token lives 2 hours). */
  refreshTokenTtlSeconds?: number;
  /** Concurrent requests per appId + path: one number for every path, or per path; default as documented. */
  capacity?: number | Record<string, number>;
  /** Artificial processing time of each business request (its bucket token is held meanwhile). */
  latencyMs?: number;
  /** Allowed distance of `timestamp` from the fake's clock. Default 120 s (Lingxing: a sign lives 2 minutes). */
  timestampWindowSeconds?: number;
  /** The fake's clock (epoch ms) for token expiry and the timestamp window. */
  now?: () => number;
}

export interface LingxingFakeStats {
  /** Requests received per path (token endpoints included). */
  requests: Record<string, number>;
  tokensIssued: number;
  tokensRefreshed: number;
  /** 2001006 answers. */
  signatureFailures: number;
  /** 2001003 / 2001005 answers. */
  tokenRefusals: number;
  /** 3001008 answers from an empty bucket. */
  rateLimited: number;
  /** Requests that arrived when the bucket of their path had no free token. */
  overLimit: number;
  /** Most requests in flight at once, per path. */
  maxInFlight: Record<string, number>;
  ordersCreated: number;
  duplicatesRejected: number;
  ordersRejected: number;
}

export interface LingxingFakeOrder {
  globalOrderNo: string;
  storeId: string;
  platformCode: number;
  platformOrderNo: string;
  /** 4 待审核 on creation, 6 已发货 once shipped. */
  status: number;
  currency: string | null;
  receiverName: string;
  receiverCountryCode: string;
  items: { sku: string; quantity: number; unitPrice: string }[];
  createdAt: number;
  updatedAt: number;
  shipment: { woNumber: string; carrier: string; trackingNumber: string; shippedAt: number } | null;
}

export interface LingxingFake {
  /** Base URL to pass as the adapter's `apiBase`. */
  url: string;
  close(): Promise<void>;
  registerApp(appId: string, appSecret: string, options?: { skus?: string[] }): void;
  /** Known local SKUs of the app; null accepts any SKU (the default). */
  setSkus(appId: string, skus: string[] | null): void;
  /** Queue a failure for the next business request of `appId` (FIFO, one per request). */
  failNext(appId: string, failure: LingxingFakeFailure): void;
  /** Marks the order shipped: status 6 and one outbound order (status 3) with this tracking number. */
  shipOrder(
    appId: string,
    platformOrderNo: string,
    shipment: { carrier: string; trackingNumber: string; shippedAt?: number },
  ): { woNumber: string };
  /** Lets the app's current access token expire now (the refresh token stays valid). */
  expireAccessToken(appId: string): void;
  configure(options: { latencyMs?: number; capacity?: number | Record<string, number> }): void;
  stats(appId: string): LingxingFakeStats;
  orders(appId: string): LingxingFakeOrder[];
  /** The app's current access token, to assert it never leaks. */
  accessTokenOf(appId: string): string | undefined;
}

const PATH = {
  accessToken: "/api/auth-server/oauth/access-token",
  refresh: "/api/auth-server/oauth/refresh",
  createOrders: "/pb/mp/order/v2/create",
  listOrders: "/pb/mp/order/v2/list",
  outboundOrders: "/erp/sc/routing/wms/order/wmsOrderList",
} as const;

const DOCUMENTED_CAPACITY: Record<string, number> = {
  [PATH.accessToken]: 100,
  [PATH.refresh]: 100,
  [PATH.createOrders]: 10,
  [PATH.listOrders]: 10,
  [PATH.outboundOrders]: 1,
};

const GATEWAY_MESSAGES: Record<string, string> = {
  "2001001": "app not exist",
  "2001002": "app secret not correct",
  "2001003": "access token is missing or expire",
  "2001004": "the api not authorized, please grant first",
  "2001005": "access token not match",
  "2001006": "api sign not correct",
  "2001007": "api sign has expired",
  "2001008": "refresh token expired. please get access token again",
  "2001009": "refresh token is invalid",
  "3001001": "missing query param(access_token,sign,timestamp,app_key)",
  "3001002": "ip not permit, please add ip to white list first.",
  "3001008": "requests too frequently. please request later.",
  "401": "授权被禁用，请检查授权状态",
  "403": "授权失效，请更新授权有效期",
  "500": "系统繁忙",
};

const BUSINESS_MESSAGES: Record<string, string> = {
  "102": "参数不合法",
  "103": "请求过于频繁,请稍后再试",
  "400": "服务不存在",
};

interface AppState {
  appSecret: string;
  skus: Set<string> | null;
  access: { token: string; expiresAt: number } | null;
  refresh: { token: string; expiresAt: number; used: boolean } | null;
  failures: LingxingFakeFailure[];
  orders: LingxingFakeOrder[];
  inFlight: Map<string, number>;
  stats: LingxingFakeStats;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function emptyStats(): LingxingFakeStats {
  return {
    requests: {},
    tokensIssued: 0,
    tokensRefreshed: 0,
    signatureFailures: 0,
    tokenRefusals: 0,
    rateLimited: 0,
    overLimit: 0,
    maxInFlight: {},
    ordersCreated: 0,
    duplicatesRejected: 0,
    ordersRejected: 0,
  };
}

/** Lingxing shows times in China Standard Time: "YYYY-MM-DD HH:mm:ss". */
function chinaTime(ms: number): string {
  return new Date(ms + 8 * 3600_000).toISOString().slice(0, 19).replace("T", " ");
}

function requestId(): string {
  return `${randomUUID().replaceAll("-", "")}.${Date.now()}`;
}

/** The signature as Lingxing computes it, written independently of src/adapters/erp/lingxing/sign.ts. */
function expectedSign(params: Record<string, Json | undefined>, appId: string): string | null {
  const key = Buffer.from(appId, "utf8");
  const algorithm = { 16: "aes-128-ecb", 24: "aes-192-ecb", 32: "aes-256-ecb" }[key.length];
  if (algorithm === undefined) return null;
  const plaintext = Object.keys(params)
    .sort()
    .flatMap((name) => {
      const value = params[name];
      if (value === undefined || value === "") return [];
      const text =
        value === null
          ? "null"
          : typeof value === "object"
            ? JSON.stringify(value)
            : typeof value === "string"
              ? value
              : String(value);
      return [`${name}=${text}`];
    })
    .join("&");
  const md5 = createHash("md5").update(plaintext, "utf8").digest("hex").toUpperCase();
  const cipher = createCipheriv(algorithm, key, null);
  return Buffer.concat([cipher.update(md5, "utf8"), cipher.final()]).toString("base64");
}

/** Fields of a multipart/form-data or urlencoded body (the auth server accepts both). */
function formFields(contentType: string, body: Buffer): Map<string, string> {
  const fields = new Map<string, string>();
  const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  if (/multipart\/form-data/i.test(contentType) && boundary) {
    const marker = `--${boundary[1] ?? boundary[2]}`;
    for (const part of body.toString("utf8").split(marker)) {
      const split = part.indexOf("\r\n\r\n");
      if (split < 0) continue;
      const head = part.slice(0, split);
      const name = /name="([^"]*)"/i.exec(head)?.[1];
      if (name === undefined) continue;
      fields.set(name, part.slice(split + 4).replace(/\r\n$/, ""));
    }
    return fields;
  }
  for (const [name, value] of new URLSearchParams(body.toString("utf8"))) fields.set(name, value);
  return fields;
}

export async function startLingxingFake(options: LingxingFakeOptions = {}): Promise<LingxingFake> {
  const accessTtlMs = (options.accessTokenTtlSeconds ?? 7199) * 1000;
  const refreshTtlMs = (options.refreshTokenTtlSeconds ?? 7200) * 1000;
  const windowMs = (options.timestampWindowSeconds ?? 120) * 1000;
  const now = options.now ?? Date.now;
  let capacity = options.capacity;
  let latencyMs = options.latencyMs ?? 0;
  const apps = new Map<string, AppState>();
  /** Every access token ever issued → its app, to tell "superseded / other app" (2001005) from unknown (2001003). */
  const issuedTo = new Map<string, string>();
  const hanging = new Set<ServerResponse>();
  let nextGlobalOrderNo = 103351413752115712n;
  let nextWoNumber = 103341008688546816n;

  const capacityOf = (path: string): number =>
    typeof capacity === "number" ? capacity : (capacity?.[path] ?? DOCUMENTED_CAPACITY[path] ?? 10);

  const appOf = (appId: string): AppState => {
    const app = apps.get(appId);
    if (app === undefined) throw new Error(`unknown Lingxing fake app ${appId}`);
    return app;
  };

  const registerApp = (appId: string, appSecret: string, opts: { skus?: string[] } = {}) => {
    const existing = apps.get(appId);
    if (existing !== undefined) {
      existing.appSecret = appSecret;
      if (opts.skus !== undefined) existing.skus = new Set(opts.skus);
      return;
    }
    apps.set(appId, {
      appSecret,
      skus: opts.skus === undefined ? null : new Set(opts.skus),
      access: null,
      refresh: null,
      failures: [],
      orders: [],
      inFlight: new Map(),
      stats: emptyStats(),
    });
  };

  // -------------------------------------------------------------------------------------------------------
  // Answers

  const reply = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "Content-Type": "application/json;charset=UTF-8" });
    res.end(JSON.stringify(body));
  };
  const gatewayError = (res: ServerResponse, code: string, withThrowable = true) => {
    const msg = GATEWAY_MESSAGES[code] ?? "error";
    reply(res, 200, {
      code,
      msg,
      data: withThrowable
        ? { throwable: msg, throwTime: chinaTime(now()), message: null, stackTrace: null, metadata: {} }
        : null,
    });
  };
  const businessError = (res: ServerResponse, code: number, message?: string) =>
    reply(res, 200, {
      code,
      message: message ?? BUSINESS_MESSAGES[String(code)] ?? "操作失败",
      error_details: [],
      request_id: requestId(),
      response_time: chinaTime(now()),
      data: [],
      total: 0,
    });
  const businessOk = (res: ServerResponse, data: unknown, total?: number) =>
    reply(res, 200, {
      code: 0,
      message: "success",
      error_details: [],
      request_id: requestId(),
      response_time: chinaTime(now()),
      data,
      ...(total === undefined ? {} : { total }),
    });
  const answerCode = (res: ServerResponse, code: string) => {
    if (/^(200\d{4}|300\d{4}|401|403|500)$/.test(code)) gatewayError(res, code);
    else businessError(res, Number(code));
  };

  // -------------------------------------------------------------------------------------------------------
  // Auth server

  const issuePair = (appId: string, app: AppState) => {
    const access = { token: randomUUID(), expiresAt: now() + accessTtlMs };
    app.access = access;
    app.refresh = { token: randomUUID(), expiresAt: now() + refreshTtlMs, used: false };
    issuedTo.set(access.token, appId);
    return {
      code: "200",
      msg: "OK",
      data: {
        access_token: access.token,
        refresh_token: app.refresh.token,
        expires_in: Math.floor(accessTtlMs / 1000),
      },
    };
  };

  const tokenEndpoint = (path: string, fields: Map<string, string>, res: ServerResponse) => {
    const appId = fields.get("appId") ?? "";
    const app = apps.get(appId);
    if (app === undefined) return gatewayError(res, "2001001", false);
    app.stats.requests[path] = (app.stats.requests[path] ?? 0) + 1;
    if (path === PATH.accessToken) {
      if (fields.get("appSecret") !== app.appSecret) return gatewayError(res, "2001002", false);
      app.stats.tokensIssued++;
      return reply(res, 200, issuePair(appId, app));
    }
    const presented = fields.get("refreshToken") ?? "";
    const current = app.refresh;
    if (current === null || presented !== current.token || current.used) {
      return gatewayError(res, "2001009", false);
    }
    if (now() >= current.expiresAt) return gatewayError(res, "2001008", false);
    current.used = true;
    app.stats.tokensRefreshed++;
    return reply(res, 200, issuePair(appId, app));
  };

  // -------------------------------------------------------------------------------------------------------
  // Business APIs

  const createOrders = (app: AppState, body: Record<string, Json>, res: ServerResponse) => {
    const { platform_code: platformCode, store_id: storeId, orders } = body;
    if (
      typeof platformCode !== "number" ||
      !Number.isInteger(platformCode) ||
      typeof storeId !== "string" ||
      storeId === "" ||
      !Array.isArray(orders) ||
      orders.length === 0
    ) {
      return businessError(res, 102, "参数不合法: platform_code, store_id, orders 必填");
    }
    const errorDetails: { platform_order_no: string; error_message: string }[] = [];
    const successDetails: { platform_order_no: string; global_order_no: string }[] = [];
    const inRequest = new Set<string>();
    for (const raw of orders) {
      const order = (raw !== null && typeof raw === "object" && !Array.isArray(raw) ? raw : {}) as Record<
        string,
        Json
      >;
      const text = (name: string) => (typeof order[name] === "string" ? (order[name] as string).trim() : "");
      const pno = text("platform_order_no");
      const refuse = (message: string) => {
        app.stats.ordersRejected++;
        errorDetails.push({ platform_order_no: pno, error_message: message });
      };
      if (pno === "") {
        refuse("平台单号不能为空");
        continue;
      }
      const exists = app.orders.some((o) => o.storeId === storeId && o.platformOrderNo === pno);
      if (exists || inRequest.has(pno)) {
        app.stats.duplicatesRejected++;
        refuse("平台单号已存在");
        continue;
      }
      const missing = ["receiver_country_code", "receiver_name", "city", "address_line1"].filter(
        (name) => text(name) === "",
      );
      if (missing.length > 0) {
        refuse(`收件人信息不完整: ${missing.join(",")}`);
        continue;
      }
      if ((text("wid") === "") !== (text("logistics_type_id") === "")) {
        refuse("仓库和物流方式需同时填写");
        continue;
      }
      const items = Array.isArray(order.items) ? order.items : [];
      if (items.length === 0) {
        refuse("商品信息不能为空");
        continue;
      }
      const parsedItems: LingxingFakeOrder["items"] = [];
      let itemProblem: string | null = null;
      for (const rawItem of items) {
        const item = (
          rawItem !== null && typeof rawItem === "object" && !Array.isArray(rawItem) ? rawItem : {}
        ) as Record<string, Json>;
        const sku = typeof item.sku === "string" ? item.sku : typeof item.msku === "string" ? item.msku : "";
        const quantity = item.quantity;
        const unitPrice = item.unit_price;
        if (sku === "") itemProblem = "SKU和MSKU必填其中一个";
        else if (typeof quantity !== "number" || !Number.isInteger(quantity) || quantity <= 0)
          itemProblem = `数量不合法: ${sku}`;
        else if (
          (typeof unitPrice !== "number" && typeof unitPrice !== "string") ||
          Number.isNaN(Number(unitPrice))
        )
          itemProblem = `单价不合法: ${sku}`;
        else if (app.skus !== null && !app.skus.has(sku)) itemProblem = `SKU不存在: ${sku}`;
        if (itemProblem !== null) break;
        parsedItems.push({ sku, quantity: quantity as number, unitPrice: String(unitPrice) });
      }
      if (itemProblem !== null) {
        refuse(itemProblem);
        continue;
      }
      inRequest.add(pno);
      const globalOrderNo = String(nextGlobalOrderNo++);
      app.orders.push({
        globalOrderNo,
        storeId,
        platformCode,
        platformOrderNo: pno,
        status: 4,
        currency: text("amount_currency") || null,
        receiverName: text("receiver_name"),
        receiverCountryCode: text("receiver_country_code"),
        items: parsedItems,
        createdAt: now(),
        updatedAt: now(),
        shipment: null,
      });
      app.stats.ordersCreated++;
      successDetails.push({ platform_order_no: pno, global_order_no: globalOrderNo });
    }
    reply(res, 200, {
      code: 0,
      message: "操作成功",
      request_id: requestId(),
      response_time: chinaTime(now()),
      data: { error_details: errorDetails, success_details: successDetails },
    });
  };

  const stringList = (value: Json | undefined): string[] | null =>
    Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number")
      ? value.map((v) => String(v))
      : null;

  const listOrders = (app: AppState, body: Record<string, Json>, res: ServerResponse) => {
    const { offset, length } = body;
    if (typeof offset !== "number" || !Number.isInteger(offset) || offset < 0) {
      return businessError(res, 102, "offset 不合法");
    }
    if (typeof length !== "number" || !Number.isInteger(length) || length < 20 || length > 500) {
      return businessError(res, 102, "length 最小值为 20, 最大值为 500");
    }
    const numbers = stringList(body.platform_order_nos);
    const names = stringList(body.platform_order_names);
    if ((numbers?.length ?? 0) > 200 || (names?.length ?? 0) > 200) {
      return businessError(res, 102, "平台单号不能超过200个");
    }
    const byNumber = (numbers?.length ?? 0) > 0 || (names?.length ?? 0) > 0;
    const start = body.start_time;
    const end = body.end_time;
    if (
      !byNumber &&
      (typeof body.date_type !== "string" || typeof start !== "number" || typeof end !== "number")
    ) {
      return businessError(res, 102, "date_type, start_time, end_time 必填");
    }
    const stores = stringList(body.store_id);
    const status = body.order_status;
    const matches = app.orders.filter(
      (o) =>
        (numbers === null || numbers.length === 0 || numbers.includes(o.platformOrderNo)) &&
        (names === null || names.length === 0 || names.includes(o.platformOrderNo)) &&
        (stores === null || stores.length === 0 || stores.includes(o.storeId)) &&
        (typeof status !== "number" || o.status === status) &&
        (byNumber ||
          (typeof start === "number" &&
            typeof end === "number" &&
            o.updatedAt / 1000 > start &&
            o.updatedAt / 1000 < end)),
    );
    const list = matches.slice(offset, offset + length).map((o) => ({
      global_order_no: o.globalOrderNo,
      store_id: o.storeId,
      wid: "0",
      reference_no: "",
      order_from_name: "手工订单",
      delivery_type: 2,
      split_type: "1",
      status: o.status,
      amount_currency: o.currency,
      remark: "",
      global_purchase_time: Math.floor(o.createdAt / 1000),
      global_delivery_time: o.shipment === null ? 0 : Math.floor(o.shipment.shippedAt / 1000),
      update_time: String(Math.floor(o.updatedAt / 1000)),
      item_info: o.items.map((item, index) => ({
        id: `${o.globalOrderNo}${index}`,
        platform_order_no: o.platformOrderNo,
        local_sku: item.sku,
        msku: "",
        quantity: item.quantity,
        unit_price_amount: item.unitPrice,
      })),
      platform_info: [
        {
          order_from: "手工订单",
          platform_order_no: o.platformOrderNo,
          platform_order_name: o.platformOrderNo,
          platform_code: String(o.platformCode),
          purchase_time: Math.floor(o.createdAt / 1000),
          delivery_time: 0,
        },
      ],
      logistics_info: {
        status: o.shipment === null ? 0 : 2,
        logistics_provider_name: o.shipment?.carrier ?? null,
        tracking_no: o.shipment?.trackingNumber ?? "",
        waybill_no: o.shipment?.trackingNumber ?? "",
      },
    }));
    businessOk(res, { total: String(matches.length), list });
  };

  const outboundOrders = (app: AppState, body: Record<string, Json>, res: ServerResponse) => {
    const page = body.page ?? 1;
    const pageSize = body.page_size ?? 20;
    if (typeof page !== "number" || !Number.isInteger(page) || page < 1) {
      return businessError(res, 102, "page 不合法");
    }
    if (typeof pageSize !== "number" || !Number.isInteger(pageSize) || pageSize < 1 || pageSize > 200) {
      return businessError(res, 102, "page_size 上限200");
    }
    const numbers = stringList(body.platform_order_no_arr);
    const statuses = Array.isArray(body.status_arr) ? body.status_arr : null;
    const shipped = app.orders.filter(
      (o) =>
        o.shipment !== null &&
        (numbers === null || numbers.length === 0 || numbers.includes(o.platformOrderNo)) &&
        (statuses === null || statuses.length === 0 || statuses.includes(3)),
    );
    const rows = shipped.slice((page - 1) * pageSize, page * pageSize).map((o) => {
      const shipment = o.shipment as NonNullable<LingxingFakeOrder["shipment"]>;
      return {
        wo_id: Number(shipment.woNumber.slice(-6)),
        wo_number: shipment.woNumber,
        sid: 0,
        wid: 1,
        warehouse_type: 1,
        order_number: o.globalOrderNo,
        order_from: "手工订单",
        platform_name: "Custom",
        platform_order_no: [o.platformOrderNo],
        status: 3,
        status_name: "已发货",
        logistics_status: 5,
        logistics_status_name: "下单完成",
        logistics_provider_name: shipment.carrier,
        logistics_type_name: shipment.carrier,
        tracking_no: shipment.trackingNumber,
        waybill_no: shipment.trackingNumber,
        order_currency_code: o.currency ?? "",
        consignee: o.receiverName,
        delivered_at: chinaTime(shipment.shippedAt),
        stock_delivered_at: chinaTime(shipment.shippedAt),
        create_at: chinaTime(o.createdAt),
        update_at: chinaTime(o.updatedAt),
        product_info: o.items.map((item, index) => ({
          wod_id: index + 1,
          sku: item.sku,
          count: item.quantity,
          bundle_type: 0,
          seller_sku: "",
          item_unit_price: item.unitPrice,
        })),
      };
    });
    businessOk(res, rows, shipped.length);
  };

  const BUSINESS: Record<string, (app: AppState, body: Record<string, Json>, res: ServerResponse) => void> = {
    [PATH.createOrders]: createOrders,
    [PATH.listOrders]: listOrders,
    [PATH.outboundOrders]: outboundOrders,
  };

  const business = async (path: string, url: URL, raw: Buffer, res: ServerResponse) => {
    const q = url.searchParams;
    const accessToken = q.get("access_token");
    const appId = q.get("app_key");
    const timestamp = q.get("timestamp");
    const sign = q.get("sign");
    if (!accessToken || !appId || !timestamp || !sign) return gatewayError(res, "3001001");
    const app = apps.get(appId);
    if (app === undefined) return gatewayError(res, "2001001");
    const stats = app.stats;
    stats.requests[path] = (stats.requests[path] ?? 0) + 1;

    const owner = issuedTo.get(accessToken);
    if (
      owner === undefined ||
      (owner === appId && app.access?.token === accessToken && now() >= app.access.expiresAt)
    ) {
      stats.tokenRefusals++;
      return gatewayError(res, "2001003");
    }
    if (owner !== appId || app.access?.token !== accessToken) {
      stats.tokenRefusals++;
      return gatewayError(res, "2001005");
    }
    if (!/^\d{10}$/.test(timestamp) || Math.abs(now() - Number(timestamp) * 1000) > windowMs) {
      return gatewayError(res, "2001007");
    }
    let body: Record<string, Json> = {};
    try {
      const parsed = JSON.parse(raw.toString("utf8") || "{}") as Json;
      if (parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)) body = parsed;
    } catch {
      body = {};
    }
    const signed: Record<string, Json> = { ...body };
    for (const [name, value] of q) if (name !== "sign") signed[name] = value;
    if (expectedSign(signed, appId) !== sign) {
      stats.signatureFailures++;
      return gatewayError(res, "2001006");
    }

    // The token bucket: one token per request in flight, returned when the response closes.
    const inFlight = app.inFlight.get(path) ?? 0;
    if (inFlight >= capacityOf(path)) {
      stats.overLimit++;
      stats.rateLimited++;
      return gatewayError(res, "3001008");
    }
    app.inFlight.set(path, inFlight + 1);
    stats.maxInFlight[path] = Math.max(stats.maxInFlight[path] ?? 0, inFlight + 1);
    res.on("close", () => app.inFlight.set(path, (app.inFlight.get(path) ?? 1) - 1));

    if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));

    const failure = app.failures.shift();
    const handler = BUSINESS[path];
    if (handler === undefined) return businessError(res, 400);
    if (failure === "hang" || failure === "timeout-after-accept") {
      if (failure === "timeout-after-accept") {
        // Do the work, then never answer: the client's timeout decides. The answer goes nowhere.
        const sink = { writeHead: () => sink, end: () => sink } as unknown as ServerResponse;
        handler(app, body, sink);
      }
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return;
    }
    if (failure === "http500") {
      res.writeHead(500, { "Content-Type": "text/html" });
      res.end("<html><head><title>500 Internal Server Error</title></head><body>nginx</body></html>");
      return;
    }
    if (failure !== undefined) return answerCode(res, String(failure));
    handler(app, body, res);
  };

  // -------------------------------------------------------------------------------------------------------
  // Controls

  const shipOrder: LingxingFake["shipOrder"] = (appId, platformOrderNo, shipment) => {
    const order = appOf(appId).orders.find((o) => o.platformOrderNo === platformOrderNo);
    if (order === undefined) throw new Error(`no order ${platformOrderNo} for app ${appId}`);
    const woNumber = `WO${nextWoNumber++}`;
    const shippedAt = shipment.shippedAt ?? now();
    order.status = 6;
    order.updatedAt = now();
    order.shipment = {
      woNumber,
      carrier: shipment.carrier,
      trackingNumber: shipment.trackingNumber,
      shippedAt,
    };
    return { woNumber };
  };

  const statsOf = (appId: string): LingxingFakeStats =>
    structuredClone(apps.get(appId)?.stats ?? emptyStats());

  const control = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    let body: Record<string, unknown> = {};
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        return reply(res, 400, { error: "body must be JSON" });
      }
    }
    const done = () => {
      res.writeHead(204);
      res.end();
    };
    const text = (key: string) => (typeof body[key] === "string" && body[key] !== "" ? body[key] : undefined);
    const strings = (key: string) =>
      Array.isArray(body[key]) && (body[key] as unknown[]).every((v) => typeof v === "string")
        ? (body[key] as string[])
        : undefined;
    const route = `${req.method} ${path}`;
    const appId = text("appId") ?? query.get("appId") ?? undefined;
    switch (route) {
      case "POST /apps": {
        const appSecret = text("appSecret");
        if (!appId || !appSecret) return reply(res, 400, { error: "appId and appSecret are required" });
        const skus = strings("skus");
        registerApp(appId, appSecret, skus === undefined ? {} : { skus });
        return done();
      }
      case "POST /skus": {
        if (!appId || !apps.has(appId)) return reply(res, 404, { error: "unknown appId" });
        appOf(appId).skus = body.skus === null ? null : new Set(strings("skus") ?? []);
        return done();
      }
      case "POST /fail-next": {
        const failure = body.failure;
        if (!appId || !apps.has(appId) || (typeof failure !== "string" && typeof failure !== "number")) {
          return reply(res, 400, { error: "appId (registered) and failure are required" });
        }
        appOf(appId).failures.push(failure);
        return done();
      }
      case "POST /ship": {
        const platformOrderNo = text("platformOrderNo");
        const carrier = text("carrier");
        const trackingNumber = text("trackingNumber");
        if (!appId || !platformOrderNo || !carrier || !trackingNumber) {
          return reply(res, 400, {
            error: "appId, platformOrderNo, carrier and trackingNumber are required",
          });
        }
        const shippedAt = typeof body.shippedAt === "string" ? Date.parse(body.shippedAt) : undefined;
        try {
          return reply(
            res,
            200,
            shipOrder(appId, platformOrderNo, {
              carrier,
              trackingNumber,
              ...(shippedAt === undefined || Number.isNaN(shippedAt) ? {} : { shippedAt }),
            }),
          );
        } catch (error) {
          return reply(res, 404, { error: String(error) });
        }
      }
      case "POST /expire-token": {
        if (!appId || !apps.has(appId)) return reply(res, 404, { error: "unknown appId" });
        const access = appOf(appId).access;
        if (access !== null) access.expiresAt = now();
        return done();
      }
      case "POST /config": {
        if (typeof body.latencyMs === "number") latencyMs = body.latencyMs;
        if (
          typeof body.capacity === "number" ||
          (typeof body.capacity === "object" && body.capacity !== null)
        ) {
          capacity = body.capacity as number | Record<string, number>;
        }
        return done();
      }
      case "GET /stats":
        if (!appId) return reply(res, 400, { error: "appId is required" });
        return reply(res, 200, statsOf(appId));
      case "GET /orders":
        if (!appId) return reply(res, 400, { error: "appId is required" });
        return reply(res, 200, { orders: apps.get(appId)?.orders ?? [] });
      default:
        return reply(res, 404, { error: `no control route ${route}` });
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    if (url.pathname.startsWith("/__control/")) {
      return control(req, res, url.pathname.slice("/__control".length), url.searchParams);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const path = url.pathname;
    if (req.method !== "POST") {
      res.writeHead(405, { "Content-Type": "text/html" });
      res.end("<html><head><title>405 Not Allowed</title></head><body>nginx</body></html>");
      return;
    }
    if (path === PATH.accessToken || path === PATH.refresh) {
      const fields = formFields(req.headers["content-type"] ?? "", raw);
      for (const [name, value] of url.searchParams) if (!fields.has(name)) fields.set(name, value);
      return tokenEndpoint(path, fields, res);
    }
    if (path in BUSINESS) return business(path, url, raw, res);
    reply(res, 200, {
      code: 400,
      message: "服务不存在",
      error_details: [],
      request_id: requestId(),
      response_time: chinaTime(now()),
      data: [],
      total: 0,
    });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) reply(res, 500, { code: "500", msg: String(error), data: null });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    registerApp,
    setSkus(appId, skus) {
      appOf(appId).skus = skus === null ? null : new Set(skus);
    },
    failNext(appId, failure) {
      appOf(appId).failures.push(failure);
    },
    shipOrder,
    expireAccessToken(appId) {
      const access = appOf(appId).access;
      if (access !== null) access.expiresAt = now();
    },
    configure(next) {
      if (next.latencyMs !== undefined) latencyMs = next.latencyMs;
      if (next.capacity !== undefined) capacity = next.capacity;
    },
    stats: statsOf,
    orders(appId) {
      return structuredClone(apps.get(appId)?.orders ?? []);
    },
    accessTokenOf(appId) {
      return apps.get(appId)?.access?.token;
    },
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
