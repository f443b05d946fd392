import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { ROLE_VIEW_COLUMNS, type RoleView, type RoleViewRow, toRoleView } from "./role-view";

export type RolePage = Page<RoleView>;

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
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from roles where tenant_id = ${t}`),
  ]);
  return toPage(items.rows.map(toRoleView), count.rows[0]?.total, input);
}
