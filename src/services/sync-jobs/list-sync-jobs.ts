import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { SyncTrigger } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";
import { type TimeRange, timeRangeFilters } from "../orders/time-range";
import { callerOf } from "../users/caller";
import {
  SYNC_JOB_COLUMNS,
  SYNC_JOB_FROM,
  type SyncJobRow,
  type SyncJobStatus,
  type SyncJobType,
  type SyncJobView,
  toSyncJobView,
} from "./sync-job-view";

export interface ListSyncJobsInput {
  page: number;
  pageSize: number;
  connectionId?: string | undefined;
  type?: SyncJobType | undefined;
  status?: SyncJobStatus | undefined;
  trigger?: SyncTrigger | undefined;
  /** On the job's creation time. */
  created?: TimeRange | undefined;
}

/** The tenant's sync runs, newest first. One round trip: the page and the total in one batch. */
export async function listSyncJobs({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListSyncJobsInput;
}): Promise<Page<SyncJobView>> {
  const t = callerOf(ctx).tenantId;
  const filters: SQL[] = [sql`j.tenant_id = ${t}`];
  if (input.connectionId !== undefined) filters.push(sql`j.connection_id = ${input.connectionId}`);
  if (input.type !== undefined) filters.push(sql`j.type = ${input.type}`);
  if (input.status !== undefined) filters.push(sql`j.status = ${input.status}`);
  if (input.trigger !== undefined) filters.push(sql`j.trigger = ${input.trigger}`);
  if (input.created) filters.push(...timeRangeFilters(sql`j.created_at`, input.created));
  const where = sql.join(filters, sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SyncJobRow>(sql`
      select ${SYNC_JOB_COLUMNS} from ${SYNC_JOB_FROM}
       where ${where}
       order by j.created_at desc, j.id desc
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: string }>(sql`select count(*)::text as total from sync_jobs j where ${where}`),
  ]);
  return toPage(items.rows.map(toSyncJobView), count.rows[0]?.total, input);
}
