import { describe, expect, it } from "vitest";
import error40013 from "./fixtures/error-40013-invalid-appid.json";
import error40029 from "./fixtures/error-40029-invalid-code.json";
import error40125 from "./fixtures/error-40125-invalid-appsecret.json";
import error40163 from "./fixtures/error-40163-code-used.json";
import error40164 from "./fixtures/error-40164-ip-not-whitelisted.json";
import error40226 from "./fixtures/error-40226-blocked.json";
import error40243 from "./fixtures/error-40243-secret-frozen.json";
import error45009 from "./fixtures/error-45009-daily-quota.json";
import error45011 from "./fixtures/error-45011-rate-limited.json";
import errorBusy from "./fixtures/error-busy.json";
import stableTokenSuccess from "./fixtures/stable-token-success.json";
import success from "./fixtures/success.json";
import successLegacy from "./fixtures/success-legacy-errcode0.json";
import successUnionId from "./fixtures/success-unionid.json";
import {
  classifyErrcode,
  interpretCode2Session,
  interpretStableToken,
  toWechatSession,
  wechatRequestId,
} from "./transform";
import { code2SessionSuccessSchema } from "./types";

describe("toWechatSession", () => {
  it("maps a session without unionid (mini-program not bound to an Open Platform account)", () => {
    expect(toWechatSession(code2SessionSuccessSchema.parse(success))).toEqual({
      openId: "oGZUI0egBJY1zhBYw2KhdUfwVJJE",
      unionId: null,
      sessionKey: "tiihtNczf5v6AKRyjwEUhQ==",
    });
  });

  it("maps a session with unionid", () => {
    expect(toWechatSession(code2SessionSuccessSchema.parse(successUnionId))).toEqual({
      openId: "oRhHa1XxnSTM2w3ybVq7VL6Hbz4Q",
      unionId: "o6_bmasdasdsad6_2sgVt7hMZOPfL",
      sessionKey: "HyVFkGl5F5OQWJZZaNzBBg==",
    });
  });

  it("accepts the legacy shape with errcode 0 / expires_in and treats an empty unionid as absent", () => {
    expect(interpretCode2Session(successLegacy)).toEqual({
      ok: true,
      session: {
        openId: "oHwPa5Ns2FxkVzWKRl4sFqL9c3Eo",
        unionId: null,
        sessionKey: "gem14H1rqRrcpaBVKepXzA==",
      },
    });
  });
});

describe("interpretCode2Session", () => {
  it.each([
    [error40029, 40029, "code_rejected"],
    [error40163, 40163, "code_rejected"],
    [error45011, 45011, "rate_limited"],
    [error40226, 40226, "user_blocked"],
    [errorBusy, -1, "busy"],
    [error40013, 40013, "bad_credentials"],
    [error40125, 40125, "bad_credentials"],
  ] as const)("classifies errcode %#", (body, errcode, kind) => {
    expect(interpretCode2Session(body)).toEqual({ ok: false, errcode, errmsg: body.errmsg, kind });
  });

  it("classifies an errcode it does not know as unknown", () => {
    expect(interpretCode2Session({ errcode: 40002, errmsg: "invalid grant_type" })).toMatchObject({
      ok: false,
      errcode: 40002,
      kind: "unknown",
    });
    expect(classifyErrcode(99999)).toBe("unknown");
  });

  it.each([
    ["null", null],
    ["array", []],
    ["empty object", {}],
    ["missing session_key", { openid: "o1" }],
    ["empty openid", { openid: "", session_key: "k" }],
    ["string errcode", { errcode: "40029", errmsg: "invalid code" }],
  ])("reports a malformed body: %s", (_name, body) => {
    expect(interpretCode2Session(body)).toEqual({ ok: false, errcode: null, kind: "malformed" });
  });
});

describe("interpretStableToken", () => {
  it("reduces a success to the token's lifetime: the access token itself goes no further", () => {
    const outcome = interpretStableToken(stableTokenSuccess);
    expect(outcome).toEqual({ ok: true, expiresIn: 7200 });
    expect(JSON.stringify(outcome)).not.toContain(stableTokenSuccess.access_token);
  });

  it.each([
    [error40013, 40013, "bad_credentials"],
    [error40125, 40125, "bad_credentials"],
    [error40243, 40243, "secret_frozen"],
    [error40164, 40164, "ip_not_whitelisted"],
    [error45011, 45011, "rate_limited"],
    [error45009, 45009, "daily_quota"],
    [errorBusy, -1, "busy"],
  ] as const)("classifies errcode %#", (body, errcode, kind) => {
    expect(interpretStableToken(body)).toEqual({ ok: false, errcode, errmsg: body.errmsg, kind });
  });

  it.each([
    ["null", null],
    ["empty object", {}],
    ["empty access_token", { access_token: "", expires_in: 7200 }],
    ["missing expires_in", { access_token: "t" }],
    ["string expires_in", { access_token: "t", expires_in: "7200" }],
    ["zero expires_in", { access_token: "t", expires_in: 0 }],
  ])("reports a malformed body: %s", (_name, body) => {
    expect(interpretStableToken(body)).toEqual({ ok: false, errcode: null, kind: "malformed" });
  });

  it("classifies 41002/41004 (missing appid/secret) and 61004 (client IP not registered)", () => {
    expect(classifyErrcode(41002)).toBe("bad_credentials");
    expect(classifyErrcode(41004)).toBe("bad_credentials");
    expect(classifyErrcode(61004)).toBe("ip_not_whitelisted");
  });
});

describe("wechatRequestId", () => {
  it("extracts rid / req_id from errmsg", () => {
    expect(wechatRequestId(error40029.errmsg)).toBe("652d44d0-1d0af18b-5b069232");
    expect(wechatRequestId(error40125.errmsg)).toBe("OHkfU14ce-1Xg96a");
    expect(wechatRequestId(error40243.errmsg)).toBe("6650a1b2-3c4d5e6f-7a8b9c0d");
    expect(wechatRequestId("ok")).toBeUndefined();
  });
});
