import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import { syncCallerOf } from "../connections/connection-view";
import type { ServiceContext } from "../context";
import { escapeLike } from "../users/list-users";
import {
  assertErpConnection,
  MAPPING_COLUMNS,
  type MappingKind,
  type MappingView,
  type MappingViewRow,
  selectConnectionKind,
  toMappingView,
} from "./mapping-view";

export interface ListMappingsInput {
  connectionId: string;
  page: number;
  pageSize: number;
  kind?: MappingKind | undefined;
  /** Case-insensitive substring of `source`. */
  search?: string | undefined;
}

/** An ERP connection's mappings by kind and source; the connection check, page and total in one round trip. */
export async function listMappings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListMappingsInput;
}): Promise<Page<MappingView>> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:read");
  const filters: SQL[] = [sql`tenant_id = ${t}`, sql`erp_connection_id = ${input.connectionId}`];
  if (input.kind !== undefined) filters.push(sql`kind = ${input.kind}`);
  const search = input.search?.trim();
  if (search) filters.push(sql`source ilike '%' || ${escapeLike(search)} || '%'`);
  const where = sql.join(filters, sql` and `);
  const [connection, items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ kind: "channel" | "erp" }>(selectConnectionKind(t, input.connectionId)),
    db.execute<MappingViewRow>(sql`
      select ${MAPPING_COLUMNS} from erp_mappings
       where ${where}
       order by kind, source, id
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from erp_mappings where ${where}`),
  ]);
  assertErpConnection(connection.rows[0]?.kind);
  return toPage(items.rows.map(toMappingView), count.rows[0]?.total, input);
}
