import { backoffSeconds } from "../../../lib/backoff";
import { UpstreamError } from "../../../lib/errors";
import { scrubber } from "../../../lib/scrub";
import type { UpstreamFailureKind, UpstreamGate, UpstreamOutcome } from "../../../lib/upstream-gate";
import type {
  ChannelAdapter,
  FulfillmentInput,
  OrderSearchResult,
  OrdersPage,
  ProductAssetsPage,
} from "../interface";
import { matchesOrderSearch, normaliseCriteria, type OrderSearchCriterion } from "../order-search";
import { toTikTokVariantAssets } from "./product-transform";
import { signTikTokRequest } from "./sign";
import { mapTikTokOrders } from "./transform";
import {
  TIKTOK_ENDPOINTS,
  TIKTOK_ERROR,
  TIKTOK_MAX_ORDER_IDS,
  TIKTOK_MAX_PAGE_SIZE,
  TIKTOK_MAX_PRODUCT_PAGE_SIZE,
  TIKTOK_PATHS,
  type TikTokOrder,
  tiktokEnvelopeSchema,
  tiktokOrderDetailDataSchema,
  tiktokOrderIdentitySchema,
  tiktokOrderSchema,
  tiktokOrderSearchDataSchema,
  tiktokProductSchema,
  tiktokProductSearchDataSchema,
  tiktokShippingProvidersDataSchema,
} from "./types";

/**
 * TikTok Shop channel adapter over the Open API, 202309 versions (`https://open-api.tiktokglobalshop.com`).
 *
 * Every request carries `app_key`, `timestamp` (Unix seconds), `sign` (sign.ts) and, being shop-scoped,
 * `shop_cipher` in the query; the seller's access token travels only in the `x-tts-access-token` header.
 * Answers are `{ code, message, request_id, data }`, code 0 meaning success.
 *
 * APIs: Get Order Detail `GET /order/202309/orders?ids=…` (≤ 50 ids) for `getOrders`, Get Order List
 * `POST /order/202309/orders/search` (`page_size` ≤ 100, `page_token`, `sort_field=update_time`,
 * `sort_order=ASC` in the query; `update_time_ge` in the body) for `listOrdersUpdatedSince`; Get Shipping
 * Providers `GET /logistics/202309/delivery_options/{id}/shipping_providers` and Ship Package
 * `POST /fulfillment/202309/packages/{id}/ship` for `createFulfillment`. TikTok has no
 * bulk export, so this adapter has none: backfills page through the order list.
 *
 * Rate limits: TikTok meters requests per second per app and shop. Every request takes a permit of cost 1
 * from the `UpstreamGate` (endpoint = API path) and returns it with what happened, including a 429's
 * Retry-After.
 *
 * Failures (the `kind` of the thrown `UpstreamError`; reads are retried here up to `maxAttempts`):
 * | TikTok answer                                                       | kind         | retried |
 * |---------------------------------------------------------------------|--------------|---------|
 * | HTTP 429, code 36009002                                             | rate_limited | yes, after Retry-After (else 1 s) |
 * | HTTP 5xx, code 36009003, network error, timeout, non-JSON body      | retryable    | yes, jittered backoff |
 * | 105001/105002 token invalid/expired, 105005 scope, 106001 sign (wrong app secret), 106013 shop cipher, 36009004 naming app_key/access_token, HTTP 401/403 | auth | no |
 * | any other code, other 4xx                                           | permanent    | no |
 * Ship Package is resent only after the order was read again and carries no package with the tracking
 * number (a timeout may have shipped it); a 429 proves nothing was done.
 *
 * Secrets never reach a message or a cause: the app secret, access token, shop cipher and the signed query
 * string are scrubbed.
 */

export interface TikTokCredentials {
  appKey: string;
  /** SECRET: signs every request. */
  appSecret: string;
  /** SECRET: the seller's access token, sent as `x-tts-access-token`. */
  accessToken: string;
  /** The shop's cipher (Get Authorized Shops), required by every shop-scoped API. */
  shopCipher: string;
}

export interface TikTokAdapterInput {
  /** TikTok Shop id (digits): the `storeId` of mapped orders and the `shop_id` of webhooks. */
  shopId: string;
  credentials: TikTokCredentials;
  /** "https://open-api.tiktokglobalshop.com" or the fake's url. */
  apiBase: string;
  gate: UpstreamGate;
  /** Per attempt, response body included. Default 10 000. */
  timeoutMs?: number;
  /** Attempts for reads, the first included. Default 4. */
  maxAttempts?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch ms; the signed `timestamp`. */
  now?: () => number;
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

export type TikTokAdapter = ChannelAdapter &
  Required<Pick<ChannelAdapter, "getOrders" | "searchOrders" | "listProductAssets">> & {
    readonly shopId: string;
  };

const UPSTREAM = "tiktok";
/** TikTok's 429 answers may come without Retry-After; a second lets a per-second window pass. */
const DEFAULT_RETRY_AFTER_MS = 1000;

const AUTH_CODES: ReadonlySet<number> = new Set([
  TIKTOK_ERROR.accessTokenInvalid,
  TIKTOK_ERROR.accessTokenExpired,
  TIKTOK_ERROR.scopeNotGranted,
  TIKTOK_ERROR.invalidSign,
  TIKTOK_ERROR.invalidShopCipher,
]);

function upstreamError(
  message: string,
  kind: UpstreamFailureKind,
  options: { retryAfterSeconds?: number; cause?: unknown; tiktokCode?: number; requestId?: string } = {},
): UpstreamError {
  const details: Record<string, unknown> = {};
  if (options.tiktokCode !== undefined) details.tiktokCode = options.tiktokCode;
  if (options.requestId) details.requestId = options.requestId;
  return new UpstreamError(message, {
    upstream: UPSTREAM,
    retryable: kind === "retryable" || kind === "rate_limited",
    kind,
    details,
    ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
    ...(options.cause === undefined ? {} : { cause: options.cause }),
  });
}

/** How a TikTok code is treated. */
export function kindOfTikTokCode(code: number, message: string): UpstreamFailureKind {
  if (AUTH_CODES.has(code)) return "auth";
  if (code === TIKTOK_ERROR.tooManyRequests) return "rate_limited";
  if (code === TIKTOK_ERROR.internalError) return "retryable";
  if (code === TIKTOK_ERROR.invalidParams && /app_key|access_token/i.test(message)) return "auth";
  return "permanent";
}

/** One round trip's result: the `data` of a code-0 answer, or the error and whether to try again. */
type RoundTrip =
  | { ok: true; data: unknown; outcome: UpstreamOutcome }
  | { ok: false; error: UpstreamError; waitMs: number | null; outcome: UpstreamOutcome };

export function createTikTokAdapter(input: TikTokAdapterInput): TikTokAdapter {
  const shopId = input.shopId.trim();
  if (!/^\d+$/.test(shopId)) throw new RangeError(`Not a TikTok shop id: "${input.shopId}"`);
  const { credentials, gate } = input;
  const apiBase = input.apiBase.replace(/\/+$/, "");
  const timeoutMs = input.timeoutMs ?? 10_000;
  const maxAttempts = Math.max(1, input.maxAttempts ?? 4);
  // Call through a closure: an unbound `fetch` taken off an object throws "Illegal invocation" in workerd.
  const doFetch: typeof fetch = input.fetch ?? ((url, init) => fetch(url, init));
  const sleep = input.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = input.random ?? Math.random;
  const now = input.now ?? Date.now;
  const backoffBaseMs = input.backoffBaseMs ?? 250;
  const backoffCapMs = input.backoffCapMs ?? 5000;
  const scrub = scrubber([credentials.appSecret, credentials.accessToken, credentials.shopCipher]);
  // backoffSeconds is a unit-free formula below its 12 h clamp: fed milliseconds, it returns milliseconds.
  const backoffMs = (attempt: number) =>
    backoffSeconds(attempt, { baseSeconds: backoffBaseMs, capSeconds: backoffCapMs, random });

  interface ApiRequest {
    method: "GET" | "POST";
    path: string;
    /** Business query parameters (the common ones are added here). */
    query?: Record<string, string>;
    body?: unknown;
    /** What the request is, for messages ("Get Order List"). */
    what: string;
    /** The gate's endpoint when the path holds an id: one budget and breaker per API, not per object. */
    endpoint?: string;
  }

  async function roundTrip(request: ApiRequest, attempt: number): Promise<RoundTrip> {
    const query: Record<string, string> = {
      ...request.query,
      app_key: credentials.appKey,
      shop_cipher: credentials.shopCipher,
      timestamp: String(Math.floor(now() / 1000)),
    };
    const body = request.body === undefined ? null : JSON.stringify(request.body);
    const sign = await signTikTokRequest({
      appSecret: credentials.appSecret,
      path: request.path,
      query,
      body,
    });
    const url = `${apiBase}${request.path}?${new URLSearchParams({ ...query, sign })}`;
    const signal = AbortSignal.timeout(timeoutMs);
    // Whatever TikTok answered counted against its per-second limit; telling the governor so keeps it
    // from refunding the permit of a refused request (it refunds unreported failures: maybe never sent).
    const counted = { actualCost: 1 } as const;
    /** Worth another attempt; `cause` = the transport failed (nothing reached TikTok's counter for sure). */
    const transient = (message: string, cause?: unknown): RoundTrip => ({
      ok: false,
      error: upstreamError(message, "retryable", cause === undefined ? {} : { cause: scrub.error(cause) }),
      waitMs: backoffMs(attempt),
      outcome: { ok: false, failure: "retryable", ...(cause === undefined ? counted : {}) },
    });
    const fatal = (
      message: string,
      kind: UpstreamFailureKind,
      extra: { tiktokCode?: number; requestId?: string } = {},
    ): RoundTrip => ({
      ok: false,
      error: upstreamError(message, kind, extra),
      waitMs: null,
      outcome: { ok: false, failure: kind, ...counted },
    });

    let response: Response;
    let text: string;
    try {
      response = await doFetch(url, {
        method: request.method,
        headers: {
          accept: "application/json",
          "content-type": "application/json",
          "x-tts-access-token": credentials.accessToken,
        },
        ...(body === null ? {} : { body }),
        signal,
      });
      text = await response.text();
    } catch (error) {
      return signal.aborted
        ? transient(`TikTok ${request.what} timed out after ${timeoutMs} ms`, error)
        : transient(`TikTok ${request.what} failed (network error)`, error);
    }

    const status = response.status;
    let envelope: ReturnType<typeof tiktokEnvelopeSchema.safeParse> | null = null;
    try {
      envelope = tiktokEnvelopeSchema.safeParse(JSON.parse(text));
    } catch {
      envelope = null;
    }
    const answer = envelope?.success ? envelope.data : null;

    if (status === 429 || answer?.code === TIKTOK_ERROR.tooManyRequests) {
      const retryAfterMs = retryAfterHeaderMs(response.headers.get("retry-after"));
      return {
        ok: false,
        error: upstreamError(`TikTok ${request.what} is rate limited (HTTP ${status})`, "rate_limited", {
          retryAfterSeconds: Math.ceil(retryAfterMs / 1000),
          ...(answer ? { tiktokCode: answer.code, requestId: answer.request_id } : {}),
        }),
        waitMs: retryAfterMs,
        outcome: { ok: false, failure: "rate_limited", retryAfterMs, ...counted },
      };
    }
    if (answer !== null && answer.code === 0 && status < 300) {
      return { ok: true, data: answer.data, outcome: { ok: true, ...counted } };
    }
    if (answer !== null && answer.code !== 0) {
      const kind = kindOfTikTokCode(answer.code, answer.message);
      const message = scrub.text(answer.message).slice(0, 300);
      const extra = { tiktokCode: answer.code, requestId: answer.request_id };
      if (kind === "retryable") {
        return {
          ok: false,
          error: upstreamError(
            `TikTok ${request.what} failed (${answer.code} ${message})`,
            "retryable",
            extra,
          ),
          waitMs: backoffMs(attempt),
          outcome: { ok: false, failure: "retryable", ...counted },
        };
      }
      if (kind === "auth") {
        return fatal(
          `TikTok refused the shop's credentials (${answer.code} ${message}): reconnect the TikTok shop or check the app key and secret`,
          "auth",
          extra,
        );
      }
      return fatal(`TikTok refused ${request.what} (${answer.code} ${message})`, "permanent", extra);
    }
    if (status >= 500) return transient(`TikTok ${request.what} returned HTTP ${status}`);
    if (status === 401 || status === 403) {
      return fatal(`TikTok refused the shop's credentials (HTTP ${status})`, "auth");
    }
    if (status >= 400) return fatal(`TikTok ${request.what} returned HTTP ${status}`, "permanent");
    return transient(`TikTok ${request.what} answered HTTP ${status} without a TikTok envelope`);
  }

  /** One round trip under one permit; the permit is always returned with what happened. */
  async function exchange(request: ApiRequest, attempt: number): Promise<RoundTrip> {
    const permit = await gate.acquire({ endpoint: request.endpoint ?? request.path, cost: 1 });
    let result: RoundTrip | null = null;
    try {
      result = await roundTrip(request, attempt);
      return result;
    } finally {
      // The governor's bookkeeping must not turn a TikTok answer into a failure.
      await permit.release(result?.outcome ?? { ok: false, failure: "retryable" }).catch(() => undefined);
    }
  }

  /** A read: safe to repeat, so transient failures are retried up to `maxAttempts`. */
  async function read(request: ApiRequest): Promise<unknown> {
    for (let attempt = 1; ; attempt++) {
      const result = await exchange(request, attempt);
      if (result.ok) return result.data;
      if (result.waitMs === null || attempt >= maxAttempts) throw result.error;
      await sleep(result.waitMs);
    }
  }

  /** The order as TikTok holds it now, for fulfilment decisions; null when TikTok does not know it. */
  async function readOrderForShipping(orderId: string): Promise<TikTokOrder | null> {
    const data = await read({
      method: "GET",
      path: TIKTOK_PATHS.orderDetail,
      query: { ids: orderId },
      what: "Get Order Detail",
    });
    const raw = tiktokOrderDetailDataSchema
      .parse(data ?? {})
      .orders.find((o) => tiktokOrderIdentitySchema.safeParse(o).data?.id === orderId);
    if (raw === undefined) return null;
    const parsed = tiktokOrderSchema.safeParse(raw);
    if (!parsed.success) {
      throw upstreamError(`TikTok order ${orderId} has an unexpected shape`, "permanent");
    }
    return parsed.data;
  }

  /** TikTok's id of the carrier named `carrier` among those the order's delivery option allows. */
  async function shippingProviderId(order: TikTokOrder, carrier: string): Promise<string> {
    const deliveryOptionId = order.delivery_option_id;
    if (!deliveryOptionId) {
      throw upstreamError(
        `TikTok order ${order.id} has no delivery option to choose a carrier from`,
        "permanent",
      );
    }
    const data = await read({
      method: "GET",
      path: TIKTOK_PATHS.shippingProviders(deliveryOptionId),
      endpoint: TIKTOK_ENDPOINTS.shippingProviders,
      what: "Get Shipping Providers",
    });
    const providers = tiktokShippingProvidersDataSchema.parse(data ?? {}).shipping_providers;
    const wanted = normaliseCarrier(carrier);
    const match =
      providers.find((p) => normaliseCarrier(p.name) === wanted) ??
      providers.find(
        (p) => normaliseCarrier(p.name).startsWith(wanted) || wanted.startsWith(normaliseCarrier(p.name)),
      );
    if (match === undefined) {
      throw upstreamError(
        `TikTok offers no shipping provider named "${carrier}" for order ${order.id} (it offers: ${providers
          .map((p) => p.name)
          .slice(0, 20)
          .join(", ")})`,
        "permanent",
      );
    }
    return match.id;
  }

  return {
    channel: "tiktok",
    shopId,
    /**
     * Order lookup by order id only. Get Order List filters by times, status, shipping type, buyer user
     * id, cancellation request and warehouse, never by buyer contact: TikTok hands sellers a relay email
     * (`…@scs2.tiktok.com`) and a masked phone number ("(+1)213*****68"), so a customer's own email or
     * phone can match no TikTok order at the channel.
     */
    orderSearchCriteria: ["orderNumber"] satisfies OrderSearchCriterion[],

    /** Get Order Detail for the order number as an id (TikTok's order number is its id). */
    async searchOrders({ criteria, limit }): Promise<OrderSearchResult> {
      const wanted = normaliseCriteria(criteria);
      const id = wanted.orderNumber;
      if (id === undefined || !/^\d+$/.test(id) || wanted.email !== undefined || wanted.phone !== undefined) {
        return { orders: [], rejected: [], truncated: false };
      }
      const data = await read({
        method: "GET",
        path: TIKTOK_PATHS.orderDetail,
        query: { ids: id },
        what: "Get Order Detail",
      });
      const { orders, rejected } = mapTikTokOrders(
        tiktokOrderDetailDataSchema.parse(data ?? {}).orders,
        shopId,
      );
      const matching = orders.filter((order) => matchesOrderSearch(order, wanted));
      return { orders: matching.slice(0, Math.max(1, limit)), rejected, truncated: false };
    },

    /**
     * One page of Search Products, then Get Product for each product on it (only the detail carries
     * pictures): `pageSize` products, so a page costs `pageSize + 1` requests of the shop's budget. A
     * product TikTok no longer knows, or of an unexpected shape, is reported in `rejected`.
     */
    async listProductAssets({ cursor, pageSize }): Promise<ProductAssetsPage> {
      const size = Math.max(1, Math.min(Math.floor(pageSize), TIKTOK_MAX_PRODUCT_PAGE_SIZE));
      const data = await read({
        method: "POST",
        path: TIKTOK_PATHS.productSearch,
        query: { page_size: String(size), ...(cursor ? { page_token: cursor } : {}) },
        body: {},
        what: "Search Products",
      });
      const page = tiktokProductSearchDataSchema.safeParse(data ?? {});
      if (!page.success)
        throw upstreamError("TikTok Search Products answered an unexpected shape", "retryable");
      const result: ProductAssetsPage = { assets: [], rejected: [], nextCursor: null };
      for (const summary of page.data.products) {
        let detail: unknown;
        try {
          detail = await read({
            method: "GET",
            path: TIKTOK_PATHS.productDetail(summary.id),
            endpoint: TIKTOK_ENDPOINTS.productDetail,
            what: "Get Product",
          });
        } catch (error) {
          // TikTok refused this one product (deleted since the search): the rest of the page still counts.
          if (error instanceof UpstreamError && error.kind === "permanent") {
            result.rejected.push({ productExternalId: summary.id, error: error.message });
            continue;
          }
          throw error;
        }
        const product = tiktokProductSchema.safeParse(detail ?? {});
        if (!product.success) {
          result.rejected.push({
            productExternalId: summary.id,
            error: `TikTok product ${summary.id} has an unexpected shape: ${product.error.issues
              .slice(0, 3)
              .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
              .join("; ")}`,
          });
          continue;
        }
        result.assets.push(...toTikTokVariantAssets(product.data));
      }
      const token = page.data.next_page_token;
      result.nextCursor = token === "" ? null : token;
      return result;
    },

    async getOrders(externalIds) {
      // Anything but digits cannot be a TikTok order id: it is simply not found.
      const ids = [...new Set(externalIds.map((id) => id.trim()).filter((id) => /^\d+$/.test(id)))];
      const found: Pick<OrdersPage, "orders" | "rejected"> = { orders: [], rejected: [] };
      for (let i = 0; i < ids.length; i += TIKTOK_MAX_ORDER_IDS) {
        const chunk = ids.slice(i, i + TIKTOK_MAX_ORDER_IDS);
        const data = await read({
          method: "GET",
          path: TIKTOK_PATHS.orderDetail,
          query: { ids: chunk.join(",") },
          what: "Get Order Detail",
        });
        const { orders, rejected } = mapTikTokOrders(
          tiktokOrderDetailDataSchema.parse(data ?? {}).orders,
          shopId,
        );
        found.orders.push(...orders);
        found.rejected.push(...rejected);
      }
      return found;
    },

    async listOrdersUpdatedSince({ updatedSince, cursor, pageSize }) {
      const since = Date.parse(updatedSince);
      if (Number.isNaN(since)) throw new RangeError(`Not a timestamp: "${updatedSince}"`);
      const size = Math.max(1, Math.min(Math.floor(pageSize), TIKTOK_MAX_PAGE_SIZE));
      const data = await read({
        method: "POST",
        path: TIKTOK_PATHS.orderSearch,
        query: {
          page_size: String(size),
          sort_field: "update_time",
          sort_order: "ASC",
          ...(cursor ? { page_token: cursor } : {}),
        },
        body: { update_time_ge: Math.floor(since / 1000) },
        what: "Get Order List",
      });
      const page = tiktokOrderSearchDataSchema.safeParse(data ?? {});
      if (!page.success)
        throw upstreamError("TikTok Get Order List answered an unexpected shape", "retryable");
      const { orders, rejected } = mapTikTokOrders(page.data.orders, shopId);
      const token = page.data.next_page_token;
      return { orders, rejected, nextCursor: token === "" ? null : token };
    },

    /**
     * Ship Package with the seller's own carrier (`self_shipment`: tracking number + TikTok's shipping
     * provider id, found by carrier name among those the order's delivery option allows). TikTok ships whole
     * packages: the package holding the requested lines (or the first package still to ship) is shipped
     * with the first tracking number. Idempotent: a package of the order already carrying one of the
     * tracking numbers is returned as it is. After an answer that leaves the outcome unknown (timeout, 5xx)
     * the order is read again before anything is resent.
     */
    async createFulfillment(request) {
      const orderId = request.orderExternalId.trim();
      const trackingNumbers = request.trackingNumbers.map((n) => n.trim()).filter((n) => n !== "");
      const [trackingNumber] = trackingNumbers;
      if (trackingNumber === undefined) {
        throw upstreamError("A TikTok shipment needs a tracking number", "permanent");
      }
      if (request.carrier.trim() === "")
        throw upstreamError("A TikTok shipment needs a carrier", "permanent");
      let sentBefore = false;
      for (let round = 1; ; round++) {
        const order = await readOrderForShipping(orderId);
        if (order === null) throw upstreamError(`TikTok order ${orderId} not found`, "permanent");
        const existing = packageCarrying(order, trackingNumbers);
        // Found after our own unanswered attempt: that attempt shipped it.
        if (existing !== null) return { fulfillmentId: existing, created: sentBefore };
        if (order.status !== "AWAITING_SHIPMENT" && order.status !== "PARTIALLY_SHIPPING") {
          throw upstreamError(
            `TikTok order ${orderId} has nothing left to ship (${order.status})`,
            "permanent",
          );
        }
        const packageId = packageToShip(order, request.lines);
        const providerId = await shippingProviderId(order, request.carrier.trim());
        sentBefore = true;
        const result = await exchange(
          {
            method: "POST",
            path: TIKTOK_PATHS.shipPackage(packageId),
            endpoint: TIKTOK_ENDPOINTS.shipPackage,
            body: { self_shipment: { tracking_number: trackingNumber, shipping_provider_id: providerId } },
            what: "Ship Package",
          },
          round,
        );
        if (result.ok) return { fulfillmentId: packageId, created: true };
        if (result.waitMs === null || round >= maxAttempts) throw result.error;
        await sleep(result.waitMs);
      }
    },
  };
}

const normaliseCarrier = (name: string) => name.toLowerCase().replace(/[^a-z0-9]/g, "");
const normaliseTracking = (value: string) => value.replace(/\s+/g, "").toUpperCase();

/** The package of `order` already shipped with one of `trackingNumbers`, if any. */
function packageCarrying(order: TikTokOrder, trackingNumbers: string[]): string | null {
  const wanted = new Set(trackingNumbers.map(normaliseTracking));
  for (const item of order.line_items) {
    if (item.tracking_number && item.package_id && wanted.has(normaliseTracking(item.tracking_number))) {
      return item.package_id;
    }
  }
  return null;
}

/** The package holding the requested lines' units still to ship; empty `lines` = the first such package. */
function packageToShip(order: TikTokOrder, lines: FulfillmentInput["lines"]): string {
  const skus = new Set(lines.map((line) => line.externalLineId.split("@")[0] ?? ""));
  const candidates = order.line_items.filter(
    (item) =>
      item.package_id &&
      !item.tracking_number &&
      item.display_status !== "CANCELLED" &&
      (skus.size === 0 || skus.has(item.sku_id)),
  );
  const packages = [...new Set(candidates.map((item) => item.package_id ?? ""))];
  const [packageId] = packages;
  if (packageId === undefined) {
    throw upstreamError(`TikTok order ${order.id} has no package left to ship for these lines`, "permanent");
  }
  if (packages.length > 1 && skus.size > 0) {
    throw upstreamError(
      `TikTok order ${order.id}: the requested lines are in ${packages.length} packages; ship them one at a time`,
      "permanent",
    );
  }
  return packageId;
}

function retryAfterHeaderMs(header: string | null): number {
  const seconds = header === null ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : DEFAULT_RETRY_AFTER_MS;
}
