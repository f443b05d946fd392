import { type SQL, sql } from "drizzle-orm";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { platformAdminOf, platformBatch } from "./platform-batch";
import { type TenantRow, type TenantView, tenantColumns, toTenantView } from "./tenant-view";

export interface ListTenantsInput {
  page: number;
  pageSize: number;
  status?: "active" | "suspended" | undefined;
  /** Case-insensitive substring of the slug or the name. */
  search?: string | undefined;
}

export type TenantPage = Page<TenantView>;

/** Every tenant, newest first, for platform administrators. One round trip (page and count together). */
export async function listTenants({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListTenantsInput;
}): Promise<TenantPage> {
  platformAdminOf(ctx);
  const conditions: SQL[] = [sql`true`];
  if (input.status) conditions.push(sql`status = ${input.status}`);
  const search = input.search?.trim().toLowerCase();
  if (search) {
    const pattern = `%${escapeLike(search)}%`;
    conditions.push(sql`(slug like ${pattern} or lower(name) like ${pattern})`);
  }
  const where = sql.join(conditions, sql` and `);
  const offset = offsetOf(input);
  const [page, count] = await platformBatch(ctx.db.http, (db) => [
    db.execute<TenantRow>(sql`
      select ${tenantColumns} from tenants where ${where}
       order by created_at desc, id desc limit ${input.pageSize} offset ${offset}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from tenants where ${where}`),
  ]);
  return toPage(page.rows.map(toTenantView), count.rows[0]?.total, input);
}

/** `%`, `_` and `\` match literally in the search text. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
