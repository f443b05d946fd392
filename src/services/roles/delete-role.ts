import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError } from "../../lib/errors";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { authUserKeys, callerOf } from "../users/caller";
import { grantableByCaller } from "./grant-guard";

/**
 * Deletes a role; its assignments go with it (FK cascade). The members are read in the same statement
 * (before the delete, same snapshot), and their cached permissions dropped in one call. A non-superuser
 * may delete only roles whose permissions it holds.
 */
export async function deleteRole({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ deleted: true }> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  const grantable = grantableByCaller(caller);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ deleted: boolean; member_ids: string[] }>(sql`
      with target as (
        select id, permissions from roles where tenant_id = ${t} and id = ${input.id} for update
      ), members as (
        select ur.user_id from user_roles ur join target on ur.role_id = target.id where ur.tenant_id = ${t}
      ), deleted as (
        delete from roles r using target
         where r.tenant_id = ${t} and r.id = target.id
           and (${grantable === null} or target.permissions <@ ${sql.param(grantable ?? [])}::text[])
        returning r.id
      )
      select exists (select 1 from deleted) as deleted,
             coalesce((select array_agg(user_id::text) from members), '{}') as member_ids
        from target`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Role not found");
  if (!row.deleted)
    throw new ForbiddenError("This role holds permissions you do not; only a superuser can delete it");
  await invalidateCache({
    ctx,
    input: { keys: authUserKeys(ctx, t, row.member_ids), reason: "role-deleted" },
  });
  return { deleted: true };
}
