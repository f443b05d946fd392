import { type SQL, sql } from "drizzle-orm";
import { PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import { ConflictError, ValidationError } from "../../lib/errors";
import { isPermission } from "../auth/permissions";
import { isoOf } from "../users/caller";

export interface RoleView {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  /** Live (not deleted) users holding the role. */
  memberCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface RoleViewRow extends Record<string, unknown> {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  member_count: number;
  created_at: string | Date;
  updated_at: string | Date;
}

export const ROLE_VIEW_COLUMNS: SQL = sql`
  r.id, r.name, r.description, r.permissions, r.created_at, r.updated_at,
  (select count(*) from user_roles ur
     join users u on u.tenant_id = ur.tenant_id and u.id = ur.user_id and u.deleted_at is null
    where ur.tenant_id = r.tenant_id and ur.role_id = r.id)::int as member_count`;

export function selectRoleView(tenantId: string, roleId: string): SQL {
  return sql`select ${ROLE_VIEW_COLUMNS} from roles r where r.tenant_id = ${tenantId} and r.id = ${roleId}`;
}

export function toRoleView(row: RoleViewRow): RoleView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    permissions: row.permissions,
    memberCount: Number(row.member_count),
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

/** Every permission must be in the catalog (a typo is a 422 naming it, never a silent no-op). */
export function normalisePermissions(permissions: readonly string[]): string[] {
  const unknown = [...new Set(permissions.filter((p) => !isPermission(p)))];
  if (unknown.length > 0) {
    throw new ValidationError(`Unknown permissions: ${unknown.join(", ")}`, {
      permissions: unknown.map((p) => `Unknown permission '${p}'`),
    });
  }
  return [...new Set(permissions)].sort();
}

export function roleWriteError(error: unknown): unknown {
  const pg = pgErrorOf(error);
  if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "roles_tenant_name_key") {
    return new ConflictError("A role with this name already exists", { details: { field: "name" } });
  }
  return error;
}
