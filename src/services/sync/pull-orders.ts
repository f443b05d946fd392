import type { OrdersPage } from "../../adapters/channels/interface";
import type { HttpDb } from "../../db/client";
import { tenantBatch } from "../../db/tenant";
import { Order } from "../../domain/commerce";
import type { SyncTrigger } from "../../queues/hub-messages";
import { loadConnectionForSync } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import { resolveSyncFailures, upsertSyncFailure } from "../sync-failures/statements";
import { channelAdapterFor, channelSettingsOf, type SyncConnection } from "./adapters";
import { enqueueOrderPushes } from "./enqueue";
import { errorText } from "./failure-kind";
import { storeOrdersStatements } from "./store-orders";
import {
  acquireStreamLease,
  completeStreamRun,
  failStreamRun,
  type StreamLease,
  saveCheckpointStatement,
  withLeaseCheck,
  yieldStreamRun,
} from "./streams";

/** One message works this long at most, then hands the rest of the run to a new message. */
const PULL_BUDGET_MS = 20_000;
/**
 * A page costs about five subrequests (the channel call, two governor calls, the page's transaction, the
 * push enqueue); a Worker invocation may make 1,000. Time is normally the limit that hands over first.
 */
const MAX_PAGES_PER_MESSAGE = 150;
/**
 * The next run starts this far before the newest `updatedAt` seen: a channel's search index can lag its
 * writes by seconds, and re-reading a minute of orders costs nothing (equal `updatedAt` = ignored).
 */
export const WATERMARK_OVERLAP_MS = 60_000;
const DEFAULT_BACKFILL_MS = 30 * 24 * 3600 * 1000;

export interface OrdersCheckpoint {
  /** Orders updated at or after this instant are pulled by the current run. */
  updatedSince: string;
  /** Set while a run is between pages: the run resumes from here after a crash. */
  pageCursor?: string | null;
  /** The newest `updatedAt` seen by the current run. */
  runHighWatermark?: string | null;
}

export type PullOutcome =
  | { status: "done"; pages: number; orders: number }
  | { status: "yielded"; pages: number; orders: number }
  | { status: "busy" | "disabled" }
  | { status: "failed"; error: string };

export function checkpointOf(raw: Record<string, unknown>, now: number): OrdersCheckpoint {
  const updatedSince =
    typeof raw.updatedSince === "string"
      ? raw.updatedSince
      : new Date(now - DEFAULT_BACKFILL_MS).toISOString();
  return {
    updatedSince,
    pageCursor: typeof raw.pageCursor === "string" ? raw.pageCursor : null,
    runHighWatermark: typeof raw.runHighWatermark === "string" ? raw.runHighWatermark : null,
  };
}

function later(a: string | null | undefined, b: string | null | undefined): string | null {
  if (!a) return b ?? null;
  if (!b) return a;
  return Date.parse(a) >= Date.parse(b) ? a : b;
}

/**
 * Pulls a channel's orders updated since the stream's checkpoint, page by page. After every page, the
 * orders, the checkpoint and the job's progress are saved in one transaction, so a crash resumes at the
 * next page: nothing is skipped, and pages read again change nothing (upserts ignore equal or older
 * updates). Orders that now wait for the ERP are enqueued for the push after their page commits.
 */
export async function pullChannelOrders({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; connectionId: string; trigger: SyncTrigger; jobId?: string; owner: string };
}): Promise<PullOutcome> {
  const connection = await loadConnectionForSync({
    ctx,
    input: { tenantId: input.tenantId, connectionId: input.connectionId },
  });
  if (!connection.enabled || connection.kind !== "channel") return { status: "disabled" };
  const lease = await acquireStreamLease(ctx, { ...input, resource: "orders" });
  if (lease === null) return { status: "busy" };

  const started = Date.now();
  let checkpoint = checkpointOf(lease.checkpoint, started);
  let pages = 0;
  let stored = 0;
  try {
    const adapter = channelAdapterFor(ctx, connection);
    const { pageSize } = channelSettingsOf(connection);
    while (true) {
      const page = await adapter.listOrdersUpdatedSince({
        updatedSince: checkpoint.updatedSince,
        cursor: checkpoint.pageCursor ?? null,
        pageSize,
      });
      const highWatermark = page.orders.reduce<string | null>(
        (max, order) => later(max, order.updatedAt),
        checkpoint.runHighWatermark ?? null,
      );
      const next: OrdersCheckpoint =
        page.nextCursor === null
          ? {
              updatedSince:
                highWatermark === null
                  ? checkpoint.updatedSince
                  : new Date(
                      Math.max(
                        Date.parse(checkpoint.updatedSince),
                        Date.parse(highWatermark) - WATERMARK_OVERLAP_MS,
                      ),
                    ).toISOString(),
              pageCursor: null,
              runHighWatermark: null,
            }
          : {
              updatedSince: checkpoint.updatedSince,
              pageCursor: page.nextCursor,
              runHighWatermark: highWatermark,
            };
      const waiting = await storeOrdersPage(ctx, {
        connection,
        lease,
        orders: page.orders,
        rejected: page.rejected,
        checkpoint: next,
      });
      pages += 1;
      stored += page.orders.length;
      checkpoint = next;
      if (connection.erpConnectionId !== null && waiting.length > 0) {
        await enqueueOrderPushes(ctx, {
          tenantId: connection.tenantId,
          erpConnectionId: connection.erpConnectionId,
          orderIds: waiting,
          trigger: input.trigger === "replay" ? "replay" : "event",
        });
      }
      if (page.nextCursor === null) {
        await completeStreamRun(ctx, lease, { ...checkpoint });
        ctx.logger.info("orders pulled", { connectionId: connection.id, pages, orders: stored });
        return { status: "done", pages, orders: stored };
      }
      if (Date.now() - started > PULL_BUDGET_MS || pages >= MAX_PAGES_PER_MESSAGE) {
        await yieldStreamRun(ctx, lease, input.trigger);
        return { status: "yielded", pages, orders: stored };
      }
    }
  } catch (error) {
    if ((await failStreamRun(ctx, lease, error, input.trigger)) === "retry") throw error;
    return { status: "failed", error: errorText(error) };
  }
}

/** Stores one page (valid orders, failures for invalid ones, checkpoint) in one transaction; returns orders awaiting the ERP. */
async function storeOrdersPage(
  ctx: ServiceContext,
  input: {
    connection: SyncConnection;
    lease: StreamLease;
    orders: Order[];
    rejected: OrdersPage["rejected"];
    checkpoint: OrdersCheckpoint;
  },
): Promise<string[]> {
  const { connection, lease } = input;
  const valid: Order[] = [];
  const invalid: { externalId: string; updatedAt: string | null; error: string }[] = input.rejected.map(
    (r) => ({
      externalId: r.externalId,
      updatedAt: r.updatedAt,
      error: r.error,
    }),
  );
  for (const candidate of input.orders) {
    const parsed = Order.safeParse(candidate);
    if (parsed.success) valid.push(parsed.data);
    else
      invalid.push({
        externalId: candidate.externalId,
        updatedAt: candidate.updatedAt,
        error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      });
  }
  const actor = ctx.actor ?? { type: "system" as const, name: "sync" };
  return withLeaseCheck(async () => {
    const results = await tenantBatch(ctx.db.http, connection.tenantId, (db) => [
      saveCheckpointStatement(db, lease, { ...input.checkpoint }, { items: valid.length, pages: 1 }),
      ...(valid.length > 0
        ? storeOrdersStatements(db, {
            tenantId: connection.tenantId,
            connectionId: connection.id,
            channel: connection.provider,
            orders: valid,
            actor,
          })
        : []),
      // An order that cannot be mapped is set aside (the stream moves on); its replay re-reads the channel
      // from just before that order's last update, through a paged backfill.
      ...invalid.map((bad) => setAsideOrderStatement(db, connection, bad, input.checkpoint.updatedSince)),
      resolveSyncFailures(db, {
        tenantId: connection.tenantId,
        fingerprints: valid.map((order) => orderPullFailureFingerprint(connection.id, order.externalId)),
        actor,
      }),
    ]);
    if (valid.length === 0) return [];
    const waiting = results[4] as unknown as { rows: { id: string }[] };
    return waiting.rows.map((row) => row.id);
  });
}

/** One order of a channel that could not be stored; resolved when that order is stored after all. */
export function orderPullFailureFingerprint(connectionId: string, externalId: string): string {
  return `pull-order:${connectionId}:${externalId}`;
}

/**
 * Sets aside an order that does not fit the order model, so its stream moves on: a failure whose replay is
 * a paged backfill from just before that order's last update (or `fallbackSince` when it has none).
 */
export function setAsideOrderStatement(
  db: HttpDb,
  connection: { tenantId: string; id: string },
  bad: { externalId: string; updatedAt: string | null; error: string },
  fallbackSince: string,
) {
  return upsertSyncFailure(db, {
    tenantId: connection.tenantId,
    connectionId: connection.id,
    operation: "pull",
    fingerprint: orderPullFailureFingerprint(connection.id, bad.externalId),
    payload: {
      type: "orders.backfill",
      tenantId: connection.tenantId,
      connectionId: connection.id,
      jobId: crypto.randomUUID(),
      since: new Date(Date.parse(bad.updatedAt ?? fallbackSince) - 1000).toISOString(),
      mode: "paged",
    },
    errorKind: "invalid",
    error: `order ${bad.externalId} does not fit the order model: ${bad.error}`,
  });
}
