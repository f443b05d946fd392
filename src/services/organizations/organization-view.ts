import { type SQL, sql } from "drizzle-orm";
import {
  PG_CHECK_VIOLATION,
  PG_FOREIGN_KEY_VIOLATION,
  PG_UNIQUE_VIOLATION,
  pgErrorOf,
} from "../../db/errors";
import { ConflictError, ValidationError } from "../../lib/errors";
import { isoOf } from "../users/caller";

export const ORGANIZATION_TYPES = [
  "company",
  "division",
  "department",
  "team",
  "store",
  "warehouse",
] as const;
export type OrganizationType = (typeof ORGANIZATION_TYPES)[number];

export interface OrganizationView {
  id: string;
  parentId: string | null;
  name: string;
  type: OrganizationType;
  description: string | null;
  /** Live users placed directly in this organization (not in its descendants). */
  memberCount: number;
  createdAt: string;
  updatedAt: string;
}

export interface OrganizationNode extends OrganizationView {
  children: OrganizationNode[];
}

export interface OrganizationViewRow extends Record<string, unknown> {
  id: string;
  parent_id: string | null;
  name: string;
  type: OrganizationType;
  description: string | null;
  member_count: number;
  created_at: string | Date;
  updated_at: string | Date;
}

export const ORGANIZATION_VIEW_COLUMNS: SQL = sql`
  o.id, o.parent_id, o.name, o.type, o.description, o.created_at, o.updated_at,
  (select count(*) from users u
    where u.tenant_id = o.tenant_id and u.organization_id = o.id and u.deleted_at is null)::int as member_count`;

export function selectOrganizationView(tenantId: string, id: string): SQL {
  return sql`select ${ORGANIZATION_VIEW_COLUMNS} from organizations o where o.tenant_id = ${tenantId} and o.id = ${id}`;
}

export function toOrganizationView(row: OrganizationViewRow): OrganizationView {
  return {
    id: row.id,
    parentId: row.parent_id,
    name: row.name,
    type: row.type,
    description: row.description,
    memberCount: Number(row.member_count),
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

/** Constraint violations of an organization create or move, as caller errors; anything else unchanged. */
export function organizationWriteError(error: unknown): unknown {
  const pg = pgErrorOf(error);
  if (!pg) return error;
  if (pg.code === PG_UNIQUE_VIOLATION && pg.constraint === "organizations_tenant_parent_name_key") {
    return new ConflictError("An organization with this name already exists under the same parent", {
      details: { field: "name" },
    });
  }
  if (pg.code === PG_FOREIGN_KEY_VIOLATION && pg.constraint === "organizations_parent_fk") {
    return new ValidationError("Unknown parent organization", {
      parentId: ["No such organization in this tenant"],
    });
  }
  if (
    pg.code === PG_CHECK_VIOLATION &&
    (pg.constraint === "organizations_no_cycle" || pg.constraint === "organizations_not_own_parent")
  ) {
    return new ValidationError("An organization cannot be moved under itself or one of its descendants", {
      parentId: ["Must not be the organization itself or one of its descendants"],
    });
  }
  return error;
}
