import { sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";
import { tenantBatch } from "../../db/tenant";
import { InventoryLevel } from "../../domain/commerce";
import { PreconditionFailedError } from "../../lib/errors";
import type { SyncTrigger } from "../../queues/hub-messages";
import { loadConnectionForSync } from "../connections/load-connection";
import type { Actor, ServiceContext } from "../context";
import { resolveSyncFailures, upsertSyncFailure } from "../sync-failures/statements";
import { channelAdapterFor, channelSettingsOf, type SyncConnection } from "./adapters";
import { errorText } from "./failure-kind";
import {
  acquireStreamLease,
  completeStreamRun,
  failStreamRun,
  type StreamLease,
  saveCheckpointStatement,
  withLeaseCheck,
  yieldStreamRun,
} from "./streams";

/** One message works this long at most, then hands the rest of the pass to a new message. */
const PULL_BUDGET_MS = 20_000;
/** As for orders (pull-orders.ts): time normally hands over first; this bounds the subrequests. */
const MAX_PAGES_PER_MESSAGE = 100;

/**
 * Where a pass stands. Inventory has no "changed since" to remember: Shopify offers no filter on when a
 * level last moved (`inventoryItems`' `updated_at` is the item's own record, which stock movements do not
 * touch), so every run is a full pass over the catalogue. Only the page cursor of a pass in progress is
 * kept, so a crash resumes at the next page instead of starting over.
 */
export interface InventoryCheckpoint {
  pageCursor: string | null;
}

export type InventoryPullOutcome =
  | { status: "done"; pages: number; levels: number }
  | { status: "yielded"; pages: number; levels: number }
  | { status: "busy" | "disabled" }
  | { status: "failed"; error: string };

export function inventoryCheckpointOf(raw: Record<string, unknown>): InventoryCheckpoint {
  return { pageCursor: typeof raw.pageCursor === "string" && raw.pageCursor !== "" ? raw.pageCursor : null };
}

const _SYNC_ACTOR: Actor = { type: "system", name: "sync" };

/**
 * Pulls a channel's inventory levels: one full pass over its catalogue, page by page. After every page its
 * levels, the checkpoint and the job's progress are saved in one transaction while the stream's lease is
 * held, so a crash resumes at the next page and a consumer that lost its lease writes nothing. A completed
 * pass clears the cursor (the next run starts from the top again) and resolves an open failure of this
 * stream. Credentials refused or a request the channel rejects are recorded as a sync failure for a person;
 * anything retryable is rethrown for the queue to retry.
 */
export async function pullChannelInventory({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; connectionId: string; trigger: SyncTrigger; jobId?: string; owner: string };
}): Promise<InventoryPullOutcome> {
  const connection = await loadConnectionForSync({
    ctx,
    input: { tenantId: input.tenantId, connectionId: input.connectionId },
  });
  if (
    !connection.enabled ||
    connection.kind !== "channel" ||
    !channelSettingsOf(connection).resources.includes("inventory")
  ) {
    return { status: "disabled" };
  }
  const lease = await acquireStreamLease(ctx, { ...input, resource: "inventory" });
  if (lease === null) return { status: "busy" };

  const started = Date.now();
  let checkpoint = inventoryCheckpointOf(lease.checkpoint);
  let pages = 0;
  let read = 0;
  try {
    const adapter = channelAdapterFor(ctx, connection);
    if (adapter.listInventoryLevels === undefined) {
      throw new PreconditionFailedError(`Channel '${connection.provider}' cannot report inventory levels`);
    }
    const { pageSize } = channelSettingsOf(connection);
    while (true) {
      const page = await adapter.listInventoryLevels({ cursor: checkpoint.pageCursor, pageSize });
      const next: InventoryCheckpoint = { pageCursor: page.nextCursor };
      await storeInventoryPage(ctx, { connection, lease, levels: page.levels, checkpoint: next });
      pages += 1;
      read += page.levels.length;
      checkpoint = next;
      if (page.nextCursor === null) {
        // Completing resolves the stream's open failure (streams.ts).
        await completeStreamRun(ctx, lease, { ...checkpoint });
        ctx.logger.info("inventory pulled", { connectionId: connection.id, pages, levels: read });
        return { status: "done", pages, levels: read };
      }
      if (Date.now() - started > PULL_BUDGET_MS || pages >= MAX_PAGES_PER_MESSAGE) {
        await yieldStreamRun(ctx, lease, input.trigger);
        return { status: "yielded", pages, levels: read };
      }
    }
  } catch (error) {
    if ((await failStreamRun(ctx, lease, error, input.trigger)) === "retry") throw error;
    return { status: "failed", error: errorText(error) };
  }
}

/**
 * One page's levels as the rows to store: valid levels only, one per (SKU, location). Shopify does not
 * make SKUs unique, and one statement cannot write the same row twice, so when two items of a page share
 * a SKU at a location the most recently changed one is kept.
 */
export function inventoryRowsOf(levels: readonly InventoryLevel[]): {
  rows: { sku: string; location_id: string; available: number; source_updated_at: string }[];
  invalid: { sku: string; locationId: string; error: string }[];
} {
  const newest = new Map<string, InventoryLevel>();
  const invalid: { sku: string; locationId: string; error: string }[] = [];
  for (const candidate of levels) {
    const parsed = InventoryLevel.safeParse(candidate);
    if (!parsed.success) {
      invalid.push({
        sku: String((candidate as { sku?: unknown }).sku ?? "unknown"),
        locationId: String((candidate as { locationId?: unknown }).locationId ?? "unknown"),
        error: parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
      });
      continue;
    }
    const level = parsed.data;
    const key = JSON.stringify([level.sku, level.locationId]);
    const seen = newest.get(key);
    if (seen === undefined || Date.parse(level.updatedAt) > Date.parse(seen.updatedAt))
      newest.set(key, level);
  }
  const rows = [...newest.values()].map((level) => ({
    sku: level.sku,
    location_id: level.locationId,
    available: level.available,
    source_updated_at: level.updatedAt,
  }));
  return { rows, invalid };
}

/**
 * Upserts a page of levels in one statement. A stored level changes when the channel's time is newer, or
 * when the quantity differs whatever the times say:
 * - a pass reads the channel's present state: a different quantity under an equal timestamp is news
 *   (Shopify's are whole seconds, so two moves within one second share one); but webhooks write levels
 *   too, so a page read before a newer webhook committed never overwrites it (the time never goes back);
 * - an equal quantity with an equal or older time is left alone, so `updated_at` says when Tradewind last
 *   saw the level change, not when a pass last ran.
 */
function upsertInventoryLevelsStatement(
  db: HttpDb,
  input: { tenantId: string; connectionId: string; rows: ReturnType<typeof inventoryRowsOf>["rows"] },
) {
  return db.execute(sql`
    insert into inventory_levels (tenant_id, connection_id, sku, location_id, available, source_updated_at)
    select ${input.tenantId}, ${input.connectionId}, x.sku, x.location_id, x.available, x.source_updated_at
      from jsonb_to_recordset(${JSON.stringify(input.rows)}::jsonb)
           as x(sku text, location_id text, available integer, source_updated_at timestamptz)
    on conflict (tenant_id, connection_id, sku, location_id) do update set
      available = excluded.available,
      source_updated_at = excluded.source_updated_at,
      updated_at = now()
    where inventory_levels.source_updated_at < excluded.source_updated_at
       or (inventory_levels.available <> excluded.available
           and inventory_levels.source_updated_at <= excluded.source_updated_at)`);
}

/** Stores one page (levels, failures for invalid ones, checkpoint and progress) in one transaction. */
async function storeInventoryPage(
  ctx: ServiceContext,
  input: {
    connection: SyncConnection;
    lease: StreamLease;
    levels: InventoryLevel[];
    checkpoint: InventoryCheckpoint;
  },
): Promise<void> {
  const { connection, lease } = input;
  const { rows, invalid } = inventoryRowsOf(input.levels);
  await withLeaseCheck(() =>
    tenantBatch(ctx.db.http, connection.tenantId, (db) => [
      saveCheckpointStatement(db, lease, { ...input.checkpoint }, { items: rows.length, pages: 1 }),
      ...(rows.length > 0
        ? [
            upsertInventoryLevelsStatement(db, {
              tenantId: connection.tenantId,
              connectionId: connection.id,
              rows,
            }),
          ]
        : []),
      ...invalid.map((bad) =>
        upsertSyncFailure(db, {
          tenantId: connection.tenantId,
          connectionId: connection.id,
          operation: "pull",
          fingerprint: inventoryLevelFailureFingerprint(connection.id, bad.sku, bad.locationId),
          payload: {
            type: "stream.run",
            tenantId: connection.tenantId,
            connectionId: connection.id,
            resource: "inventory",
            trigger: "replay",
          },
          errorKind: "invalid",
          error: `inventory level ${bad.sku} at ${bad.locationId} does not fit the inventory model: ${bad.error}`,
        }),
      ),
      // A level set aside before and valid now is resolved.
      resolveSyncFailures(db, {
        tenantId: connection.tenantId,
        fingerprints: rows.map((row) =>
          inventoryLevelFailureFingerprint(connection.id, row.sku, row.location_id),
        ),
        actor: { type: "system", name: "stream:inventory" },
      }),
    ]),
  );
}

function inventoryLevelFailureFingerprint(connectionId: string, sku: string, locationId: string): string {
  return `pull-inventory:${connectionId}:${sku}@${locationId}`;
}
