/**
 * TikTok Shop Open API request signing (Partner Center, "Sign your API request", 202309 APIs):
 *
 *   sign = hex(HMAC-SHA256(key = app_secret,
 *                          app_secret + path + k1 v1 k2 v2 … + body + app_secret))
 *
 * - path: the request path only (`/order/202309/orders`), no host, no query;
 * - k/v: every query parameter except `sign` and `access_token`, sorted by key, each key written
 *   immediately followed by its value (no `=`, no `&`), values as sent before URL-encoding;
 * - body: the raw JSON text exactly as sent, left out for multipart/form-data uploads and when there is
 *   no body (GET);
 * - the result travels as the `sign` query parameter, lower-case hex, beside `app_key` and `timestamp`
 *   (Unix seconds); the access token travels in the `x-tts-access-token` header.
 *
 * WebCrypto (`crypto.subtle`) computes it, so the same code runs in workerd and in Node. Vectors in
 * fixtures/sign-vectors.json were computed with `openssl dgst -sha256 -hmac`, independently of this file.
 */

/** Query parameters that never take part in the signature. */
const UNSIGNED_PARAMS = new Set(["sign", "access_token"]);

export interface TikTokSignInput {
  appSecret: string;
  /** Request path, e.g. "/order/202309/orders/search". */
  path: string;
  /** The query parameters to be sent (unencoded values); `sign` and `access_token` are ignored. */
  query: Readonly<Record<string, string>> | URLSearchParams;
  /** The raw JSON body as sent; null for GET and multipart uploads. */
  body: string | null;
}

/** The text that is HMAC'd. Exported for tests and the fake. */
export function tiktokSignPlaintext({ appSecret, path, query, body }: TikTokSignInput): string {
  const entries =
    query instanceof URLSearchParams ? [...query.entries()] : Object.entries(query).map(([k, v]) => [k, v]);
  const params = entries
    .filter(([key]) => key !== undefined && !UNSIGNED_PARAMS.has(key))
    .sort(([a = ""], [b = ""]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([key, value]) => `${key}${value}`)
    .join("");
  return `${appSecret}${path}${params}${body ?? ""}${appSecret}`;
}

/** Lower-case hex HMAC-SHA256 of `message` keyed by `secret` (both UTF-8). */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const encoder = new TextEncoder();
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(message)));
  let hex = "";
  for (const byte of mac) hex += byte.toString(16).padStart(2, "0");
  return hex;
}

/** The `sign` query parameter for this request. */
export async function signTikTokRequest(input: TikTokSignInput): Promise<string> {
  if (input.appSecret === "") throw new RangeError("TikTok app secret is empty");
  return hmacSha256Hex(input.appSecret, tiktokSignPlaintext(input));
}

/**
 * What TikTok puts in the `Authorization` header of a webhook: hex HMAC-SHA256 keyed by the app secret
 * over app key + raw body. Verifying it is the webhook receiver's business; exported so it and the tests
 * share the one definition.
 */
export async function tiktokWebhookSignature(
  appKey: string,
  appSecret: string,
  rawBody: string,
): Promise<string> {
  return hmacSha256Hex(appSecret, `${appKey}${rawBody}`);
}
