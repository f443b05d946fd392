import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError, ServiceUnavailableError, ValidationError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import {
  FAILURE_DETAIL_COLUMNS,
  type FailureStatus,
  type SyncFailureDetail,
  type SyncFailureDetailRow,
  toSyncFailureDetail,
} from "./failure-view";
import { type MarkedReplay, prepareReplays, revertReplays, sendReplays } from "./replay-queue";

interface ReplayRow extends SyncFailureDetailRow {
  previous_status: FailureStatus;
  previous_replayed_at: string | Date | null;
  marked: boolean;
}

/**
 * Sends a failure's payload back to its queue (push → `erp-push`, pull and write-back → `channel-pull`)
 * marked `trigger: "replay"`. The database is written first (status `replaying`, one more replay, the
 * time): a message in the queue is always one the database knows about. When the send fails the mark is
 * undone and the answer is a 503; a resolved failure is a 409; a payload that no longer parses is a 422
 * (edit it first).
 */
export async function replaySyncFailure({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<SyncFailureDetail> {
  const t = callerOf(ctx).tenantId;
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ReplayRow>(sql`
      with locked as (
        select id, status, last_replayed_at from sync_failures
         where tenant_id = ${t} and id = ${input.id}
           for update
      ), marked as (
        update sync_failures f set
          status = 'replaying', replay_count = f.replay_count + 1, last_replayed_at = now(), updated_at = now()
          from locked
         where f.tenant_id = ${t} and f.id = locked.id and locked.status <> 'resolved'
        returning f.*
      )
      select locked.status as previous_status, locked.last_replayed_at as previous_replayed_at,
             f.id is not null as marked, ${FAILURE_DETAIL_COLUMNS}
        from locked left join marked f on true`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Sync failure not found");
  if (!row.marked) throw new ConflictError("This failure is resolved; there is nothing to replay");

  const mark: MarkedReplay = {
    id: row.id,
    operation: row.operation,
    payload: row.payload,
    replay_count: row.replay_count,
    previous_status: row.previous_status,
    previous_replayed_at: row.previous_replayed_at,
  };
  const { ready, invalid } = prepareReplays([mark]);
  if (invalid.length > 0) {
    await revertReplays(ctx, t, invalid);
    throw new ValidationError("The failure's payload is not a valid message; edit it before replaying", {
      payload: [`Not a valid ${row.operation} message`],
    });
  }
  const unsent = await sendReplays(ctx, ready);
  if (unsent.length > 0) {
    await revertReplays(
      ctx,
      t,
      unsent.map((r) => r.mark),
    );
    throw new ServiceUnavailableError("The replay could not be queued; try again");
  }
  return toSyncFailureDetail(row);
}
