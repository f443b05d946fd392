import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError } from "../../lib/errors";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { publishDomainEvent } from "../events/publish-domain-event";
import {
  authUserKeys,
  callerOf,
  REQUESTED_ROLES_JSON,
  requestedRolesAssignable,
  requestedRolesCte,
  requestedRolesOf,
} from "./caller";
import { callerMayManage, OUTRANKED_MESSAGE } from "./manage-guard";
import { type AssignableRoleRow, checkAssignableRoles, uniqueIds } from "./role-assignment";
import { selectUserView, toUserView, type UserView, type UserViewRow } from "./user-view";

interface RolesWriteRow extends Record<string, unknown> {
  may_manage: boolean;
  roles: AssignableRoleRow[] | string | null;
  written: boolean;
  changed: boolean;
}

/**
 * Replaces the user's set of roles in one batched transaction (one round trip). The target row is locked
 * first; the next statement (a fresh snapshot, so it sees whatever a writer holding the lock before us
 * committed: a promotion to superuser, a new role) removes the roles no longer wanted and adds the new
 * ones only if the caller may manage the user (`callerMayManage`) and every requested role exists and is
 * within the caller's own permissions. It returns what it saw, from which the refusal is reported:
 * unknown user 404, a user who outranks the caller 403, unknown roles 422, roles beyond the caller 403.
 * The user's cached permissions are dropped so the change holds from their next request.
 */
export async function setUserRoles({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; roleIds: string[] };
}): Promise<UserView> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  const { id } = input;
  const roleIds = uniqueIds(input.roleIds);

  const [, written, view] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute(
      sql`select id from users where tenant_id = ${t} and id = ${id} and deleted_at is null for update`,
    ),
    db.execute<RolesWriteRow>(sql`
      with target as (
        select id, superuser from users where tenant_id = ${t} and id = ${id} and deleted_at is null
      ), guard as (
        select target.id, ${callerMayManage(caller, "target")} as may_manage from target
      ), ${requestedRolesCte(t, roleIds)},
      allowed as (
        select guard.id from guard where guard.may_manage and ${requestedRolesAssignable(caller, roleIds)}
      ), removed as (
        delete from user_roles ur using allowed
         where ur.tenant_id = ${t} and ur.user_id = allowed.id
           and ur.role_id <> all(${sql.param(roleIds)}::uuid[])
        returning ur.role_id
      ), added as (
        insert into user_roles (tenant_id, user_id, role_id)
        select ${t}::uuid, allowed.id, rr.id from allowed, requested_roles rr
        on conflict do nothing
        returning role_id
      )
      select guard.may_manage, ${REQUESTED_ROLES_JSON} as roles, exists (select 1 from allowed) as written,
             exists (select 1 from removed) or exists (select 1 from added) as changed
        from guard`),
    db.execute<UserViewRow>(selectUserView(t, id)),
  ]);
  const result = written.rows[0];
  if (!result) throw new NotFoundError("User not found");
  if (!result.may_manage) throw new ForbiddenError(OUTRANKED_MESSAGE);
  checkAssignableRoles(caller, roleIds, requestedRolesOf(result.roles));
  // The SQL guard applies the same rules to the same rows as the checks above.
  if (!result.written) throw new Error("user roles not written though the checks passed");
  const row = view.rows[0];
  if (!row) throw new NotFoundError("User not found");

  await invalidateCache({ ctx, input: { keys: authUserKeys(ctx, t, [id]), reason: "user-roles-set" } });
  if (result.changed)
    publishDomainEvent({
      ctx,
      input: { type: "user.updated", data: { userId: id, changes: ["roleIds"] } },
    });
  return toUserView(row);
}
