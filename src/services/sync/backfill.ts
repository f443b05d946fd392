import { sql } from "drizzle-orm";
import * as z from "zod";
import { hasBulkExport, type OrdersPage } from "../../adapters/channels/interface";
import { tenantBatch } from "../../db/tenant";
import type { Order } from "../../domain/commerce";
import { UpstreamError } from "../../lib/errors";
import type { ChannelPullMessage } from "../../queues/hub-messages";
import { loadConnectionForSync } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import { backfillFailureFingerprint } from "../sync-failures/fingerprints";
import { resolveSyncFailures, upsertSyncFailure } from "../sync-failures/statements";
import { channelAdapterFor, channelSettingsOf, type SyncConnection } from "./adapters";
import { enqueueOrderPushes } from "./enqueue";
import { errorKindOf, errorText } from "./failure-kind";
import { orderPullFailureFingerprint, setAsideOrderStatement } from "./pull-orders";
import { storeOrdersStatements } from "./store-orders";

type BackfillMessage = Extract<ChannelPullMessage, { type: "orders.backfill" }>;

const BUDGET_MS = 20_000;
const STORE_CHUNK = 250;
const BULK_POLL_SECONDS = 10;

/**
 * A backfill of a channel's orders from a date, apart from the stream's checkpoint (so it never disturbs
 * the incremental pulls). `paged` walks the orders query page by page, handing over to a new message with
 * its cursor when its time is up; `bulk` starts the channel's bulk export, polls it with delayed messages,
 * then reads its result file a chunk of orders at a time (never the whole file: a large shop's export
 * exceeds a Worker's memory), saving the byte where the next chunk starts with each chunk stored and
 * handing over to a new message at that byte when its time is up. Channels without a bulk export run
 * `bulk` backfills as `paged` ones. Stored orders go through the same upsert as every pull.
 */
export async function runBackfill({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: BackfillMessage;
}): Promise<{ status: "done" | "continued" | "failed"; orders: number }> {
  const connection = await loadConnectionForSync({
    ctx,
    input: { tenantId: input.tenantId, connectionId: input.connectionId },
  });
  const adapter = channelAdapterFor(ctx, connection);
  const started = Date.now();
  const job = await markJob(ctx, input, { status: "running" });
  try {
    // A channel without a bulk export (TikTok Shop) serves a `bulk` backfill page by page, resuming
    // from the message's cursor like a `paged` one.
    if (input.mode === "bulk" && hasBulkExport(adapter)) {
      // Without `byte`, an operation id comes from a message older than grouped exports: its file cannot
      // be read a chunk at a time, so the export starts again.
      if (input.bulkOperationId === undefined || input.byte === undefined) {
        const { operationId } = await adapter.startOrdersBulkExport({ updatedSince: input.since });
        await markJob(ctx, input, { status: "running", cursor: { bulkOperationId: operationId, byte: 0 } });
        await ctx.queues.channelPull.send(
          { ...input, bulkOperationId: operationId, byte: 0 },
          { delaySeconds: BULK_POLL_SECONDS },
        );
        return { status: "continued", orders: 0 };
      }
      const bulkOperationId = input.bulkOperationId;
      // Asked again on every message rather than carried along: the signed URL is a bearer credential to
      // the shop's orders, and Shopify hands out a fresh one as long as the results exist (7 days).
      const state = await adapter.getBulkExport(bulkOperationId);
      if (state.status === "created" || state.status === "running") {
        await ctx.queues.channelPull.send(input, { delaySeconds: BULK_POLL_SECONDS });
        return { status: "continued", orders: 0 };
      }
      if (state.status !== "completed") {
        throw new UpstreamError(
          `bulk export ${state.status}${state.errorCode ? ` (${state.errorCode})` : ""}`,
          {
            upstream: connection.provider,
            retryable: false,
          },
        );
      }
      let byte = state.url === null ? null : resumeByte(job.cursor, bulkOperationId, input.byte);
      let stored = 0;
      while (state.url !== null && byte !== null) {
        const chunk = await adapter.readBulkExportOrders({
          url: state.url,
          fromByte: byte,
          maxOrders: STORE_CHUNK,
        });
        // The byte is saved with the chunk's orders, in one transaction: a crash before it re-reads this
        // chunk (upserts of equal updates change nothing), a crash after it resumes at the next one.
        await storeChunk(ctx, connection, input, {
          orders: chunk.orders,
          rejected: chunk.rejected,
          cursor: { bulkOperationId, byte: chunk.nextByte },
        });
        stored += chunk.orders.length;
        byte = chunk.nextByte;
        if (byte !== null && Date.now() - started > BUDGET_MS) {
          await ctx.queues.channelPull.send({ ...input, byte });
          return { status: "continued", orders: stored };
        }
      }
      await markJob(ctx, input, { status: "succeeded" });
      return { status: "done", orders: stored };
    }

    let cursor = input.cursor ?? null;
    let stored = 0;
    const { pageSize } = channelSettingsOf(connection);
    while (true) {
      const page = await adapter.listOrdersUpdatedSince({ updatedSince: input.since, cursor, pageSize });
      await storeChunk(ctx, connection, input, {
        orders: page.orders,
        rejected: page.rejected,
        cursor: { cursor: page.nextCursor },
      });
      stored += page.orders.length;
      cursor = page.nextCursor;
      if (cursor === null) {
        await markJob(ctx, input, { status: "succeeded" });
        return { status: "done", orders: stored };
      }
      if (Date.now() - started > BUDGET_MS) {
        await ctx.queues.channelPull.send({ ...input, cursor });
        return { status: "continued", orders: stored };
      }
    }
  } catch (error) {
    const kind = errorKindOf(error);
    if (kind !== "permanent" && kind !== "auth" && kind !== "invalid") throw error;
    await tenantBatch(ctx.db.http, input.tenantId, (db) => [
      db.execute(sql`
        update sync_jobs set status = 'failed', last_error = ${errorText(error)}, finished_at = now(), updated_at = now()
         where tenant_id = ${input.tenantId} and id = ${input.jobId}`),
      upsertSyncFailure(db, {
        tenantId: input.tenantId,
        connectionId: input.connectionId,
        operation: "pull",
        fingerprint: backfillFailureFingerprint(input.jobId),
        payload: { ...input, bulkOperationId: undefined, byte: undefined, trigger: "replay" },
        errorKind: kind === "auth" ? "auth" : "permanent",
        error: errorText(error),
      }),
    ]);
    return { status: "failed", orders: 0 };
  }
}

async function storeChunk(
  ctx: ServiceContext,
  connection: SyncConnection,
  input: BackfillMessage,
  chunk: {
    orders: Order[];
    rejected: OrdersPage["rejected"];
    /** Where the backfill goes on after this chunk, saved in the same transaction as the chunk's orders. */
    cursor: Record<string, unknown>;
  },
): Promise<void> {
  const { orders, rejected } = chunk;
  const actor = ctx.actor ?? { type: "system" as const, name: "backfill" };
  const results = await tenantBatch(ctx.db.http, connection.tenantId, (db) => [
    db.execute(sql`
      update sync_jobs set items_processed = items_processed + ${orders.length}, pages = pages + 1,
             cursor = ${JSON.stringify(chunk.cursor)}::jsonb, updated_at = now()
       where tenant_id = ${input.tenantId} and id = ${input.jobId}`),
    ...(orders.length > 0
      ? storeOrdersStatements(db, {
          tenantId: connection.tenantId,
          connectionId: connection.id,
          channel: connection.provider,
          orders,
          actor,
        })
      : []),
    ...rejected.map((bad) => setAsideOrderStatement(db, connection, bad, input.since)),
    // An order set aside before and stored now (its replay, or a later fix in the channel) is resolved.
    resolveSyncFailures(db, {
      tenantId: connection.tenantId,
      fingerprints: orders.map((order) => orderPullFailureFingerprint(connection.id, order.externalId)),
      actor,
    }),
  ]);
  const waiting = orders.length > 0 ? (results[4] as unknown as { rows: { id: string }[] }).rows : [];
  if (connection.erpConnectionId !== null && waiting.length > 0) {
    await enqueueOrderPushes(ctx, {
      tenantId: connection.tenantId,
      erpConnectionId: connection.erpConnectionId,
      orderIds: waiting.map((row) => row.id),
      trigger: "event",
    });
  }
}

/** Marks the job; returns its cursor as saved (the last chunk stored, when a message is delivered again). */
async function markJob(
  ctx: ServiceContext,
  input: BackfillMessage,
  update: { status: "running" | "succeeded"; cursor?: Record<string, unknown> },
): Promise<{ cursor: unknown }> {
  const [, marked] = await tenantBatch(ctx.db.http, input.tenantId, (db) => [
    resolveSyncFailures(db, {
      tenantId: input.tenantId,
      // Only once it succeeded; a "running" mark must not resolve anything.
      fingerprints: update.status === "succeeded" ? [backfillFailureFingerprint(input.jobId)] : [],
      actor: { type: "system", name: "backfill" },
    }),
    db.execute<{ cursor: unknown }>(sql`
      update sync_jobs
         set status = ${update.status},
             started_at = coalesce(started_at, now()),
             attempts = attempts + ${update.status === "running" && update.cursor === undefined ? 1 : 0},
             finished_at = ${update.status === "succeeded" ? sql`now()` : sql`null`},
             cursor = coalesce(${update.cursor === undefined ? null : JSON.stringify(update.cursor)}::jsonb, cursor),
             last_error = null, updated_at = now()
       where tenant_id = ${input.tenantId} and id = ${input.jobId}
      returning cursor`),
  ]);
  return { cursor: marked.rows[0]?.cursor ?? null };
}

const SavedBulkCursor = z.object({
  bulkOperationId: z.string(),
  byte: z.number().int().min(0).nullable(),
});

/**
 * Where to read the export from: the message's byte, unless the job saved a later one for the same export
 * (a redelivered message after chunks were stored); null when the job already stored the whole file.
 */
function resumeByte(saved: unknown, bulkOperationId: string, messageByte: number): number | null {
  const parsed = SavedBulkCursor.safeParse(typeof saved === "string" ? safeJson(saved) : saved);
  if (!parsed.success || parsed.data.bulkOperationId !== bulkOperationId) return messageByte;
  return parsed.data.byte === null ? null : Math.max(parsed.data.byte, messageByte);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
