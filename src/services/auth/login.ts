import { sql } from "drizzle-orm";
import { APP_ROLE, tenantBatch } from "../../db/tenant";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { type ClientInfo, newSessionStatements, type TokenPair, tokenPair } from "./issue-session";
import { assertLoginAllowed, recordLoginFailure, recordLoginSuccess } from "./login-guard";
import { hashPassword, verifyPassword } from "./password";

export interface PasswordLoginInput {
  tenant: string;
  email?: string | undefined;
  username?: string | undefined;
  password: string;
  deviceLabel?: string | undefined;
}

const INVALID = "Invalid tenant, login or password";

/**
 * Password sign-in. Every failure before the password is known to be right — unknown tenant, unknown
 * user, password-less user, wrong password, inactive user — is the same 401 after the same scrypt work,
 * so neither the message nor the timing tells an attacker which accounts exist.
 */
export async function loginWithPassword({
  ctx,
  input,
  client,
}: {
  ctx: ServiceContext;
  input: PasswordLoginInput;
  client: ClientInfo;
}): Promise<TokenPair> {
  const slug = input.tenant.trim().toLowerCase();
  const login = (input.email ?? input.username ?? "").trim().toLowerCase();
  const guard = { account: `${slug}:${login}`, ip: client.ip ?? "unknown" };
  await assertLoginAllowed(ctx, guard);

  const byEmail = input.email !== undefined;
  // One round trip: resolve the tenant by slug (SECURITY DEFINER), enter its RLS context, read the user.
  const [, found] = await ctx.db.http.batch([
    ctx.db.http.execute(sql`
      select set_config('app.tenant_id', coalesce((select id::text from tenant_public_profile(${slug})), ''), true),
             set_config('role', ${APP_ROLE}, true)`),
    ctx.db.http.execute<{
      tenant_id: string;
      tenant_status: string;
      user_id: string | null;
      password_hash: string | null;
      active: boolean | null;
    }>(sql`
      select t.id as tenant_id, t.status as tenant_status, u.id as user_id, u.password_hash, u.active
        from tenants t
        left join users u on u.tenant_id = t.id and u.deleted_at is null
             and ${byEmail ? sql`u.email = ${login}` : sql`lower(u.username) = ${login}`}
       where t.id = app_current_tenant()`),
  ]);
  const row = found.rows[0];
  const check = await verifyPassword(input.password, row?.user_id ? row.password_hash : null);
  if (!row?.user_id || !check.ok || row.active !== true) {
    await recordLoginFailure(ctx, guard);
    throw new UnauthorizedError(INVALID);
  }
  if (row.tenant_status !== "active") throw new ForbiddenError("This tenant is suspended");
  await recordLoginSuccess(ctx, guard);

  const tenantId = row.tenant_id;
  const userId = row.user_id;
  const rehash = check.needsRehash ? await hashPassword(input.password) : null;
  const session = newSessionStatements(ctx, ctx.db.http, {
    tenantId,
    userId,
    method: "password",
    client: { ...client, deviceLabel: input.deviceLabel ?? null },
  });
  await tenantBatch(ctx.db.http, tenantId, (db) => [
    ...session.statements,
    db.execute(sql`
      update users set last_login_at = now()${rehash ? sql`, password_hash = ${rehash}` : sql``}
       where tenant_id = ${tenantId} and id = ${userId}`),
  ]);
  ctx.tenantId = tenantId;
  return tokenPair(ctx, {
    tenantId,
    userId,
    sessionId: session.sessionId,
    refreshToken: session.refreshToken,
  });
}
