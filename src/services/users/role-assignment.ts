import { type SQL, sql } from "drizzle-orm";
import { ValidationError } from "../../lib/errors";
import { assertCanGrant, grantableByCaller } from "../roles/grant-guard";
import type { Caller } from "./caller";

export interface AssignableRoleRow extends Record<string, unknown> {
  id: string;
  name: string;
  permissions: string[];
}

/** The requested roles as they exist in the caller's tenant (another tenant's id simply is not found). */
export function selectRolesByIds(tenantId: string, roleIds: readonly string[]): SQL {
  return sql`select id, name, permissions from roles
              where tenant_id = ${tenantId} and id = any(${sql.param(roleIds)}::uuid[])`;
}

/**
 * Unknown role ids are a 422 naming them; roles carrying permissions the caller lacks are a 403
 * (privilege escalation).
 */
export function checkAssignableRoles(
  caller: Caller,
  requested: readonly string[],
  found: readonly AssignableRoleRow[],
): void {
  const known = new Set(found.map((r) => r.id));
  const unknown = requested.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new ValidationError("Unknown roles", { roleIds: unknown.map((id) => `Unknown role ${id}`) });
  }
  assertCanGrant(
    caller,
    found.flatMap((r) => r.permissions),
    "Assigning these roles",
  );
}

/**
 * Inserts the user's roles. The escalation guard is repeated in SQL, so a role whose permissions grew
 * between the check and this write is not assigned.
 */
export function insertUserRoles(caller: Caller, userId: string, roleIds: readonly string[]): SQL {
  const grantable = grantableByCaller(caller);
  return sql`
    insert into user_roles (tenant_id, user_id, role_id)
    select r.tenant_id, u.id, r.id
      from roles r join users u on u.tenant_id = r.tenant_id and u.id = ${userId} and u.deleted_at is null
     where r.tenant_id = ${caller.tenantId} and r.id = any(${sql.param(roleIds)}::uuid[])
       and (${grantable === null} or r.permissions <@ ${sql.param(grantable ?? [])}::text[])
    on conflict do nothing`;
}

export function uniqueIds(ids: readonly string[] | undefined): string[] {
  return [...new Set((ids ?? []).map((id) => id.toLowerCase()))];
}
