/**
 * Signature schemes of the webhooks Tradewind receives, each over the RAW body bytes exactly as they
 * arrived (never a re-serialised parse). WebCrypto only, so the same code runs in workerd and Node.
 *
 * Every verifier takes several secrets (current first, then the one being rotated out) and says which one
 * matched. HMAC checks go through `crypto.subtle.verify`, which compares in constant time; the one plain
 * digest scheme (17track) is compared with `equalBytes` below. A malformed signature header is simply
 * "no match": nothing here throws on attacker input.
 */

export type SignatureCheck = { ok: true; secretIndex: number } | { ok: false };

const encoder = new TextEncoder();
const NO_MATCH: SignatureCheck = { ok: false };

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}

function decodeBase64(value: string): Uint8Array<ArrayBuffer> | null {
  const trimmed = value.trim();
  if (trimmed === "" || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || trimmed.length % 4 !== 0) return null;
  const binary = atob(trimmed);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}

function decodeHex(value: string): Uint8Array<ArrayBuffer> | null {
  const trimmed = value.trim().toLowerCase();
  if (trimmed.length === 0 || trimmed.length % 2 !== 0 || !/^[0-9a-f]+$/.test(trimmed)) return null;
  const out = new Uint8Array(trimmed.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(trimmed.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/** Constant-time for equal lengths; a length mismatch leaks only the length, which is public anyway. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  let diff = 0;
  for (let i = 0; i < a.byteLength; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 256;

/** Imported once per secret per isolate: webhook bursts verify against the same few secrets. */
function hmacKey(secret: Uint8Array<ArrayBuffer> | string): Promise<CryptoKey> {
  const raw = typeof secret === "string" ? encoder.encode(secret) : secret;
  const cacheKey = typeof secret === "string" ? `s:${secret}` : `b:${Array.from(raw).join(",")}`;
  let key = hmacKeys.get(cacheKey);
  if (!key) {
    if (hmacKeys.size >= MAX_CACHED_KEYS) hmacKeys.clear();
    key = crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign", "verify"]);
    hmacKeys.set(cacheKey, key);
  }
  return key;
}

async function verifyHmac(
  secrets: readonly (string | Uint8Array<ArrayBuffer>)[],
  message: Uint8Array<ArrayBuffer>,
  signatures: readonly Uint8Array<ArrayBuffer>[],
): Promise<SignatureCheck> {
  for (const [secretIndex, secret] of secrets.entries()) {
    const key = await hmacKey(secret);
    for (const signature of signatures) {
      // A SHA-256 HMAC is 32 bytes; anything else cannot match and is not worth a verify call.
      if (signature.byteLength !== 32) continue;
      if (await crypto.subtle.verify("HMAC", key, signature, message)) return { ok: true, secretIndex };
    }
  }
  return NO_MATCH;
}

/** `X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body, keyed by the app's client secret. */
export function verifyShopifyWebhook(
  rawBody: Uint8Array<ArrayBuffer>,
  header: string | null | undefined,
  secrets: readonly string[],
): Promise<SignatureCheck> {
  const signature = header ? decodeBase64(header) : null;
  if (!signature || secrets.length === 0) return Promise.resolve(NO_MATCH);
  return verifyHmac(secrets, rawBody, [signature]);
}

/**
 * TikTok Shop's `Authorization` header: lowercase hex HMAC-SHA256, keyed by the app secret, of the app key
 * followed by the raw body.
 */
export function verifyTikTokWebhook(
  rawBody: Uint8Array<ArrayBuffer>,
  header: string | null | undefined,
  appKey: string,
  secrets: readonly string[],
): Promise<SignatureCheck> {
  const signature = header ? decodeHex(header) : null;
  if (!signature || secrets.length === 0) return Promise.resolve(NO_MATCH);
  return verifyHmac(secrets, concat(encoder.encode(appKey), rawBody), [signature]);
}

/** 17track's `sign` header: lowercase hex SHA-256 of the raw body, a `/`, and the account's security key. */
export async function verify17TrackWebhook(
  rawBody: Uint8Array<ArrayBuffer>,
  header: string | null | undefined,
  keys: readonly string[],
): Promise<SignatureCheck> {
  const signature = header ? decodeHex(header) : null;
  if (signature?.byteLength !== 32) return NO_MATCH;
  for (const [secretIndex, key] of keys.entries()) {
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", concat(rawBody, encoder.encode(`/${key}`))),
    );
    if (equalBytes(digest, signature)) return { ok: true, secretIndex };
  }
  return NO_MATCH;
}

/**
 * A Standard Webhooks secret: `whsec_` + base64 of the key bytes (the spec's serialisation); any other
 * string is used as its own UTF-8 bytes, as the reference libraries do.
 */
export function standardWebhookKey(secret: string): Uint8Array<ArrayBuffer> {
  if (secret.startsWith("whsec_")) {
    const bytes = decodeBase64(secret.slice("whsec_".length));
    if (bytes) return bytes;
  }
  return new Uint8Array(encoder.encode(secret));
}

/**
 * Standard Webhooks (standardwebhooks.com): `webhook-signature` holds space-separated `v1,<base64>` entries,
 * each an HMAC-SHA256 of `<webhook-id>.<webhook-timestamp>.<raw body>`; any entry matching any secret
 * passes (senders sign with old and new secrets during a rotation). Other versions are ignored.
 */
export function verifyStandardWebhook(
  input: {
    rawBody: Uint8Array<ArrayBuffer>;
    id: string;
    timestamp: string;
    signatureHeader: string | null | undefined;
  },
  secrets: readonly string[],
): Promise<SignatureCheck> {
  const signatures = (input.signatureHeader ?? "")
    .split(" ")
    .filter((entry) => entry.startsWith("v1,"))
    .map((entry) => decodeBase64(entry.slice(3)))
    .filter((bytes): bytes is Uint8Array<ArrayBuffer> => bytes !== null)
    // A header is bounded by the body limit, but a flood of entries must not buy many HMAC verifications.
    .slice(0, 10);
  if (signatures.length === 0 || secrets.length === 0) return Promise.resolve(NO_MATCH);
  const message = concat(encoder.encode(`${input.id}.${input.timestamp}.`), input.rawBody);
  return verifyHmac(secrets.map(standardWebhookKey), message, signatures);
}

/** Lowercase hex SHA-256 of the raw body: its fingerprint in storage, and the id of events that lack one. */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}
