import * as z from "zod";

/**
 * Raw `GET /sns/jscode2session` response (WeChat mini-program login, "code2Session").
 *
 * WeChat answers HTTP 200 with a JSON body served as `text/plain`, success and failure alike:
 * - success: `{ "session_key": "…", "openid": "…", "unionid"?: "…" }`; older responses also carried
 *   `"errcode": 0, "errmsg": "ok"`, newer ones omit them;
 * - failure: `{ "errcode": 40029, "errmsg": "invalid code, rid: 658c03c7-…" }`.
 * Unknown keys (e.g. the retired `expires_in`) are stripped.
 */
export const code2SessionSuccessSchema = z.object({
  openid: z.string().min(1),
  // SECRET: the user's session key (decrypts wx.getUserInfo / phone-number payloads). Keep server-side only.
  session_key: z.string().min(1),
  /** Present only when the mini-program is bound to a WeChat Open Platform account. */
  unionid: z.string().optional(),
  errcode: z.literal(0).optional(),
  errmsg: z.string().optional(),
});
export type Code2SessionSuccess = z.infer<typeof code2SessionSuccessSchema>;

export const code2SessionErrorSchema = z.object({
  errcode: z
    .number()
    .int()
    .refine((code) => code !== 0, "errcode 0 is a success"),
  errmsg: z.string().default(""),
});
export type Code2SessionError = z.infer<typeof code2SessionErrorSchema>;

export const code2SessionResponseSchema = z.union([code2SessionErrorSchema, code2SessionSuccessSchema]);
export type Code2SessionResponse = z.infer<typeof code2SessionResponseSchema>;

/** Every WeChat server API fails the same way: HTTP 200 with `{ errcode, errmsg }`. */
export const wechatErrorSchema = code2SessionErrorSchema;
export type WechatApiError = Code2SessionError;

/**
 * Raw `POST /cgi-bin/stable_token` response ("getStableAccessToken").
 *
 * Request body (JSON): `{ "grant_type": "client_credential", "appid": "…", "secret": "…", "force_refresh": false }`.
 * - success: `{ "access_token": "…", "expires_in": 7200 }` (seconds, at most 7200; in normal mode a repeated
 *   call within the token's lifetime returns the same token with the remaining lifetime);
 * - failure: `{ "errcode": 40125, "errmsg": "invalid appsecret, rid: …" }`.
 * Tradewind only uses it to prove an appId/appSecret pair: the token is validated for shape, then dropped.
 */
export const stableTokenSuccessSchema = z.object({
  // SECRET: an API credential for the tenant's mini-program. Never stored, logged or returned.
  access_token: z.string().min(1),
  expires_in: z.number().int().positive(),
  errcode: z.literal(0).optional(),
  errmsg: z.string().optional(),
});
export type StableTokenSuccess = z.infer<typeof stableTokenSuccessSchema>;

/** Tradewind's view of a WeChat login. */
export interface WechatSession {
  /** The user's id within this mini-program (appId-scoped). */
  openId: string;
  /** The user's id across the Open Platform account, when the mini-program is bound to one. */
  unionId: string | null;
  /**
   * SECRET. The WeChat session key: return it to the login service, which keeps it server-side (it decrypts
   * user data the mini-program sends). Never send it to the client, never log it, never put it in an error.
   */
  sessionKey: string;
}

/** What a non-zero errcode means for the caller; `transform.ts` classifies, `client.ts` maps to AppErrors. */
export type WechatErrorKind =
  | "busy" // -1: system busy, retry shortly
  | "rate_limited" // 45011: API minute quota reached
  | "code_rejected" // 40029 invalid code, 40163 code already used
  | "user_blocked" // 40226: high-risk user, login blocked by WeChat
  | "bad_credentials" // 40013 invalid appid, 40125 invalid appsecret, 41002/41004 missing
  | "secret_frozen" // 40243: the AppSecret is frozen in the mini-program's admin console
  | "ip_not_whitelisted" // 40164 (61004 on some platforms): caller IP not in the app's API IP whitelist
  | "daily_quota" // 45009: the API's daily quota is used up
  | "unknown";
