import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { syncCallerOf } from "../connections/connection-view";
import type { ServiceContext } from "../context";
import {
  assertErpConnection,
  MAPPING_COLUMNS,
  type MappingKind,
  type MappingView,
  type MappingViewRow,
  mappingWriteError,
  selectConnectionKind,
  toMappingView,
} from "./mapping-view";

export interface MappingInput {
  kind: MappingKind;
  source: string;
  target: string;
  note?: string | null | undefined;
}

/** Adds one mapping to an ERP connection (422 on a channel, 409 when the source is already mapped). */
export async function createMapping({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { connectionId: string; mapping: MappingInput };
}): Promise<MappingView> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:admin");
  const { connectionId, mapping } = input;
  let created: MappingViewRow | undefined;
  let kind: "channel" | "erp" | undefined;
  try {
    const [insertResult, connection] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<MappingViewRow>(sql`
        insert into erp_mappings (tenant_id, erp_connection_id, kind, source, target, note)
        select c.tenant_id, c.id, ${mapping.kind}, ${mapping.source.trim()}, ${mapping.target.trim()},
               ${mapping.note ?? null}
          from connections c
         where c.tenant_id = ${t} and c.id = ${connectionId} and c.kind = 'erp'
        returning ${MAPPING_COLUMNS}`),
      db.execute<{ kind: "channel" | "erp" }>(selectConnectionKind(t, connectionId)),
    ]);
    created = insertResult.rows[0];
    kind = connection.rows[0]?.kind;
  } catch (error) {
    throw mappingWriteError(error);
  }
  assertErpConnection(kind);
  if (!created) throw new Error("mapping insert returned nothing");
  return toMappingView(created);
}
