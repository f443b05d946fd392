import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ServiceUnavailableError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { failureFilters } from "./list-sync-failures";
import { type MarkedReplay, prepareReplays, revertReplays, sendReplays } from "./replay-queue";
import type { SyncOperation } from "./statements";

/** The most failures one bulk replay sends; call again for the rest. */
export const BULK_REPLAY_LIMIT = 500;

export interface ReplaySyncFailuresInput {
  /** Which unresolved failures: `open` (default) or stuck `replaying` ones. */
  status?: "open" | "replaying" | undefined;
  operation?: SyncOperation | undefined;
  connectionId?: string | undefined;
  errorKind?: string | undefined;
  ids?: string[] | undefined;
}

export interface ReplaySyncFailuresResult {
  /** Failures whose message is back on its queue. */
  replayed: number;
  /**
   * Asked for but not replayed: with `ids`, ids that are not an unresolved failure of the filter; and any
   * failure whose payload no longer parses (edit it first) or whose send failed.
   */
  skipped: number;
}

/**
 * Replays up to 500 matching failures, oldest first. One statement marks them all `replaying` (rows
 * another replay holds are skipped, not waited for), then their messages go out with `sendBatch`, at most
 * 100 per call; the marks of messages that could not be sent are undone. Nothing sent because the queue
 * is down is a 503.
 */
export async function replaySyncFailures({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ReplaySyncFailuresInput;
}): Promise<ReplaySyncFailuresResult> {
  const t = callerOf(ctx).tenantId;
  const where = sql.join(failureFilters(t, { ...input, status: [input.status ?? "open"] }), sql` and `);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<MarkedReplay>(sql`
      with picked as (
        select f.id, f.status, f.last_replayed_at from sync_failures f
         where ${where}
         order by f.created_at, f.id
         limit ${BULK_REPLAY_LIMIT}
           for update skip locked
      ), marked as (
        update sync_failures f set
          status = 'replaying', replay_count = f.replay_count + 1, last_replayed_at = now(), updated_at = now()
          from picked
         where f.tenant_id = ${t} and f.id = picked.id
        returning f.id, f.operation, f.payload, f.replay_count,
                  picked.status as previous_status, picked.last_replayed_at as previous_replayed_at
      )
      select * from marked`),
  ]);
  const marks = result.rows;
  const { ready, invalid } = prepareReplays(marks);
  const unsent = await sendReplays(ctx, ready);
  await revertReplays(ctx, t, [...invalid, ...unsent.map((r) => r.mark)]);
  if (ready.length > 0 && unsent.length === ready.length) {
    throw new ServiceUnavailableError("The replays could not be queued; try again");
  }
  const replayed = ready.length - unsent.length;
  const asked = input.ids ? new Set(input.ids.map((id) => id.toLowerCase())).size : marks.length;
  return { replayed, skipped: Math.max(0, asked - replayed) };
}
