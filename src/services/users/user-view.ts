import { type SQL, sql } from "drizzle-orm";
import { isoOf, isoOrNull } from "./caller";

/** A user as the API shows it: never the password hash, with role ids/names and organization name. */
export interface UserView {
  id: string;
  email: string | null;
  username: string | null;
  fullName: string;
  phone: string | null;
  active: boolean;
  superuser: boolean;
  organizationId: string | null;
  organizationName: string | null;
  roles: { id: string; name: string }[];
  hasPassword: boolean;
  lastLoginAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface UserViewRow extends Record<string, unknown> {
  id: string;
  email: string | null;
  username: string | null;
  full_name: string;
  phone: string | null;
  active: boolean;
  superuser: boolean;
  organization_id: string | null;
  organization_name: string | null;
  roles: { id: string; name: string }[] | string | null;
  has_password: boolean;
  last_login_at: string | Date | null;
  created_at: string | Date;
  updated_at: string | Date;
}

/**
 * The columns of `UserView` over `users u`: organization by join, roles aggregated in a correlated
 * subquery (served by the user_roles primary key), so a page of users is one statement, not N+1.
 */
export const USER_VIEW_COLUMNS: SQL = sql`
  u.id, u.email, u.username, u.full_name, u.phone, u.active, u.superuser, u.organization_id,
  o.name as organization_name, u.password_hash is not null as has_password,
  u.last_login_at, u.created_at, u.updated_at,
  coalesce((select json_agg(json_build_object('id', r.id, 'name', r.name) order by lower(r.name), r.id)
              from user_roles ur join roles r on r.tenant_id = ur.tenant_id and r.id = ur.role_id
             where ur.tenant_id = u.tenant_id and ur.user_id = u.id), '[]'::json) as roles`;

export const USER_VIEW_FROM: SQL = sql`
  users u left join organizations o on o.tenant_id = u.tenant_id and o.id = u.organization_id`;

/** One live (not soft-deleted) user of the tenant, as a full statement. */
export function selectUserView(tenantId: string, userId: string): SQL {
  return sql`select ${USER_VIEW_COLUMNS} from ${USER_VIEW_FROM}
              where u.tenant_id = ${tenantId} and u.id = ${userId} and u.deleted_at is null`;
}

export function toUserView(row: UserViewRow): UserView {
  const roles = typeof row.roles === "string" ? (JSON.parse(row.roles) as UserView["roles"]) : row.roles;
  return {
    id: row.id,
    email: row.email,
    username: row.username,
    fullName: row.full_name,
    phone: row.phone,
    active: row.active,
    superuser: row.superuser,
    organizationId: row.organization_id,
    organizationName: row.organization_name,
    roles: (roles ?? []).map((r) => ({ id: r.id, name: r.name })),
    hasPassword: row.has_password,
    lastLoginAt: isoOrNull(row.last_login_at),
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}
