import { sql } from "drizzle-orm";
import type { OrdersPage } from "../../adapters/channels/interface";
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
import { orderPullFailureFingerprint } from "./pull-orders";
import { storeOrdersStatements } from "./store-orders";

type BackfillMessage = Extract<ChannelPullMessage, { type: "orders.backfill" }>;

const BUDGET_MS = 20_000;
const STORE_CHUNK = 250;
const BULK_POLL_SECONDS = 10;

/**
 * A backfill of a channel's orders from a date, apart from the stream's checkpoint (so it never disturbs
 * the incremental pulls). `paged` walks the orders query page by page, handing over to a new message with
 * its cursor when its time is up; `bulk` starts the channel's bulk export, polls it with delayed messages,
 * then stores the result in chunks. Stored orders go through the same upsert as every pull.
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
  await markJob(ctx, input, { status: "running" });
  try {
    if (input.mode === "bulk") {
      if (input.bulkOperationId === undefined) {
        const { operationId } = await adapter.startOrdersBulkExport({ updatedSince: input.since });
        await markJob(ctx, input, { status: "running", cursor: { bulkOperationId: operationId } });
        await ctx.queues.channelPull.send(
          { ...input, bulkOperationId: operationId },
          { delaySeconds: BULK_POLL_SECONDS },
        );
        return { status: "continued", orders: 0 };
      }
      const state = await adapter.getBulkExport(input.bulkOperationId);
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
      const orders = state.url === null ? [] : await adapter.readBulkExportOrders(state.url);
      for (let i = 0; i < orders.length; i += STORE_CHUNK) {
        await storeChunk(ctx, connection, input, orders.slice(i, i + STORE_CHUNK));
      }
      await markJob(ctx, input, { status: "succeeded" });
      return { status: "done", orders: orders.length };
    }

    const started = Date.now();
    let cursor = input.cursor ?? null;
    let stored = 0;
    const { pageSize } = channelSettingsOf(connection);
    while (true) {
      const page = await adapter.listOrdersUpdatedSince({ updatedSince: input.since, cursor, pageSize });
      await storeChunk(ctx, connection, input, page.orders, page.nextCursor, page.rejected);
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
        payload: { ...input, bulkOperationId: undefined, trigger: "replay" },
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
  orders: Order[],
  nextCursor: string | null = null,
  rejected: OrdersPage["rejected"] = [],
): Promise<void> {
  const actor = ctx.actor ?? { type: "system" as const, name: "backfill" };
  const results = await tenantBatch(ctx.db.http, connection.tenantId, (db) => [
    db.execute(sql`
      update sync_jobs set items_processed = items_processed + ${orders.length}, pages = pages + 1,
             cursor = ${JSON.stringify({ cursor: nextCursor })}::jsonb, updated_at = now()
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
    ...rejected.map((bad) =>
      upsertSyncFailure(db, {
        tenantId: connection.tenantId,
        connectionId: connection.id,
        operation: "pull",
        fingerprint: orderPullFailureFingerprint(connection.id, bad.externalId),
        payload: {
          type: "orders.backfill",
          tenantId: connection.tenantId,
          connectionId: connection.id,
          jobId: crypto.randomUUID(),
          since: new Date(Date.parse(bad.updatedAt ?? input.since) - 1000).toISOString(),
          mode: "paged",
        },
        errorKind: "invalid",
        error: `order ${bad.externalId} does not fit the order model: ${bad.error}`,
      }),
    ),
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

async function markJob(
  ctx: ServiceContext,
  input: BackfillMessage,
  update: { status: "running" | "succeeded"; cursor?: Record<string, unknown> },
): Promise<void> {
  await tenantBatch(ctx.db.http, input.tenantId, (db) => [
    resolveSyncFailures(db, {
      tenantId: input.tenantId,
      // Only once it succeeded; a "running" mark must not resolve anything.
      fingerprints: update.status === "succeeded" ? [backfillFailureFingerprint(input.jobId)] : [],
      actor: { type: "system", name: "backfill" },
    }),
    db.execute(sql`
      update sync_jobs
         set status = ${update.status},
             started_at = coalesce(started_at, now()),
             attempts = attempts + ${update.status === "running" && update.cursor === undefined ? 1 : 0},
             finished_at = ${update.status === "succeeded" ? sql`now()` : sql`null`},
             cursor = coalesce(${update.cursor === undefined ? null : JSON.stringify(update.cursor)}::jsonb, cursor),
             last_error = null, updated_at = now()
       where tenant_id = ${input.tenantId} and id = ${input.jobId}`),
  ]);
}
