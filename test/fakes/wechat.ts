import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * A faithful fake of two WeChat server APIs, for tests and the local demo.
 *
 * Like the real API it answers HTTP 200 with a JSON body served as `text/plain`, errors included
 * (`{ errcode, errmsg: "…, rid: …" }`), and a success carries no errcode.
 *
 * `GET /sns/jscode2session` (mini-program login). Checks, in WeChat's order: missing appid/secret/js_code
 * (41002/41004/41008), grant_type (40002), unknown appid (40013), wrong secret (40125), then any queued
 * `failNext` failure (which does not consume the code), then the code: unknown, expired or issued to another
 * app → 40029; already used → 40163.
 *
 * `POST /cgi-bin/stable_token` (getStableAccessToken; JSON body `{ grant_type, appid, secret, force_refresh? }`).
 * Checks: not POST → 43002; body not a JSON object, or `force_refresh` not a boolean → 47001; missing appid
 * (41002) / secret (41004); grant_type other than `client_credential` (40002); unknown appid (40013);
 * wrong secret (40125); then any queued `failNext` failure. Success: `{ access_token, expires_in }`. Like
 * WeChat's normal mode, a repeated call within the token's lifetime returns the same token with its
 * remaining lifetime; `force_refresh: true` replaces it with a new one.
 *
 * `failNext` failures queue per app id and apply to the next request of that app on either endpoint.
 *
 * Tests in workerd cannot call this module's functions, so the same controls are served over HTTP under
 * `/__control/` (JSON in, JSON out; never counted in `calls`):
 * | request                                                   | answer                 |
 * |-----------------------------------------------------------|------------------------|
 * | POST /__control/apps        { appId, secret }             | 204                    |
 * | POST /__control/codes       { appId, openId, unionId? }   | 200 { code }           |
 * | POST /__control/fail-next   { appId, failure }            | 204 (failure: errcode, "http500" or "hang") |
 * | GET  /__control/session-keys/{openId}                     | 200 { sessionKey }, 404 when none issued |
 * | GET  /__control/access-tokens/{appId}                     | 200 { accessToken }, 404 when none issued |
 * | GET  /__control/calls                                     | 200 { calls, tokenCalls } |
 * | GET  /__control/calls?appId={appId}                       | 200 { calls, tokenCalls } for that app only |
 */
export type WechatFakeFailure = number | "http500" | "hang";

export interface WechatFake {
  /** Base URL to pass as the client's `baseUrl`. */
  url: string;
  close(): Promise<void>;
  registerApp(appId: string, secret: string): void;
  /** What `wx.login` would hand the mini-program: a single-use code valid for `codeTtlMs`. */
  issueCode(input: { appId: string; openId: string; unionId?: string }): string;
  /** Queue a failure for the next request of `appId` (FIFO; one failure per request). */
  failNext(appId: string, failure: WechatFakeFailure): void;
  /** Requests received on /sns/jscode2session. */
  readonly calls: number;
  /** Requests received on /cgi-bin/stable_token. */
  readonly tokenCalls: number;
  /** Requests received for one app id: `calls` on /sns/jscode2session, `tokenCalls` on /cgi-bin/stable_token. */
  callsFor(appId: string): { calls: number; tokenCalls: number };
  /** The session key last issued for `openId`, to assert what the client returned. */
  sessionKeyOf(openId: string): string | undefined;
  /** The access token currently issued for `appId`, to assert it never leaks. */
  accessTokenOf(appId: string): string | undefined;
}

const ERRMSG: Record<number, string> = {
  [-1]: "system error",
  40002: "invalid grant_type",
  40013: "invalid appid",
  40029: "invalid code",
  40125: "invalid appsecret",
  40163: "code been used",
  40164: "invalid ip 203.0.113.7 ipv6 ::ffff:203.0.113.7, not in whitelist",
  40226: "code blocked",
  40243: "AppSecret已被冻结，请登录小程序平台解冻后再次调用",
  41002: "appid missing",
  41004: "appsecret missing",
  41008: "missing code",
  43002: "require POST method",
  45009: "reach max api daily quota limit",
  45011: "api minute-quota reach limit, must slower, retry next minute",
  47001: "data format error",
};

/** WeChat access tokens are opaque strings of letters, digits, `_` and `-`, well over 100 characters. */
const ACCESS_TOKEN_TTL_SECONDS = 7200;

interface IssuedCode {
  appId: string;
  openId: string;
  unionId: string | undefined;
  expiresAt: number;
  used: boolean;
}

const ALPHANUMERIC = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

function randomCode(): string {
  // wx.login codes look like `0716AVll20uHk94SLDml27etM946AVlq`: 32 alphanumerics.
  return Array.from(randomBytes(32), (byte) => ALPHANUMERIC.charAt(byte % ALPHANUMERIC.length)).join("");
}

function randomAccessToken(): string {
  return randomBytes(96).toString("base64url");
}

interface IssuedToken {
  token: string;
  expiresAt: number;
}

function rid(): string {
  const hex = () => randomBytes(4).toString("hex");
  return `${hex()}-${hex()}-${hex()}`;
}

export async function startWechatFake(options: { codeTtlMs?: number } = {}): Promise<WechatFake> {
  const codeTtlMs = options.codeTtlMs ?? 5 * 60_000;
  const apps = new Map<string, string>();
  const codes = new Map<string, IssuedCode>();
  const failures = new Map<string, WechatFakeFailure[]>();
  const sessionKeys = new Map<string, string>();
  const tokens = new Map<string, IssuedToken>();
  const perApp = new Map<string, { calls: number; tokenCalls: number }>();
  const hanging = new Set<ServerResponse>();
  let calls = 0;
  let tokenCalls = 0;

  const callsFor = (appId: string) => ({ calls: 0, tokenCalls: 0, ...perApp.get(appId) });
  const countFor = (appId: string, key: "calls" | "tokenCalls") => {
    const counts = callsFor(appId);
    counts[key]++;
    perApp.set(appId, counts);
  };

  const send = (res: ServerResponse, body: Record<string, unknown>) => {
    res.writeHead(200, { "Content-Type": "text/plain", Connection: "keep-alive" });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, errcode: number) =>
    send(res, { errcode, errmsg: `${ERRMSG[errcode] ?? "unknown error"}, rid: ${rid()}` });

  const issueCode = ({ appId, openId, unionId }: { appId: string; openId: string; unionId?: string }) => {
    const code = randomCode();
    codes.set(code, { appId, openId, unionId, expiresAt: Date.now() + codeTtlMs, used: false });
    return code;
  };
  const failNext = (appId: string, failure: WechatFakeFailure) => {
    const queue = failures.get(appId) ?? [];
    queue.push(failure);
    failures.set(appId, queue);
  };

  const control = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    const reply = (status: number, body?: Record<string, unknown>) => {
      res.writeHead(status, body ? { "Content-Type": "application/json" } : {});
      res.end(body ? JSON.stringify(body) : undefined);
    };
    let body: Record<string, unknown> = {};
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      try {
        body = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}") as Record<string, unknown>;
      } catch {
        return reply(400, { error: "body must be JSON" });
      }
    }
    const text = (key: string) => (typeof body[key] === "string" && body[key] !== "" ? body[key] : undefined);
    const route = `${req.method} ${path}`;
    if (route === "POST /apps") {
      const appId = text("appId");
      const secret = text("secret");
      if (!appId || !secret) return reply(400, { error: "appId and secret are required" });
      apps.set(appId, secret);
      return reply(204);
    }
    if (route === "POST /codes") {
      const appId = text("appId");
      const openId = text("openId");
      if (!appId || !openId) return reply(400, { error: "appId and openId are required" });
      const unionId = text("unionId");
      return reply(200, { code: issueCode({ appId, openId, ...(unionId ? { unionId } : {}) }) });
    }
    if (route === "POST /fail-next") {
      const appId = text("appId");
      const failure = body.failure;
      const valid =
        (typeof failure === "number" && Number.isInteger(failure)) ||
        failure === "http500" ||
        failure === "hang";
      if (!appId || !valid)
        return reply(400, { error: "appId and failure (errcode|http500|hang) are required" });
      failNext(appId, failure as WechatFakeFailure);
      return reply(204);
    }
    if (route === "GET /calls") {
      const appId = query.get("appId");
      return reply(200, appId ? callsFor(appId) : { calls, tokenCalls });
    }
    const accessToken = /^GET \/access-tokens\/([^/]+)$/.exec(route);
    if (accessToken?.[1]) {
      const issued = tokens.get(decodeURIComponent(accessToken[1]));
      return issued === undefined
        ? reply(404, { error: "no access token issued" })
        : reply(200, { accessToken: issued.token });
    }
    const sessionKey = /^GET \/session-keys\/([^/]+)$/.exec(route);
    if (sessionKey?.[1]) {
      const key = sessionKeys.get(decodeURIComponent(sessionKey[1]));
      return key === undefined
        ? reply(404, { error: "no session key issued" })
        : reply(200, { sessionKey: key });
    }
    return reply(404, { error: `no control route ${route}` });
  };

  /** Serves the next queued `failNext` failure of `appId`, if any; true when it answered (or hangs). */
  const injectFailure = (res: ServerResponse, appId: string): boolean => {
    const failure = failures.get(appId)?.shift();
    if (failure === undefined) return false;
    if (failure === "hang") {
      hanging.add(res);
      res.on("close", () => hanging.delete(res));
      return true;
    }
    if (failure === "http500") {
      res.writeHead(500, { "Content-Type": "text/html" });
      res.end("<html><body><h1>500 Internal Server Error</h1></body></html>");
      return true;
    }
    fail(res, failure);
    return true;
  };

  const stableToken = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== "POST") return fail(res, 43002);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return fail(res, 47001);
    }
    if (typeof body !== "object" || body === null || Array.isArray(body)) return fail(res, 47001);
    const field = (key: string): unknown => (body as Record<string, unknown>)[key];
    const forceRefresh = field("force_refresh");
    if (forceRefresh !== undefined && typeof forceRefresh !== "boolean") return fail(res, 47001);
    const appId = field("appid");
    const secret = field("secret");
    if (typeof appId !== "string" || appId === "") return fail(res, 41002);
    countFor(appId, "tokenCalls");
    if (typeof secret !== "string" || secret === "") return fail(res, 41004);
    if (field("grant_type") !== "client_credential") return fail(res, 40002);
    const expected = apps.get(appId);
    if (expected === undefined) return fail(res, 40013);
    if (secret !== expected) return fail(res, 40125);
    if (injectFailure(res, appId)) return;

    const now = Date.now();
    let issued = tokens.get(appId);
    if (issued === undefined || forceRefresh === true || now >= issued.expiresAt) {
      issued = { token: randomAccessToken(), expiresAt: now + ACCESS_TOKEN_TTL_SECONDS * 1000 };
      tokens.set(appId, issued);
    }
    send(res, {
      access_token: issued.token,
      expires_in: Math.max(1, Math.floor((issued.expiresAt - now) / 1000)),
    });
  };

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    if (url.pathname.startsWith("/__control/")) {
      control(req, res, url.pathname.slice("/__control".length), url.searchParams).catch((error: unknown) => {
        res.writeHead(500, { "Content-Type": "application/json" });
        res.end(JSON.stringify({ error: String(error) }));
      });
      return;
    }
    if (url.pathname === "/cgi-bin/stable_token") {
      tokenCalls++;
      stableToken(req, res).catch((error: unknown) => {
        res.writeHead(500, { "Content-Type": "text/plain" });
        res.end(String(error));
      });
      return;
    }
    if (url.pathname !== "/sns/jscode2session") {
      res.writeHead(404, { "Content-Type": "text/plain" });
      res.end("404 page not found");
      return;
    }
    calls++;
    if (req.method !== "GET") {
      res.writeHead(405, { "Content-Type": "text/plain" });
      res.end("method not allowed");
      return;
    }
    const q = url.searchParams;
    const appId = q.get("appid");
    const secret = q.get("secret");
    const jsCode = q.get("js_code");
    if (!appId) return fail(res, 41002);
    countFor(appId, "calls");
    if (!secret) return fail(res, 41004);
    if (!jsCode) return fail(res, 41008);
    if (q.get("grant_type") !== "authorization_code") return fail(res, 40002);
    const expected = apps.get(appId);
    if (expected === undefined) return fail(res, 40013);
    if (secret !== expected) return fail(res, 40125);
    if (injectFailure(res, appId)) return;

    const issued = codes.get(jsCode);
    if (issued === undefined || issued.appId !== appId || Date.now() > issued.expiresAt)
      return fail(res, 40029);
    if (issued.used) return fail(res, 40163);
    issued.used = true;
    const sessionKey = randomBytes(16).toString("base64");
    sessionKeys.set(issued.openId, sessionKey);
    send(res, {
      session_key: sessionKey,
      openid: issued.openId,
      ...(issued.unionId === undefined ? {} : { unionid: issued.unionId }),
    });
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    get calls() {
      return calls;
    },
    get tokenCalls() {
      return tokenCalls;
    },
    callsFor,
    accessTokenOf(appId) {
      return tokens.get(appId)?.token;
    },
    registerApp(appId, secret) {
      apps.set(appId, secret);
    },
    issueCode,
    failNext,
    sessionKeyOf(openId) {
      return sessionKeys.get(openId);
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
