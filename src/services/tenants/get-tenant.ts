import { sql } from "drizzle-orm";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { platformAdminOf, platformBatch } from "./platform-batch";
import { type TenantRow, type TenantView, tenantColumns, toTenantView } from "./tenant-view";

export async function getTenant({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<TenantView> {
  platformAdminOf(ctx);
  const [result] = await platformBatch(ctx.db.http, (db) => [
    db.execute<TenantRow>(sql`select ${tenantColumns} from tenants where id = ${input.id}::uuid`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Tenant not found");
  return toTenantView(row);
}
