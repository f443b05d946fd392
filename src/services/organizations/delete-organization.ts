import { sql } from "drizzle-orm";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";

/**
 * Deletes an organization that has no child organizations and no live members (409 otherwise: move or
 * delete them first). Soft-deleted users still pointing at it are detached in the same transaction.
 */
export async function deleteOrganization({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ deleted: true }> {
  const { tenantId: t } = callerOf(ctx);
  const id = input.id;
  const isLeafWithoutMembers = sql`
    not exists (select 1 from organizations c where c.tenant_id = ${t} and c.parent_id = ${id})
    and not exists (select 1 from users u where u.tenant_id = ${t} and u.organization_id = ${id} and u.deleted_at is null)`;
  let outcome: { children: number; members: number; deleted: boolean } | undefined;
  try {
    const [, result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        update users set organization_id = null
         where tenant_id = ${t} and organization_id = ${id} and deleted_at is not null and ${isLeafWithoutMembers}`),
      db.execute<{ children: number; members: number; deleted: boolean }>(sql`
        with deleted as (
          delete from organizations where tenant_id = ${t} and id = ${id} and ${isLeafWithoutMembers}
          returning id
        )
        select (select count(*) from organizations c where c.tenant_id = ${t} and c.parent_id = o.id)::int as children,
               (select count(*) from users u
                 where u.tenant_id = ${t} and u.organization_id = o.id and u.deleted_at is null)::int as members,
               exists (select 1 from deleted) as deleted
          from organizations o where o.tenant_id = ${t} and o.id = ${id}`),
    ]);
    outcome = result.rows[0];
  } catch (error) {
    // A child or member added concurrently.
    if (pgErrorOf(error)?.code === PG_FOREIGN_KEY_VIOLATION) {
      throw new ConflictError("The organization still has child organizations or members");
    }
    throw error;
  }
  if (!outcome) throw new NotFoundError("Organization not found");
  if (!outcome.deleted) {
    throw new ConflictError(
      "The organization still has child organizations or members; move or delete them first",
      {
        details: { children: outcome.children, members: outcome.members },
      },
    );
  }
  return { deleted: true };
}
