import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError } from "../../lib/errors";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { authUserKeys, callerOf } from "../users/caller";
import { assertCanGrant, grantableByCaller } from "./grant-guard";
import {
  normalisePermissions,
  type RoleView,
  type RoleViewRow,
  roleWriteError,
  selectRoleView,
  toRoleView,
} from "./role-view";

export interface UpdateRoleInput {
  name?: string | undefined;
  description?: string | undefined;
  permissions?: string[] | undefined;
}

/**
 * Edits a role in one statement that also returns its members. A non-superuser may edit only roles
 * whose current permissions it holds, and may give them only permissions it holds (403). A change of
 * permissions drops every member's cached permissions (one invalidation for all), so it holds from
 * each member's next request.
 */
export async function updateRole({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; patch: UpdateRoleInput };
}): Promise<RoleView> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  const { id, patch } = input;
  const permissions = patch.permissions === undefined ? undefined : normalisePermissions(patch.permissions);
  if (permissions) assertCanGrant(caller, permissions, "This role");
  const grantable = grantableByCaller(caller);

  const sets: SQL[] = [sql`updated_at = now()`];
  if (patch.name !== undefined) sets.push(sql`name = ${patch.name.trim()}`);
  if (patch.description !== undefined) sets.push(sql`description = ${patch.description}`);
  if (permissions !== undefined) sets.push(sql`permissions = ${sql.param(permissions)}::text[]`);

  let outcome: { updated: boolean; member_ids: string[] } | undefined;
  let view: RoleViewRow | undefined;
  try {
    const [result, viewResult] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<{ updated: boolean; member_ids: string[] }>(sql`
        with target as (
          select id, permissions from roles where tenant_id = ${t} and id = ${id} for update
        ), updated as (
          update roles r set ${sql.join(sets, sql`, `)}
            from target
           where r.tenant_id = ${t} and r.id = target.id
             and (${grantable === null} or target.permissions <@ ${sql.param(grantable ?? [])}::text[])
          returning r.id
        )
        select exists (select 1 from updated) as updated,
               coalesce((select array_agg(ur.user_id::text) from user_roles ur
                          where ur.tenant_id = ${t} and ur.role_id = target.id), '{}') as member_ids
          from target`),
      db.execute<RoleViewRow>(selectRoleView(t, id)),
    ]);
    outcome = result.rows[0];
    view = viewResult.rows[0];
  } catch (error) {
    throw roleWriteError(error);
  }
  if (!outcome || !view) throw new NotFoundError("Role not found");
  if (!outcome.updated)
    throw new ForbiddenError("This role holds permissions you do not; only a superuser can change it");
  if (permissions !== undefined) {
    await invalidateCache({
      ctx,
      input: { keys: authUserKeys(ctx, t, outcome.member_ids), reason: "role-permissions-changed" },
    });
  }
  return toRoleView(view);
}
