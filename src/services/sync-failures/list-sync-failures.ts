import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { type TimeRange, timeRangeFilters } from "../orders/time-range";
import { callerOf } from "../users/caller";
import { escapeLike } from "../users/list-users";
import {
  FAILURE_SUMMARY_COLUMNS,
  type FailureStatus,
  type SyncFailureRow,
  type SyncFailureSummary,
  toSyncFailureSummary,
} from "./failure-view";
import type { SyncOperation } from "./statements";

/** The filters shared by the list and the bulk replay. */
export interface SyncFailureFilter {
  /** Default: the unresolved ones (`open` and `replaying`). */
  status?: FailureStatus[] | undefined;
  operation?: SyncOperation | undefined;
  connectionId?: string | undefined;
  errorKind?: string | undefined;
  /** On when the failure was first recorded. */
  created?: TimeRange | undefined;
  /** Case-insensitive substring of the last error. */
  search?: string | undefined;
  ids?: string[] | undefined;
}

export const UNRESOLVED: FailureStatus[] = ["open", "replaying"];

/** SQL conditions over `sync_failures f`. */
export function failureFilters(tenantId: string, filter: SyncFailureFilter): SQL[] {
  const status = filter.status && filter.status.length > 0 ? [...new Set(filter.status)] : UNRESOLVED;
  const filters: SQL[] = [sql`f.tenant_id = ${tenantId}`, sql`f.status = any(${sql.param(status)}::text[])`];
  if (filter.operation !== undefined) filters.push(sql`f.operation = ${filter.operation}`);
  if (filter.connectionId !== undefined) filters.push(sql`f.connection_id = ${filter.connectionId}`);
  if (filter.errorKind !== undefined) filters.push(sql`f.error_kind = ${filter.errorKind}`);
  if (filter.created) filters.push(...timeRangeFilters(sql`f.created_at`, filter.created));
  const search = filter.search?.trim();
  if (search) filters.push(sql`f.last_error ilike ${`%${escapeLike(search)}%`}`);
  if (filter.ids !== undefined) filters.push(sql`f.id = any(${sql.param([...new Set(filter.ids)])}::uuid[])`);
  return filters;
}

/**
 * The tenant's sync failures, newest first; unresolved ones unless `status` says otherwise. Items leave
 * out the payload and the error history (see the detail). One round trip.
 */
export async function listSyncFailures({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: SyncFailureFilter & { page: number; pageSize: number };
}): Promise<Page<SyncFailureSummary>> {
  const t = callerOf(ctx).tenantId;
  const where = sql.join(failureFilters(t, input), sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SyncFailureRow>(sql`
      select ${FAILURE_SUMMARY_COLUMNS} from sync_failures f
       where ${where}
       order by f.created_at desc, f.id desc
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: string }>(sql`select count(*)::text as total from sync_failures f where ${where}`),
  ]);
  return toPage(items.rows.map(toSyncFailureSummary), count.rows[0]?.total, input);
}
