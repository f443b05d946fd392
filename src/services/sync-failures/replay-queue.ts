import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import {
  parseFailurePayload,
  type ReplayQueue,
  replayBodyOf,
  replayQueueOf,
  type SyncMessage,
} from "./failure-payload";
import type { FailureStatus } from "./failure-view";
import type { SyncOperation } from "./statements";

/** A failure just marked `replaying`, with what it was before so the mark can be undone. */
export interface MarkedReplay extends Record<string, unknown> {
  id: string;
  operation: SyncOperation;
  payload: unknown;
  replay_count: number;
  previous_status: FailureStatus;
  previous_replayed_at: string | Date | null;
}

/**
 * Undoes `replaying` marks whose message never reached the queue: status and last replay as they were,
 * the replay not counted. Only rows still carrying this mark are touched (a concurrent replay or a
 * result that arrived meanwhile wins).
 */
export async function revertReplays(
  ctx: ServiceContext,
  tenantId: string,
  marks: MarkedReplay[],
): Promise<void> {
  if (marks.length === 0) return;
  const rows = marks.map((m) => ({
    id: m.id,
    previous_status: m.previous_status,
    previous_replayed_at: m.previous_replayed_at,
    replay_count: Number(m.replay_count),
  }));
  await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute(sql`
      update sync_failures f set
        status = x.previous_status,
        replay_count = f.replay_count - 1,
        last_replayed_at = x.previous_replayed_at,
        updated_at = now()
        from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
             as x(id uuid, previous_status text, previous_replayed_at timestamptz, replay_count integer)
       where f.tenant_id = ${tenantId} and f.id = x.id and f.status = 'replaying' and f.replay_count = x.replay_count`),
  ]);
}

export interface PreparedReplay {
  mark: MarkedReplay;
  queue: ReplayQueue;
  body: SyncMessage;
}

/** Splits marked failures into those whose payload can be sent and those that must be edited first. */
export function prepareReplays(marks: MarkedReplay[]): { ready: PreparedReplay[]; invalid: MarkedReplay[] } {
  const ready: PreparedReplay[] = [];
  const invalid: MarkedReplay[] = [];
  for (const mark of marks) {
    const message = parseFailurePayload(mark.operation, mark.payload);
    if (message) ready.push({ mark, queue: replayQueueOf(mark.operation), body: replayBodyOf(message) });
    else invalid.push(mark);
  }
  return { ready, invalid };
}

/** `Queue.sendBatch` takes at most 100 messages per call. */
export const SEND_BATCH_LIMIT = 100;

/**
 * Sends prepared replays to their queues, up to 100 per call. Returns the ones whose call failed
 * (logged), so the caller reverts exactly those.
 */
export async function sendReplays(ctx: ServiceContext, replays: PreparedReplay[]): Promise<PreparedReplay[]> {
  const chunks: { queue: ReplayQueue; items: PreparedReplay[] }[] = [];
  for (const queue of ["erpPush", "channelPull"] as const) {
    const items = replays.filter((r) => r.queue === queue);
    for (let i = 0; i < items.length; i += SEND_BATCH_LIMIT) {
      chunks.push({ queue, items: items.slice(i, i + SEND_BATCH_LIMIT) });
    }
  }
  const outcomes = await Promise.all(
    chunks.map(async ({ queue, items }) => {
      try {
        if (items.length === 1 && items[0]) {
          await ctx.queues[queue].send(items[0].body, { contentType: "json" });
        } else {
          await ctx.queues[queue].sendBatch(
            items.map((r) => ({ body: r.body, contentType: "json" as const })),
          );
        }
        return [];
      } catch (error) {
        ctx.logger.error("sync failure replay not queued", {
          queue,
          count: items.length,
          error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
        });
        return items;
      }
    }),
  );
  return outcomes.flat();
}
