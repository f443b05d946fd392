import { sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";
import type { ServiceContext } from "../context";
import { loadKeyring, newRefreshToken, sha256Hex, signAccessToken } from "./tokens";

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
}

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
  deviceLabel?: string | null | undefined;
}

/**
 * The statements that open a new signed-in session (a refresh-token family) for a user; the caller runs
 * them inside its tenant batch so sign-in is one round trip for the writes.
 */
export function newSessionStatements(
  ctx: ServiceContext,
  db: HttpDb,
  input: { tenantId: string; userId: string; method: "password" | "wechat"; client: ClientInfo },
) {
  const sessionId = crypto.randomUUID();
  const refreshToken = newRefreshToken(input.tenantId, sessionId);
  const { refreshTokenTtlSeconds, sessionMaxAgeSeconds } = ctx.config.auth;
  const statements = [
    db.execute(sql`
      insert into auth_sessions (id, tenant_id, user_id, method, device_label, user_agent, ip, expires_at)
      values (${sessionId}, ${input.tenantId}, ${input.userId}, ${input.method},
              ${input.client.deviceLabel ?? null}, ${truncate(input.client.userAgent, 512)},
              ${input.client.ip}::inet, now() + make_interval(secs => ${sessionMaxAgeSeconds}::int))`),
    db.execute(sql`
      insert into refresh_tokens (tenant_id, user_id, family_id, token_hash, expires_at)
      values (${input.tenantId}, ${input.userId}, ${sessionId}, ${sha256Hex(refreshToken)},
              now() + make_interval(secs => ${Math.min(refreshTokenTtlSeconds, sessionMaxAgeSeconds)}::int))`),
  ] as const;
  return { sessionId, refreshToken, statements };
}

export async function tokenPair(
  ctx: ServiceContext,
  input: { tenantId: string; userId: string; sessionId: string; refreshToken: string },
): Promise<TokenPair> {
  const ring = await loadKeyring(ctx.config.auth.signingKeys);
  const access = await signAccessToken(ring, ctx.config.auth, {
    kind: "user",
    subject: input.userId,
    tenantId: input.tenantId,
    sessionId: input.sessionId,
  });
  return {
    accessToken: access.token,
    refreshToken: input.refreshToken,
    tokenType: "Bearer",
    expiresIn: access.expiresIn,
  };
}

export function truncate(value: string | null | undefined, max: number): string | null {
  if (!value) return null;
  return value.length > max ? value.slice(0, max) : value;
}

/** Only syntactically valid addresses reach the inet column; anything else is stored as unknown. */
export function normaliseIp(value: string | null | undefined): string | null {
  if (!value) return null;
  const ip = value.trim();
  if (/^(\d{1,3}\.){3}\d{1,3}$/.test(ip) && ip.split(".").every((n) => Number(n) <= 255)) return ip;
  if (/^[0-9a-fA-F:.]{2,45}$/.test(ip) && ip.includes(":")) {
    // The WHATWG URL parser is a strict IPv6 parser: `1:2:3` or `:::` do not get past it.
    try {
      new URL(`http://[${ip}]/`);
      return ip;
    } catch {
      return null;
    }
  }
  return null;
}
