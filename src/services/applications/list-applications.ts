import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, UnauthorizedError } from "../../lib/errors";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import {
  type ApplicationRow,
  type ApplicationView,
  applicationColumns,
  toApplicationView,
} from "./application-view";

export type ApplicationPage = Page<ApplicationView>;

export function reviewerTenant(ctx: ServiceContext): string {
  requirePermissionOf(ctx.principal, "applications:review");
  const tenantId = ctx.tenantId;
  if (!tenantId) throw new UnauthorizedError("Authentication required");
  return tenantId;
}

/** The tenant's staff applications, newest first, optionally by status. One round trip. */
export async function listApplications({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { page: number; pageSize: number; status?: "pending" | "approved" | "rejected" | undefined };
}): Promise<ApplicationPage> {
  const tenantId = reviewerTenant(ctx);
  const conditions: SQL[] = [sql`tenant_id = ${tenantId}`];
  if (input.status) conditions.push(sql`status = ${input.status}`);
  const where = sql.join(conditions, sql` and `);
  const offset = offsetOf(input);
  const [page, count] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ApplicationRow>(sql`
      select ${applicationColumns} from staff_applications where ${where}
       order by created_at desc, id desc limit ${input.pageSize} offset ${offset}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from staff_applications where ${where}`),
  ]);
  return toPage(page.rows.map(toApplicationView), count.rows[0]?.total, input);
}

export async function getApplication({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ApplicationView> {
  const tenantId = reviewerTenant(ctx);
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ApplicationRow>(sql`
      select ${applicationColumns} from staff_applications where tenant_id = ${tenantId} and id = ${input.id}::uuid`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Application not found");
  return toApplicationView(row);
}
