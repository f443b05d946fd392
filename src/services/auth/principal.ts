import { sql } from "drizzle-orm";
import { cacheKeys, isTombstone } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { expandPermissions, type Permission } from "./permissions";
import type { AccessClaims } from "./tokens";

export const PLATFORM_TENANT_ID = "00000000-0000-4000-8000-000000000001";

/** Who is calling, resolved once per request by the auth middleware. */
export type Principal =
  | {
      kind: "user";
      tenantId: string;
      userId: string;
      sessionId: string;
      superuser: boolean;
      /** A superuser of the platform tenant: may create, suspend and reactivate tenants — nothing inside them. */
      platformAdmin: boolean;
      permissions: ReadonlySet<string>;
    }
  | { kind: "apiKey"; tenantId: string; keyId: string; permissions: ReadonlySet<string> }
  | { kind: "applicant"; tenantId: string; applicationId: string };

/** What Redis holds per user for the auth middleware (rebuilt from Postgres on a miss). */
export interface CachedUserAuth {
  active: boolean;
  superuser: boolean;
  permissions: string[];
  /** Epoch milliseconds; access tokens issued before it are dead. */
  tokensValidAfter: number | null;
}

interface CachedTenantStatus {
  status: "active" | "suspended";
}

/**
 * Resolves a verified access token to a principal. Warm path: one Redis round trip (user auth record,
 * tenant status, session-revoked marker), no Postgres. Cold path: one Postgres round trip, then the
 * missing records are written back to Redis after the response.
 */
export async function resolveUserPrincipal(ctx: ServiceContext, claims: AccessClaims): Promise<Principal> {
  if (claims.kind === "applicant") {
    await assertTenantActive(ctx, claims.tenantId);
    return { kind: "applicant", tenantId: claims.tenantId, applicationId: claims.subject };
  }
  const sessionId = claims.sessionId ?? "";
  const keys = {
    user: ctx.cache.key(cacheKeys.authUser.name(claims.tenantId, claims.subject)),
    tenant: ctx.cache.key(cacheKeys.authTenant.name(claims.tenantId)),
    revoked: ctx.cache.key(cacheKeys.authSessionRevoked.name(sessionId)),
  };
  let user: CachedUserAuth | null = null;
  let tenant: CachedTenantStatus | null = null;
  let revoked = false;
  const redis = ctx.cache.redis;
  if (redis) {
    try {
      const [u, t, r] = await redis.mget<[CachedUserAuth | null, CachedTenantStatus | null, string | null]>(
        keys.user,
        keys.tenant,
        keys.revoked,
      );
      user = isTombstone(u) ? null : u;
      tenant = isTombstone(t) ? null : t;
      revoked = r !== null;
    } catch (error) {
      ctx.logger.warn("auth cache read failed; using Postgres", { error: String(error) });
    }
  }
  if (revoked) throw new UnauthorizedError("Session has been signed out");
  if (!user || !tenant) {
    const fresh = await loadUserAuth(ctx, claims.tenantId, claims.subject, sessionId);
    if (!fresh.tenant) throw new UnauthorizedError("Invalid or expired access token");
    tenant = { status: fresh.tenant };
    user = fresh.user;
    if (fresh.sessionDead) throw new UnauthorizedError("Session has been signed out");
    writeAuthCache(ctx, [
      [keys.tenant, tenant, cacheKeys.authTenant.ttlSeconds],
      ...(user ? ([[keys.user, user, cacheKeys.authUser.ttlSeconds]] as const) : []),
    ]);
  }
  if (tenant.status !== "active") throw new ForbiddenError("This tenant is suspended");
  if (!user?.active) throw new UnauthorizedError("Invalid or expired access token");
  if (user.tokensValidAfter !== null && claims.issuedAtMs < user.tokensValidAfter) {
    throw new UnauthorizedError("Session has been signed out");
  }
  return {
    kind: "user",
    tenantId: claims.tenantId,
    userId: claims.subject,
    sessionId,
    superuser: user.superuser,
    platformAdmin: claims.tenantId === PLATFORM_TENANT_ID && user.superuser,
    permissions: expandPermissions(user.permissions),
  };
}

async function assertTenantActive(ctx: ServiceContext, tenantId: string): Promise<void> {
  const key = ctx.cache.key(cacheKeys.authTenant.name(tenantId));
  let status: string | undefined;
  try {
    const cached = await ctx.cache.redis?.get<CachedTenantStatus>(key);
    status = isTombstone(cached) ? undefined : cached?.status;
  } catch {
    status = undefined;
  }
  if (!status) {
    const [rows] = await tenantBatch(ctx.db.http, tenantId, (db) => [
      db.execute<{ status: string }>(sql`select status from tenants where id = ${tenantId}`),
    ]);
    status = rows.rows[0]?.status;
    if (!status) throw new UnauthorizedError("Invalid or expired access token");
    writeAuthCache(ctx, [[key, { status }, cacheKeys.authTenant.ttlSeconds]]);
  }
  if (status !== "active") throw new ForbiddenError("This tenant is suspended");
}

interface LoadedUserAuth {
  tenant: "active" | "suspended" | null;
  user: CachedUserAuth | null;
  sessionDead: boolean;
}

async function loadUserAuth(
  ctx: ServiceContext,
  tenantId: string,
  userId: string,
  sessionId: string,
): Promise<LoadedUserAuth> {
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{
      tenant_status: "active" | "suspended";
      user_id: string | null;
      active: boolean | null;
      superuser: boolean | null;
      tokens_valid_after: string | null;
      permissions: string[] | null;
      session_dead: boolean | null;
    }>(sql`
      select t.status as tenant_status, u.id as user_id, u.active and u.deleted_at is null as active,
             u.superuser, (extract(epoch from u.tokens_valid_after) * 1000)::bigint::text as tokens_valid_after,
             (select coalesce(array_agg(distinct p), '{}')
                from user_roles ur join roles r on r.tenant_id = ur.tenant_id and r.id = ur.role_id,
                     unnest(r.permissions) p
               where ur.tenant_id = t.id and ur.user_id = u.id) as permissions,
             (select s.revoked_at is not null or s.expires_at < now() from auth_sessions s
               where s.tenant_id = t.id and s.id = ${sessionId}::uuid and s.user_id = u.id) as session_dead
        from tenants t left join users u on u.tenant_id = t.id and u.id = ${userId}::uuid
       where t.id = ${tenantId}::uuid`),
  ]);
  const row = result.rows[0];
  if (!row) return { tenant: null, user: null, sessionDead: true };
  return {
    tenant: row.tenant_status,
    user: row.user_id
      ? {
          active: row.active === true,
          superuser: row.superuser === true,
          permissions: row.permissions ?? [],
          tokensValidAfter: row.tokens_valid_after === null ? null : Number(row.tokens_valid_after),
        }
      : null,
    sessionDead: row.session_dead !== false,
  };
}

function writeAuthCache(
  ctx: ServiceContext,
  entries: ReadonlyArray<readonly [string, unknown, number]>,
): void {
  const redis = ctx.cache.redis;
  if (!redis || entries.length === 0) return;
  const pipeline = redis.pipeline();
  // NX: never overwrite a tombstone left by an invalidation that happened after our Postgres read.
  for (const [key, value, ttl] of entries) pipeline.set(key, value, { ex: ttl, nx: true });
  ctx.waitUntil(
    pipeline
      .exec()
      .catch((error: unknown) => ctx.logger.warn("auth cache write failed", { error: String(error) })),
  );
}

/** The one authorization check. A superuser holds every permission, but only inside its own tenant. */
export function hasPermission(principal: Principal, permission: Permission): boolean {
  if (principal.kind === "applicant") return false;
  if (principal.kind === "user" && principal.superuser) return true;
  return principal.permissions.has(permission);
}

export function requirePermissionOf(principal: Principal | undefined, permission: Permission): void {
  if (!principal) throw new UnauthorizedError("Authentication required");
  if (!hasPermission(principal, permission)) {
    throw new ForbiddenError(`Missing permission ${permission}`, { details: { permission } });
  }
}
