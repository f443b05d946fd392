import { type SQL, sql } from "drizzle-orm";
import { PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors";
import { isoOf } from "../users/caller";

export const MAPPING_KINDS = ["sku", "warehouse", "logistics"] as const;
export type MappingKind = (typeof MAPPING_KINDS)[number];

/** One translation an ERP push applies: a channel-side value (`source`) to the ERP's code (`target`). */
export interface MappingView {
  id: string;
  erpConnectionId: string;
  kind: MappingKind;
  source: string;
  target: string;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface MappingViewRow extends Record<string, unknown> {
  id: string;
  erp_connection_id: string;
  kind: MappingKind;
  source: string;
  target: string;
  note: string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

/** Unqualified, so the same list serves `select … from erp_mappings` and `returning …`. */
export const MAPPING_COLUMNS: SQL = sql.raw(
  "id, erp_connection_id, kind, source, target, note, created_at, updated_at",
);

export function toMappingView(row: MappingViewRow): MappingView {
  return {
    id: row.id,
    erpConnectionId: row.erp_connection_id,
    kind: row.kind,
    source: row.source,
    target: row.target,
    note: row.note,
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

/** The kind of the connection a mapping request names (read in the same batch as the work). */
export function selectConnectionKind(tenantId: string, connectionId: string): SQL {
  return sql`select kind from connections where tenant_id = ${tenantId} and id = ${connectionId}`;
}

/** Mappings translate for an ERP push, so only an ERP connection has them. */
export function assertErpConnection(kind: "channel" | "erp" | undefined): void {
  if (kind === undefined) throw new NotFoundError("Connection not found");
  if (kind !== "erp") {
    throw new ValidationError("Mappings belong to ERP connections", {
      id: ["This connection is a sales channel; add mappings to the ERP connection its orders are pushed to"],
    });
  }
}

export function mappingWriteError(error: unknown): unknown {
  const pg = pgErrorOf(error);
  if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "erp_mappings_source_key") {
    return new ConflictError("A mapping of this kind for this source already exists on the connection", {
      details: { field: "source" },
    });
  }
  return error;
}
