import { importPKCS8, SignJWT } from "jose";
import { UpstreamError } from "../../../lib/errors";
import type { Logger } from "../../../lib/logger";
import { scrubber } from "../../../lib/scrub";
import type { UpstreamFailureKind } from "../../../lib/upstream-gate";
import {
  CozeMalformedEventError,
  cozeFailureKindOf,
  cozeJwtClaims,
  createSseDecoder,
  httpFailureKindOf,
  isTokenRejection,
  toCozeEvent,
  tokenExpiresAtMs,
} from "./transform";
import {
  COZE_PATHS,
  type CozeEnterMessage,
  type CozeRegion,
  type CozeStreamEvent,
  type CozeToolOutput,
  cozeErrorBodySchema,
  cozeOAuthErrorSchema,
  cozeTokenSchema,
  JWT_BEARER_GRANT,
  type SseFrame,
} from "./types";

/**
 * Coze OpenAPI for chat replies, authenticated as an OAuth "service application" (OAuth JWT grant).
 *
 * Protocol (coze.com/docs/developer_guides: oauth_jwt, chat_v3, chat_submit_tool_outputs, coze_error_codes):
 * - access token: a JWT signed RS256 with the app's private key — header `{ alg: RS256, typ: JWT, kid: <public
 *   key fingerprint> }`, payload `{ iss: <app id>, aud: api.coze.com | api.coze.cn, iat, exp, jti }` with a new
 *   `jti` every time (a JWT works once) — is sent as `Authorization: Bearer <jwt>` to
 *   `POST /api/permission/oauth2/token` `{ grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer,
 *   duration_seconds }` → `{ access_token, expires_in }` (expires_in: Unix seconds). No refresh: mint again.
 * - chat: `POST /v3/chat` `{ bot_id, user_id, stream: true, auto_save_history: true, additional_messages,
 *   custom_variables, meta_data }` with `Authorization: Bearer <access token>` answers `text/event-stream`:
 *   `conversation.chat.created`, `.in_progress`, `conversation.message.delta`* / `.completed`, then
 *   `conversation.chat.completed` | `.requires_action` (local plugin calls) | `.failed`, an `error` event on
 *   trouble, and `done`. A refused request is answered as JSON `{ code, msg }` instead of a stream.
 * - tool results: `POST /v3/chat/submit_tool_outputs?conversation_id&chat_id` `{ stream: true, tool_outputs:
 *   [{ tool_call_id, output }] }` continues the same chat as a new stream (it needs `auto_save_history`).
 *
 * Timeouts: the call is aborted when no response headers arrive within `firstByteTimeoutMs`, when the stream
 * goes quiet for `idleTimeoutMs` between chunks, or when the caller's `signal` aborts (its reply deadline).
 * Time spent by the consumer between events does not count as idleness.
 *
 * Every failure is a `CozeError` (an `UpstreamError`): `kind` retryable | rate_limited | auth | permanent,
 * plus the Coze `code`, whether the access token itself was refused (`tokenRejected`: mint a new one and
 * try once more), which timeout fired, and whether any event had been received (`afterFirstEvent`). Nothing
 * is retried here: only the caller knows whether a reply has started reaching the customer.
 *
 * Secrets (private key, JWT, access token) travel only in headers; no URL, header or body is logged or put
 * in an error.
 */

export interface CozeAppCredentials {
  /** The OAuth app id (JWT `iss`). */
  appId: string;
  /** The public key fingerprint shown for the app's key pair (JWT `kid`). */
  keyId: string;
  /** SECRET. PKCS#8 PEM (`private_key.pem`). */
  privateKey: string;
}

export interface CozeAccessToken {
  /** SECRET. */
  accessToken: string;
  /** Epoch ms. */
  expiresAt: number;
}

export type CozeFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface CozeClientOptions {
  /** `https://api.coze.com`, `https://api.coze.cn`, or a fake's URL. */
  apiBase: string;
  /** Which Coze deployment the app belongs to: the JWT audience. */
  region: CozeRegion;
  credentials: CozeAppCredentials;
  /** Until the response headers arrive. Default 15 000. */
  firstByteTimeoutMs?: number;
  /** Longest silence between two chunks of a stream. Default 15 000. */
  idleTimeoutMs?: number;
  fetch?: CozeFetch;
  /** Epoch ms. */
  now?: () => number;
  logger?: Logger;
}

export interface StreamChatInput {
  /** SECRET. */
  accessToken: string;
  botId: string;
  /** Coze's end-user id: keeps each user's conversation memory apart. Opaque, never a business id. */
  userId: string;
  additionalMessages: CozeEnterMessage[];
  /** Values for `{{variables}}` in the bot's prompt. */
  customVariables?: Record<string, string>;
  /** Kept with the chat on Coze's side (≤ 16 pairs). */
  metaData?: Record<string, string>;
  signal?: AbortSignal;
}

export interface SubmitToolOutputsInput {
  /** SECRET. */
  accessToken: string;
  conversationId: string;
  chatId: string;
  toolOutputs: CozeToolOutput[];
  signal?: AbortSignal;
}

export interface CozeClient {
  /** Signs a fresh JWT and exchanges it for an access token lasting `durationSeconds` (≤ 86 399). */
  issueAccessToken(options?: { durationSeconds?: number; signal?: AbortSignal }): Promise<CozeAccessToken>;
  /** The chat's events as they arrive. Throws `CozeError`, also mid-stream. */
  streamChat(input: StreamChatInput): AsyncGenerator<CozeStreamEvent, void, undefined>;
  /** Continues a `requires_action` chat; the events of the rest of the reply. Throws `CozeError`. */
  submitToolOutputs(input: SubmitToolOutputsInput): AsyncGenerator<CozeStreamEvent, void, undefined>;
}

const UPSTREAM = "coze";
/** Coze caps a JWT grant's `duration_seconds` at 86 399. */
export const MAX_TOKEN_SECONDS = 86_399;
/** How long a signed JWT is accepted for the exchange: it is used at once. */
const JWT_LIFETIME_SECONDS = 300;
/** Error bodies worth reading are small; a proxy's HTML page is not worth more. */
const MAX_ERROR_BODY_CHARS = 4096;

export type CozeTimeout = "first_byte" | "idle";

export class CozeError extends UpstreamError {
  /** Coze's own error code, when it gave one. */
  readonly cozeCode: number | null;
  /** The access token was refused (4100, 700012006, HTTP 401): drop it; a new one may succeed. */
  readonly tokenRejected: boolean;
  readonly timeout: CozeTimeout | null;
  /** The caller's signal ended the call (its deadline passed, or it stopped listening). */
  readonly aborted: boolean;
  /** Some event of the stream had already been received when it failed. */
  readonly afterFirstEvent: boolean;

  constructor(
    message: string,
    kind: UpstreamFailureKind,
    options: {
      cozeCode?: number | null;
      tokenRejected?: boolean;
      timeout?: CozeTimeout | null;
      aborted?: boolean;
      afterFirstEvent?: boolean;
      retryAfterSeconds?: number;
      logId?: string | null;
      cause?: unknown;
    } = {},
  ) {
    super(message, {
      upstream: UPSTREAM,
      retryable: kind === "retryable" || kind === "rate_limited",
      kind,
      details: {
        ...(options.cozeCode == null ? {} : { cozeCode: options.cozeCode }),
        ...(options.logId ? { logId: options.logId } : {}),
      },
      ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
      ...(options.cause === undefined ? {} : { cause: options.cause }),
    });
    this.cozeCode = options.cozeCode ?? null;
    this.tokenRejected = options.tokenRejected ?? false;
    this.timeout = options.timeout ?? null;
    this.aborted = options.aborted ?? false;
    this.afterFirstEvent = options.afterFirstEvent ?? false;
  }
}

/** Imported signing keys per isolate, by PEM: importing is the costly part of minting a token. */
const signingKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 64;

function signingKeyOf(pem: string): Promise<CryptoKey> {
  let key = signingKeys.get(pem);
  if (key === undefined) {
    if (signingKeys.size >= MAX_CACHED_KEYS) {
      const oldest = signingKeys.keys().next().value;
      if (oldest !== undefined) signingKeys.delete(oldest);
    }
    key = importPKCS8(pem, "RS256");
    // A key that fails to import is not kept: the next attempt (after the tenant fixes it) tries again.
    key.catch(() => signingKeys.delete(pem));
    signingKeys.set(pem, key);
  }
  return key;
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return Math.ceil(seconds);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export function createCozeClient(options: CozeClientOptions): CozeClient {
  const apiBase = options.apiBase.replace(/\/+$/, "");
  const { credentials, region, logger } = options;
  const firstByteTimeoutMs = options.firstByteTimeoutMs ?? 15_000;
  const idleTimeoutMs = options.idleTimeoutMs ?? 15_000;
  // Call through a closure: an unbound `fetch` taken off an object throws "Illegal invocation" in workerd.
  const doFetch: CozeFetch = options.fetch ?? ((url, init) => fetch(url, init));
  const now = options.now ?? Date.now;
  const scrub = scrubber([credentials.privateKey]);
  const logFields = { upstream: UPSTREAM, appId: credentials.appId };

  /** A call's abort controller: the caller's signal, the first-byte timer and the idle timer in one. */
  function watchdog(signal: AbortSignal | undefined) {
    const controller = new AbortController();
    let fired: CozeTimeout | null = null;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const onAbort = () => controller.abort();
    if (signal?.aborted) controller.abort();
    else signal?.addEventListener("abort", onAbort, { once: true });
    const arm = (which: CozeTimeout, ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        fired = which;
        controller.abort();
      }, ms);
    };
    return {
      signal: controller.signal,
      arm,
      disarm: () => clearTimeout(timer),
      fired: () => fired,
      callerAborted: () => signal?.aborted === true,
      /** Ends the call: closes the connection if still open and forgets the caller's signal. */
      close: () => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        controller.abort();
      },
    };
  }

  type Watchdog = ReturnType<typeof watchdog>;

  /** What went wrong on the way (no answer read): timeout, caller's abort, or the network. */
  function transportError(operation: string, dog: Watchdog, error: unknown, afterFirstEvent: boolean) {
    const timeout = dog.fired();
    if (timeout !== null) {
      return new CozeError(
        timeout === "first_byte"
          ? `Coze ${operation} sent nothing within ${firstByteTimeoutMs} ms`
          : `Coze ${operation} went quiet for ${idleTimeoutMs} ms`,
        "retryable",
        { timeout, afterFirstEvent },
      );
    }
    if (dog.callerAborted()) {
      return new CozeError(`Coze ${operation} was aborted by the caller`, "retryable", {
        aborted: true,
        afterFirstEvent,
      });
    }
    return new CozeError(`Coze ${operation} failed (network error)`, "retryable", {
      afterFirstEvent,
      cause: scrub.error(error),
    });
  }

  /** A response that is not a stream: Coze's `{ code, msg }` refusal, or an HTTP error. */
  async function refusal(operation: string, response: Response): Promise<CozeError> {
    let text = "";
    try {
      text = (await response.text()).slice(0, MAX_ERROR_BODY_CHARS);
    } catch {
      // the status alone decides
    }
    const logId = response.headers.get("x-tt-logid");
    const retryAfter = retryAfterSeconds(response.headers.get("retry-after"));
    const parsed = cozeErrorBodySchema.safeParse(parseJson(text));
    if (parsed.success && parsed.data.code !== 0) {
      const { code, msg } = parsed.data;
      const kind = response.status === 429 ? "rate_limited" : cozeFailureKindOf(code);
      return new CozeError(`Coze ${operation} refused (${code} ${scrub.text(msg).slice(0, 200)})`, kind, {
        cozeCode: code,
        tokenRejected: isTokenRejection(code) || response.status === 401,
        logId,
        ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
      });
    }
    if (response.ok) {
      return new CozeError(`Coze ${operation} answered without an event stream`, "retryable", { logId });
    }
    return new CozeError(
      `Coze ${operation} returned HTTP ${response.status}`,
      httpFailureKindOf(response.status),
      {
        tokenRejected: response.status === 401,
        logId,
        ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
      },
    );
  }

  async function* stream(
    operation: string,
    url: string,
    accessToken: string,
    body: unknown,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<CozeStreamEvent, void, undefined> {
    const dog = watchdog(signal);
    let received = false;
    try {
      dog.arm("first_byte", firstByteTimeoutMs);
      let response: Response;
      try {
        response = await doFetch(url, {
          method: "POST",
          headers: {
            authorization: `Bearer ${accessToken}`,
            "content-type": "application/json",
            accept: "text/event-stream",
          },
          body: JSON.stringify(body),
          signal: dog.signal,
        });
      } catch (error) {
        throw transportError(operation, dog, error, false);
      }
      const contentType = response.headers.get("content-type") ?? "";
      if (!response.ok || !contentType.includes("text/event-stream") || response.body === null) {
        try {
          throw await refusal(operation, response);
        } finally {
          dog.disarm();
        }
      }
      const reader = response.body.getReader();
      const text = new TextDecoder();
      const sse = createSseDecoder();
      for (;;) {
        dog.arm("idle", idleTimeoutMs);
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (error) {
          throw transportError(operation, dog, error, received);
        } finally {
          // The consumer's own pace between events is not Coze's silence.
          dog.disarm();
        }
        let frames: SseFrame[];
        try {
          frames = chunk.done
            ? [...sse.push(text.decode()), ...sse.end()]
            : sse.push(text.decode(chunk.value, { stream: true }));
        } catch (error) {
          if (!(error instanceof CozeMalformedEventError)) throw error;
          logger?.warn("coze sent an oversized event", { ...logFields, event: error.event });
          throw new CozeError(error.message, "retryable", { afterFirstEvent: received });
        }
        for (const frame of frames) {
          let event: CozeStreamEvent;
          try {
            event = toCozeEvent(frame);
          } catch (error) {
            if (!(error instanceof CozeMalformedEventError)) throw error;
            logger?.warn("coze sent a malformed event", { ...logFields, event: frame.event });
            throw new CozeError(error.message, "retryable", { afterFirstEvent: received });
          }
          received = true;
          yield event;
          if (event.type === "done") return;
          // The caller's deadline may have passed while it handled the event: stop before the next one.
          if (dog.signal.aborted) throw transportError(operation, dog, undefined, received);
        }
        if (chunk.done) return;
      }
    } finally {
      dog.close();
    }
  }

  return {
    async issueAccessToken({ durationSeconds = 3600, signal } = {}) {
      let key: CryptoKey;
      try {
        key = await signingKeyOf(credentials.privateKey);
      } catch {
        throw new CozeError(
          "The Coze app's private key cannot be imported (RSA PKCS#8 PEM expected)",
          "auth",
        );
      }
      const nowSeconds = Math.floor(now() / 1000);
      const claims = cozeJwtClaims({
        appId: credentials.appId,
        region,
        nowSeconds,
        lifetimeSeconds: JWT_LIFETIME_SECONDS,
        jti: crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().replaceAll("-", ""),
      });
      const jwt = await new SignJWT(claims)
        .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: credentials.keyId })
        .sign(key);

      const dog = watchdog(signal);
      dog.arm("first_byte", firstByteTimeoutMs);
      try {
        let response: Response;
        let text: string;
        try {
          response = await doFetch(`${apiBase}${COZE_PATHS.token}`, {
            method: "POST",
            headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
            body: JSON.stringify({
              grant_type: JWT_BEARER_GRANT,
              duration_seconds: Math.min(MAX_TOKEN_SECONDS, Math.max(1, Math.floor(durationSeconds))),
            }),
            signal: dog.signal,
          });
          text = await response.text();
        } catch (error) {
          throw transportError("token exchange", dog, error, false);
        }
        const body = parseJson(text);
        const token = cozeTokenSchema.safeParse(body);
        if (response.ok && token.success) {
          return {
            accessToken: token.data.access_token,
            expiresAt: tokenExpiresAtMs(token.data.expires_in, now()),
          };
        }
        const oauth = cozeOAuthErrorSchema.safeParse(body);
        const errorCode = oauth.success ? (oauth.data.error_code ?? oauth.data.error ?? null) : null;
        const logId = response.headers.get("x-tt-logid");
        if (response.status === 429) {
          const retryAfter = retryAfterSeconds(response.headers.get("retry-after"));
          throw new CozeError("Coze token exchange is rate limited (HTTP 429)", "rate_limited", {
            logId,
            ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
          });
        }
        if (response.status >= 500 || errorCode === "internal_error") {
          throw new CozeError(`Coze token exchange failed (HTTP ${response.status})`, "retryable", { logId });
        }
        if (response.ok) {
          throw new CozeError("Coze token exchange answered without a usable token", "retryable", { logId });
        }
        // invalid_client (bad signature, unknown kid, wrong app id or audience, replayed jti), access_deny
        // (app disabled), invalid_request: the connection's credentials need fixing, retrying will not help.
        logger?.warn("coze refused the app's JWT", { ...logFields, status: response.status, errorCode });
        throw new CozeError(
          `Coze refused the app credentials (${errorCode ?? `HTTP ${response.status}`}): check the app id, public key fingerprint and private key`,
          "auth",
          { logId },
        );
      } finally {
        dog.close();
      }
    },

    streamChat(input) {
      return stream(
        "chat",
        `${apiBase}${COZE_PATHS.chat}`,
        input.accessToken,
        {
          bot_id: input.botId,
          user_id: input.userId,
          stream: true,
          // Required for submit_tool_outputs to continue a chat that calls a local plugin.
          auto_save_history: true,
          additional_messages: input.additionalMessages,
          ...(input.customVariables ? { custom_variables: input.customVariables } : {}),
          ...(input.metaData ? { meta_data: input.metaData } : {}),
        },
        input.signal,
      );
    },

    submitToolOutputs(input) {
      const query = new URLSearchParams({ conversation_id: input.conversationId, chat_id: input.chatId });
      return stream(
        "submit_tool_outputs",
        `${apiBase}${COZE_PATHS.submitToolOutputs}?${query}`,
        input.accessToken,
        { stream: true, tool_outputs: input.toolOutputs },
        input.signal,
      );
    },
  };
}
