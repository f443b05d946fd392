import { createHash, timingSafeEqual } from "node:crypto";
import { importJWK, type JWK, type JWTHeaderParameters, type JWTPayload, jwtVerify, SignJWT } from "jose";
import type { AuthConfig } from "../../lib/config";
import { UnauthorizedError } from "../../lib/errors";
import { isUuid } from "../../lib/ids";

/**
 * Access tokens: short-lived JWTs (RFC 9068 `typ: at+jwt`) signed with an asymmetric key from the
 * `JWT_SIGNING_KEYS` secret. The first key signs; every key verifies, so a new key can be added first
 * and the old one dropped once its tokens have expired. Verification pins the algorithm per `kid`.
 *
 * Refresh tokens and API keys are opaque random strings; only their SHA-256 is stored.
 */
export const ACCESS_TOKEN_TYPE = "at+jwt";

type SigningAlg = "EdDSA" | "ES256";

interface LoadedKey {
  kid: string;
  alg: SigningAlg;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  publicJwk: JWK;
}

export interface Keyring {
  active: LoadedKey;
  byKid: Map<string, LoadedKey>;
}

const keyrings = new Map<string, Promise<Keyring>>();

/** Parsed once per isolate per secret value (imported CryptoKeys are not per-request resources). */
export function loadKeyring(secret: string): Promise<Keyring> {
  let ring = keyrings.get(secret);
  if (!ring) {
    ring = parseKeyring(secret);
    keyrings.set(secret, ring);
    ring.catch(() => keyrings.delete(secret));
  }
  return ring;
}

async function parseKeyring(secret: string): Promise<Keyring> {
  if (!secret.trim()) throw new Error("JWT_SIGNING_KEYS is not set");
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
  } catch {
    throw new Error("JWT_SIGNING_KEYS is not valid JSON");
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  const byKid = new Map<string, LoadedKey>();
  const loaded: LoadedKey[] = [];
  for (const entry of list) {
    const jwk = entry as JWK;
    const alg = algorithmOf(jwk);
    if (!jwk.kid || !jwk.d) throw new Error("Every JWT signing key needs a kid and its private part");
    if (byKid.has(jwk.kid)) throw new Error(`Duplicate JWT kid ${jwk.kid}`);
    const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, key_ops: _ops, ext: _ext, ...publicPart } = jwk;
    const publicJwk: JWK = { ...publicPart, alg, use: "sig", kid: jwk.kid };
    const key: LoadedKey = {
      kid: jwk.kid,
      alg,
      privateKey: (await importJWK({ ...jwk, alg }, alg)) as CryptoKey,
      publicKey: (await importJWK(publicJwk, alg)) as CryptoKey,
      publicJwk,
    };
    byKid.set(key.kid, key);
    loaded.push(key);
  }
  const active = loaded[0];
  if (!active) throw new Error("JWT_SIGNING_KEYS holds no key");
  return { active, byKid };
}

function algorithmOf(jwk: JWK): SigningAlg {
  if (jwk.kty === "OKP" && jwk.crv === "Ed25519") return "EdDSA";
  if (jwk.kty === "EC" && jwk.crv === "P-256") return "ES256";
  throw new Error("JWT signing keys must be Ed25519 (EdDSA) or P-256 (ES256)");
}

/** Resolves a token's verification key by its `kid`; a kid or algorithm the ring does not hold is refused. */
export function verificationKeyOf(ring: Keyring): (header: JWTHeaderParameters) => CryptoKey {
  return (header) => {
    const key = header.kid ? ring.byKid.get(header.kid) : undefined;
    if (!key || header.alg !== key.alg) throw new Error("unknown key");
    return key.publicKey;
  };
}

export function jwks(ring: Keyring): { keys: JWK[] } {
  return { keys: [...ring.byKid.values()].map((k) => k.publicJwk) };
}

export type AccessTokenKind = "user" | "applicant";

export interface AccessClaims {
  kind: AccessTokenKind;
  /** User id, or the staff application id for an applicant. */
  subject: string;
  tenantId: string;
  /** Session (refresh family) for users; absent for applicants. */
  sessionId: string | null;
  /** Epoch milliseconds. */
  issuedAtMs: number;
  expiresAt: number;
  tokenId: string;
}

export async function signAccessToken(
  ring: Keyring,
  config: AuthConfig,
  input: { kind: AccessTokenKind; subject: string; tenantId: string; sessionId: string | null; now?: number },
): Promise<{ token: string; expiresIn: number }> {
  const now = Math.floor((input.now ?? Date.now()) / 1000);
  const key = ring.active;
  const token = await new SignJWT({
    tid: input.tenantId,
    knd: input.kind,
    // Millisecond issue time: logout-all compares against it, and a new sign-in in the same second as a
    // logout-all must stay valid while every older token dies.
    ims: input.now ?? Date.now(),
    ...(input.sessionId ? { sid: input.sessionId } : {}),
  })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: ACCESS_TOKEN_TYPE })
    .setIssuer(config.issuer)
    .setAudience(config.audience)
    .setSubject(input.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + config.accessTokenTtlSeconds)
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
  return { token, expiresIn: config.accessTokenTtlSeconds };
}

/** Every failure is the same 401: a caller learns nothing about which check failed. */
export async function verifyAccessToken(
  ring: Keyring,
  config: AuthConfig,
  token: string,
): Promise<AccessClaims> {
  let payload: JWTPayload;
  try {
    const result = await jwtVerify(token, verificationKeyOf(ring), {
      issuer: config.issuer,
      audience: config.audience,
      typ: ACCESS_TOKEN_TYPE,
      algorithms: ["EdDSA", "ES256"],
      requiredClaims: ["exp", "iat", "sub", "jti"],
      clockTolerance: 5,
    });
    payload = result.payload;
  } catch {
    throw new UnauthorizedError("Invalid or expired access token");
  }
  const kind = payload.knd;
  const tenantId = payload.tid;
  const sessionId = payload.sid ?? null;
  if (
    (kind !== "user" && kind !== "applicant") ||
    !isUuid(tenantId) ||
    !isUuid(payload.sub) ||
    (sessionId !== null && !isUuid(sessionId)) ||
    (kind === "user" && sessionId === null)
  ) {
    throw new UnauthorizedError("Invalid or expired access token");
  }
  return {
    kind,
    subject: payload.sub,
    tenantId,
    sessionId,
    issuedAtMs: typeof payload.ims === "number" ? payload.ims : Number(payload.iat) * 1000,
    expiresAt: Number(payload.exp),
    tokenId: String(payload.jti),
  };
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

export function randomToken(length = 43): string {
  // Rejection sampling keeps every character uniform (256 is not a multiple of 62).
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += BASE62.charAt(byte % 62);
    }
  }
  return out;
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * Refresh tokens name their tenant and session (`rt_<tenant hex>_<session hex>_<secret>`): a refresh is
 * one round trip under that tenant's RLS context, and can be rate-limited per session before any
 * database work. Both ids are checked against the stored row; the secret carries ~256 bits of entropy.
 */
export function newRefreshToken(tenantId: string, sessionId: string): string {
  return `rt_${tenantId.replaceAll("-", "")}_${sessionId.replaceAll("-", "")}_${randomToken()}`;
}

export function parseRefreshToken(token: string): { tenantId: string; sessionId: string } | null {
  const match = /^rt_([0-9a-f]{32})_([0-9a-f]{32})_[0-9A-Za-z]{43}$/.exec(token);
  const tenantId = uuidFromHex(match?.[1]);
  const sessionId = uuidFromHex(match?.[2]);
  return tenantId && sessionId ? { tenantId, sessionId } : null;
}

function uuidFromHex(hex: string | undefined): string | null {
  if (!hex) return null;
  const id = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
  return isUuid(id) ? id : null;
}

export const API_KEY_PREFIX = "tw_sk_";

export function newApiKey(): { key: string; displayPrefix: string } {
  const key = `${API_KEY_PREFIX}${randomToken()}`;
  return { key, displayPrefix: key.slice(0, API_KEY_PREFIX.length + 6) };
}

export function looksLikeApiKey(token: string): boolean {
  return /^tw_sk_[0-9A-Za-z]{43}$/.test(token);
}
