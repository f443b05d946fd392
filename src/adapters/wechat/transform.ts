import {
  type Code2SessionSuccess,
  code2SessionErrorSchema,
  code2SessionSuccessSchema,
  stableTokenSuccessSchema,
  type WechatErrorKind,
  type WechatSession,
  wechatErrorSchema,
} from "./types";

/** Pure mapping of a successful code2Session body into Tradewind's `WechatSession`. */
export function toWechatSession(raw: Code2SessionSuccess): WechatSession {
  return {
    openId: raw.openid,
    unionId: raw.unionid ? raw.unionid : null,
    // SECRET: passed through to the login service only, which keeps it server-side.
    sessionKey: raw.session_key,
  };
}

const ERRCODE_KINDS: ReadonlyMap<number, WechatErrorKind> = new Map<number, WechatErrorKind>([
  [-1, "busy"],
  [45011, "rate_limited"],
  [40029, "code_rejected"],
  [40163, "code_rejected"],
  [41008, "code_rejected"], // missing code
  [40226, "user_blocked"],
  [40013, "bad_credentials"], // invalid appid
  [40125, "bad_credentials"], // invalid appsecret
  [41002, "bad_credentials"], // appid missing
  [41004, "bad_credentials"], // appsecret missing
  [40243, "secret_frozen"],
  [40164, "ip_not_whitelisted"], // "invalid ip 203.0.113.7 ipv6 ::ffff:…, not in whitelist"
  [61004, "ip_not_whitelisted"], // "access clientip is not registered" (platforms with an API IP whitelist)
  [45009, "daily_quota"], // "reach max api daily quota limit"
]);

export function classifyErrcode(errcode: number): WechatErrorKind {
  return ERRCODE_KINDS.get(errcode) ?? "unknown";
}

export type Code2SessionOutcome =
  | { ok: true; session: WechatSession }
  | { ok: false; errcode: number; errmsg: string; kind: WechatErrorKind }
  | { ok: false; errcode: null; kind: "malformed" };

/** Interprets a parsed JSON body: a session, a classified WeChat error, or something that is neither. */
export function interpretCode2Session(body: unknown): Code2SessionOutcome {
  const failure = code2SessionErrorSchema.safeParse(body);
  if (failure.success) {
    const { errcode, errmsg } = failure.data;
    return { ok: false, errcode, errmsg, kind: classifyErrcode(errcode) };
  }
  const success = code2SessionSuccessSchema.safeParse(body);
  if (success.success) return { ok: true, session: toWechatSession(success.data) };
  return { ok: false, errcode: null, kind: "malformed" };
}

export type StableTokenOutcome =
  | { ok: true; expiresIn: number }
  | { ok: false; errcode: number; errmsg: string; kind: WechatErrorKind }
  | { ok: false; errcode: null; kind: "malformed" };

/**
 * Interprets a parsed `stable_token` body. A success is reduced to its lifetime: the access token itself
 * is a credential Tradewind does not need (it only proves the appId/appSecret pair), so it goes no further.
 */
export function interpretStableToken(body: unknown): StableTokenOutcome {
  const failure = wechatErrorSchema.safeParse(body);
  if (failure.success) {
    const { errcode, errmsg } = failure.data;
    return { ok: false, errcode, errmsg, kind: classifyErrcode(errcode) };
  }
  const success = stableTokenSuccessSchema.safeParse(body);
  if (success.success) return { ok: true, expiresIn: success.data.expires_in };
  return { ok: false, errcode: null, kind: "malformed" };
}

/** `rid` is WeChat's request id (in every errmsg); worth logging, safe to show in diagnostics. */
export function wechatRequestId(errmsg: string): string | undefined {
  return /\b(?:rid|req_id):\s*([A-Za-z0-9_-]+)/.exec(errmsg)?.[1];
}
