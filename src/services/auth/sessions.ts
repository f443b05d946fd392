import { sql } from "drizzle-orm";
import { cacheKeys } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError, UnauthorizedError } from "../../lib/errors";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import type { Principal } from "./principal";
import { markSessionsRevoked } from "./refresh";

type UserPrincipal = Extract<Principal, { kind: "user" }>;

function userPrincipal(ctx: ServiceContext): UserPrincipal {
  const principal = ctx.principal;
  if (!principal) throw new UnauthorizedError("Authentication required");
  // A valid API key or applicant token is not wrong, just not a person's session: 403, not 401.
  if (principal.kind !== "user") throw new ForbiddenError("Only a signed-in user has sessions");
  return principal;
}

export interface SessionView {
  id: string;
  method: string;
  deviceLabel: string | null;
  userAgent: string | null;
  ip: string | null;
  createdAt: string;
  lastUsedAt: string;
  expiresAt: string;
  current: boolean;
}

/** Signs out the calling session: its refresh family is revoked and its access tokens die now. */
export async function logout({ ctx }: { ctx: ServiceContext }): Promise<void> {
  const me = userPrincipal(ctx);
  await revokeSessions(ctx, me, me.sessionId);
}

/**
 * Signs out every session of the calling user, access tokens included: `tokens_valid_after` moves to
 * now (the Worker's clock, the same clock that stamps tokens), and the cached auth record is dropped.
 */
export async function logoutAll({ ctx }: { ctx: ServiceContext }): Promise<{ sessionsRevoked: number }> {
  const me = userPrincipal(ctx);
  const now = new Date().toISOString();
  const [, revoked] = await tenantBatch(ctx.db.http, me.tenantId, (db) => [
    db.execute(sql`update users set tokens_valid_after = ${now}::timestamptz, updated_at = now()
                    where tenant_id = ${me.tenantId} and id = ${me.userId}`),
    db.execute<{ id: string }>(sql`
      update auth_sessions set revoked_at = now(), revoked_reason = 'logout_all'
       where tenant_id = ${me.tenantId} and user_id = ${me.userId} and revoked_at is null
      returning id`),
  ]);
  await invalidateCache({
    ctx,
    input: { keys: [ctx.cache.key(cacheKeys.authUser.name(me.tenantId, me.userId))], reason: "logout-all" },
  });
  await markSessionsRevoked(
    ctx,
    revoked.rows.map((r) => r.id),
    me,
  );
  return { sessionsRevoked: revoked.rows.length };
}

export async function listSessions({ ctx }: { ctx: ServiceContext }): Promise<SessionView[]> {
  const me = userPrincipal(ctx);
  const [result] = await tenantBatch(ctx.db.http, me.tenantId, (db) => [
    db.execute<{
      id: string;
      method: string;
      device_label: string | null;
      user_agent: string | null;
      ip: string | null;
      created_at: string;
      last_used_at: string;
      expires_at: string;
    }>(sql`
      select id, method, device_label, user_agent, host(ip) as ip, created_at, last_used_at, expires_at
        from auth_sessions
       where tenant_id = ${me.tenantId} and user_id = ${me.userId} and revoked_at is null and expires_at > now()
       order by last_used_at desc
       limit 200`),
  ]);
  return result.rows.map((r) => ({
    id: r.id,
    method: r.method,
    deviceLabel: r.device_label,
    userAgent: r.user_agent,
    ip: r.ip,
    createdAt: new Date(r.created_at).toISOString(),
    lastUsedAt: new Date(r.last_used_at).toISOString(),
    expiresAt: new Date(r.expires_at).toISOString(),
    current: r.id === me.sessionId,
  }));
}

/** Revokes one of the caller's own sessions (sign out a lost phone). Someone else's session is a 404. */
export async function revokeSession({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<void> {
  const me = userPrincipal(ctx);
  const revoked = await revokeSessions(ctx, me, input.id);
  if (revoked === 0) throw new NotFoundError("Session not found");
}

async function revokeSessions(ctx: ServiceContext, me: UserPrincipal, sessionId: string): Promise<number> {
  const [result] = await tenantBatch(ctx.db.http, me.tenantId, (db) => [
    db.execute<{ id: string }>(sql`
      update auth_sessions set revoked_at = now(), revoked_reason = 'logout'
       where tenant_id = ${me.tenantId} and user_id = ${me.userId} and id = ${sessionId}::uuid and revoked_at is null
      returning id`),
  ]);
  await markSessionsRevoked(
    ctx,
    result.rows.map((r) => r.id),
    me,
  );
  return result.rows.length;
}
