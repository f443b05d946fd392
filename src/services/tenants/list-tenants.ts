import { type SQL, sql } from "drizzle-orm";
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

export interface TenantPage {
  items: TenantView[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

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
  const offset = (input.page - 1) * input.pageSize;
  const [page, count] = await platformBatch(ctx.db.http, (db) => [
    db.execute<TenantRow>(sql`
      select ${tenantColumns} from tenants where ${where}
       order by created_at desc, id desc limit ${input.pageSize} offset ${offset}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from tenants where ${where}`),
  ]);
  const total = Number(count.rows[0]?.total ?? 0);
  return {
    items: page.rows.map(toTenantView),
    total,
    page: input.page,
    pageSize: input.pageSize,
    totalPages: Math.ceil(total / input.pageSize),
  };
}

/** `%`, `_` and `\` match literally in the search text. */
export function escapeLike(value: string): string {
  return value.replace(/[\\%_]/g, (c) => `\\${c}`);
}
