import { type SQL, sql } from "drizzle-orm";
import type { SyncTrigger } from "../../queues/hub-messages";
import { jsonOf } from "../orders/order-view";
import { isoOf, isoOrNull } from "../users/caller";

export const SYNC_JOB_TYPES = ["pull", "backfill", "push", "writeback"] as const;
export type SyncJobType = (typeof SYNC_JOB_TYPES)[number];
/** `skipped`: another run of the same stream was under way and covers this one. */
export const SYNC_JOB_STATUSES = ["queued", "running", "succeeded", "failed", "skipped"] as const;
export type SyncJobStatus = (typeof SYNC_JOB_STATUSES)[number];

/** One pull, backfill, push or write-back run, with the connection it ran for. */
export interface SyncJobView {
  id: string;
  connectionId: string;
  connection: { provider: string; kind: "channel" | "erp"; displayName: string };
  type: SyncJobType;
  resource: string;
  trigger: SyncTrigger;
  status: SyncJobStatus;
  attempts: number;
  itemsProcessed: number;
  pages: number;
  params: Record<string, unknown>;
  cursor: Record<string, unknown> | null;
  lastError: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  /** finishedAt − startedAt; null until both are known. */
  durationMs: number | null;
  createdAt: string;
  updatedAt: string;
}

type Timestamp = string | Date;

export interface SyncJobRow extends Record<string, unknown> {
  id: string;
  connection_id: string;
  provider: string;
  kind: "channel" | "erp";
  display_name: string;
  type: SyncJobType;
  resource: string;
  trigger: SyncTrigger;
  status: SyncJobStatus;
  attempts: number;
  items_processed: number;
  pages: number;
  params: Record<string, unknown> | string;
  cursor: Record<string, unknown> | string | null;
  last_error: string | null;
  started_at: Timestamp | null;
  finished_at: Timestamp | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export const SYNC_JOB_COLUMNS: SQL = sql`
  j.id, j.connection_id, c.provider, c.kind, c.display_name, j.type, j.resource, j.trigger, j.status,
  j.attempts, j.items_processed, j.pages, j.params, j.cursor, j.last_error, j.started_at, j.finished_at,
  j.created_at, j.updated_at`;

export const SYNC_JOB_FROM: SQL = sql`
  sync_jobs j join connections c on c.tenant_id = j.tenant_id and c.id = j.connection_id`;

export function toSyncJobView(row: SyncJobRow): SyncJobView {
  const startedAt = isoOrNull(row.started_at);
  const finishedAt = isoOrNull(row.finished_at);
  return {
    id: row.id,
    connectionId: row.connection_id,
    connection: { provider: row.provider, kind: row.kind, displayName: row.display_name },
    type: row.type,
    resource: row.resource,
    trigger: row.trigger,
    status: row.status,
    attempts: Number(row.attempts),
    itemsProcessed: Number(row.items_processed),
    pages: Number(row.pages),
    params: jsonOf(row.params),
    cursor: row.cursor === null ? null : jsonOf(row.cursor),
    lastError: row.last_error,
    startedAt,
    finishedAt,
    durationMs:
      startedAt !== null && finishedAt !== null ? Date.parse(finishedAt) - Date.parse(startedAt) : null,
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}
