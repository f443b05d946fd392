import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, ForbiddenError, NotFoundError } from "../../lib/errors";
import { markSessionsRevoked } from "../auth/refresh";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { publishDomainEvent } from "../events/publish-domain-event";
import { authUserKeys, callerOf } from "./caller";
import { callerMayManage, OUTRANKED_MESSAGE } from "./manage-guard";

/**
 * Soft delete: the row stays (history, events) but the user is gone from every read, cannot sign in,
 * its live tokens die at once and its sessions are revoked. Its email and username become free again.
 * Deleting yourself is a 409; a non-superuser deletes only users it outranks (403).
 */
export async function deleteUser({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ deleted: true }> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  if (caller.userId === input.id) throw new ConflictError("You cannot delete yourself");
  const now = new Date().toISOString();
  const [target, sessions] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ deleted: boolean }>(sql`
      with target as (
        select id, superuser from users
         where tenant_id = ${t} and id = ${input.id} and deleted_at is null
           for update
      ), deleted as (
        update users u
           set deleted_at = now(), active = false, tokens_valid_after = ${now}::timestamptz, updated_at = now()
          from target
         where u.tenant_id = ${t} and u.id = target.id and ${callerMayManage(caller, "target")}
        returning u.id
      )
      select exists (select 1 from deleted) as deleted from target`),
    db.execute<{ id: string }>(sql`
      update auth_sessions set revoked_at = now(), revoked_reason = 'user_deleted'
       where tenant_id = ${t} and user_id = ${input.id} and revoked_at is null
         and exists (select 1 from users where tenant_id = ${t} and id = ${input.id} and deleted_at = now())
      returning id`),
  ]);
  const row = target.rows[0];
  if (!row) throw new NotFoundError("User not found");
  if (!row.deleted) throw new ForbiddenError(OUTRANKED_MESSAGE);

  await invalidateCache({ ctx, input: { keys: authUserKeys(ctx, t, [input.id]), reason: "user-deleted" } });
  await markSessionsRevoked(
    ctx,
    sessions.rows.map((s) => s.id),
    { tenantId: t, userId: input.id },
  );
  publishDomainEvent({ ctx, input: { type: "user.deleted", data: { userId: input.id } } });
  return { deleted: true };
}
