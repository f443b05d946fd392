import { UpstreamError } from "../../../lib/errors";
import { scrubber } from "../../../lib/scrub";
import type {
  UpstreamFailureKind,
  UpstreamGate,
  UpstreamOutcome,
  UpstreamPermit,
} from "../../../lib/upstream-gate";
import { kindOfTrack17Code, TRACK17_ACCOUNT_LIMIT_RETRY_SECONDS } from "./transform";
import {
  TRACK17_MAX_BATCH,
  TRACK17_PATHS,
  type Track17NumberRef,
  type Track17RegisterData,
  type Track17RegisterItem,
  type Track17TrackInfoData,
  track17EnvelopeSchema,
  track17RefusalDataSchema,
  track17RegisterDataSchema,
  track17TrackInfoDataSchema,
} from "./types";

/**
 * 17track Tracking API v2.2 client (`https://api.17track.net/track/v2.2`), for the operations Tradewind
 * uses: `register` (start tracking; 17track then pushes TRACKING_UPDATED to the webhook receiver) and
 * `gettrackinfo` (the current state of numbers already registered).
 *
 * Auth: the account's security key in the `17token` header. Every request is `POST` with a JSON array of
 * at most 40 numbers (a longer list is a programming error here: RangeError, never sent).
 *
 * Rate limit: 3 requests per second per key (HTTP 429 beyond). Every request takes a permit of cost 1
 * from the `UpstreamGate` (the `RateGovernor` of this key; endpoint = API path) and returns it with what
 * happened, including a 429's Retry-After, so every isolate together stays under the limit.
 *
 * One attempt per call: registering is safe to repeat (a second time answers "already registered"), but
 * the caller holds the rows and decides when to try again (src/services/tracking/register-pending.ts).
 * Failures are `UpstreamError`s by `kind`:
 * | 17track answer                                                        | kind         |
 * |-----------------------------------------------------------------------|--------------|
 * | HTTP 429                                                              | rate_limited (Retry-After, else 1 s) |
 * | -18019907 daily limit / -18019908 quota for the whole request          | rate_limited (1 h) |
 * | HTTP 5xx, -18010003 internal error, network error, timeout, no JSON   | retryable    |
 * | HTTP 401/403, -18010001 IP not whitelisted, -18010002 invalid key, -18010004 disabled, -18010005 unauthorized | auth |
 * | any other refusal of the whole request (-18010013, -18010014, …)       | permanent    |
 * Per-number results (accepted, rejected with a code) are returned as they are: transform.ts judges them.
 * A permit the governor refused (breaker open, budget not in time) is thrown with `details.sent = false`.
 *
 * The security key never reaches a message or a cause.
 */

export interface Track17ClientInput {
  /** SECRET: the account's security key (`TRACK17_API_KEY`). */
  apiKey: string;
  /** "https://api.17track.net" or the fake's url. */
  apiBase: string;
  gate: UpstreamGate;
  /** Per request, response body included. Default 10 000. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface Track17Client {
  register(items: readonly Track17RegisterItem[]): Promise<Track17RegisterData>;
  getTrackInfo(items: readonly Track17NumberRef[]): Promise<Track17TrackInfoData>;
}

const UPSTREAM = "17track";
/** 17track's 429 does not promise a Retry-After; a second lets its per-second window pass. */
const DEFAULT_RETRY_AFTER_MS = 1000;

function upstreamError(
  message: string,
  kind: UpstreamFailureKind,
  options: { retryAfterSeconds?: number; cause?: unknown; track17Code?: number; httpStatus?: number } = {},
): UpstreamError {
  const details: Record<string, unknown> = {};
  if (options.track17Code !== undefined) details.track17Code = options.track17Code;
  if (options.httpStatus !== undefined) details.httpStatus = options.httpStatus;
  return new UpstreamError(message, {
    upstream: UPSTREAM,
    retryable: kind === "retryable" || kind === "rate_limited",
    kind,
    details,
    ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
    ...(options.cause === undefined ? {} : { cause: options.cause }),
  });
}

function retryAfterHeaderMs(header: string | null): number {
  const seconds = header === null ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : DEFAULT_RETRY_AFTER_MS;
}

type Exchange =
  | { ok: true; data: unknown; outcome: UpstreamOutcome }
  | { ok: false; error: UpstreamError; outcome: UpstreamOutcome };

export function createTrack17Client(input: Track17ClientInput): Track17Client {
  const apiKey = input.apiKey.trim();
  if (apiKey === "") throw new RangeError("17track needs a security key");
  const apiBase = input.apiBase.replace(/\/+$/, "");
  const timeoutMs = input.timeoutMs ?? 10_000;
  // Call through a closure: an unbound `fetch` taken off an object throws "Illegal invocation" in workerd.
  const doFetch: typeof fetch = input.fetch ?? ((url, init) => fetch(url, init));
  const scrub = scrubber([apiKey]);

  async function roundTrip(path: string, body: unknown[], what: string): Promise<Exchange> {
    const signal = AbortSignal.timeout(timeoutMs);
    // Whatever 17track answered counted against its per-second limit; saying so keeps the governor from
    // refunding the permit of a refused request (it refunds unreported failures: maybe never sent).
    const counted = { actualCost: 1 } as const;
    const failed = (
      message: string,
      kind: UpstreamFailureKind,
      extra: { track17Code?: number; httpStatus?: number; retryAfterMs?: number; cause?: unknown } = {},
    ): Exchange => ({
      ok: false,
      error: upstreamError(message, kind, {
        ...(extra.track17Code === undefined ? {} : { track17Code: extra.track17Code }),
        ...(extra.httpStatus === undefined ? {} : { httpStatus: extra.httpStatus }),
        ...(extra.retryAfterMs === undefined
          ? {}
          : { retryAfterSeconds: Math.ceil(extra.retryAfterMs / 1000) }),
        ...(extra.cause === undefined ? {} : { cause: scrub.error(extra.cause) }),
      }),
      outcome: {
        ok: false,
        failure: kind,
        ...(extra.retryAfterMs === undefined ? {} : { retryAfterMs: extra.retryAfterMs }),
        // A transport failure may never have reached 17track: let the governor refund it.
        ...(extra.cause === undefined ? counted : {}),
      },
    });

    let response: Response;
    let text: string;
    try {
      response = await doFetch(`${apiBase}${path}`, {
        method: "POST",
        headers: { accept: "application/json", "content-type": "application/json", "17token": apiKey },
        body: JSON.stringify(body),
        signal,
      });
      text = await response.text();
    } catch (error) {
      return signal.aborted
        ? failed(`17track ${what} timed out after ${timeoutMs} ms`, "retryable", { cause: error })
        : failed(`17track ${what} failed (network error)`, "retryable", { cause: error });
    }

    const status = response.status;
    if (status === 429) {
      const retryAfterMs = retryAfterHeaderMs(response.headers.get("retry-after"));
      return failed(`17track ${what} is rate limited (HTTP 429)`, "rate_limited", {
        httpStatus: status,
        retryAfterMs,
      });
    }
    let envelope: ReturnType<typeof track17EnvelopeSchema.safeParse> | null = null;
    try {
      envelope = track17EnvelopeSchema.safeParse(JSON.parse(text));
    } catch {
      envelope = null;
    }
    const answer = envelope?.success ? envelope.data : null;
    const refusal = track17RefusalDataSchema.safeParse(answer?.data);
    // A refusal of the whole request names its code in data.errors (sometimes beside a top-level code 0).
    const refusedCode = refusal.success
      ? refusal.data.errors[0]?.code
      : answer && answer.code !== 0
        ? answer.code
        : undefined;
    if (answer !== null && refusedCode !== undefined) {
      const message = scrub
        .text(refusal.success ? (refusal.data.errors[0]?.message ?? "") : "")
        .slice(0, 300);
      const kind = status === 401 || status === 403 ? "auth" : kindOfTrack17Code(refusedCode);
      const described = `${refusedCode}${message ? ` ${message}` : ""}`;
      if (kind === "auth") {
        return failed(
          `17track refused the security key (${described}): check TRACK17_API_KEY and the account's IP whitelist`,
          "auth",
          { track17Code: refusedCode, httpStatus: status },
        );
      }
      return failed(`17track refused ${what} (${described})`, kind, {
        track17Code: refusedCode,
        httpStatus: status,
        ...(kind === "rate_limited" ? { retryAfterMs: TRACK17_ACCOUNT_LIMIT_RETRY_SECONDS * 1000 } : {}),
      });
    }
    if (answer !== null && status < 300)
      return { ok: true, data: answer.data ?? {}, outcome: { ok: true, ...counted } };
    if (status === 401 || status === 403) {
      return failed(`17track refused the security key (HTTP ${status})`, "auth", { httpStatus: status });
    }
    if (status >= 500)
      return failed(`17track ${what} returned HTTP ${status}`, "retryable", { httpStatus: status });
    if (status >= 400)
      return failed(`17track ${what} returned HTTP ${status}`, "permanent", { httpStatus: status });
    return failed(`17track ${what} answered HTTP ${status} without a 17track envelope`, "retryable", {
      httpStatus: status,
    });
  }

  /** One request under one permit; the permit is always returned with what happened. */
  async function call(path: string, body: unknown[], what: string): Promise<unknown> {
    if (body.length === 0) throw new RangeError(`17track ${what} needs at least one number`);
    if (body.length > TRACK17_MAX_BATCH) {
      throw new RangeError(`17track ${what} takes at most ${TRACK17_MAX_BATCH} numbers, got ${body.length}`);
    }
    let permit: UpstreamPermit;
    try {
      permit = await input.gate.acquire({ endpoint: path, cost: 1 });
    } catch (error) {
      // The governor refused (breaker open, budget not in time): nothing reached 17track. Callers keep such
      // numbers unattempted rather than spend one of their attempts.
      if (!(error instanceof UpstreamError)) throw error;
      throw new UpstreamError(error.message, {
        upstream: UPSTREAM,
        retryable: error.retryable,
        kind: error.kind,
        ...(error.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: error.retryAfterSeconds }),
        cause: error,
        details: { sent: false },
      });
    }
    let result: Exchange | null = null;
    try {
      result = await roundTrip(path, body, what);
    } finally {
      // The governor's bookkeeping must not turn 17track's answer into a failure.
      await permit.release(result?.outcome ?? { ok: false, failure: "retryable" }).catch(() => undefined);
    }
    if (!result.ok) throw result.error;
    return result.data;
  }

  return {
    async register(items) {
      const body = items.map((item) => ({
        number: item.number,
        ...(item.carrier === undefined ? {} : { carrier: item.carrier }),
        ...(item.tag === undefined ? {} : { tag: item.tag }),
      }));
      const data = await call(TRACK17_PATHS.register, body, "register");
      const parsed = track17RegisterDataSchema.safeParse(data);
      if (!parsed.success) throw upstreamError("17track register answered an unexpected shape", "retryable");
      return parsed.data;
    },

    async getTrackInfo(items) {
      const body = items.map((item) => ({
        number: item.number,
        ...(item.carrier === undefined ? {} : { carrier: item.carrier }),
      }));
      const data = await call(TRACK17_PATHS.getTrackInfo, body, "gettrackinfo");
      const parsed = track17TrackInfoDataSchema.safeParse(data);
      if (!parsed.success)
        throw upstreamError("17track gettrackinfo answered an unexpected shape", "retryable");
      return parsed.data;
    },
  };
}
