import { backoffSeconds } from "../../lib/backoff";
import { ForbiddenError, UnauthorizedError, UpstreamError } from "../../lib/errors";
import type { LogFields, Logger } from "../../lib/logger";
import { interpretCode2Session, wechatRequestId } from "./transform";
import type { WechatSession } from "./types";

/**
 * WeChat mini-program login: `code2Session` (`GET /sns/jscode2session`).
 *
 * Failure mapping (WeChat answers HTTP 200 with `{ errcode, errmsg }`):
 * | errcode / condition          | thrown                                     | retried here |
 * |------------------------------|--------------------------------------------|--------------|
 * | -1 system busy, HTTP 5xx, network error | `UpstreamError` retryable         | yes, jittered backoff |
 * | timeout (`timeoutMs`)        | `UpstreamError` retryable                  | no: WeChat may already have consumed the single-use code |
 * | 45011 minute quota, HTTP 429 | `UpstreamError` retryable, retryAfter 60 s | no |
 * | 40029 invalid, 40163 used    | `WechatCodeRejectedError` (401)            | no |
 * | 40226 high-risk user         | `WechatUserBlockedError` (403)             | no |
 * | 40013 appid, 40125 appsecret | `UpstreamError` non-retryable (tenant config) | no |
 * | anything else                | `UpstreamError` non-retryable              | no |
 *
 * The app secret travels in the query string (WeChat's protocol), so the URL is never logged or put in an
 * error, and every message or cause that leaves this module is scrubbed of the secret and the code.
 */

const UPSTREAM = "wechat";
const RATE_LIMIT_RETRY_AFTER_SECONDS = 60;
const MAX_CODE_LENGTH = 256;

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

export type WechatFetch = (
  url: string,
  init: { method: "GET"; headers: Record<string, string>; signal: AbortSignal },
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

export interface WechatClient {
  /** Resolves to the session (whose `sessionKey` is a secret to keep server-side) or throws a mapped AppError. */
  code2Session(input: Code2SessionInput): Promise<WechatSession>;
}

/** A failure worth another attempt; `error` is what the caller gets once attempts run out. */
interface Transient {
  transient: UpstreamError;
  fields: LogFields;
}

export function createWechatClient(options: WechatClientOptions = {}): WechatClient {
  const baseUrl = (options.baseUrl ?? "https://api.weixin.qq.com").replace(/\/+$/, "");
  const timeoutMs = options.timeoutMs ?? 5000;
  // Call through a closure: an unbound `fetch` taken off an object throws "Illegal invocation" in workerd.
  const doFetch: WechatFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const maxAttempts = Math.max(1, options.maxAttempts ?? 3);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;
  const backoffBaseMs = options.backoffBaseMs ?? 100;
  const backoffCapMs = options.backoffCapMs ?? 1000;
  const logger = options.logger;

  async function attempt(input: Code2SessionInput, scrub: Scrubber): Promise<WechatSession | Transient> {
    const query = new URLSearchParams({
      appid: input.appId,
      secret: input.appSecret,
      js_code: input.code,
      grant_type: "authorization_code",
    });
    const signal = AbortSignal.timeout(timeoutMs);
    const timedOut = (cause: unknown) =>
      new UpstreamError(`WeChat code2Session timed out after ${timeoutMs} ms`, {
        upstream: UPSTREAM,
        retryable: true,
        cause: scrub.error(cause),
      });

    let response: Response;
    try {
      response = await doFetch(`${baseUrl}/sns/jscode2session?${query}`, {
        method: "GET",
        headers: { accept: "application/json" },
        signal,
      });
    } catch (error) {
      if (signal.aborted) throw timedOut(error);
      return {
        transient: new UpstreamError("WeChat code2Session request failed (network error)", {
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
          transient: new UpstreamError(`WeChat code2Session returned HTTP ${status}`, {
            upstream: UPSTREAM,
            retryable: true,
          }),
          fields: { reason: "http", status },
        };
      }
      if (status === 429) {
        throw new UpstreamError("WeChat code2Session is rate limited (HTTP 429)", {
          upstream: UPSTREAM,
          retryable: true,
          retryAfterSeconds: retryAfter(response.headers.get("retry-after")),
        });
      }
      throw new UpstreamError(`WeChat code2Session returned HTTP ${status}`, {
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
        transient: new UpstreamError("WeChat code2Session response was cut off", {
          upstream: UPSTREAM,
          retryable: true,
          cause: scrub.error(error),
        }),
        fields: { reason: "body" },
      };
    }

    // Served as text/plain, so parse regardless of Content-Type. Never log the body: it may hold session_key.
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    const outcome = interpretCode2Session(body);
    if (outcome.ok) return outcome.session;
    if (outcome.errcode === null) {
      throw new UpstreamError("WeChat code2Session returned an unexpected response body", {
        upstream: UPSTREAM,
        retryable: true,
      });
    }

    const { errcode, kind } = outcome;
    const rid = wechatRequestId(outcome.errmsg);
    const fields: LogFields = { errcode, errmsg: scrub.text(outcome.errmsg).slice(0, 200), rid };
    switch (kind) {
      case "busy":
        return {
          transient: new UpstreamError("WeChat code2Session is busy (errcode -1)", {
            upstream: UPSTREAM,
            retryable: true,
          }),
          fields: { reason: "busy", ...fields },
        };
      case "rate_limited":
        logger?.warn("wechat code2Session rate limited", {
          upstream: UPSTREAM,
          appId: input.appId,
          ...fields,
        });
        throw new UpstreamError("WeChat code2Session minute quota reached (errcode 45011)", {
          upstream: UPSTREAM,
          retryable: true,
          retryAfterSeconds: RATE_LIMIT_RETRY_AFTER_SECONDS,
        });
      case "code_rejected":
        logger?.info("wechat code2Session rejected the code", {
          upstream: UPSTREAM,
          appId: input.appId,
          ...fields,
        });
        throw new WechatCodeRejectedError(errcode);
      case "user_blocked":
        logger?.info("wechat code2Session blocked a high-risk user", {
          upstream: UPSTREAM,
          appId: input.appId,
          ...fields,
        });
        throw new WechatUserBlockedError();
      case "bad_credentials":
        logger?.error("wechat code2Session rejected the tenant's credentials", {
          upstream: UPSTREAM,
          appId: input.appId,
          ...fields,
        });
        throw new UpstreamError(
          `WeChat rejected the tenant's WeChat configuration (errcode ${errcode}): check the mini-program appId and appSecret`,
          { upstream: UPSTREAM, retryable: false },
        );
      case "unknown":
        logger?.warn("wechat code2Session failed", { upstream: UPSTREAM, appId: input.appId, ...fields });
        throw new UpstreamError(`WeChat code2Session failed (errcode ${errcode})`, {
          upstream: UPSTREAM,
          retryable: false,
        });
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
      for (let n = 1; ; n++) {
        const result = await attempt(input, scrub);
        if (!("transient" in result)) return result;
        const fields = { upstream: UPSTREAM, appId: input.appId, attempt: n, maxAttempts, ...result.fields };
        if (n >= maxAttempts) {
          logger?.warn("wechat code2Session failed after retries", fields);
          throw result.transient;
        }
        // backoffSeconds is a unit-free formula below its 12 h clamp: fed milliseconds, it returns milliseconds.
        const delayMs = backoffSeconds(n, { baseSeconds: backoffBaseMs, capSeconds: backoffCapMs, random });
        logger?.warn("wechat code2Session transient failure, retrying", { ...fields, delayMs });
        await sleep(delayMs);
      }
    },
  };
}

function retryAfter(header: string | null): number {
  const seconds = header === null ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds > 0 ? Math.ceil(seconds) : RATE_LIMIT_RETRY_AFTER_SECONDS;
}

interface Scrubber {
  text(value: string): string;
  /** A plain Error safe to attach as `cause` or log: name and message only, secrets and query strings removed. */
  error(value: unknown): Error;
}

function scrubber(secrets: string[]): Scrubber {
  const needles = [...new Set(secrets.flatMap((s) => [s, encodeURIComponent(s)]))].filter(
    (s) => s.length >= 4,
  );
  const text = (value: string) => {
    let out = value.replace(/\?[^\s"'<>]*/g, "?[redacted]");
    for (const needle of needles) out = out.split(needle).join("[redacted]");
    return out;
  };
  return {
    text,
    error(value) {
      if (!(value instanceof Error)) return new Error(text(String(value)));
      const inner = value.cause instanceof Error ? ` (${value.cause.name}: ${value.cause.message})` : "";
      const safe = new Error(text(`${value.message}${inner}`));
      safe.name = value.name;
      return safe;
    },
  };
}
