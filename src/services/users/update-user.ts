import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, ForbiddenError, NotFoundError } from "../../lib/errors";
import type { UserChangeField } from "../../queues/messages";
import { hashPassword } from "../auth/password";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { publishDomainEvent } from "../events/publish-domain-event";
import { authUserKeys, callerOf } from "./caller";
import { assertPasswordNotLogin } from "./create-user";
import { callerMayManage, OUTRANKED_MESSAGE } from "./manage-guard";
import { selectUserView, toUserView, type UserView, type UserViewRow } from "./user-view";
import { userWriteError } from "./write-errors";

export interface UpdateUserInput {
  fullName?: string | undefined;
  email?: string | undefined;
  username?: string | undefined;
  phone?: string | null | undefined;
  organizationId?: string | null | undefined;
  active?: boolean | undefined;
  superuser?: boolean | undefined;
  password?: string | undefined;
}

interface TargetRow extends Record<string, unknown> {
  updated: boolean;
  email: string | null;
  username: string | null;
  full_name: string;
  phone: string | null;
  organization_id: string | null;
  active: boolean;
  superuser: boolean;
}

/**
 * Partial update of a user in one batched transaction. Only a superuser changes `superuser`; a
 * non-superuser edits only users it outranks (`callerMayManage`, checked in the same statement); nobody
 * deactivates or un-superusers themselves (409: it would lock them out). A new password or a
 * deactivation kills the user's live tokens (`tokens_valid_after`) and signs out their sessions.
 * Publishes `user.updated` with the names of the fields that changed.
 */
export async function updateUser({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; patch: UpdateUserInput };
}): Promise<UserView> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  const { id, patch } = input;
  if (patch.superuser !== undefined && !caller.superuser) {
    throw new ForbiddenError("Only a superuser can grant or revoke superuser");
  }
  if (caller.userId === id && (patch.active === false || patch.superuser === false)) {
    throw new ConflictError("You cannot deactivate yourself or revoke your own superuser status");
  }
  const email = patch.email?.trim().toLowerCase();
  const username = patch.username?.trim();

  let passwordHash: string | null = null;
  if (patch.password !== undefined) {
    // The password is checked against the logins the user will have after this change.
    const [current, hash] = await Promise.all([
      tenantBatch(ctx.db.http, t, (db) => [
        db.execute<{ email: string | null; username: string | null }>(
          sql`select email, username from users where tenant_id = ${t} and id = ${id} and deleted_at is null`,
        ),
      ]).then(([r]) => r.rows[0]),
      hashPassword(patch.password),
    ]);
    if (!current) throw new NotFoundError("User not found");
    assertPasswordNotLogin(patch.password, {
      email: email ?? current.email,
      username: username ?? current.username,
    });
    passwordHash = hash;
  }

  const killsTokens = passwordHash !== null || patch.active === false;
  const sets: SQL[] = [sql`updated_at = now()`];
  if (patch.fullName !== undefined) sets.push(sql`full_name = ${patch.fullName.trim()}`);
  if (email !== undefined) sets.push(sql`email = ${email}`);
  if (username !== undefined) sets.push(sql`username = ${username}`);
  if (patch.phone !== undefined) sets.push(sql`phone = ${patch.phone}`);
  if (patch.organizationId !== undefined) sets.push(sql`organization_id = ${patch.organizationId}`);
  if (patch.active !== undefined) sets.push(sql`active = ${patch.active}`);
  if (patch.superuser !== undefined) sets.push(sql`superuser = ${patch.superuser}`);
  if (passwordHash !== null) sets.push(sql`password_hash = ${passwordHash}`);
  // The Worker's clock, the same clock that stamps access tokens.
  if (killsTokens) sets.push(sql`tokens_valid_after = ${new Date().toISOString()}::timestamptz`);

  let target: TargetRow | undefined;
  let view: UserViewRow | undefined;
  try {
    const [targetResult, , viewResult] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<TargetRow>(sql`
        with target as (
          select id, superuser, email, username, full_name, phone, organization_id, active
            from users where tenant_id = ${t} and id = ${id} and deleted_at is null
             for update
        ), updated as (
          update users u set ${sql.join(sets, sql`, `)}
            from target
           where u.tenant_id = ${t} and u.id = target.id and ${callerMayManage(caller, "target")}
          returning u.id
        )
        select exists (select 1 from updated) as updated,
               target.email, target.username, target.full_name, target.phone, target.organization_id,
               target.active, target.superuser
          from target`),
      // Only when this transaction changed the user (updated_at = now() is this transaction's start).
      db.execute(sql`
        update auth_sessions set revoked_at = now(), revoked_reason = ${passwordHash ? "password_changed" : "deactivated"}
         where tenant_id = ${t} and user_id = ${id} and revoked_at is null and ${killsTokens}
           and exists (select 1 from users where tenant_id = ${t} and id = ${id} and updated_at = now())`),
      db.execute<UserViewRow>(selectUserView(t, id)),
    ]);
    target = targetResult.rows[0];
    view = viewResult.rows[0];
  } catch (error) {
    throw userWriteError(error);
  }
  if (!target || !view) throw new NotFoundError("User not found");
  if (!target.updated) throw new ForbiddenError(OUTRANKED_MESSAGE);

  await invalidateCache({ ctx, input: { keys: authUserKeys(ctx, t, [id]), reason: "user-updated" } });
  const changes = changedFields(target, { ...patch, email, username }, passwordHash !== null);
  if (changes.length > 0) {
    publishDomainEvent({ ctx, input: { type: "user.updated", data: { userId: id, changes } } });
  }
  return toUserView(view);
}

function changedFields(
  before: TargetRow,
  patch: UpdateUserInput,
  passwordChanged: boolean,
): UserChangeField[] {
  const changes: UserChangeField[] = [];
  const differs = (field: UserChangeField, next: unknown, prev: unknown) => {
    if (next !== undefined && next !== prev) changes.push(field);
  };
  differs("email", patch.email, before.email);
  differs("username", patch.username, before.username);
  differs("fullName", patch.fullName?.trim(), before.full_name);
  differs("phone", patch.phone, before.phone);
  differs(
    "organizationId",
    patch.organizationId?.toLowerCase() ?? patch.organizationId,
    before.organization_id,
  );
  differs("active", patch.active, before.active);
  differs("superuser", patch.superuser, before.superuser);
  if (passwordChanged) changes.push("password");
  return changes;
}
