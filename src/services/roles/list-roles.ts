import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { ROLE_VIEW_COLUMNS, type RoleView, type RoleViewRow, toRoleView } from "./role-view";

export interface RolePage {
  items: RoleView[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

/** Roles by name with their member counts; the page and the total in one round trip. */
export async function listRoles({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { page: number; pageSize: number };
}): Promise<RolePage> {
  const { tenantId: t } = callerOf(ctx);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<RoleViewRow>(sql`
      select ${ROLE_VIEW_COLUMNS} from roles r where r.tenant_id = ${t}
       order by lower(r.name), r.id
       limit ${input.pageSize} offset ${(input.page - 1) * input.pageSize}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from roles where tenant_id = ${t}`),
  ]);
  const total = Number(count.rows[0]?.total ?? 0);
  return {
    items: items.rows.map(toRoleView),
    total,
    page: input.page,
    pageSize: input.pageSize,
    totalPages: Math.ceil(total / input.pageSize),
  };
}
