import { sql } from "drizzle-orm";
import { cacheKeys } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { RateLimitedError, UnauthorizedError } from "../../lib/errors";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { consumeRateLimit } from "../rate-limit/limiter";
import { type ClientInfo, normaliseIp, type TokenPair, tokenPair, truncate } from "./issue-session";
import { newRefreshToken, parseRefreshToken, sha256Hex } from "./tokens";

/**
 * Rotates a refresh token: the presented token is spent and a child in the same family is issued.
 *
 * - A spent token presented again within the grace window (concurrent refreshes from one client, e.g.
 *   two tabs) gets a sibling child instead of an error.
 * - A spent token presented after the grace window means the token was copied: the whole family (the
 *   session) is revoked, refresh tokens and live access tokens alike.
 *
 * All of it is one SQL statement (data-modifying CTEs) in one round trip; row locks make concurrent
 * rotations of the same token serialise, and the loser re-checks against the winner's `used_at`.
 */
export async function refreshSession({
  ctx,
  input,
  client,
}: {
  ctx: ServiceContext;
  input: { refreshToken: string };
  client: ClientInfo;
}): Promise<TokenPair> {
  const parsed = parseRefreshToken(input.refreshToken);
  if (!parsed) throw new UnauthorizedError("Invalid or expired refresh token");
  const { tenantId, sessionId } = parsed;
  // Per session ("per account" for refresh): a client stuck in a refresh loop, or someone replaying one
  // session's tokens, is slowed down before any database work. Per IP is the route group's limit.
  const rule = ctx.config.rateLimits.refresh;
  const limited = rule
    ? await consumeRateLimit(ctx, { prefix: "auth:refresh", rule, identifier: sessionId })
    : null;
  if (limited && !limited.allowed) {
    throw new RateLimitedError("Too many refreshes for this session; slow down", limited.resetSeconds);
  }
  const presentedHash = sha256Hex(input.refreshToken);
  const child = newRefreshToken(tenantId, sessionId);
  const { refreshReuseGraceSeconds: grace, refreshTokenTtlSeconds: ttl } = ctx.config.auth;

  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{
      user_id: string | null;
      family_id: string | null;
      revoked_family: string | null;
      revoked_user: string | null;
      tenant_status: string | null;
    }>(sql`
      with presented as (
        select rt.id, rt.family_id, rt.used_at from refresh_tokens rt
         where rt.token_hash = ${presentedHash} and rt.family_id = ${sessionId}::uuid
      ),
      claim as (
        update refresh_tokens rt set used_at = coalesce(rt.used_at, now())
          from auth_sessions s, users u, tenants t
         where rt.token_hash = ${presentedHash} and rt.family_id = ${sessionId}::uuid
           and rt.revoked_at is null and rt.expires_at > now()
           and (rt.used_at is null or rt.used_at > now() - make_interval(secs => ${grace}::int))
           and s.tenant_id = rt.tenant_id and s.id = rt.family_id and s.revoked_at is null and s.expires_at > now()
           and u.tenant_id = rt.tenant_id and u.id = rt.user_id and u.active and u.deleted_at is null
           and t.id = rt.tenant_id and t.status = 'active'
        returning rt.id, rt.family_id, rt.user_id, s.expires_at as session_expires_at
      ),
      reuse as (
        update auth_sessions s set revoked_at = now(), revoked_reason = 'refresh_token_reuse'
          from presented p
         where s.tenant_id = app_current_tenant() and s.id = p.family_id and s.revoked_at is null
           and p.used_at is not null and p.used_at <= now() - make_interval(secs => ${grace}::int)
           and not exists (select 1 from claim)
        returning s.id, s.user_id
      ),
      issued as (
        insert into refresh_tokens (tenant_id, user_id, family_id, parent_id, token_hash, expires_at)
        select app_current_tenant(), c.user_id, c.family_id, c.id, ${sha256Hex(child)},
               least(now() + make_interval(secs => ${ttl}::int), c.session_expires_at)
          from claim c
        returning id
      ),
      touched as (
        update auth_sessions s set last_used_at = now(), ip = coalesce(${normaliseIp(client.ip)}::inet, s.ip),
               user_agent = coalesce(${truncate(client.userAgent, 512)}, s.user_agent)
          from claim c
         where s.tenant_id = app_current_tenant() and s.id = c.family_id
        returning s.id
      )
      select (select user_id from claim) as user_id, (select family_id from claim) as family_id,
             (select id from reuse) as revoked_family, (select user_id from reuse) as revoked_user,
             (select status from tenants where id = app_current_tenant()) as tenant_status,
             (select count(*) from issued) + (select count(*) from touched) as writes`),
  ]);
  const row = result.rows[0];
  if (row?.revoked_family) {
    await markSessionsRevoked(ctx, [row.revoked_family], { tenantId, userId: row.revoked_user ?? "" });
    ctx.logger.warn("refresh token reuse detected; session revoked", {
      tenantId,
      sessionId: row.revoked_family,
    });
    throw new UnauthorizedError("Refresh token was already used; the session has been signed out");
  }
  if (!row?.user_id || !row.family_id) throw new UnauthorizedError("Invalid or expired refresh token");
  ctx.tenantId = tenantId;
  return tokenPair(ctx, { tenantId, userId: row.user_id, sessionId: row.family_id, refreshToken: child });
}

/**
 * The Redis marker that kills a signed-out session's access tokens before they expire. Postgres holds
 * the truth (auth_sessions.revoked_at), which the middleware reads whenever its cache misses.
 */
export async function markSessionsRevoked(
  ctx: ServiceContext,
  sessionIds: string[],
  owner: { tenantId: string; userId: string },
): Promise<void> {
  const redis = ctx.cache.redis;
  if (!redis || sessionIds.length === 0) return;
  const ttl = ctx.config.auth.accessTokenTtlSeconds + 60;
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      const pipeline = redis.pipeline();
      for (const id of sessionIds)
        pipeline.set(ctx.cache.key(cacheKeys.authSessionRevoked.name(id)), "1", { ex: ttl });
      await pipeline.exec();
      return;
    } catch (error) {
      if (attempt === 2) {
        ctx.metrics.cacheWriteFailures += 1;
        ctx.logger.error("could not mark sessions revoked in Redis", { error: String(error) });
      }
    }
  }
  // Without the marker, the user's cached auth record must go, so the next request reads Postgres (which
  // knows the session is revoked); invalidateCache hands that to the events queue if Redis refuses again.
  await invalidateCache({
    ctx,
    input: {
      keys: [ctx.cache.key(cacheKeys.authUser.name(owner.tenantId, owner.userId))],
      reason: "session-revoked",
    },
  });
}
