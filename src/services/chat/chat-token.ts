import { type JWTPayload, jwtVerify, SignJWT } from "jose";
import { UnauthorizedError } from "../../lib/errors";
import { isUuid } from "../../lib/ids";
import { loadKeyring, verificationKeyOf } from "../auth/tokens";
import type { ServiceContext } from "../context";

/**
 * A customer's chat token: a short-lived JWT signed with the same keys as access tokens, but of its own
 * type (`typ: chat+jwt`) and audience (`<JWT_AUDIENCE>:chat`), so it can never pass as an access token
 * and an access token never passes as a chat token. It names one tenant and one chat session, nothing
 * else: the bearer may talk in that session only.
 */
export const CHAT_TOKEN_TYPE = "chat+jwt";

export interface ChatCustomerClaims {
  tenantId: string;
  sessionId: string;
  /** Epoch seconds. */
  expiresAt: number;
}

function chatAudience(ctx: ServiceContext): string {
  return `${ctx.config.auth.audience}:chat`;
}

export async function signChatToken(
  ctx: ServiceContext,
  input: { tenantId: string; sessionId: string; now?: number },
): Promise<{ token: string; expiresIn: number; expiresAt: string }> {
  const ring = await loadKeyring(ctx.config.auth.signingKeys);
  const key = ring.active;
  const ttl = ctx.config.chat.tokenTtlSeconds;
  const now = Math.floor((input.now ?? Date.now()) / 1000);
  const token = await new SignJWT({ tid: input.tenantId })
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: CHAT_TOKEN_TYPE })
    .setIssuer(ctx.config.auth.issuer)
    .setAudience(chatAudience(ctx))
    .setSubject(input.sessionId)
    .setIssuedAt(now)
    .setExpirationTime(now + ttl)
    .setJti(crypto.randomUUID())
    .sign(key.privateKey);
  return { token, expiresIn: ttl, expiresAt: new Date((now + ttl) * 1000).toISOString() };
}

/** Every failure is the same 401, as for access tokens. */
export async function verifyChatToken(ctx: ServiceContext, token: string): Promise<ChatCustomerClaims> {
  const ring = await loadKeyring(ctx.config.auth.signingKeys);
  let payload: JWTPayload;
  try {
    const result = await jwtVerify(token, verificationKeyOf(ring), {
      issuer: ctx.config.auth.issuer,
      audience: chatAudience(ctx),
      typ: CHAT_TOKEN_TYPE,
      algorithms: ["EdDSA", "ES256"],
      requiredClaims: ["exp", "iat", "sub"],
      clockTolerance: 5,
    });
    payload = result.payload;
  } catch {
    throw new UnauthorizedError("Invalid or expired chat token");
  }
  if (!isUuid(payload.tid) || !isUuid(payload.sub)) {
    throw new UnauthorizedError("Invalid or expired chat token");
  }
  return { tenantId: payload.tid, sessionId: payload.sub.toLowerCase(), expiresAt: Number(payload.exp) };
}
