import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ValidationError } from "../../lib/errors";
import { syncCallerOf } from "../connections/connection-view";
import type { ServiceContext } from "../context";
import type { MappingInput } from "./create-mapping";
import { assertErpConnection, selectConnectionKind } from "./mapping-view";

export const MAX_MAPPINGS_PER_PUT = 500;

export interface PutMappingsResult {
  /** Sources that had no mapping of their kind. */
  created: number;
  /** Existing mappings whose target or note changed. */
  updated: number;
  /** Existing mappings already exactly as given. */
  unchanged: number;
}

/**
 * Creates or replaces up to 500 mappings of an ERP connection in one statement (an import from a
 * spreadsheet). A mapping given replaces the stored one's target and note (an omitted note clears it);
 * mappings not given are left alone. The same kind and source twice in one request is a 422.
 */
export async function putMappings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { connectionId: string; mappings: MappingInput[] };
}): Promise<PutMappingsResult> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:admin");
  const rows = input.mappings.map((m) => ({
    kind: m.kind,
    source: m.source.trim(),
    target: m.target.trim(),
    note: m.note ?? null,
  }));
  if (rows.length > MAX_MAPPINGS_PER_PUT) {
    throw new ValidationError("Too many mappings", {
      mappings: [`At most ${MAX_MAPPINGS_PER_PUT} per request`],
    });
  }
  // Postgres refuses to upsert one row twice in a statement; say which entries repeat instead.
  const firstIndex = new Map<string, number>();
  const repeats: Record<string, string[]> = {};
  rows.forEach((row, index) => {
    const key = `${row.kind}\u0000${row.source}`;
    const first = firstIndex.get(key);
    if (first === undefined) firstIndex.set(key, index);
    else repeats[`mappings.${index}.source`] = [`Repeats mappings.${first} (same kind and source)`];
  });
  if (Object.keys(repeats).length > 0) throw new ValidationError("Repeated mappings", repeats);

  const [upserted, connection] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ created: boolean }>(sql`
      insert into erp_mappings (tenant_id, erp_connection_id, kind, source, target, note)
      select c.tenant_id, c.id, m.kind, m.source, m.target, m.note
        from connections c
       cross join jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
             as m(kind text, source text, target text, note text)
       where c.tenant_id = ${t} and c.id = ${input.connectionId} and c.kind = 'erp'
      on conflict (tenant_id, erp_connection_id, kind, source) do update
         set target = excluded.target, note = excluded.note, updated_at = now()
       where erp_mappings.target is distinct from excluded.target
          or erp_mappings.note is distinct from excluded.note
      returning (xmax = 0) as created`),
    db.execute<{ kind: "channel" | "erp" }>(selectConnectionKind(t, input.connectionId)),
  ]);
  assertErpConnection(connection.rows[0]?.kind);
  const created = upserted.rows.filter((r) => r.created).length;
  const updated = upserted.rows.length - created;
  return { created, updated, unchanged: rows.length - created - updated };
}
