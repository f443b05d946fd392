import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import type { ConnectionKind, Provider } from "./connection-config";
import {
  CONNECTION_VIEW_COLUMNS,
  type ConnectionView,
  type ConnectionViewRow,
  syncCallerOf,
  toConnectionView,
} from "./connection-view";

export interface ListConnectionsInput {
  page: number;
  pageSize: number;
  kind?: ConnectionKind | undefined;
  provider?: Provider | undefined;
  enabled?: boolean | undefined;
}

/** Connections (ERPs first, then channels, each by name) with their streams; page and total in one round trip. */
export async function listConnections({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListConnectionsInput;
}): Promise<Page<ConnectionView>> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:read");
  const filters: SQL[] = [sql`c.tenant_id = ${t}`];
  if (input.kind !== undefined) filters.push(sql`c.kind = ${input.kind}`);
  if (input.provider !== undefined) filters.push(sql`c.provider = ${input.provider}`);
  if (input.enabled !== undefined) filters.push(sql`c.enabled = ${input.enabled}`);
  const where = sql.join(filters, sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ConnectionViewRow>(sql`
      select ${CONNECTION_VIEW_COLUMNS} from connections c
       where ${where}
       order by c.kind desc, lower(c.display_name), c.id
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from connections c where ${where}`),
  ]);
  return toPage(items.rows.map(toConnectionView), count.rows[0]?.total, input);
}
