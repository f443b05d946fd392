import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import { syncCallerOf } from "../connections/connection-view";
import type { ServiceContext } from "../context";

/** Removes one mapping; pushes from then on use the channel's value as is (or fail, per `requireSkuMapping`). */
export async function deleteMapping({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ deleted: true }> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:admin");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ id: string }>(
      sql`delete from erp_mappings where tenant_id = ${t} and id = ${input.id} returning id`,
    ),
  ]);
  if (!result.rows[0]) throw new NotFoundError("Mapping not found");
  return { deleted: true };
}
