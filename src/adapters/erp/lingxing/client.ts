import type { Shipment } from "../../../domain/commerce";
import { backoffSeconds } from "../../../lib/backoff";
import { UpstreamError } from "../../../lib/errors";
import type { Logger } from "../../../lib/logger";
import { scrubber } from "../../../lib/scrub";
import type { UpstreamFailureKind, UpstreamGate, UpstreamOutcome } from "../../../lib/upstream-gate";
import type { ErpAdapter, ErpOrderInput, ErpOrderStatus, ErpPushResult } from "../interface";
import { canonicalJson, type LingxingParams, type LingxingParamValue, signLingxingParams } from "./sign";
import {
  interpretLingxingBody,
  type LingxingAnswer,
  readCreateOrdersOutcome,
  toCreateOrdersRequest,
  toErpOrderStatuses,
  toLingxingCreateOrder,
  toShipments,
  upstreamFailureOf,
} from "./transform";
import {
  LINGXING_OUTBOUND_SHIPPED,
  LINGXING_PATHS,
  type LingxingCreateOrder,
  type LingxingErrorKind,
  type LingxingListOrdersRequest,
  type LingxingListOutboundOrdersRequest,
  type LingxingOutboundOrder,
  type LingxingPath,
  lingxingListOrdersDataSchema,
  lingxingOutboundOrdersSchema,
  lingxingTokenDataSchema,
} from "./types";

/**
 * Lingxing (领星 ERP) OpenAPI as an `ErpAdapter`.
 *
 * Protocol (apidoc.lingxing.com, 领星 API 接入指南):
 * - tokens: `POST /api/auth-server/oauth/access-token` (form `appId`, `appSecret`) → `access_token`,
 *   `refresh_token`, `expires_in` (7199 s); `POST /api/auth-server/oauth/refresh` (form `appId`,
 *   `refreshToken`) renews it. A refresh token works once. Issuing a new token supersedes the old one for every
 *   holder (2001005 "access token not match"), so all isolates share one token through `LingxingTokenStore`
 *   and only the holder of its refresh lock renews it;
 * - business calls: POST with a JSON body; `access_token`, `app_key` (= appId), `timestamp` (seconds) and
 *   `sign` (sign.ts) in the query string;
 * - rate limit: a token bucket per appId + API path whose token is held until the request completes (or 2
 *   min); an empty bucket answers 3001008. The gate is asked for a permit before every request.
 *
 * APIs used: 创建订单 `/pb/mp/order/v2/create` (several orders per call, per-order answers), 查询订单管理订单列表
 * `/pb/mp/order/v2/list` (by platform order number), 查询销售出库单列表 `/erp/sc/routing/wms/order/wmsOrderList`
 * (outbound orders with tracking numbers). Lingxing publishes no API for sales invoices (its only invoice
 * API lists Amazon advertising invoices), so this adapter has no `listInvoices`.
 *
 * Failure mapping (the `kind` of the thrown `UpstreamError`):
 * | condition                                   | reads (list)                    | order create                              |
 * |---------------------------------------------|---------------------------------|-------------------------------------------|
 * | 2001003 expired / 2001005 superseded token   | renew once, repeat once; then auth | same (the gateway refused: nothing created) |
 * | 2001001/2001002/2001004/3001002/401/403      | auth, not retryable             | same                                      |
 * | 3001008 / 103 / HTTP 429                     | backoff + retry to maxAttempts, then rate_limited (retryable) | same (refused before processing) |
 * | 2001007 signature expired                    | retry with a fresh timestamp    | same                                      |
 * | HTTP 5xx, network error, code 500, timeout   | backoff + retry, then retryable | retryable at once, never re-posted: the outcome is unknown, the engine's ledger looks the orders up (`findOrders`) before posting again |
 * | 102 / other refusals of the request          | permanent                       | split the batch until the refused order is alone → `rejected` |
 * | per-order `error_details`                    | —                               | looked up by reference: exists → `duplicate` with its id, else `rejected` |
 * | 2001006 bad signature, 3001001 missing params | permanent (a bug here)         | same                                      |
 *
 * Secrets (appSecret, tokens, signatures) travel in form bodies and query strings: URLs and bodies are never
 * logged or put in an error, and causes are scrubbed.
 */

export interface LingxingCredentials {
  appId: string;
  /** SECRET. */
  appSecret: string;
}

export interface LingxingToken {
  /** SECRET. */
  accessToken: string;
  /** SECRET. Single use. */
  refreshToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

/** Implemented by the service layer with Redis; lets every isolate share one token. */
export interface LingxingTokenStore {
  get(): Promise<LingxingToken | null>;
  set(token: LingxingToken): Promise<void>;
  /** Runs fn while holding a short cross-isolate lock, so only one caller refreshes (refresh tokens are single-use). */
  withRefreshLock<T>(fn: () => Promise<T>): Promise<T>;
}

export interface LingxingAdapterInput {
  credentials: LingxingCredentials;
  /** "https://openapi.lingxing.com" or the fake's url. */
  apiBase: string;
  /** Asked before EVERY request (endpoint = the API path, cost 1) and told the outcome. */
  gate: UpstreamGate;
  tokens: LingxingTokenStore;
  /** Per request, body included. Default 15 000. */
  timeoutMs?: number;
  /** Attempts for reads and for refusals that prove nothing was done (rate limit, stale timestamp). Default 3. */
  maxAttempts?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Epoch ms; drives token expiry and the signed timestamp. */
  now?: () => number;
  random?: () => number;
  /** 平台code of the multi-platform store orders are created in. Default 10009 (自定义平台, custom platform). */
  platformCode?: number;
  /** 多平台 store_id for orders whose `erpStoreId` is null. */
  defaultStoreId?: string;
  /** Backoff between attempts grows from here, doubling, to `backoffCapMs` (full jitter). */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  logger?: Logger;
}

const UPSTREAM = "lingxing";
/**
 * Lingxing documents no limit on orders per 创建订单 call; 50 keeps one request's body and processing time
 * moderate while cutting calls per order fifty-fold.
 */
export const LINGXING_MAX_BATCH_SIZE = 50;
/** 查询订单管理订单列表 takes at most 200 platform order numbers, 20 ≤ length ≤ 500. */
const ORDER_LOOKUP_CHUNK = 200;
const ORDER_LIST_PAGE = 200;
/** 查询销售出库单列表: page_size ≤ 200. */
const OUTBOUND_PAGE = 200;
/** Renew this long before the access token expires, so no request goes out with a dying token. */
const TOKEN_RENEW_MARGIN_MS = 5 * 60_000;
const DEFAULT_PLATFORM_CODE = 10009;
/** Stores of these platforms are searched by `platform_order_names`, not `platform_order_nos`. */
const PLATFORMS_SEARCHED_BY_NAME = new Set([10002, 10003, 10012, 10014, 10016, 10020]);
/** Lingxing names no wait after 3001008; its bucket frees a token as soon as any request completes. */
const RATE_LIMIT_RETRY_AFTER_MS = 1000;
const RATE_LIMIT_RETRY_AFTER_SECONDS = 2;

/** A refusal Lingxing answered with a code: pushOrders reads it to tell a refused order from a refused request. */
class LingxingRefusalError extends UpstreamError {
  constructor(
    message: string,
    readonly lingxingCode: string,
    readonly lingxingMessage: string,
    readonly lingxingKind: LingxingErrorKind,
    kind: UpstreamFailureKind,
    options: { requestId: string | null; retryAfterSeconds?: number },
  ) {
    super(message, {
      upstream: UPSTREAM,
      retryable: kind === "retryable" || kind === "rate_limited",
      kind,
      details: { lingxingCode, requestId: options.requestId },
      ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
    });
  }

  /** A refusal of what the request asked for (not of how it was sent): the orders in it may be at fault. */
  get refusesContent(): boolean {
    return this.lingxingKind === "invalid_request" && this.lingxingCode !== "3001001";
  }
}

function upstreamError(
  message: string,
  kind: UpstreamFailureKind,
  options: { retryAfterSeconds?: number; cause?: unknown } = {},
): UpstreamError {
  const error = new UpstreamError(message, {
    upstream: UPSTREAM,
    retryable: kind === "retryable" || kind === "rate_limited",
    kind,
    ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
    ...(options.cause === undefined ? {} : { cause: options.cause }),
  });
  return error;
}

/** One round trip: Lingxing's answer, or what went wrong on the way. */
type Exchange =
  | { type: "answer"; answer: Exclude<LingxingAnswer, { code: null }> }
  | { type: "timeout" }
  | { type: "network"; cause: Error }
  | { type: "http"; status: number }
  | { type: "malformed"; status: number };

type CallMode =
  /** Safe to repeat: reads. */
  | "read"
  /** Creates orders: repeat only when Lingxing proved it did nothing (rate limit, token, timestamp). */
  | "create";

export function createLingxingAdapter(input: LingxingAdapterInput): ErpAdapter {
  const { credentials, gate, tokens, logger } = input;
  const apiBase = input.apiBase.replace(/\/+$/, "");
  const timeoutMs = input.timeoutMs ?? 15_000;
  const maxAttempts = Math.max(1, input.maxAttempts ?? 3);
  // Call through a closure: an unbound `fetch` taken off an object throws "Illegal invocation" in workerd.
  const doFetch: typeof fetch = input.fetch ?? ((url, init) => fetch(url, init));
  const sleep = input.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = input.now ?? Date.now;
  const random = input.random ?? Math.random;
  const platformCode = input.platformCode ?? DEFAULT_PLATFORM_CODE;
  const backoffBaseMs = input.backoffBaseMs ?? 200;
  const backoffCapMs = input.backoffCapMs ?? 2000;
  const scrub = scrubber([credentials.appSecret]);
  const logFields = { upstream: UPSTREAM, appId: credentials.appId };

  // backoffSeconds is a unit-free formula below its 12 h clamp: fed milliseconds, it returns milliseconds.
  const backoffMs = (attempt: number) =>
    backoffSeconds(attempt, { baseSeconds: backoffBaseMs, capSeconds: backoffCapMs, random });

  // -------------------------------------------------------------------------------------------------------
  // Transport

  async function exchange(
    path: LingxingPath,
    request: { query?: URLSearchParams; body: string | FormData },
  ): Promise<Exchange> {
    const permit = await gate.acquire({ endpoint: path, cost: 1 });
    let result: Exchange = { type: "network", cause: new Error("request not sent") };
    try {
      result = await send(path, request);
      return result;
    } finally {
      try {
        await permit.release(outcomeOf(result));
      } catch (error) {
        logger?.warn("lingxing gate release failed", {
          ...logFields,
          path,
          error: scrub.error(error).message,
        });
      }
    }
  }

  async function send(
    path: LingxingPath,
    request: { query?: URLSearchParams; body: string | FormData },
  ): Promise<Exchange> {
    const signal = AbortSignal.timeout(timeoutMs);
    const url = `${apiBase}${path}${request.query === undefined ? "" : `?${request.query}`}`;
    let response: Response;
    try {
      response = await doFetch(url, {
        method: "POST",
        headers:
          typeof request.body === "string"
            ? { accept: "application/json", "content-type": "application/json" }
            : { accept: "application/json" },
        body: request.body,
        signal,
      });
    } catch (error) {
      if (signal.aborted) return { type: "timeout" };
      return { type: "network", cause: scrub.error(error) };
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (signal.aborted) return { type: "timeout" };
      return { type: "network", cause: scrub.error(error) };
    }
    if (response.status === 429) {
      return {
        type: "answer",
        answer: { ok: false, code: "429", message: "HTTP 429", kind: "rate_limited", requestId: null },
      };
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const answer = interpretLingxingBody(body);
    if (answer.ok || answer.code !== null) return { type: "answer", answer };
    if (response.status >= 500) return { type: "http", status: response.status };
    if (!response.ok) {
      // nginx 404/405 pages for a wrong path: Lingxing's own "check the URL" answers.
      return {
        type: "answer",
        answer: {
          ok: false,
          code: `http_${response.status}`,
          message: `HTTP ${response.status}`,
          kind: "invalid_request",
          requestId: null,
        },
      };
    }
    return { type: "malformed", status: response.status };
  }

  function outcomeOf(result: Exchange): UpstreamOutcome {
    if (result.type !== "answer") return { ok: false, failure: "retryable" };
    if (result.answer.ok) return { ok: true };
    const failure = upstreamFailureOf(result.answer.kind);
    return failure === "rate_limited"
      ? { ok: false, failure, retryAfterMs: RATE_LIMIT_RETRY_AFTER_MS }
      : { ok: false, failure };
  }

  // -------------------------------------------------------------------------------------------------------
  // Tokens

  const fresh = (token: LingxingToken | null): token is LingxingToken =>
    token !== null && token.expiresAt - now() > TOKEN_RENEW_MARGIN_MS;

  function tokenForm(fields: Record<string, string>): FormData {
    const form = new FormData();
    for (const [key, value] of Object.entries(fields)) form.append(key, value);
    return form;
  }

  function tokenFrom(data: unknown): LingxingToken | null {
    const parsed = lingxingTokenDataSchema.safeParse(data);
    if (!parsed.success) return null;
    return {
      accessToken: parsed.data.access_token,
      refreshToken: parsed.data.refresh_token,
      expiresAt: now() + parsed.data.expires_in * 1000,
    };
  }

  /** A new token from appId + appSecret. Repeating it is harmless (each call supersedes the last). */
  async function issueToken(): Promise<LingxingToken> {
    if (credentials.appId.trim() === "" || credentials.appSecret.trim() === "") {
      throw upstreamError("The Lingxing connection is incomplete (appId or appSecret missing)", "auth");
    }
    for (let attempt = 1; ; attempt++) {
      const result = await exchange(LINGXING_PATHS.accessToken, {
        body: tokenForm({ appId: credentials.appId, appSecret: credentials.appSecret }),
      });
      if (result.type === "answer" && result.answer.ok) {
        const token = tokenFrom(result.answer.data);
        if (token !== null) return token;
        throw upstreamError("Lingxing access-token answer has no usable token", "retryable");
      }
      if (result.type === "answer" && !result.answer.ok) {
        const { code, message, kind } = result.answer;
        if (kind === "credentials" || kind === "refresh_rejected") {
          logger?.error("lingxing refused the app credentials", { ...logFields, code });
          throw new LingxingRefusalError(
            `Lingxing refused the app credentials (${code} ${scrub.text(message)}): check the appId, appSecret and IP whitelist`,
            code,
            scrub.text(message),
            kind,
            "auth",
            { requestId: result.answer.requestId },
          );
        }
        if (kind !== "rate_limited" && kind !== "server_error") {
          throw new LingxingRefusalError(
            `Lingxing access-token failed (${code} ${scrub.text(message)})`,
            code,
            scrub.text(message),
            kind,
            upstreamFailureOf(kind),
            { requestId: result.answer.requestId },
          );
        }
      }
      if (attempt >= maxAttempts) throw transportFailure("access-token", result);
      await sleep(backoffMs(attempt));
    }
  }

  /**
   * Renews with the single-use refresh token. Any failure (expired or used refresh token, network) ends in
   * null: the refresh token may be spent, and issuing from the app secret is always possible.
   */
  async function refreshToken(refresh: string): Promise<LingxingToken | null> {
    const result = await exchange(LINGXING_PATHS.refreshToken, {
      body: tokenForm({ appId: credentials.appId, refreshToken: refresh }),
    });
    if (result.type === "answer" && result.answer.ok) return tokenFrom(result.answer.data);
    logger?.info("lingxing token refresh failed, issuing a new token", {
      ...logFields,
      reason: result.type === "answer" && !result.answer.ok ? result.answer.code : result.type,
    });
    return null;
  }

  async function renew(current: LingxingToken | null): Promise<LingxingToken> {
    const refreshed = current === null ? null : await refreshToken(current.refreshToken);
    const next = refreshed ?? (await issueToken());
    await tokens.set(next);
    return next;
  }

  async function accessToken(): Promise<string> {
    const cached = await tokens.get();
    if (fresh(cached)) return cached.accessToken;
    return tokens.withRefreshLock(async () => {
      // Another isolate may have renewed while this one waited for the lock.
      const current = await tokens.get();
      if (fresh(current)) return current.accessToken;
      return (await renew(current)).accessToken;
    });
  }

  /** Lingxing refused `refused` (expired or superseded): renew unless someone already has. */
  async function accessTokenAfterRefusal(refused: string): Promise<string> {
    return tokens.withRefreshLock(async () => {
      const current = await tokens.get();
      if (current !== null && current.accessToken !== refused && current.expiresAt > now()) {
        return current.accessToken;
      }
      return (await renew(current)).accessToken;
    });
  }

  // -------------------------------------------------------------------------------------------------------
  // Signed business calls

  async function signedExchange(path: LingxingPath, body: LingxingParams, token: string): Promise<Exchange> {
    const publicParams = {
      access_token: token,
      app_key: credentials.appId,
      timestamp: String(Math.floor(now() / 1000)),
    };
    let sign: string;
    try {
      sign = await signLingxingParams({ ...body, ...publicParams }, credentials.appId);
    } catch (error) {
      throw upstreamError(
        "The Lingxing appId cannot serve as the signing key (Lingxing appIds are 16 characters)",
        "auth",
        { cause: scrub.error(error) },
      );
    }
    const query = new URLSearchParams({ ...publicParams, sign });
    // The body goes out in the same canonical form it was signed in (sign.ts: nested key order).
    return exchange(path, { query, body: canonicalJson(body) });
  }

  async function callApi(
    path: LingxingPath,
    body: LingxingParams,
    mode: CallMode,
  ): Promise<{ data: unknown; total: number | null }> {
    let renewedAfterRefusal = false;
    for (let attempt = 1; ; ) {
      const token = await accessToken();
      const result = await signedExchange(path, body, token);
      const fields = { ...logFields, path, attempt, maxAttempts };

      if (result.type === "answer") {
        const { answer } = result;
        if (answer.ok) return { data: answer.data, total: answer.total };
        const { code, kind, requestId } = answer;
        const message = scrub.text(answer.message);
        const refusal = (text: string, failure: UpstreamFailureKind, retryAfterSeconds?: number) =>
          new LingxingRefusalError(text, code, message, kind, failure, {
            requestId,
            ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
          });

        switch (kind) {
          case "token_expired":
          case "token_mismatch":
            if (!renewedAfterRefusal) {
              // The gateway refused before any business logic ran: repeating is safe, creates included.
              renewedAfterRefusal = true;
              logger?.info("lingxing refused the access token, renewing", { ...fields, code });
              await accessTokenAfterRefusal(token);
              continue;
            }
            throw refusal(`Lingxing keeps refusing fresh access tokens (${code} ${message})`, "auth");
          case "credentials":
          case "refresh_rejected":
            logger?.error("lingxing refused the connection", { ...fields, code, requestId });
            throw refusal(
              `Lingxing refused the connection (${code} ${message}): check the app's status, API grants and IP whitelist`,
              "auth",
            );
          case "rate_limited":
            if (attempt < maxAttempts) {
              logger?.warn("lingxing rate limited, retrying", { ...fields, code });
              await sleep(Math.max(backoffMs(attempt), RATE_LIMIT_RETRY_AFTER_MS / 4));
              attempt++;
              continue;
            }
            throw refusal(
              `Lingxing is rate limiting ${path} (${code})`,
              "rate_limited",
              RATE_LIMIT_RETRY_AFTER_SECONDS,
            );
          case "signature_expired":
            if (attempt < maxAttempts) {
              attempt++;
              continue;
            }
            throw refusal(`Lingxing refused the request timestamp (${code} ${message})`, "retryable");
          case "server_error":
            if (mode === "read" && attempt < maxAttempts) {
              logger?.warn("lingxing server error, retrying", { ...fields, code, requestId });
              await sleep(backoffMs(attempt));
              attempt++;
              continue;
            }
            throw refusal(`Lingxing ${path} failed (${code} ${message})`, "retryable");
          case "bad_signature":
          case "invalid_request":
            logger?.warn("lingxing refused the request", { ...fields, code, requestId, message });
            throw refusal(`Lingxing refused ${path} (${code} ${message})`, "permanent");
        }
      }

      if (mode === "create") {
        // Lingxing may have created the orders: only a lookup by reference can tell.
        logger?.warn("lingxing order create outcome unknown", { ...fields, reason: result.type });
        throw transportFailure(
          "order create (outcome unknown; look the orders up before posting again)",
          result,
        );
      }
      if (attempt >= maxAttempts) throw transportFailure(path, result);
      logger?.warn("lingxing transient failure, retrying", { ...fields, reason: result.type });
      await sleep(backoffMs(attempt));
      attempt++;
    }
  }

  function transportFailure(what: string, result: Exchange): UpstreamError {
    switch (result.type) {
      case "timeout":
        return upstreamError(`Lingxing ${what} timed out after ${timeoutMs} ms`, "retryable");
      case "network":
        return upstreamError(`Lingxing ${what} failed (network error)`, "retryable", { cause: result.cause });
      case "http":
        return upstreamError(`Lingxing ${what} returned HTTP ${result.status}`, "retryable");
      case "malformed":
        return upstreamError(
          `Lingxing ${what} returned an unexpected body (HTTP ${result.status})`,
          "retryable",
        );
      case "answer":
        if (result.answer.ok) return upstreamError(`Lingxing ${what} failed`, "retryable");
        return result.answer.kind === "rate_limited"
          ? upstreamError(`Lingxing is rate limiting ${what} (${result.answer.code})`, "rate_limited", {
              retryAfterSeconds: RATE_LIMIT_RETRY_AFTER_SECONDS,
            })
          : upstreamError(`Lingxing ${what} failed (${result.answer.code})`, "retryable");
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Orders

  async function lookUpOrders(
    references: string[],
    storeIds: string[] = [],
  ): Promise<Map<string, ErpOrderStatus>> {
    const found = new Map<string, ErpOrderStatus>();
    const unique = [...new Set(references)];
    for (let start = 0; start < unique.length; start += ORDER_LOOKUP_CHUNK) {
      const chunk = unique.slice(start, start + ORDER_LOOKUP_CHUNK);
      for (let offset = 0; ; ) {
        const request: LingxingListOrdersRequest = {
          offset,
          length: ORDER_LIST_PAGE,
          ...(PLATFORMS_SEARCHED_BY_NAME.has(platformCode)
            ? { platform_order_names: chunk }
            : { platform_order_nos: chunk }),
          ...(storeIds.length > 0 ? { store_id: storeIds } : {}),
        };
        const { data } = await callApi(LINGXING_PATHS.listOrders, paramsOf(request), "read");
        const page = lingxingListOrdersDataSchema.safeParse(data);
        if (!page.success) {
          throw upstreamError("Lingxing order list returned an unexpected body", "retryable");
        }
        for (const [reference, status] of toErpOrderStatuses(page.data.list, chunk)) {
          if (!found.has(reference)) found.set(reference, status);
        }
        offset += page.data.list.length;
        if (page.data.list.length === 0 || offset >= page.data.total) break;
      }
    }
    return found;
  }

  async function pushChunk(
    storeId: string,
    entries: { reference: string; order: LingxingCreateOrder }[],
    results: Map<string, ErpPushResult>,
  ): Promise<void> {
    const references = entries.map((entry) => entry.reference);
    let data: unknown;
    try {
      ({ data } = await callApi(
        LINGXING_PATHS.createOrders,
        paramsOf(
          toCreateOrdersRequest(
            platformCode,
            storeId,
            entries.map((entry) => entry.order),
          ),
        ),
        "create",
      ));
    } catch (error) {
      if (!(error instanceof LingxingRefusalError) || !error.refusesContent) throw error;
      // Lingxing refused the whole request: nothing was created. Halve until the refused order is alone.
      const [only] = entries;
      if (entries.length === 1 && only !== undefined) {
        results.set(only.reference, {
          reference: only.reference,
          outcome: "rejected",
          code: error.lingxingCode,
          message: error.lingxingMessage || "Lingxing refused the order",
        });
        return;
      }
      const half = Math.ceil(entries.length / 2);
      await pushChunk(storeId, entries.slice(0, half), results);
      await pushChunk(storeId, entries.slice(half), results);
      return;
    }

    const outcome = readCreateOrdersOutcome(data, references);
    if (outcome === null) {
      throw upstreamError(
        "Lingxing order create returned an unexpected body (outcome unknown; look the orders up before posting again)",
        "retryable",
      );
    }
    for (const [reference, erpOrderId] of outcome.created) {
      results.set(reference, { reference, outcome: "created", erpOrderId });
    }
    const unsettled = [...outcome.refused.keys(), ...outcome.unanswered];
    if (unsettled.length === 0) return;

    // Lingxing words a duplicate platform order number like any other refusal: the store itself says
    // whether an order under that number exists.
    const existing = await lookUpOrders(unsettled, [storeId]);
    for (const [reference, message] of outcome.refused) {
      const found = existing.get(reference);
      results.set(
        reference,
        found === undefined
          ? { reference, outcome: "rejected", code: "order_rejected", message }
          : { reference, outcome: "duplicate", erpOrderId: found.erpOrderId },
      );
    }
    const lost: string[] = [];
    for (const reference of outcome.unanswered) {
      const found = existing.get(reference);
      if (found === undefined) lost.push(reference);
      else results.set(reference, { reference, outcome: "created", erpOrderId: found.erpOrderId });
    }
    if (lost.length > 0) {
      throw upstreamError(
        `Lingxing order create did not answer for ${lost.length} order(s) (outcome unknown; look them up before posting again)`,
        "retryable",
      );
    }
  }

  return {
    erp: "lingxing",
    maxBatchSize: LINGXING_MAX_BATCH_SIZE,

    async pushOrders(batch: ErpOrderInput[]): Promise<ErpPushResult[]> {
      const results = new Map<string, ErpPushResult>();
      const byStore = new Map<string, { reference: string; order: LingxingCreateOrder }[]>();
      for (const item of batch) {
        const storeId = item.erpStoreId ?? input.defaultStoreId ?? null;
        if (storeId === null) {
          results.set(item.reference, {
            reference: item.reference,
            outcome: "rejected",
            code: "missing_store",
            message: "No Lingxing store (store_id) is configured for this order",
          });
          continue;
        }
        const mapped = toLingxingCreateOrder(item);
        if (!mapped.ok) {
          results.set(item.reference, { reference: item.reference, outcome: "rejected", ...mapped });
          continue;
        }
        const group = byStore.get(storeId) ?? [];
        group.push({ reference: item.reference, order: mapped.order });
        byStore.set(storeId, group);
      }
      for (const [storeId, entries] of byStore) {
        for (let start = 0; start < entries.length; start += LINGXING_MAX_BATCH_SIZE) {
          await pushChunk(storeId, entries.slice(start, start + LINGXING_MAX_BATCH_SIZE), results);
        }
      }
      return batch.map(
        (item) =>
          results.get(item.reference) ?? {
            reference: item.reference,
            outcome: "rejected",
            code: "not_sent",
            message: "The order was not sent to Lingxing",
          },
      );
    },

    findOrders(references: string[]): Promise<Map<string, ErpOrderStatus>> {
      return lookUpOrders(references);
    },

    /**
     * From 销售出库单 (outbound orders), the documents that carry the tracking number. Without a date range
     * Lingxing returns outbound orders of the last month only, which covers orders the engine still waits on.
     */
    async listShipments(references: string[]): Promise<Shipment[]> {
      const unique = [...new Set(references)];
      const outbound: LingxingOutboundOrder[] = [];
      for (let start = 0; start < unique.length; start += OUTBOUND_PAGE) {
        const chunk = unique.slice(start, start + OUTBOUND_PAGE);
        for (let page = 1, seen = 0; ; page++) {
          const request: LingxingListOutboundOrdersRequest = {
            page,
            page_size: OUTBOUND_PAGE,
            status_arr: [LINGXING_OUTBOUND_SHIPPED],
            platform_order_no_arr: chunk,
          };
          const { data, total } = await callApi(LINGXING_PATHS.listOutboundOrders, paramsOf(request), "read");
          const rows = lingxingOutboundOrdersSchema.safeParse(data ?? []);
          if (!rows.success) {
            throw upstreamError("Lingxing outbound order list returned an unexpected body", "retryable");
          }
          outbound.push(...rows.data);
          seen += rows.data.length;
          if (rows.data.length < OUTBOUND_PAGE || total === null || seen >= total) break;
        }
      }
      return toShipments(outbound, unique);
    },
    // No listInvoices: Lingxing has no sales-invoice API (only Amazon advertising invoices).
  };
}

/** Request objects as signable parameters (their fields are all JSON values). */
function paramsOf(request: object): LingxingParams {
  return request as Record<string, LingxingParamValue>;
}

/** A shared, in-process token store: for tests, tools and a single isolate. */
export function createInMemoryLingxingTokenStore(initial: LingxingToken | null = null): LingxingTokenStore {
  let token = initial === null ? null : { ...initial };
  let tail: Promise<unknown> = Promise.resolve();
  return {
    async get() {
      return token === null ? null : { ...token };
    },
    async set(next) {
      token = { ...next };
    },
    withRefreshLock<T>(fn: () => Promise<T>): Promise<T> {
      const run = tail.then(fn);
      tail = run.catch(() => undefined);
      return run;
    },
  };
}
