import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { actingCaller } from "../orders/acting";
import {
  FAILURE_DETAIL_COLUMNS,
  type SyncFailureDetail,
  type SyncFailureDetailRow,
  toSyncFailureDetail,
} from "./failure-view";

interface ResolveRow extends SyncFailureDetailRow {
  resolved_now: boolean;
}

/**
 * A person closes a failure by hand (fixed upstream, or not worth replaying): resolution `manual`, who and
 * when, an optional note. A failure already resolved is a 409. One statement, one round trip.
 */
export async function resolveSyncFailure({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; note?: string | undefined };
}): Promise<SyncFailureDetail> {
  const { tenantId: t, actor } = actingCaller(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ResolveRow>(sql`
      with locked as (
        select id, status from sync_failures where tenant_id = ${t} and id = ${input.id} for update
      ), resolved as (
        update sync_failures f set
          status = 'resolved', resolution = 'manual', resolved_at = now(),
          resolved_by = ${JSON.stringify(actor)}::jsonb, resolution_note = ${input.note ?? null}, updated_at = now()
          from locked
         where f.tenant_id = ${t} and f.id = locked.id and locked.status <> 'resolved'
        returning f.*
      )
      select f.id is not null as resolved_now, ${FAILURE_DETAIL_COLUMNS}
        from locked left join resolved f on true`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Sync failure not found");
  if (!row.resolved_now) throw new ConflictError("This failure is already resolved");
  return toSyncFailureDetail(row);
}
