import { and, eq, inArray, ne, type SQL, sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";
import { syncFailures } from "../../db/schema";
import type { Actor } from "../context";

export type SyncOperation = "pull" | "push" | "writeback";
export type FailureKind = "permanent" | "auth" | "exhausted" | "invalid";

export interface SyncFailureInput {
  tenantId: string;
  /** A value, or a scalar subquery when only the database knows it (a shipment's channel connection). */
  connectionId: string | null | SQL;
  operation: SyncOperation;
  /** Same work failing again shares a fingerprint: `push:<orderId>`, `pull:<connectionId>:<resource>`, … */
  fingerprint: string;
  orderId?: string | null | SQL;
  /** The queue message that failed, as it would be replayed. */
  payload: Record<string, unknown>;
  errorKind: FailureKind;
  error: string;
  attempts?: number;
}

/** Keep the history bounded: the first errors explain the cause, the last ones the present. */
export const MAX_ERRORS_KEPT = 20;

/**
 * One open failure per fingerprint: a repeat adds its error to the history of the open row (status back
 * to `open` if it was being replayed, payload replaced by the newest message) instead of a duplicate row.
 * A statement, so callers put it in the same batch as the work it reports on.
 */
export function upsertSyncFailure(db: HttpDb, input: SyncFailureInput) {
  const entry = {
    at: new Date().toISOString(),
    kind: input.errorKind,
    error: input.error.slice(0, 2000),
    ...(input.attempts === undefined ? {} : { attempts: input.attempts }),
  };
  return db
    .insert(syncFailures)
    .values({
      tenantId: input.tenantId,
      connectionId: input.connectionId,
      operation: input.operation,
      fingerprint: input.fingerprint,
      orderId: input.orderId ?? null,
      payload: input.payload,
      errorKind: input.errorKind,
      lastError: entry.error,
      errors: [entry],
    })
    .onConflictDoUpdate({
      target: [syncFailures.tenantId, syncFailures.fingerprint],
      targetWhere: sql`${syncFailures.status} <> 'resolved'`,
      set: {
        status: "open",
        payload: sql`excluded.payload`,
        errorKind: sql`excluded.error_kind`,
        lastError: sql`excluded.last_error`,
        occurrences: sql`${syncFailures.occurrences} + 1`,
        // The newest MAX_ERRORS_KEPT entries, oldest first.
        errors: sql`(select coalesce(jsonb_agg(e order by n), '[]'::jsonb) from (
          select e, n from jsonb_array_elements(${syncFailures.errors} || excluded.errors) with ordinality as x(e, n)
          order by n desc limit ${MAX_ERRORS_KEPT}) kept)`,
        updatedAt: sql`now()`,
      },
    });
}

/**
 * The work behind these fingerprints succeeded: their open (or replaying) failures are resolved. A replay
 * that succeeded resolves as `replayed`; a later run that succeeded on its own as `superseded`.
 */
export function resolveSyncFailures(
  db: HttpDb,
  input: { tenantId: string; fingerprints: string[]; actor: Actor },
) {
  return db
    .update(syncFailures)
    .set({
      status: "resolved",
      resolution: sql`case when ${syncFailures.status} = 'replaying' then 'replayed' else 'superseded' end`,
      resolvedAt: sql`now()`,
      resolvedBy: input.actor,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(syncFailures.tenantId, input.tenantId),
        inArray(syncFailures.fingerprint, input.fingerprints.length > 0 ? input.fingerprints : [""]),
        ne(syncFailures.status, "resolved"),
      ),
    );
}
