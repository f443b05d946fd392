import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { actingCaller } from "../orders/acting";
import { checkEditedPayload } from "./failure-payload";
import {
  FAILURE_DETAIL_COLUMNS,
  type FailureStatus,
  type SyncFailureDetail,
  type SyncFailureDetailRow,
  toSyncFailureDetail,
} from "./failure-view";
import { MAX_ERRORS_KEPT, type SyncOperation } from "./statements";

interface CurrentRow extends Record<string, unknown> {
  status: FailureStatus;
  operation: SyncOperation;
  order_id: string | null;
  connection_id: string | null;
  payload: unknown;
}

const RESOLVED_MESSAGE = "This failure is resolved; its payload can no longer change";

/**
 * A person fixes the message a failure will replay. The new payload must be a valid message of the
 * failure's operation about the same work (`checkEditedPayload`: 422 naming `payload.<field>`); a resolved
 * failure is a 409. The edit is recorded in the failure's history as `{ at, kind: "edited", by }`.
 * Two round trips: the failure is read to know which schema applies, then written only if still unresolved.
 */
export async function editSyncFailure({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; payload: Record<string, unknown> };
}): Promise<SyncFailureDetail> {
  const { tenantId: t, actor } = actingCaller(ctx);
  const [current] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<CurrentRow>(sql`
      select status, operation, order_id, connection_id, payload from sync_failures
       where tenant_id = ${t} and id = ${input.id}`),
  ]);
  const row = current.rows[0];
  if (!row) throw new NotFoundError("Sync failure not found");
  if (row.status === "resolved") throw new ConflictError(RESOLVED_MESSAGE);
  const message = checkEditedPayload(
    {
      tenantId: t,
      operation: row.operation,
      orderId: row.order_id,
      connectionId: row.connection_id,
      payload: row.payload,
    },
    input.payload,
  );
  const entry = [{ at: new Date().toISOString(), kind: "edited", by: actor }];
  const [updated] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SyncFailureDetailRow>(sql`
      with edited as (
        update sync_failures f set
          payload = ${JSON.stringify(message)}::jsonb,
          errors = (select coalesce(jsonb_agg(e order by n), '[]'::jsonb) from (
                      select e, n from jsonb_array_elements(f.errors || ${JSON.stringify(entry)}::jsonb)
                             with ordinality as x(e, n)
                       order by n desc limit ${MAX_ERRORS_KEPT}) kept),
          updated_at = now()
         where f.tenant_id = ${t} and f.id = ${input.id} and f.status <> 'resolved'
        returning f.*
      )
      select ${FAILURE_DETAIL_COLUMNS} from edited f`),
  ]);
  const result = updated.rows[0];
  // Resolved between the read and the write (a replay succeeded meanwhile).
  if (!result) throw new ConflictError(RESOLVED_MESSAGE);
  return toSyncFailureDetail(result);
}
