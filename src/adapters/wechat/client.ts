import { backoffSeconds } from "../../lib/backoff";
import { ForbiddenError, UnauthorizedError, UpstreamError, ValidationError } from "../../lib/errors";
import type { LogFields, Logger } from "../../lib/logger";
import { type Scrubber, scrubber } from "../../lib/scrub";
import { interpretCode2Session, interpretStableToken, wechatRequestId } from "./transform";
import type { WechatErrorKind, WechatSession } from "./types";

/**
 * WeChat server APIs used by Tradewind:
 * - `code2Session` (`GET /sns/jscode2session`): mini-program login;
 * - `verifyAppCredentials` (`POST /cgi-bin/stable_token`, "getStableAccessToken" in normal mode): proves
 *   that an appId/appSecret pair is genuine before a tenant may configure it. The access token it yields is
 *   dropped. `stable_token` rather than `/cgi-bin/token`: in normal mode (`force_refresh: false`) it hands
 *   back the token already current, so verifying never invalidates a token the tenant's own servers use.
 *
 * Failure mapping (WeChat answers HTTP 200 with `{ errcode, errmsg }`):
 * | errcode / condition          | code2Session                               | verifyAppCredentials                      | retried here |
 * |------------------------------|--------------------------------------------|-------------------------------------------|--------------|
 * | -1 system busy, HTTP 5xx, network error | `UpstreamError` retryable       | same                                      | yes, jittered backoff |
 * | timeout (`timeoutMs`)        | `UpstreamError` retryable                  | same                                      | no: a code may already be consumed; an admin's save should answer within one timeout |
 * | 45011 minute quota, HTTP 429 | `UpstreamError` retryable, retryAfter 60 s | same                                      | no |
 * | 45009 daily quota            | `UpstreamError` retryable, retryAfter = until 00:00 China time | same   | no |
 * | 40029 invalid, 40163 used    | `WechatCodeRejectedError` (401)            | `UpstreamError` non-retryable             | no |
 * | 40226 high-risk user         | `WechatUserBlockedError` (403)             | `UpstreamError` non-retryable             | no |
 * | 40013/41002 appid, 40125/41004 appsecret, 40243 frozen secret, 40164/61004 IP whitelist | `UpstreamError` non-retryable (tenant config) | `WechatCredentialsRejectedError` (422) | no |
 * | anything else                | `UpstreamError` non-retryable              | same                                      | no |
 *
 * The app secret travels in the query string (code2Session) or the JSON body (stable_token), so URLs and
 * bodies are never logged or put in an error, and every message or cause that leaves this module is scrubbed
 * of the secret and the code.
 */

const UPSTREAM = "wechat";
const RATE_LIMIT_RETRY_AFTER_SECONDS = 60;
const MAX_CODE_LENGTH = 256;
/** WeChat's daily quotas reset at midnight China Standard Time (UTC+8, no daylight saving). */
const CHINA_UTC_OFFSET_SECONDS = 8 * 3600;

/** The login code was refused by WeChat (40029 invalid or expired, 40163 already used): ask for a new `wx.login`. */
export class WechatCodeRejectedError extends UnauthorizedError {
  constructor(readonly errcode: number | null) {
    super("WeChat login code is invalid or expired", errcode === null ? undefined : { details: { errcode } });
  }
}

/** WeChat blocked the login of a high-risk user (40226). */
export class WechatUserBlockedError extends ForbiddenError {
  constructor() {
    super("WeChat blocked this login (high-risk account)", { details: { errcode: 40226 } });
  }
}

/** Why WeChat would not vouch for an appId/appSecret pair. */
export type WechatCredentialsProblem = "appId" | "appSecret" | "secretFrozen" | "ipWhitelist";

const PAIR_REJECTED = "WeChat rejected this appId/appSecret pair";
const DEVELOPMENT_SETTINGS =
  "the WeChat Official Accounts Platform (mp.weixin.qq.com → Management → Development → Development settings)";

const CREDENTIAL_PROBLEMS: Record<
  WechatCredentialsProblem,
  { message: string; field: "appId" | "appSecret"; detail: string }
> = {
  appId: { message: PAIR_REJECTED, field: "appId", detail: PAIR_REJECTED },
  appSecret: { message: PAIR_REJECTED, field: "appSecret", detail: PAIR_REJECTED },
  secretFrozen: {
    message: "WeChat refused this appSecret: it is frozen",
    field: "appSecret",
    detail: `This AppSecret is frozen. Unfreeze it in ${DEVELOPMENT_SETTINGS}, wait about 10 minutes for it to take effect, then save again`,
  },
  ipWhitelist: {
    message: "WeChat refused the check: this mini-program's API IP whitelist does not include Tradewind",
    field: "appId",
    detail:
      "This mini-program has an API IP whitelist enabled. Tradewind runs on Cloudflare Workers, which have no " +
      `fixed egress IP address, so no whitelist entry can cover it: turn the API IP whitelist off in ${DEVELOPMENT_SETTINGS}, then save again`,
  },
};

/**
 * WeChat would not issue an access token for the pair (40013/41002 appid, 40125/41004 appsecret, 40243
 * frozen secret, 40164/61004 IP whitelist), so the pair is not proven to belong to whoever submitted it.
 * A `ValidationError` (422): the caller's input is what needs fixing.
 */
export class WechatCredentialsRejectedError extends ValidationError {
  constructor(
    readonly errcode: number,
    readonly problem: WechatCredentialsProblem,
  ) {
    const { message, field, detail } = CREDENTIAL_PROBLEMS[problem];
    super(message, { [field]: [detail] });
  }
}

export type WechatFetch = (
  url: string,
  init: { method: "GET" | "POST"; headers: Record<string, string>; body?: string; signal: AbortSignal },
) => Promise<Response>;

export interface WechatClientOptions {
  baseUrl?: string;
  /** Per attempt, covering the response body too. */
  timeoutMs?: number;
  fetch?: WechatFetch;
  /** Attempts for transient failures (-1, 5xx, network errors), first call included. */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Epoch milliseconds; for the daily-quota Retry-After. */
  now?: () => number;
  /** Delay before the second attempt grows from here, doubling, capped at `backoffCapMs` (full jitter). */
  backoffBaseMs?: number;
  backoffCapMs?: number;
  logger?: Logger;
}

export interface Code2SessionInput {
  appId: string;
  /** SECRET: the tenant's decrypted mini-program app secret. */
  appSecret: string;
  /** The single-use code from `wx.login` (valid ~5 minutes). */
  code: string;
}

export interface VerifyAppCredentialsInput {
  appId: string;
  /** SECRET: the app secret a tenant admin submitted. */
  appSecret: string;
}

export interface WechatClient {
  /** Resolves to the session (whose `sessionKey` is a secret to keep server-side) or throws a mapped AppError. */
  code2Session(input: Code2SessionInput): Promise<WechatSession>;
  /**
   * Resolves when WeChat issues an access token for the pair (the token is discarded); throws
   * `WechatCredentialsRejectedError` when WeChat refuses the pair, else a mapped `UpstreamError`.
   */
  verifyAppCredentials(input: VerifyAppCredentialsInput): Promise<void>;
}

/** A failure worth another attempt; `transient` is what the caller gets once attempts run out. */
interface Transient {
  transient: UpstreamError;
  fields: LogFields;
}

type Operation = "code2Session" | "getStableAccessToken";

interface WechatRequest {
  path: string;
  method: "GET" | "POST";
  /** JSON request body (POST). */
  body?: string;
}

/** A parsed WeChat body (`undefined` when it was not JSON), or a transient failure. */
type Exchange = { body: unknown } | Transient;

export function createWechatClient(options: WechatClientOptions = {}): WechatClient {
  const baseUrl = (options.baseUrl ?? "https://api.weixin.qq.com").replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 5000;
  // Call through a closure: an unbound `fetch` taken off an object throws "Illegal invocation" in workerd.
  const doFetch: WechatFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const now = options.now ?? Date.now;
  const backoffBaseMs = options.backoffBaseMs ?? 100;
  const backoffCapMs = options.backoffCapMs ?? 1000;
  const logger = options.logger;

  /** One HTTP round trip: transport failures classified, the body parsed (served as text/plain), never logged. */
  async function exchange(op: Operation, request: WechatRequest, scrub: Scrubber): Promise<Exchange> {
    const signal = AbortSignal.timeout(timeoutMs);
    const timedOut = (cause: unknown) =>
      new UpstreamError(`WeChat ${op} timed out after ${timeoutMs} ms`, {
        upstream: UPSTREAM,
        retryable: true,
        cause: scrub.error(cause),
      });

    let response: Response;
    try {
      response = await doFetch(`${baseUrl}${request.path}`, {
        method: request.method,
        headers:
          request.body === undefined
            ? { accept: "application/json" }
            : { accept: "application/json", "content-type": "application/json" },
        ...(request.body === undefined ? {} : { body: request.body }),
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw timedOut(error);
      return {
        transient: new UpstreamError(`WeChat ${op} request failed (network error)`, {
          upstream: UPSTREAM,
          retryable: true,
          cause: scrub.error(error),
        }),
        fields: { reason: "network", error: scrub.error(error).message },
      };
    }

    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      const status = response.status;
      if (status >= 500) {
        return {
          transient: new UpstreamError(`WeChat ${op} returned HTTP ${status}`, {
            upstream: UPSTREAM,
            retryable: true,
          }),
          fields: { reason: "http", status },
        };
      }
      if (status === 429) {
        throw new UpstreamError(`WeChat ${op} is rate limited (HTTP 429)`, {
          upstream: UPSTREAM,
          retryable: true,
          retryAfterSeconds: retryAfter(response.headers.get("retry-after")),
        });
      }
      throw new UpstreamError(`WeChat ${op} returned HTTP ${status}`, {
        upstream: UPSTREAM,
        retryable: false,
      });
    }

    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      if (signal.aborted) throw timedOut(error);
      return {
        transient: new UpstreamError(`WeChat ${op} response was cut off`, {
          upstream: UPSTREAM,
          retryable: true,
          cause: scrub.error(error),
        }),
        fields: { reason: "body" },
      };
    }

    // Never log the body: it may hold a session_key or an access_token.
    try {
      return { body: JSON.parse(text) };
    } catch {
      return { body: undefined };
    }
  }

  /**
   * The errcode outcomes both calls share (busy, quotas, unknown). Returns a `Transient` to retry, throws
   * the mapped error, or returns `null` for a kind the caller maps itself.
   */
  function sharedFailure(
    op: Operation,
    appId: string,
    failure: { errcode: number; kind: WechatErrorKind; fields: LogFields },
  ): Transient | null {
    const { errcode, kind, fields } = failure;
    switch (kind) {
      case "busy":
        return {
          transient: new UpstreamError(`WeChat ${op} is busy (errcode -1)`, {
            upstream: UPSTREAM,
            retryable: true,
          }),
          fields: { reason: "busy", ...fields },
        };
      case "rate_limited":
        logger?.warn(`wechat ${op} rate limited`, { upstream: UPSTREAM, appId, ...fields });
        throw new UpstreamError(`WeChat ${op} minute quota reached (errcode ${errcode})`, {
          upstream: UPSTREAM,
          retryable: true,
          retryAfterSeconds: RATE_LIMIT_RETRY_AFTER_SECONDS,
        });
      case "daily_quota":
        logger?.warn(`wechat ${op} daily quota reached`, { upstream: UPSTREAM, appId, ...fields });
        throw new UpstreamError(`WeChat ${op} daily quota reached (errcode ${errcode})`, {
          upstream: UPSTREAM,
          retryable: true,
          retryAfterSeconds: secondsUntilChinaMidnight(now()),
        });
      case "unknown":
        logger?.warn(`wechat ${op} failed`, { upstream: UPSTREAM, appId, ...fields });
        throw new UpstreamError(`WeChat ${op} failed (errcode ${errcode})`, {
          upstream: UPSTREAM,
          retryable: false,
        });
      default:
        return null;
    }
  }

  async function attemptCode2Session(
    input: Code2SessionInput,
    scrub: Scrubber,
  ): Promise<WechatSession | Transient> {
    const query = new URLSearchParams({
      appid: input.appId,
      secret: input.appSecret,
      js_code: input.code,
      grant_type: "authorization_code",
    });
    const exchanged = await exchange(
      "code2Session",
      { path: `/sns/jscode2session?${query}`, method: "GET" },
      scrub,
    );
    if ("transient" in exchanged) return exchanged;
    const outcome = interpretCode2Session(exchanged.body);
    if (outcome.ok) return outcome.session;
    if (outcome.errcode === null) {
      throw new UpstreamError("WeChat code2Session returned an unexpected response body", {
        upstream: UPSTREAM,
        retryable: true,
      });
    }

    const { errcode, kind } = outcome;
    const fields = errcodeFields(outcome.errcode, outcome.errmsg, scrub);
    const shared = sharedFailure("code2Session", input.appId, { errcode, kind, fields });
    if (shared) return shared;
    const logFields = { upstream: UPSTREAM, appId: input.appId, ...fields };
    switch (kind) {
      case "code_rejected":
        logger?.info("wechat code2Session rejected the code", logFields);
        throw new WechatCodeRejectedError(errcode);
      case "user_blocked":
        logger?.info("wechat code2Session blocked a high-risk user", logFields);
        throw new WechatUserBlockedError();
      default:
        // bad_credentials, secret_frozen, ip_not_whitelisted: the tenant's stored configuration is at fault.
        logger?.error("wechat code2Session rejected the tenant's credentials", logFields);
        throw new UpstreamError(
          `WeChat rejected the tenant's WeChat configuration (errcode ${errcode}): check the mini-program appId and appSecret`,
          { upstream: UPSTREAM, retryable: false },
        );
    }
  }

  async function attemptStableToken(
    input: VerifyAppCredentialsInput,
    scrub: Scrubber,
  ): Promise<{ verified: true } | Transient> {
    const exchanged = await exchange(
      "getStableAccessToken",
      {
        path: "/cgi-bin/stable_token",
        method: "POST",
        body: JSON.stringify({
          grant_type: "client_credential",
          appid: input.appId,
          secret: input.appSecret,
          // Normal mode: never invalidates the token the tenant's own servers may be using.
          force_refresh: false,
        }),
      },
      scrub,
    );
    if ("transient" in exchanged) return exchanged;
    // The outcome carries only the token's lifetime: the access token never leaves `interpretStableToken`.
    const outcome = interpretStableToken(exchanged.body);
    if (outcome.ok) return { verified: true };
    if (outcome.errcode === null) {
      throw new UpstreamError("WeChat getStableAccessToken returned an unexpected response body", {
        upstream: UPSTREAM,
        retryable: true,
      });
    }

    const { errcode, kind } = outcome;
    const fields = errcodeFields(outcome.errcode, outcome.errmsg, scrub);
    const shared = sharedFailure("getStableAccessToken", input.appId, { errcode, kind, fields });
    if (shared) return shared;
    const problem = credentialsProblem(errcode, kind);
    if (problem === null) {
      // code_rejected / user_blocked make no sense here: WeChat answered something we did not ask about.
      logger?.warn("wechat getStableAccessToken failed", {
        upstream: UPSTREAM,
        appId: input.appId,
        ...fields,
      });
      throw new UpstreamError(`WeChat getStableAccessToken failed (errcode ${errcode})`, {
        upstream: UPSTREAM,
        retryable: false,
      });
    }
    logger?.info("wechat rejected submitted app credentials", {
      upstream: UPSTREAM,
      appId: input.appId,
      problem,
      ...fields,
    });
    throw new WechatCredentialsRejectedError(errcode, problem);
  }

  /** Runs `attempt` until it returns a result, retrying `Transient`s with jittered backoff. */
  async function withRetries<T extends object>(
    op: Operation,
    appId: string,
    attempt: () => Promise<T | Transient>,
  ): Promise<T> {
    for (let n = 1; ; n++) {
      const result = await attempt();
      if (!("transient" in result)) return result;
      const fields = { upstream: UPSTREAM, appId, attempt: n, maxAttempts, ...result.fields };
      if (n >= maxAttempts) {
        logger?.warn(`wechat ${op} failed after retries`, fields);
        throw result.transient;
      }
      // backoffSeconds is a unit-free formula below its 12 h clamp: fed milliseconds, it returns milliseconds.
      const delayMs = backoffSeconds(n, { baseSeconds: backoffBaseMs, capSeconds: backoffCapMs, random });
      logger?.warn(`wechat ${op} transient failure, retrying`, { ...fields, delayMs });
      await sleep(delayMs);
    }
  }

  return {
    async code2Session(input) {
      if (input.appId.trim() === "" || input.appSecret.trim() === "") {
        throw new UpstreamError(
          "The tenant's WeChat configuration is incomplete (appId or appSecret missing)",
          {
            upstream: UPSTREAM,
            retryable: false,
          },
        );
      }
      if (input.code === "" || input.code.length > MAX_CODE_LENGTH || /\s/.test(input.code)) {
        throw new WechatCodeRejectedError(null);
      }
      const scrub = scrubber([input.appSecret, input.code]);
      return withRetries("code2Session", input.appId, () => attemptCode2Session(input, scrub));
    },

    async verifyAppCredentials(input) {
      // WeChat's own answers for missing values, without a round trip.
      if (input.appId.trim() === "") throw new WechatCredentialsRejectedError(41002, "appId");
      if (input.appSecret.trim() === "") throw new WechatCredentialsRejectedError(41004, "appSecret");
      const scrub = scrubber([input.appSecret]);
      await withRetries("getStableAccessToken", input.appId, () => attemptStableToken(input, scrub));
    },
  };
}

function credentialsProblem(errcode: number, kind: WechatErrorKind): WechatCredentialsProblem | null {
  switch (kind) {
    case "bad_credentials":
      return errcode === 40013 || errcode === 41002 ? "appId" : "appSecret";
    case "secret_frozen":
      return "secretFrozen";
    case "ip_not_whitelisted":
      return "ipWhitelist";
    default:
      return null;
  }
}

function errcodeFields(errcode: number, errmsg: string, scrub: Scrubber): LogFields {
  return { errcode, errmsg: scrub.text(errmsg).slice(0, 200), rid: wechatRequestId(errmsg) };
}

function retryAfter(header: string | null): number {
  const seconds = header === null ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : RATE_LIMIT_RETRY_AFTER_SECONDS;
}

/** Seconds until the next 00:00 in China (UTC+8), when WeChat's daily quotas reset; at least a minute. */
export function secondsUntilChinaMidnight(nowMs: number): number {
  const sinceMidnight = (Math.floor(nowMs / 1000) + CHINA_UTC_OFFSET_SECONDS) % 86_400;
  return Math.max(RATE_LIMIT_RETRY_AFTER_SECONDS, 86_400 - sinceMidnight);
}
