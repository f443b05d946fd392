import { type SQL, sql } from "drizzle-orm";
import { tenantContextStatement } from "../../db/tenant";
import { NotFoundError, PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { platformBatch } from "./platform-batch";
import {
  invalidateTenantCaches,
  type TenantRow,
  type TenantView,
  tenantColumns,
  toTenantView,
} from "./tenant-view";

/**
 * Moves a tenant `from` one status `to` the other in one round trip: the guarded update, a re-read that
 * tells "no such tenant" from "already in that state", and — under the tenant's own context, since the
 * platform context sees only `tenants` — the hashes of its live API keys, whose cached auth records
 * carry the tenant status and must be dropped with the tenant's own cache entries.
 */
export async function changeTenantStatus(
  ctx: ServiceContext,
  input: { id: string; from: "active" | "suspended"; to: "active" | "suspended"; settings: SQL },
): Promise<TenantView> {
  const [updated, current, , keys] = await platformBatch(ctx.db.http, (db) => [
    db.execute<TenantRow>(sql`
      update tenants set status = ${input.to}, settings = ${input.settings}, updated_at = now()
       where id = ${input.id}::uuid and status = ${input.from}
      returning ${tenantColumns}`),
    db.execute<{ status: string }>(sql`select status from tenants where id = ${input.id}::uuid`),
    db.execute(tenantContextStatement(input.id)),
    db.execute<{ key_hash: string }>(sql`
      select key_hash from api_keys
       where tenant_id = ${input.id}::uuid and revoked_at is null and (expires_at is null or expires_at > now())`),
  ]);
  const row = updated.rows[0];
  if (!row) {
    if (!current.rows[0]) throw new NotFoundError("Tenant not found");
    throw new PreconditionFailedError(`Tenant is already ${input.to === "active" ? "active" : "suspended"}`);
  }
  await invalidateTenantCaches(
    ctx,
    { id: row.id, slug: row.slug },
    keys.rows.map((k) => k.key_hash),
    input.to === "active" ? "tenant-reactivated" : "tenant-suspended",
  );
  return toTenantView(row);
}
