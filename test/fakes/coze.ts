import {
  createHash,
  createPrivateKey,
  createPublicKey,
  createVerify,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
} from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A faithful fake of the Coze OpenAPI parts Tradewind uses, for tests, the bench and the local demo
 * (coze.com/docs/developer_guides: oauth_jwt, chat_v3, chat_submit_tool_outputs, coze_error_codes).
 *
 * `POST /api/permission/oauth2/token` (OAuth JWT grant of a service app). `Authorization: Bearer <JWT>`; the
 * JWT is checked like Coze does, with the app's PUBLIC key: header `alg` RS256, `typ` JWT, `kid` = the app's
 * public key fingerprint; payload `iss` = a known app id, `aud` = api.coze.com (api.coze.cn for a cn app),
 * `iat` not in the future, `exp` after `iat` and not passed, a `jti` never seen before (a JWT works once); the
 * RS256 signature verified. Body `{ grant_type: urn:ietf:params:oauth:grant-type:jwt-bearer, duration_seconds?
 * (1..86399, default 900) }`. Answers `{ access_token: "czs_…", expires_in: <Unix seconds of expiry> }`;
 * refusals `{ error_code, error_message }` (401 invalid_client, 400 invalid_request / unsupported_grant_type).
 *
 * `POST /v3/chat` (`Authorization: Bearer <access token>`, `stream: true`): a missing or unknown token is
 * `{ code: 4100, msg: "authentication is invalid" }`, an expired or revoked one `{ code: 700012006, msg:
 * "access token invalid" }` (JSON, HTTP 200, as Coze answers refusals). The body is validated (bot_id, user_id,
 * additional_messages ≤ 100 with the user's question last → 4000 / 4004; meta_data ≤ 16 pairs → 4003). Then
 * it streams `text/event-stream` frames as Coze writes them (`event:<name>\ndata:<json>\n\n`, no space):
 * conversation.chat.created, .in_progress, conversation.message.delta per scripted delta,
 * conversation.message.completed (answer, then the verbose generate_answer_finish packet), then
 * conversation.chat.completed (with usage) and `event:done` / `data:"[DONE]"`.
 *
 * `POST /v3/chat/submit_tool_outputs?conversation_id&chat_id` continues a chat left in `requires_action` by a
 * scripted local-plugin call: every pending `tool_call_id` must be answered (else 4000); an unknown chat is
 * 4001. The continuation streams like a chat (in_progress, deltas, completed, done).
 *
 * What each chat answers is scripted per bot through the control API; with nothing scripted a bot echoes the
 * question in a few deltas, at once (the zero-latency mode the bench measures the relay with).
 *
 * | request                                                   | answer |
 * |-----------------------------------------------------------|--------|
 * | POST /__control/apps { appId?, region?, tokenLifetimeSeconds?, publicKeyPem? } | 201 { appId, keyId } (the fake's key pair unless a public key is given) |
 * | POST /__control/apps/{appId}/revoke-tokens                 | 204: every token issued so far is refused (700012006) |
 * | POST /__control/apps/{appId}/token-failures { status, errorCode } | 204: the next exchange fails so |
 * | GET  /__control/apps/{appId}/stats                         | 200 { tokenExchanges, tokenRefusals, chats, toolSubmissions } |
 * | POST /__control/bots/{botId}/replies { replies: FakeReply[] } | 204: queued; each chat of the bot takes the next |
 * | GET  /__control/bots/{botId}/chats                         | 200 { chats: ChatRecord[], toolOutputs: ToolOutputRecord[] } |
 */

export type FakeReply =
  /** Deltas of one answer; `delayMs` before each delta. */
  | { kind: "answer"; deltas: string[]; delayMs?: number }
  /** Local-plugin calls: the chat ends in requires_action; `afterOutputs` is streamed once outputs are submitted. */
  | {
      kind: "tool_calls";
      calls: { name: string; arguments: Record<string, unknown> }[];
      afterOutputs?: FakeReply;
    }
  /** An HTTP error before any stream (429 with a Coze code, 502 from the gateway…). */
  | { kind: "http_error"; status: number; code?: number; msg?: string; retryAfterSeconds?: number }
  /** Coze's JSON refusal `{ code, msg }` with HTTP 200. */
  | { kind: "refusal"; code: number; msg?: string }
  /** Some deltas, then conversation.chat.failed with `last_error`. */
  | { kind: "fail_mid_stream"; deltas: string[]; code: number; msg?: string }
  /** Never answers (no headers). */
  | { kind: "hang" }
  /** Headers and some deltas, then silence with the connection open. */
  | { kind: "stall"; deltas: string[] }
  /** Headers and some deltas, then the connection closes cleanly, without a chat event or `done`. */
  | { kind: "cut_off"; deltas: string[] };

export interface ChatRecord {
  appId: string;
  userId: string;
  additionalMessages: { role: string; type?: string; content: string; content_type: string }[];
  customVariables: Record<string, string> | null;
  metaData: Record<string, string> | null;
  autoSaveHistory: boolean | null;
}

export interface ToolOutputRecord {
  chatId: string;
  outputs: { toolCallId: string; name: string; arguments: Record<string, unknown>; output: string }[];
}

export interface CozeFake {
  url: string;
  /** The fake's key pair: apps registered without a public key verify with it. */
  privateKeyPem: string;
  /** Its public key fingerprint (the JWT `kid`). */
  keyId: string;
  close(): Promise<void>;
}

const JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer";
const DEFAULT_TOKEN_SECONDS = 900;
const MAX_TOKEN_SECONDS = 86_399;
/** Coze allows some clock skew between the app's server and its own. */
const CLOCK_SKEW_SECONDS = 30;

interface App {
  appId: string;
  keyId: string;
  publicKey: KeyObject;
  audience: string;
  /** Caps the lifetime of issued tokens (tests of expiry). */
  tokenLifetimeSeconds: number | null;
  tokenFailures: { status: number; errorCode: string }[];
  stats: { tokenExchanges: number; tokenRefusals: number; chats: number; toolSubmissions: number };
}

interface IssuedToken {
  appId: string;
  expiresAt: number;
  revoked: boolean;
}

interface PendingChat {
  appId: string;
  botId: string;
  conversationId: string;
  calls: { id: string; name: string; arguments: Record<string, unknown> }[];
  afterOutputs: FakeReply;
}

function fingerprint(publicKey: KeyObject): string {
  return createHash("sha256")
    .update(publicKey.export({ type: "spki", format: "der" }))
    .digest("base64url");
}

/** Coze ids are 19-digit decimal strings. */
function cozeId(): string {
  return `75${BigInt(`0x${randomBytes(8).toString("hex")}`)
    .toString()
    .padStart(20, "0")
    .slice(0, 17)}`;
}

function logId(): string {
  return `${new Date().toISOString().replace(/\D/g, "").slice(0, 14)}${randomBytes(10).toString("hex").toUpperCase()}`;
}

function base64urlJson(part: string | undefined): Record<string, unknown> | null {
  if (!part) return null;
  try {
    const value: unknown = JSON.parse(Buffer.from(part, "base64url").toString("utf8"));
    return value !== null && typeof value === "object" && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * `port`: a fixed port (the local demo), else any free one. `privateKeyPem`: the fake's key pair (a demo that
 * keeps its connection across restarts), else a new RSA-2048 pair.
 */
export async function startCozeFake(
  options: { port?: number; privateKeyPem?: string } = {},
): Promise<CozeFake> {
  const pair = options.privateKeyPem
    ? {
        privateKey: createPrivateKey(options.privateKeyPem),
        publicKey: createPublicKey(options.privateKeyPem),
      }
    : generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const defaultKeyId = fingerprint(pair.publicKey);
  const apps = new Map<string, App>();
  const tokens = new Map<string, IssuedToken>();
  const seenJti = new Set<string>();
  const replies = new Map<string, FakeReply[]>();
  const chats = new Map<string, ChatRecord[]>();
  const toolOutputs = new Map<string, ToolOutputRecord[]>();
  const pending = new Map<string, PendingChat>();
  const open = new Set<ServerResponse>();

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, {
      "content-type": "application/json; charset=utf-8",
      "x-tt-logid": logId(),
      ...headers,
    });
    res.end(JSON.stringify(body));
  };
  const oauthError = (res: ServerResponse, status: number, errorCode: string, message: string) =>
    json(res, status, { error_code: errorCode, error_message: message });
  const refusal = (res: ServerResponse, code: number, msg: string) =>
    json(res, 200, { code, msg, detail: { logid: logId() } });

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    if (text === "") return undefined;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return null;
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // OAuth JWT grant

  /** Null when the JWT is acceptable, else why not. Consumes the jti of an otherwise valid JWT. */
  function checkJwt(jwt: string): { app: App } | { problem: string } {
    const parts = jwt.split(".");
    if (parts.length !== 3) return { problem: "malformed jwt" };
    const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
    const header = base64urlJson(headerPart);
    const payload = base64urlJson(payloadPart);
    if (!header || !payload) return { problem: "malformed jwt" };
    if (header.alg !== "RS256") return { problem: "alg must be RS256" };
    if (header.typ !== "JWT") return { problem: "typ must be JWT" };
    const app = typeof payload.iss === "string" ? apps.get(payload.iss) : undefined;
    if (!app) return { problem: "app not found" };
    if (header.kid !== app.keyId) return { problem: "public key not found" };
    const verifier = createVerify("RSA-SHA256");
    verifier.update(`${headerPart}.${payloadPart}`);
    if (!verifier.verify(app.publicKey, Buffer.from(signaturePart, "base64url"))) {
      return { problem: "jwt signature verification failed" };
    }
    if (payload.aud !== app.audience) return { problem: "invalid aud" };
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp, jti } = payload;
    if (typeof iat !== "number" || typeof exp !== "number") return { problem: "iat and exp are required" };
    if (iat > now + CLOCK_SKEW_SECONDS) return { problem: "jwt is not valid yet" };
    if (exp <= iat) return { problem: "exp must be later than iat" };
    if (exp <= now - CLOCK_SKEW_SECONDS) return { problem: "jwt expired" };
    if (typeof jti !== "string" || jti === "") return { problem: "jti is required" };
    if (seenJti.has(jti)) return { problem: "jti has been used" };
    seenJti.add(jti);
    return { app };
  }

  async function token(req: IncomingMessage, res: ServerResponse) {
    const auth = req.headers.authorization ?? "";
    const body = await readBody(req);
    if (!auth.startsWith("Bearer ")) return oauthError(res, 401, "invalid_client", "missing jwt");
    const checked = checkJwt(auth.slice(7).trim());
    if ("problem" in checked) {
      const iss = base64urlJson(auth.split(".")[1])?.iss;
      const known = typeof iss === "string" ? apps.get(iss) : undefined;
      if (known) known.stats.tokenRefusals++;
      return oauthError(res, 401, "invalid_client", `invalid client: ${checked.problem}`);
    }
    const { app } = checked;
    app.stats.tokenExchanges++;
    const failure = app.tokenFailures.shift();
    if (failure) return oauthError(res, failure.status, failure.errorCode, "Service internal error.");
    if (body === null || typeof body !== "object" || Array.isArray(body)) {
      return oauthError(res, 400, "invalid_request", "invalid request: body");
    }
    const { grant_type: grantType, duration_seconds: duration } = body as Record<string, unknown>;
    if (grantType !== JWT_BEARER) {
      return oauthError(res, 400, "unsupported_grant_type", `not supported grant type: ${String(grantType)}`);
    }
    if (
      duration !== undefined &&
      (typeof duration !== "number" ||
        !Number.isInteger(duration) ||
        duration < 1 ||
        duration > MAX_TOKEN_SECONDS)
    ) {
      return oauthError(res, 400, "invalid_request", "invalid request: duration_seconds");
    }
    const lifetime = Math.min(
      typeof duration === "number" ? duration : DEFAULT_TOKEN_SECONDS,
      app.tokenLifetimeSeconds ?? MAX_TOKEN_SECONDS,
    );
    const accessToken = `czs_${randomBytes(48).toString("base64url")}`;
    const expiresAt = Date.now() + lifetime * 1000;
    tokens.set(accessToken, { appId: app.appId, expiresAt, revoked: false });
    return json(res, 200, { access_token: accessToken, expires_in: Math.floor(expiresAt / 1000) });
  }

  /** The app of a valid access token, or the refusal already sent. */
  function authorize(req: IncomingMessage, res: ServerResponse): App | null {
    const auth = req.headers.authorization ?? "";
    const issued = auth.startsWith("Bearer ") ? tokens.get(auth.slice(7).trim()) : undefined;
    if (!issued) {
      refusal(res, 4100, "authentication is invalid");
      return null;
    }
    if (issued.revoked || issued.expiresAt <= Date.now()) {
      refusal(res, 700012006, "access token invalid");
      return null;
    }
    return apps.get(issued.appId) ?? null;
  }

  // -------------------------------------------------------------------------------------------------------
  // Chat streams

  function startStream(res: ServerResponse) {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      connection: "keep-alive",
      "x-tt-logid": logId(),
    });
    open.add(res);
    res.on("close", () => open.delete(res));
  }

  const writeFrame = (res: ServerResponse, event: string, data: unknown) => {
    if (res.destroyed || res.writableEnded) return false;
    res.write(`event:${event}\ndata:${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    return true;
  };

  function chatObject(
    chat: { id: string; conversationId: string; botId: string; createdAt: number },
    extra = {},
  ) {
    return {
      id: chat.id,
      conversation_id: chat.conversationId,
      bot_id: chat.botId,
      created_at: chat.createdAt,
      last_error: { code: 0, msg: "" },
      usage: { token_count: 0, output_count: 0, input_count: 0 },
      section_id: chat.conversationId,
      ...extra,
    };
  }

  async function streamReply(
    res: ServerResponse,
    app: App,
    chat: { id: string; conversationId: string; botId: string; createdAt: number },
    reply: FakeReply,
    continued: boolean,
  ) {
    if (reply.kind === "http_error") {
      return json(
        res,
        reply.status,
        reply.code === undefined ? { msg: "gateway error" } : { code: reply.code, msg: reply.msg ?? "error" },
        reply.retryAfterSeconds === undefined ? {} : { "retry-after": String(reply.retryAfterSeconds) },
      );
    }
    if (reply.kind === "refusal") return refusal(res, reply.code, reply.msg ?? "request refused");
    if (reply.kind === "hang") {
      open.add(res);
      res.on("close", () => open.delete(res));
      return;
    }
    startStream(res);
    if (!continued) writeFrame(res, "conversation.chat.created", chatObject(chat, { status: "created" }));
    writeFrame(res, "conversation.chat.in_progress", chatObject(chat, { status: "in_progress" }));
    const message = (type: string, content: string, extra = {}) => ({
      id: cozeId(),
      conversation_id: chat.conversationId,
      bot_id: chat.botId,
      role: "assistant",
      type,
      content,
      content_type: "text",
      chat_id: chat.id,
      section_id: chat.conversationId,
      ...extra,
    });

    if (reply.kind === "tool_calls") {
      const calls = reply.calls.map((call) => ({
        id: randomBytes(30).toString("base64"),
        name: call.name,
        arguments: call.arguments,
      }));
      for (const call of calls) {
        writeFrame(
          res,
          "conversation.message.completed",
          message(
            "function_call",
            JSON.stringify({ name: call.name, arguments: call.arguments, plugin_type: 2 }),
          ),
        );
      }
      pending.set(chat.id, {
        appId: app.appId,
        botId: chat.botId,
        conversationId: chat.conversationId,
        calls,
        afterOutputs: reply.afterOutputs ?? { kind: "answer", deltas: ["Thanks, ", "I have what I need."] },
      });
      writeFrame(
        res,
        "conversation.chat.requires_action",
        chatObject(chat, {
          status: "requires_action",
          required_action: {
            type: "submit_tool_outputs",
            submit_tool_outputs: {
              tool_calls: calls.map((call) => ({
                id: call.id,
                type: "function",
                function: { name: call.name, arguments: JSON.stringify(call.arguments) },
              })),
            },
          },
        }),
      );
      writeFrame(res, "done", '"[DONE]"');
      return res.end();
    }

    const answerId = cozeId();
    const deltaOf = (content: string) => ({ ...message("answer", content), id: answerId });
    const delayMs = reply.kind === "answer" ? (reply.delayMs ?? 0) : 0;
    for (const delta of reply.deltas) {
      if (delayMs > 0) await sleep(delayMs);
      if (!writeFrame(res, "conversation.message.delta", deltaOf(delta))) return;
    }
    if (reply.kind === "stall") return; // left open: the client's idle timeout must end it
    if (reply.kind === "cut_off") return res.end();
    if (reply.kind === "fail_mid_stream") {
      writeFrame(
        res,
        "conversation.chat.failed",
        chatObject(chat, {
          status: "failed",
          failed_at: Math.floor(Date.now() / 1000),
          last_error: {
            code: reply.code,
            msg: reply.msg ?? "Model service is busy, please try again later.",
          },
        }),
      );
      writeFrame(res, "done", '"[DONE]"');
      return res.end();
    }
    const now = Math.floor(Date.now() / 1000);
    writeFrame(res, "conversation.message.completed", {
      ...deltaOf(reply.deltas.join("")),
      created_at: now,
      updated_at: now,
    });
    writeFrame(
      res,
      "conversation.message.completed",
      message(
        "verbose",
        JSON.stringify({ msg_type: "generate_answer_finish", data: "", from_module: null, from_unit: null }),
      ),
    );
    writeFrame(
      res,
      "conversation.chat.completed",
      chatObject(chat, {
        status: "completed",
        completed_at: now,
        usage: { token_count: 600, output_count: reply.deltas.length * 3, input_count: 580 },
      }),
    );
    writeFrame(res, "done", '"[DONE]"');
    res.end();
  }

  function validChatBody(
    body: unknown,
  ): { record: Omit<ChatRecord, "appId">; botId: string } | { code: number; msg: string } {
    if (body === null || typeof body !== "object" || Array.isArray(body))
      return { code: 4000, msg: "invalid body" };
    const b = body as Record<string, unknown>;
    if (typeof b.bot_id !== "string" || !/^\d{1,32}$/.test(b.bot_id))
      return { code: 4000, msg: "bot_id is invalid" };
    if (typeof b.user_id !== "string" || b.user_id === "") return { code: 4000, msg: "user_id is required" };
    if (b.stream !== true) return { code: 4000, msg: "this fake serves stream: true only" };
    const messages = b.additional_messages;
    if (!Array.isArray(messages) || messages.length === 0)
      return { code: 4000, msg: "additional_messages is required" };
    if (messages.length > 100) return { code: 4004, msg: "additional messages exceed the limit" };
    for (const m of messages as Record<string, unknown>[]) {
      const typeOk = m.type === undefined || m.type === "question" || m.type === "answer";
      if (
        (m.role !== "user" && m.role !== "assistant") ||
        typeof m.content !== "string" ||
        (m.content_type !== "text" && m.content_type !== "object_string") ||
        !typeOk ||
        (m.type === "question" && m.role !== "user")
      ) {
        return { code: 4000, msg: "invalid message in additional_messages" };
      }
    }
    if ((messages.at(-1) as Record<string, unknown>).role !== "user") {
      return { code: 4000, msg: "the last additional message must be the user's" };
    }
    const stringMap = (value: unknown) =>
      value !== null &&
      typeof value === "object" &&
      !Array.isArray(value) &&
      Object.values(value).every((v) => typeof v === "string");
    if (b.meta_data !== undefined) {
      if (!stringMap(b.meta_data) || Object.keys(b.meta_data as object).length > 16) {
        return { code: 4003, msg: "meta data exceeds the limit" };
      }
    }
    if (b.custom_variables !== undefined && !stringMap(b.custom_variables)) {
      return { code: 4000, msg: "custom_variables must map strings to strings" };
    }
    return {
      botId: b.bot_id,
      record: {
        userId: b.user_id,
        additionalMessages: messages as ChatRecord["additionalMessages"],
        customVariables: (b.custom_variables as Record<string, string> | undefined) ?? null,
        metaData: (b.meta_data as Record<string, string> | undefined) ?? null,
        autoSaveHistory: typeof b.auto_save_history === "boolean" ? b.auto_save_history : null,
      },
    };
  }

  async function chat(req: IncomingMessage, res: ServerResponse) {
    const body = await readBody(req);
    const app = authorize(req, res);
    if (!app) return;
    const valid = validChatBody(body);
    if ("code" in valid) return refusal(res, valid.code, valid.msg);
    app.stats.chats++;
    const list = chats.get(valid.botId) ?? [];
    list.push({ appId: app.appId, ...valid.record });
    chats.set(valid.botId, list);
    const question = valid.record.additionalMessages.at(-1)?.content ?? "";
    const reply = replies.get(valid.botId)?.shift() ?? {
      kind: "answer" as const,
      deltas: ["You said: ", ...question.split(/(?<= )/).slice(0, 20)],
    };
    const chatIds = {
      id: cozeId(),
      conversationId: cozeId(),
      botId: valid.botId,
      createdAt: Math.floor(Date.now() / 1000),
    };
    await streamReply(res, app, chatIds, reply, false);
  }

  async function submitToolOutputs(req: IncomingMessage, res: ServerResponse, query: URLSearchParams) {
    const body = await readBody(req);
    const app = authorize(req, res);
    if (!app) return;
    const chatId = query.get("chat_id") ?? "";
    const waiting = pending.get(chatId);
    if (!waiting || waiting.appId !== app.appId || waiting.conversationId !== query.get("conversation_id")) {
      return refusal(res, 4001, "invalid chat");
    }
    const b = (body ?? {}) as Record<string, unknown>;
    const outputs = Array.isArray(b.tool_outputs) ? (b.tool_outputs as Record<string, unknown>[]) : null;
    if (b.stream !== true) return refusal(res, 4000, "this fake serves stream: true only");
    const answered = new Map<string, string>();
    for (const o of outputs ?? []) {
      if (typeof o.tool_call_id !== "string" || typeof o.output !== "string") {
        return refusal(res, 4000, "invalid tool_outputs");
      }
      answered.set(o.tool_call_id, o.output);
    }
    if (answered.size !== waiting.calls.length || waiting.calls.some((c) => !answered.has(c.id))) {
      return refusal(res, 4000, "tool_outputs must answer every pending tool call");
    }
    pending.delete(chatId);
    app.stats.toolSubmissions++;
    const list = toolOutputs.get(waiting.botId) ?? [];
    list.push({
      chatId,
      outputs: waiting.calls.map((c) => ({
        toolCallId: c.id,
        name: c.name,
        arguments: c.arguments,
        output: answered.get(c.id) ?? "",
      })),
    });
    toolOutputs.set(waiting.botId, list);
    const chatIds = {
      id: chatId,
      conversationId: waiting.conversationId,
      botId: waiting.botId,
      createdAt: Math.floor(Date.now() / 1000),
    };
    await streamReply(res, app, chatIds, waiting.afterOutputs, true);
  }

  // -------------------------------------------------------------------------------------------------------
  // Control

  async function control(req: IncomingMessage, res: ServerResponse, path: string) {
    const body = ((req.method === "POST" ? await readBody(req) : undefined) ?? {}) as Record<string, unknown>;
    const route = `${req.method} ${path}`;
    if (route === "POST /apps") {
      const appId = typeof body.appId === "string" ? body.appId : `11${randomBytes(5).readUIntBE(0, 5)}`;
      const publicKey =
        typeof body.publicKeyPem === "string" ? createPublicKey(body.publicKeyPem) : pair.publicKey;
      const region = body.region === "cn" ? "cn" : "com";
      apps.set(appId, {
        appId,
        keyId: fingerprint(publicKey),
        publicKey,
        audience: `api.coze.${region}`,
        tokenLifetimeSeconds:
          typeof body.tokenLifetimeSeconds === "number" ? body.tokenLifetimeSeconds : null,
        tokenFailures: [],
        stats: { tokenExchanges: 0, tokenRefusals: 0, chats: 0, toolSubmissions: 0 },
      });
      return json(res, 201, { appId, keyId: fingerprint(publicKey) });
    }
    const appRoute = /^(GET|POST) \/apps\/([^/]+)\/(revoke-tokens|token-failures|stats)$/.exec(route);
    if (appRoute) {
      const app = apps.get(decodeURIComponent(appRoute[2] ?? ""));
      if (!app) return json(res, 404, { error: "unknown app" });
      if (route.endsWith("/revoke-tokens")) {
        for (const issued of tokens.values()) if (issued.appId === app.appId) issued.revoked = true;
        res.writeHead(204).end();
        return;
      }
      if (route.startsWith("POST") && route.endsWith("/token-failures")) {
        app.tokenFailures.push({
          status: typeof body.status === "number" ? body.status : 500,
          errorCode: typeof body.errorCode === "string" ? body.errorCode : "internal_error",
        });
        res.writeHead(204).end();
        return;
      }
      return json(res, 200, app.stats);
    }
    const botRoute = /^(GET|POST) \/bots\/([^/]+)\/(replies|chats)$/.exec(route);
    if (botRoute) {
      const botId = decodeURIComponent(botRoute[2] ?? "");
      if (route.startsWith("POST") && route.endsWith("/replies")) {
        if (!Array.isArray(body.replies)) return json(res, 400, { error: "replies must be an array" });
        replies.set(botId, [...(replies.get(botId) ?? []), ...(body.replies as FakeReply[])]);
        res.writeHead(204).end();
        return;
      }
      if (route.startsWith("GET") && route.endsWith("/chats")) {
        return json(res, 200, { chats: chats.get(botId) ?? [], toolOutputs: toolOutputs.get(botId) ?? [] });
      }
    }
    return json(res, 404, { error: `no control route ${route}` });
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://coze.fake");
    const path = url.pathname;
    const handle = async () => {
      if (path.startsWith("/__control/")) return control(req, res, path.slice("/__control".length));
      if (req.method !== "POST") return json(res, 405, { code: 4000, msg: "method not allowed" });
      if (path === "/api/permission/oauth2/token") return token(req, res);
      if (path === "/v3/chat") return chat(req, res);
      if (path === "/v3/chat/submit_tool_outputs") return submitToolOutputs(req, res, url.searchParams);
      return json(res, 404, { code: 4200, msg: "resource not found" });
    };
    handle().catch((error: unknown) => {
      if (!res.headersSent) json(res, 500, { code: 5000, msg: String(error) });
      else res.destroy();
    });
  });

  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    privateKeyPem,
    keyId: defaultKeyId,
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of open) res.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
