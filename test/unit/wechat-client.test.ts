import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import {
  createWechatClient,
  secondsUntilChinaMidnight,
  type WechatClientOptions,
  WechatCodeRejectedError,
  WechatCredentialsRejectedError,
  type WechatFetch,
  WechatUserBlockedError,
} from "../../src/adapters/wechat/client";
import { ForbiddenError, UnauthorizedError, UpstreamError, ValidationError } from "../../src/lib/errors";
import type { LogFields, Logger } from "../../src/lib/logger";
import { startWechatFake, type WechatFake } from "../fakes/wechat";

const APP_ID = "wx8f3c2a1b9d7e6f50";
const APP_SECRET = "5c1e9a7b3d2f4e6a8b0c1d2e3f4a5b6c";

let fake: WechatFake;
let sleeps: number[];
let logs: { level: string; msg: string; fields?: LogFields }[];

function capturingLogger(): Logger {
  const logger: Logger = {
    debug: (msg, fields) => logs.push({ level: "debug", msg, fields }),
    info: (msg, fields) => logs.push({ level: "info", msg, fields }),
    warn: (msg, fields) => logs.push({ level: "warn", msg, fields }),
    error: (msg, fields) => logs.push({ level: "error", msg, fields }),
    child: () => logger,
  };
  return logger;
}

function client(options: WechatClientOptions = {}) {
  return createWechatClient({
    baseUrl: fake.url,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    logger: capturingLogger(),
    ...options,
  });
}

async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof Error) return error;
    throw new Error(`rejected with a non-Error: ${String(error)}`);
  }
  throw new Error("expected a rejection");
}

/** Everything about an error that could reach a log line or a response, cause chain included. */
function exposedText(error: Error): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current instanceof Error && depth < 5; depth++) {
    const details = "details" in current ? current.details : undefined;
    parts.push(current.name, current.message, current.stack ?? "", JSON.stringify(details ?? null));
    current = current.cause;
  }
  return parts.join("\n");
}

beforeAll(async () => {
  fake = await startWechatFake();
  fake.registerApp(APP_ID, APP_SECRET);
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  sleeps = [];
  logs = [];
});

describe("code2Session against the WeChat fake", () => {
  it("returns the session for a fresh code", async () => {
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser1", unionId: "uUnion1" });
    const session = await client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code });
    expect(session).toEqual({
      openId: "oUser1",
      unionId: "uUnion1",
      sessionKey: fake.sessionKeyOf("oUser1"),
    });
    expect(session.sessionKey).toMatch(/^[A-Za-z0-9+/]{22}==$/);
  });

  it("returns unionId null when WeChat sends none", async () => {
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser2" });
    const session = await client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code });
    expect(session.unionId).toBeNull();
  });

  it("rejects a used code (40163) as WechatCodeRejectedError, an UnauthorizedError", async () => {
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser3" });
    await client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code });
    const error = await failure(client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code }));
    expect(error).toBeInstanceOf(WechatCodeRejectedError);
    expect(error).toBeInstanceOf(UnauthorizedError);
    expect(error.message).toBe("WeChat login code is invalid or expired");
    expect((error as WechatCodeRejectedError).errcode).toBe(40163);
  });

  it("rejects an unknown code (40029) without retrying", async () => {
    const before = fake.calls;
    const error = await failure(
      client().code2Session({
        appId: APP_ID,
        appSecret: APP_SECRET,
        code: "0716AVll20uHk94SLDml27etM946AVlq",
      }),
    );
    expect(error).toBeInstanceOf(WechatCodeRejectedError);
    expect((error as WechatCodeRejectedError).errcode).toBe(40029);
    expect(fake.calls - before).toBe(1);
  });

  it("rejects an empty or absurd code locally, without calling WeChat", async () => {
    const before = fake.calls;
    for (const code of ["", "a b", "x".repeat(300)]) {
      await expect(
        client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code }),
      ).rejects.toBeInstanceOf(WechatCodeRejectedError);
    }
    expect(fake.calls).toBe(before);
  });

  it("maps a wrong secret (40125) to a non-retryable UpstreamError about the tenant's configuration", async () => {
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser4" });
    const error = await failure(client().code2Session({ appId: APP_ID, appSecret: "0".repeat(32), code }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(false);
    expect(error.message).toMatch(/tenant's WeChat configuration.*40125/);
  });

  it("maps an unknown appid (40013) to a non-retryable UpstreamError", async () => {
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser5" });
    const error = await failure(
      client().code2Session({ appId: "wx0000000000000000", appSecret: APP_SECRET, code }),
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(false);
    expect(error.message).toMatch(/40013/);
  });

  it("maps a high-risk user (40226) to a ForbiddenError", async () => {
    fake.failNext(APP_ID, 40226);
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser6" });
    const error = await failure(client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code }));
    expect(error).toBeInstanceOf(WechatUserBlockedError);
    expect(error).toBeInstanceOf(ForbiddenError);
  });

  it("retries system busy (-1) with jittered backoff, then succeeds with the same code", async () => {
    fake.failNext(APP_ID, -1);
    fake.failNext(APP_ID, -1);
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser7" });
    const before = fake.calls;
    const session = await client({ random: () => 0.5 }).code2Session({
      appId: APP_ID,
      appSecret: APP_SECRET,
      code,
    });
    expect(session.openId).toBe("oUser7");
    expect(fake.calls - before).toBe(3);
    // base 100 ms: attempt 1 → 100 ms, attempt 2 → within [100, 200] (random 0.5 → 150).
    expect(sleeps).toEqual([100, 150]);
    expect(logs.filter((l) => l.msg.includes("retrying"))).toHaveLength(2);
  });

  it("retries HTTP 500, and gives up after maxAttempts with a retryable UpstreamError", async () => {
    for (let i = 0; i < 3; i++) fake.failNext(APP_ID, "http500");
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser8" });
    const before = fake.calls;
    const error = await failure(client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
    expect(error.message).toMatch(/HTTP 500/);
    expect(fake.calls - before).toBe(3);
    expect(sleeps).toHaveLength(2);
  });

  it("classifies the minute quota (45011) as rate limited: retryable, Retry-After 60 s, not retried here", async () => {
    fake.failNext(APP_ID, 45011);
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser9" });
    const before = fake.calls;
    const error = await failure(client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
    expect((error as UpstreamError).retryAfterSeconds).toBe(60);
    expect(fake.calls - before).toBe(1);
  });

  it("times out a hanging call with a retryable UpstreamError, without retrying the single-use code", async () => {
    fake.failNext(APP_ID, "hang");
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser10" });
    const before = fake.calls;
    const started = Date.now();
    const error = await failure(
      client({ timeoutMs: 100 }).code2Session({ appId: APP_ID, appSecret: APP_SECRET, code }),
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
    expect(error.message).toMatch(/timed out after 100 ms/);
    expect(fake.calls - before).toBe(1);
  });

  it("retries network errors, then fails retryable", async () => {
    const closed = await startWechatFake();
    const url = closed.url;
    await closed.close();
    const error = await failure(
      client({ baseUrl: url }).code2Session({
        appId: APP_ID,
        appSecret: APP_SECRET,
        code: "0716AVll20uHk94SLDml",
      }),
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
    expect(error.message).toMatch(/network error/);
    expect(sleeps).toHaveLength(2);
  });

  it("treats a body that is not a code2Session response as an upstream error", async () => {
    const error = await failure(
      client({
        fetch: async () => new Response("<html>gateway</html>", { status: 200 }),
      }).code2Session({ appId: APP_ID, appSecret: APP_SECRET, code: "0716AVll20uHk94SLDml" }),
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.message).toMatch(/unexpected response body/);
  });

  it("never exposes the app secret or the code in errors or logs", async () => {
    const errors: Error[] = [];
    const call = (options: WechatClientOptions, code: string, appSecret = APP_SECRET) =>
      failure(client(options).code2Session({ appId: APP_ID, appSecret, code })).then((e) => errors.push(e));
    const code = () => fake.issueCode({ appId: APP_ID, openId: "oLeak" });

    await call({}, "0716AVll20uHk94SLDml27etM946AVlq"); // 40029
    const used = code();
    await client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code: used });
    await call({}, used); // 40163
    await call({}, code(), `${APP_SECRET}x`); // 40125 (the wrong secret must not leak either)
    fake.failNext(APP_ID, 45011);
    await call({}, code());
    fake.failNext(APP_ID, 40226);
    await call({}, code());
    for (let i = 0; i < 3; i++) fake.failNext(APP_ID, -1);
    await call({}, code());
    for (let i = 0; i < 3; i++) fake.failNext(APP_ID, "http500");
    await call({}, code());
    fake.failNext(APP_ID, "hang");
    await call({ timeoutMs: 50 }, code());
    // A fetch that fails the way some runtimes do: with the full URL, query string and all, in its message.
    await call(
      {
        fetch: async (url) => {
          throw new TypeError(`fetch failed for ${url}`, { cause: new Error(`connect to ${url} refused`) });
        },
      },
      code(),
    );

    expect(errors).toHaveLength(9);
    const exposed = [...errors.map(exposedText), JSON.stringify(logs)].join("\n");
    for (const secret of [
      APP_SECRET,
      encodeURIComponent(APP_SECRET),
      "0716AVll20uHk94SLDml27etM946AVlq",
      used,
    ]) {
      expect(exposed).not.toContain(secret);
    }
    expect(exposed).not.toContain("secret=");
    expect(exposed).not.toContain("js_code=");
    // …while keeping what helps debugging.
    expect(exposed).toMatch(/fetch failed for http:\/\/127\.0\.0\.1:\d+\/sns\/jscode2session\?\[redacted\]/);
  });

  it("never logs the session key", async () => {
    const code = fake.issueCode({ appId: APP_ID, openId: "oUser11" });
    fake.failNext(APP_ID, -1);
    const session = await client().code2Session({ appId: APP_ID, appSecret: APP_SECRET, code });
    expect(JSON.stringify(logs)).not.toContain(session.sessionKey);
  });
});

describe("verifyAppCredentials against the WeChat fake", () => {
  /** An app of its own per test, so tokens and queued failures never cross tests. */
  let appId: string;
  let secret: string;
  let n = 0;

  beforeEach(() => {
    n++;
    appId = `wx${String(n).padStart(16, "0")}`;
    secret = `${APP_SECRET.slice(0, 30)}${String(n).padStart(2, "0")}`;
    fake.registerApp(appId, secret);
  });

  it("resolves for a genuine pair, with one POST /cgi-bin/stable_token in normal mode", async () => {
    const requests: { url: string; method: string; headers: Record<string, string>; body?: string }[] = [];
    const recording: WechatFetch = (url, init) => {
      requests.push({
        url,
        method: init.method,
        headers: init.headers,
        ...(init.body === undefined ? {} : { body: init.body }),
      });
      return fetch(url, init);
    };
    await expect(
      client({ fetch: recording }).verifyAppCredentials({ appId, appSecret: secret }),
    ).resolves.toBeUndefined();
    expect(fake.callsFor(appId)).toEqual({ calls: 0, tokenCalls: 1 });
    expect(requests).toHaveLength(1);
    expect(requests[0]?.url).toBe(`${fake.url}/cgi-bin/stable_token`);
    expect(requests[0]?.method).toBe("POST");
    expect(requests[0]?.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(requests[0]?.body ?? "null")).toEqual({
      grant_type: "client_credential",
      appid: appId,
      secret,
      force_refresh: false,
    });

    // Normal mode: verifying again leaves the token the tenant's own servers hold valid (the same token).
    const token = fake.accessTokenOf(appId);
    expect(token).toBeTruthy();
    await client().verifyAppCredentials({ appId, appSecret: secret });
    expect(fake.accessTokenOf(appId)).toBe(token);
  });

  it("maps a wrong secret (40125) to a 422 WechatCredentialsRejectedError on appSecret, without retrying", async () => {
    const error = await failure(client().verifyAppCredentials({ appId, appSecret: "0".repeat(32) }));
    expect(error).toBeInstanceOf(WechatCredentialsRejectedError);
    expect(error).toBeInstanceOf(ValidationError);
    const rejected = error as WechatCredentialsRejectedError;
    expect(rejected.code).toBe("VALIDATION_ERROR");
    expect(rejected.errcode).toBe(40125);
    expect(rejected.problem).toBe("appSecret");
    expect(rejected.message).toBe("WeChat rejected this appId/appSecret pair");
    expect(rejected.details).toEqual({ appSecret: ["WeChat rejected this appId/appSecret pair"] });
    expect(fake.callsFor(appId).tokenCalls).toBe(1);
    expect(sleeps).toEqual([]);
    expect(fake.accessTokenOf(appId)).toBeUndefined();
  });

  it("maps an unknown appid (40013) to a 422 on appId", async () => {
    const error = await failure(
      client().verifyAppCredentials({ appId: "wx0000000000000000", appSecret: secret }),
    );
    expect(error).toBeInstanceOf(WechatCredentialsRejectedError);
    expect((error as WechatCredentialsRejectedError).errcode).toBe(40013);
    expect((error as WechatCredentialsRejectedError).details).toEqual({
      appId: ["WeChat rejected this appId/appSecret pair"],
    });
  });

  it("rejects an empty appId or secret locally (41002/41004), without calling WeChat", async () => {
    const before = fake.tokenCalls;
    const noAppId = await failure(client().verifyAppCredentials({ appId: " ", appSecret: secret }));
    expect((noAppId as WechatCredentialsRejectedError).details).toHaveProperty("appId");
    const noSecret = await failure(client().verifyAppCredentials({ appId, appSecret: "" }));
    expect((noSecret as WechatCredentialsRejectedError).details).toHaveProperty("appSecret");
    expect(fake.tokenCalls).toBe(before);
  });

  it("maps the API IP whitelist (40164) to a 422 that says Workers have no fixed egress IP", async () => {
    fake.failNext(appId, 40164);
    const error = await failure(client().verifyAppCredentials({ appId, appSecret: secret }));
    expect(error).toBeInstanceOf(WechatCredentialsRejectedError);
    const rejected = error as WechatCredentialsRejectedError;
    expect(rejected.problem).toBe("ipWhitelist");
    const [detail] = (rejected.details as { appId: string[] }).appId;
    expect(detail).toMatch(/no fixed egress IP address/);
    expect(detail).toMatch(/turn the API IP whitelist off/);
    // WeChat's errmsg names the Worker's current egress IP: logged for diagnosis, not shown to the caller.
    expect(JSON.stringify(rejected.details)).not.toContain("203.0.113.7");
    expect(JSON.stringify(logs)).toContain("203.0.113.7");
  });

  it("maps a frozen secret (40243) to a 422 on appSecret", async () => {
    fake.failNext(appId, 40243);
    const error = await failure(client().verifyAppCredentials({ appId, appSecret: secret }));
    expect((error as WechatCredentialsRejectedError).problem).toBe("secretFrozen");
    expect((error as WechatCredentialsRejectedError).details).toEqual({
      appSecret: [expect.stringMatching(/frozen/)],
    });
  });

  it("retries system busy (-1) with jittered backoff, then succeeds", async () => {
    fake.failNext(appId, -1);
    fake.failNext(appId, -1);
    await client({ random: () => 0.5 }).verifyAppCredentials({ appId, appSecret: secret });
    expect(fake.callsFor(appId).tokenCalls).toBe(3);
    expect(sleeps).toEqual([100, 150]);
    expect(
      logs.filter((l) => l.msg === "wechat getStableAccessToken transient failure, retrying"),
    ).toHaveLength(2);
  });

  it("retries HTTP 500, and gives up after maxAttempts with a retryable UpstreamError", async () => {
    for (let i = 0; i < 3; i++) fake.failNext(appId, "http500");
    const error = await failure(client().verifyAppCredentials({ appId, appSecret: secret }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
    expect(error.message).toBe("WeChat getStableAccessToken returned HTTP 500");
    expect(fake.callsFor(appId).tokenCalls).toBe(3);
  });

  it("classifies quotas as retryable UpstreamErrors with Retry-After, not retried here", async () => {
    fake.failNext(appId, 45011);
    const minute = await failure(client().verifyAppCredentials({ appId, appSecret: secret }));
    expect(minute).toBeInstanceOf(UpstreamError);
    expect((minute as UpstreamError).retryable).toBe(true);
    expect((minute as UpstreamError).retryAfterSeconds).toBe(60);

    fake.failNext(appId, 45009);
    // 23:00 in China (15:00 UTC): the daily quota resets in an hour.
    const daily = await failure(
      client({ now: () => Date.UTC(2026, 0, 1, 15, 0, 0) }).verifyAppCredentials({
        appId,
        appSecret: secret,
      }),
    );
    expect(daily).toBeInstanceOf(UpstreamError);
    expect((daily as UpstreamError).retryAfterSeconds).toBe(3600);
    expect(fake.callsFor(appId).tokenCalls).toBe(2);
  });

  it("maps an errcode that makes no sense here to a non-retryable UpstreamError", async () => {
    fake.failNext(appId, 40029);
    const error = await failure(client().verifyAppCredentials({ appId, appSecret: secret }));
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).not.toBeInstanceOf(WechatCodeRejectedError);
    expect((error as UpstreamError).retryable).toBe(false);
    expect(error.message).toBe("WeChat getStableAccessToken failed (errcode 40029)");
  });

  it("times out a hanging call with a retryable UpstreamError", async () => {
    fake.failNext(appId, "hang");
    const error = await failure(
      client({ timeoutMs: 100 }).verifyAppCredentials({ appId, appSecret: secret }),
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).retryable).toBe(true);
    expect(error.message).toMatch(/getStableAccessToken timed out after 100 ms/);
    expect(fake.callsFor(appId).tokenCalls).toBe(1);
  });

  it("treats a body that is not a stable_token response as an upstream error", async () => {
    const error = await failure(
      client({
        fetch: async () => new Response(JSON.stringify({ access_token: "t" }), { status: 200 }),
      }).verifyAppCredentials({ appId, appSecret: secret }),
    );
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error.message).toMatch(/unexpected response body/);
  });

  it("never exposes the app secret or the access token in errors or logs", async () => {
    const errors: Error[] = [];
    const verify = (options: WechatClientOptions, appSecret = secret) =>
      failure(client(options).verifyAppCredentials({ appId, appSecret })).then((e) => errors.push(e));

    // A success first, so there is an access token that must not show up anywhere.
    await client().verifyAppCredentials({ appId, appSecret: secret });
    const token = fake.accessTokenOf(appId) ?? "missing";
    await verify({}, `${secret}x`); // 40125: the wrong secret must not leak either
    for (const errcode of [40164, 40243, 45011, 45009, 40029]) {
      fake.failNext(appId, errcode);
      await verify({});
    }
    for (let i = 0; i < 3; i++) fake.failNext(appId, -1);
    await verify({});
    for (let i = 0; i < 3; i++) fake.failNext(appId, "http500");
    await verify({});
    fake.failNext(appId, "hang");
    await verify({ timeoutMs: 50 });
    // A fetch that fails with the request (secret included) in its message.
    await verify({
      fetch: async (url, init) => {
        throw new TypeError(`fetch failed for ${url} with ${init.body}`, {
          cause: new Error(`connect refused; body ${init.body}`),
        });
      },
    });

    expect(errors).toHaveLength(10);
    const exposed = [...errors.map(exposedText), JSON.stringify(logs)].join("\n");
    for (const value of [secret, `${secret}x`, encodeURIComponent(secret), token]) {
      expect(exposed).not.toContain(value);
    }
    expect(exposed).toMatch(/fetch failed for http:\/\/127\.0\.0\.1:\d+\/cgi-bin\/stable_token/);
  });
});

describe("secondsUntilChinaMidnight", () => {
  it("counts to the next 00:00 UTC+8, at least a minute", () => {
    expect(secondsUntilChinaMidnight(Date.UTC(2026, 0, 1, 16, 0, 0))).toBe(86_400);
    expect(secondsUntilChinaMidnight(Date.UTC(2026, 0, 1, 15, 30, 0))).toBe(1800);
    expect(secondsUntilChinaMidnight(Date.UTC(2026, 0, 1, 15, 59, 30))).toBe(60);
  });
});
