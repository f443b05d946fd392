import { type SQL, sql } from "drizzle-orm";
import { cacheKeys } from "../../cache/keys";
import { UnauthorizedError } from "../../lib/errors";
import type { Principal } from "../auth/principal";
import type { ServiceContext } from "../context";
import { grantableByCaller } from "../roles/grant-guard";
import { type AssignableRoleRow, selectRolesByIds } from "./role-assignment";

/** A signed-in user or an API key acting inside its tenant (applicants never reach these services). */
export interface Caller {
  tenantId: string;
  principal: Exclude<Principal, { kind: "applicant" }>;
  /** The calling user; null for an API key. */
  userId: string | null;
  superuser: boolean;
}

export function callerOf(ctx: ServiceContext): Caller {
  const principal = ctx.principal;
  if (!principal || principal.kind === "applicant") throw new UnauthorizedError("Authentication required");
  return {
    tenantId: principal.tenantId,
    principal,
    userId: principal.kind === "user" ? principal.userId : null,
    superuser: principal.kind === "user" && principal.superuser,
  };
}

/** The auth middleware's cached record of each user (`auth:user:<tenant>:<user>`), as full Redis keys. */
export function authUserKeys(ctx: ServiceContext, tenantId: string, userIds: readonly string[]): string[] {
  return [...new Set(userIds)].map((id) => ctx.cache.key(cacheKeys.authUser.name(tenantId, id)));
}

/** Timestamps arrive as driver text or Date; the API speaks ISO 8601 UTC. */
export function isoOf(value: string | Date): string {
  return new Date(value).toISOString();
}

export function isoOrNull(value: string | Date | null): string | null {
  return value === null ? null : isoOf(value);
}

/*
 * Role assignment checked inside the write statement. `checkAssignableRoles` reports why a request is
 * refused (422 unknown ids, 403 escalation); these fragments apply the same rules in the SQL that writes,
 * over the same rows it returns, so the check and the write cannot disagree or be raced apart.
 */

/** A CTE `requested_roles (id, name, permissions)`: the requested roles as they exist in the tenant. */
export function requestedRolesCte(tenantId: string, roleIds: readonly string[]): SQL {
  return sql`requested_roles as (${selectRolesByIds(tenantId, roleIds)})`;
}

/**
 * SQL condition over `requested_roles`: every id names a role of the tenant (`roleIds` are distinct) and,
 * for a non-superuser, no role carries a permission beyond the caller's own.
 */
export function requestedRolesAssignable(caller: Caller, roleIds: readonly string[]): SQL {
  const known = sql`(select count(*) from requested_roles) = ${roleIds.length}`;
  const grantable = grantableByCaller(caller);
  if (grantable === null) return known;
  return sql`(${known} and not exists (
    select 1 from requested_roles rr where not rr.permissions <@ ${sql.param(grantable)}::text[]))`;
}

/** `requested_roles` as one JSON array value, read back with `requestedRolesOf`. */
export const REQUESTED_ROLES_JSON: SQL = sql`(select coalesce(json_agg(json_build_object(
    'id', rr.id, 'name', rr.name, 'permissions', rr.permissions)), '[]'::json) from requested_roles rr)`;

export function requestedRolesOf(value: AssignableRoleRow[] | string | null): AssignableRoleRow[] {
  return (typeof value === "string" ? (JSON.parse(value) as AssignableRoleRow[]) : value) ?? [];
}
