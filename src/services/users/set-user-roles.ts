import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError } from "../../lib/errors";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { publishDomainEvent } from "../events/publish-domain-event";
import { authUserKeys, callerOf } from "./caller";
import { callerMayManage, OUTRANKED_MESSAGE } from "./manage-guard";
import {
  type AssignableRoleRow,
  checkAssignableRoles,
  insertUserRoles,
  selectRolesByIds,
  uniqueIds,
} from "./role-assignment";
import { selectUserView, toUserView, type UserView, type UserViewRow } from "./user-view";

/**
 * Replaces the user's set of roles. One read batch (the user, the requested roles) for the checks:
 * unknown roles 422; roles beyond the caller's own permissions, or a user who outranks the caller
 * (`callerMayManage`), 403. Then one write batch: remove the roles no longer wanted, add the new ones
 * (the escalation guard repeated in SQL), read the result.
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
  const roleIds = uniqueIds(input.roleIds);
  const [user, roles] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ id: string; role_ids: string[]; may_manage: boolean }>(sql`
      select u.id, ${callerMayManage(caller, "u")} as may_manage, coalesce((select array_agg(ur.role_id::text order by ur.role_id) from user_roles ur
                               where ur.tenant_id = u.tenant_id and ur.user_id = u.id), '{}') as role_ids
        from users u where u.tenant_id = ${t} and u.id = ${input.id} and u.deleted_at is null`),
    db.execute<AssignableRoleRow>(selectRolesByIds(t, roleIds)),
  ]);
  const before = user.rows[0];
  if (!before) throw new NotFoundError("User not found");
  if (!before.may_manage) throw new ForbiddenError(OUTRANKED_MESSAGE);
  checkAssignableRoles(caller, roleIds, roles.rows);

  const [, , view] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute(sql`
      delete from user_roles
       where tenant_id = ${t} and user_id = ${input.id} and role_id <> all(${sql.param(roleIds)}::uuid[])`),
    db.execute(insertUserRoles(caller, input.id, roleIds)),
    db.execute<UserViewRow>(selectUserView(t, input.id)),
  ]);
  const row = view.rows[0];
  if (!row) throw new NotFoundError("User not found");

  await invalidateCache({ ctx, input: { keys: authUserKeys(ctx, t, [input.id]), reason: "user-roles-set" } });
  const previous = new Set(before.role_ids);
  const changed = previous.size !== roleIds.length || roleIds.some((r) => !previous.has(r));
  if (changed)
    publishDomainEvent({
      ctx,
      input: { type: "user.updated", data: { userId: input.id, changes: ["roleIds"] } },
    });
  return toUserView(row);
}
