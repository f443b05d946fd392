import { sql } from "drizzle-orm";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { removeConnectionWebhooks } from "../webhooks/register-webhooks";
import { syncCallerOf } from "./connection-view";

function stillReferenced(channelIds: string[]): ConflictError {
  return new ConflictError(
    "Sales channels still push their orders to this ERP connection; point them elsewhere first",
    { details: { channelConnectionIds: channelIds } },
  );
}

/**
 * Deletes a connection and, by cascade, everything synced through it: its streams, jobs, failures, its
 * mappings (ERP) or the orders pulled through it (channel). An ERP connection that channels still push to
 * is a 409 naming them, checked in the same statement as the delete.
 */
export async function deleteConnection({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ deleted: true }> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:admin");
  const id = input.id;
  // While the credentials still exist: take the channel's subscriptions to this connection down.
  const webhooks = await removeConnectionWebhooks(ctx, { tenantId: t, connectionId: id });
  let outcome: { deleted: boolean; referenced_by: string[] } | undefined;
  try {
    const [result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<{ deleted: boolean; referenced_by: string[] }>(sql`
        with target as (
          select id from connections where tenant_id = ${t} and id = ${id} for update
        ), referencing as (
          select c.id from connections c where c.tenant_id = ${t} and c.erp_connection_id = ${id}
        ), deleted as (
          delete from connections c using target
           where c.tenant_id = ${t} and c.id = target.id and not exists (select 1 from referencing)
          returning c.id
        )
        select exists (select 1 from deleted) as deleted,
               coalesce((select array_agg(id::text order by id) from referencing), '{}') as referenced_by
          from target`),
    ]);
    outcome = result.rows[0];
  } catch (error) {
    // A channel was pointed at this ERP connection after our statement's snapshot.
    const pg = pgErrorOf(error);
    if (pg?.code === PG_FOREIGN_KEY_VIOLATION && pg.constraint === "connections_erp_fk")
      throw stillReferenced([]);
    throw error;
  }
  if (!outcome) throw new NotFoundError("Connection not found");
  if (!outcome.deleted) throw stillReferenced(outcome.referenced_by);
  ctx.logger.info("connection deleted", {
    tenantId: t,
    connectionId: id,
    webhooksRemoved: webhooks?.removed ?? null,
  });
  return { deleted: true };
}
