import { createCipheriv, createHash } from "node:crypto";

/**
 * Lingxing OpenAPI request signing ("签名sign的生成", apidoc.lingxing.com → 领星 API 接入指南 §4):
 *
 * 1. every request parameter — the business parameters (query for GET, JSON body for POST) plus the three
 *    public ones `access_token`, `app_key`, `timestamp` — sorted by key in ASCII order;
 * 2. joined as `k1=v1&k2=v2…`; a value that is an empty string is left out, `null` takes part as `null`,
 *    nested arrays/objects take part as their JSON text;
 * 3. MD5 (32 hex digits) of that string, upper-cased;
 * 4. AES/ECB/PKCS5Padding of the upper-case hex with the appId's bytes as the key, base64-encoded;
 * 5. sent URL-encoded as the `sign` query parameter (the caller's URLSearchParams does that).
 *
 * Why `node:crypto`: WebCrypto has neither AES-ECB nor MD5, while `createHash("md5")` and
 * `createCipheriv("aes-128-ecb")` exist in Node and in workerd with `nodejs_compat` (proved by
 * test/workers/lingxing-sign.test.ts against the same vectors as sign.test.ts), so one implementation runs
 * in both without a hand-written MD5 or a CBC-as-ECB workaround.
 *
 * Nested JSON: Lingxing only says collections take part "as a string" (no whitespace, or the sign breaks);
 * its SDKs differ on key order (some keep the order as built, the Python ones sort keys). `canonicalJson`
 * sorts keys recursively and the client sends the body in that same canonical form, so the signed text
 * equals the body's own text under either reading.
 */

export type LingxingParamValue =
  | string
  | number
  | boolean
  | null
  | undefined
  | readonly LingxingParamValue[]
  | { readonly [key: string]: LingxingParamValue };

export type LingxingParams = Readonly<Record<string, LingxingParamValue>>;

/** Recursively key-sorted JSON without whitespace; `undefined` members are dropped like JSON.stringify does. */
export function canonicalJson(value: LingxingParamValue): string {
  return JSON.stringify(sortKeys(value)) ?? "null";
}

function sortKeys(value: LingxingParamValue): LingxingParamValue {
  if (Array.isArray(value)) return value.map((item: LingxingParamValue) => sortKeys(item));
  if (value !== null && typeof value === "object") {
    const record = value as { readonly [key: string]: LingxingParamValue };
    const sorted: Record<string, LingxingParamValue> = {};
    for (const key of Object.keys(record).sort()) {
      const member = record[key];
      if (member !== undefined) sorted[key] = sortKeys(member);
    }
    return sorted;
  }
  return value;
}

/** Step 1–2: the text that is hashed. Exported for tests and for the fake's verification. */
export function lingxingSignPlaintext(params: LingxingParams): string {
  const pairs: string[] = [];
  for (const key of Object.keys(params).sort()) {
    const value = params[key];
    if (value === undefined || value === "") continue;
    pairs.push(`${key}=${signValueText(value)}`);
  }
  return pairs.join("&");
}

function signValueText(value: Exclude<LingxingParamValue, undefined>): string {
  if (value === null) return "null";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return canonicalJson(value);
}

const AES_ECB_BY_KEY_LENGTH: Readonly<Record<number, string>> = {
  16: "aes-128-ecb",
  24: "aes-192-ecb",
  32: "aes-256-ecb",
};

/**
 * The `sign` value (base64, not yet URL-encoded) for these parameters. `params` must already hold
 * `access_token`, `app_key` and `timestamp`. Lingxing appIds (`ak_` + 13 characters) are 16 bytes, i.e.
 * AES-128; any other length that AES accepts selects AES-192/256 as Java's `AES/ECB` would.
 */
export async function signLingxingParams(params: LingxingParams, appId: string): Promise<string> {
  const key = new TextEncoder().encode(appId);
  const algorithm = AES_ECB_BY_KEY_LENGTH[key.byteLength];
  if (algorithm === undefined) {
    throw new Error("Lingxing appId must be 16, 24 or 32 bytes long to serve as the AES signing key");
  }
  const digest = createHash("md5").update(lingxingSignPlaintext(params), "utf8").digest("hex").toUpperCase();
  // ECB takes no IV. workerd refuses `null` for it (Node accepts both), so pass an empty one. PKCS#5 padding
  // is the default (setAutoPadding(true)).
  const cipher = createCipheriv(algorithm, key, new Uint8Array(0));
  const encrypted = new Uint8Array([...cipher.update(digest, "utf8"), ...cipher.final()]);
  return bytesToBase64(encrypted);
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}
