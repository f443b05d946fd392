import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { callerOf } from "./caller";
import { toUserView, USER_VIEW_COLUMNS, USER_VIEW_FROM, type UserView, type UserViewRow } from "./user-view";

export const USER_SORTS = ["createdAt", "-createdAt", "email", "-email", "fullName", "-fullName"] as const;
export type UserSort = (typeof USER_SORTS)[number];

export interface ListUsersInput {
  page: number;
  pageSize: number;
  search?: string | undefined;
  active?: boolean | undefined;
  organizationId?: string | undefined;
  roleId?: string | undefined;
  superuser?: boolean | undefined;
  sort?: UserSort | undefined;
}

export type UserPage = Page<UserView>;

const ORDER: Record<UserSort, SQL> = {
  createdAt: sql`u.created_at asc, u.id asc`,
  "-createdAt": sql`u.created_at desc, u.id desc`,
  email: sql`u.email asc nulls last, u.id asc`,
  "-email": sql`u.email desc nulls last, u.id desc`,
  fullName: sql`lower(u.full_name) asc, u.id asc`,
  "-fullName": sql`lower(u.full_name) desc, u.id desc`,
};

/** `%` and `_` typed by the caller are literal characters, not wildcards (`\` is LIKE's escape). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/**
 * A page of live users with their roles and organization. One round trip: the page and the total are
 * two statements of one batch. `search` is a substring match over name, email and username through the
 * expression the trigram index `users_search_trgm_idx` is built on.
 */
export async function listUsers({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListUsersInput;
}): Promise<UserPage> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  const filters: SQL[] = [sql`u.tenant_id = ${t}`, sql`u.deleted_at is null`];
  const search = input.search?.trim();
  if (search) {
    filters.push(
      sql`user_search_text(u.full_name, u.email, u.username) like '%' || lower(${escapeLike(search)}) || '%'`,
    );
  }
  if (input.active !== undefined) filters.push(sql`u.active = ${input.active}`);
  if (input.superuser !== undefined) filters.push(sql`u.superuser = ${input.superuser}`);
  if (input.organizationId !== undefined) filters.push(sql`u.organization_id = ${input.organizationId}`);
  if (input.roleId !== undefined) {
    filters.push(sql`exists (select 1 from user_roles ur
                              where ur.tenant_id = u.tenant_id and ur.user_id = u.id and ur.role_id = ${input.roleId})`);
  }
  const where = sql.join(filters, sql` and `);
  const offset = offsetOf(input);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<UserViewRow>(sql`
      select ${USER_VIEW_COLUMNS} from ${USER_VIEW_FROM}
       where ${where}
       order by ${ORDER[input.sort ?? "createdAt"]}
       limit ${input.pageSize} offset ${offset}`),
    db.execute<{ total: string }>(sql`select count(*)::text as total from users u where ${where}`),
  ]);
  return toPage(items.rows.map(toUserView), count.rows[0]?.total, input);
}
