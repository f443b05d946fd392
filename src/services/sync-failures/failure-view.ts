import { type SQL, sql } from "drizzle-orm";
import { jsonOf } from "../orders/order-view";
import { isoOf, isoOrNull } from "../users/caller";
import type { SyncOperation } from "./statements";

export const SYNC_OPERATIONS = ["pull", "push", "writeback"] as const satisfies readonly SyncOperation[];
export const FAILURE_STATUSES = ["open", "replaying", "resolved"] as const;
export type FailureStatus = (typeof FAILURE_STATUSES)[number];
export const FAILURE_KINDS = ["permanent", "auth", "exhausted", "invalid"] as const;
export const FAILURE_RESOLUTIONS = ["replayed", "manual", "duplicate", "superseded"] as const;
export type FailureResolution = (typeof FAILURE_RESOLUTIONS)[number];

/** A failure in lists: what failed and what became of it, without the payload and the error history. */
export interface SyncFailureSummary {
  id: string;
  connectionId: string | null;
  operation: SyncOperation;
  fingerprint: string;
  orderId: string | null;
  /** The `type` of the failed message (`orders.push`, `stream.run`, …). */
  messageType: string | null;
  status: FailureStatus;
  resolution: FailureResolution | null;
  errorKind: string;
  lastError: string;
  occurrences: number;
  replayCount: number;
  lastReplayedAt: string | null;
  resolvedAt: string | null;
  resolvedBy: Record<string, unknown> | null;
  resolutionNote: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface SyncFailureDetail extends SyncFailureSummary {
  /** The queue message as it will be replayed; editable while the failure is not resolved. */
  payload: Record<string, unknown>;
  /** Oldest first: errors seen (`kind` = error kind) and edits (`kind: "edited"`, `by`). */
  errors: Record<string, unknown>[];
}

type Timestamp = string | Date;

export interface SyncFailureRow extends Record<string, unknown> {
  id: string;
  connection_id: string | null;
  operation: SyncOperation;
  fingerprint: string;
  order_id: string | null;
  message_type: string | null;
  status: FailureStatus;
  resolution: FailureResolution | null;
  error_kind: string;
  last_error: string;
  occurrences: number;
  replay_count: number;
  last_replayed_at: Timestamp | null;
  resolved_at: Timestamp | null;
  resolved_by: Record<string, unknown> | string | null;
  resolution_note: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface SyncFailureDetailRow extends SyncFailureRow {
  payload: Record<string, unknown> | string;
  errors: Record<string, unknown>[] | string;
}

/** Columns of `SyncFailureSummary` over `sync_failures f`. */
export const FAILURE_SUMMARY_COLUMNS: SQL = sql`
  f.id, f.connection_id, f.operation, f.fingerprint, f.order_id, f.payload->>'type' as message_type,
  f.status, f.resolution, f.error_kind, f.last_error, f.occurrences, f.replay_count, f.last_replayed_at,
  f.resolved_at, f.resolved_by, f.resolution_note, f.created_at, f.updated_at`;

export const FAILURE_DETAIL_COLUMNS: SQL = sql`${FAILURE_SUMMARY_COLUMNS}, f.payload, f.errors`;

export function toSyncFailureSummary(row: SyncFailureRow): SyncFailureSummary {
  return {
    id: row.id,
    connectionId: row.connection_id,
    operation: row.operation,
    fingerprint: row.fingerprint,
    orderId: row.order_id,
    messageType: row.message_type,
    status: row.status,
    resolution: row.resolution,
    errorKind: row.error_kind,
    lastError: row.last_error,
    occurrences: Number(row.occurrences),
    replayCount: Number(row.replay_count),
    lastReplayedAt: isoOrNull(row.last_replayed_at),
    resolvedAt: isoOrNull(row.resolved_at),
    resolvedBy: row.resolved_by === null ? null : jsonOf(row.resolved_by),
    resolutionNote: row.resolution_note,
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

export function toSyncFailureDetail(row: SyncFailureDetailRow): SyncFailureDetail {
  return { ...toSyncFailureSummary(row), payload: jsonOf(row.payload), errors: jsonOf(row.errors) };
}

/** One failure of the tenant, whole, as a full statement. */
export function selectSyncFailure(tenantId: string, id: string): SQL {
  return sql`select ${FAILURE_DETAIL_COLUMNS} from sync_failures f where f.tenant_id = ${tenantId} and f.id = ${id}`;
}
