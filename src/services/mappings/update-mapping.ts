import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import { syncCallerOf } from "../connections/connection-view";
import type { ServiceContext } from "../context";
import {
  MAPPING_COLUMNS,
  type MappingView,
  type MappingViewRow,
  mappingWriteError,
  toMappingView,
} from "./mapping-view";

export interface UpdateMappingInput {
  source?: string | undefined;
  target?: string | undefined;
  note?: string | null | undefined;
}

/** Edits one mapping; a source already mapped (same connection and kind) is a 409. */
export async function updateMapping({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; patch: UpdateMappingInput };
}): Promise<MappingView> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:admin");
  const { id, patch } = input;
  const sets: SQL[] = [sql`updated_at = now()`];
  if (patch.source !== undefined) sets.push(sql`source = ${patch.source.trim()}`);
  if (patch.target !== undefined) sets.push(sql`target = ${patch.target.trim()}`);
  if (patch.note !== undefined) sets.push(sql`note = ${patch.note}`);
  let row: MappingViewRow | undefined;
  try {
    const [result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<MappingViewRow>(sql`
        update erp_mappings set ${sql.join(sets, sql`, `)}
         where tenant_id = ${t} and id = ${id}
        returning ${MAPPING_COLUMNS}`),
    ]);
    row = result.rows[0];
  } catch (error) {
    throw mappingWriteError(error);
  }
  if (!row) throw new NotFoundError("Mapping not found");
  return toMappingView(row);
}
