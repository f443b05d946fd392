import { type SQL, sql } from "drizzle-orm";
import { grantableByCaller } from "../roles/grant-guard";
import type { Caller } from "./caller";

/**
 * SQL condition: may the caller administer the user row `alias` (its password, email, activation, roles,
 * deletion)? A superuser may administer anyone in its tenant. Anyone else only users who are not
 * superusers and hold no permission beyond the caller's own — otherwise a `users:admin` could reset a
 * stronger account's password and sign in as it.
 */
export function callerMayManage(caller: Caller, alias: string): SQL {
  const grantable = grantableByCaller(caller);
  if (grantable === null) return sql`true`;
  const user = sql.identifier(alias);
  return sql`(not ${user}.superuser and coalesce(
      (select array_agg(p) from user_roles ur
         join roles r on r.tenant_id = ur.tenant_id and r.id = ur.role_id, unnest(r.permissions) p
        where ur.tenant_id = ${caller.tenantId} and ur.user_id = ${user}.id), '{}'::text[])
      <@ ${sql.param(grantable)}::text[])`;
}

export const OUTRANKED_MESSAGE =
  "This user is a superuser or holds permissions you do not; only a superuser can change them";
