import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import {
  SYNC_JOB_COLUMNS,
  SYNC_JOB_FROM,
  type SyncJobRow,
  type SyncJobView,
  toSyncJobView,
} from "./sync-job-view";

/** One sync run: one statement, one round trip. */
export async function getSyncJob({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<SyncJobView> {
  const t = callerOf(ctx).tenantId;
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SyncJobRow>(sql`
      select ${SYNC_JOB_COLUMNS} from ${SYNC_JOB_FROM} where j.tenant_id = ${t} and j.id = ${input.id}`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Sync job not found");
  return toSyncJobView(row);
}
