import { sql } from "drizzle-orm";
import type { ErpAdapter, ErpPushResult } from "../../adapters/erp/interface";
import { tenantBatch } from "../../db/tenant";
import type { Order } from "../../domain/commerce";
import type { ErpOrderInput } from "../../domain/erp-order";
import type { SyncTrigger } from "../../queues/hub-messages";
import { loadConnectionForSync } from "../connections/load-connection";
import type { Actor, ServiceContext } from "../context";
import { pushFailureFingerprint } from "../sync-failures/fingerprints";
import { resolveSyncFailures, upsertSyncFailure } from "../sync-failures/statements";
import { DEFAULT_MAX_WAIT_MS } from "../upstream/governor-gate";
import { erpAdapterFor, erpSettingsOf } from "./adapters";
import { buildErpOrderInput, type ErpMappings } from "./erp-order-input";
import { errorKindOf, errorText } from "./failure-kind";
import { transitionOrdersStatement } from "./transitions";

export interface PushSummary {
  created: number;
  duplicate: number;
  /** Posted earlier with no answer, found in the ERP on lookup: never posted twice. */
  confirmed: number;
  rejected: number;
  skipped: number;
  /** ERP order-create calls made. */
  calls: number;
  /** Set when a call failed in a way worth retrying; the message is retried, the ledger remembers. */
  retryError?: unknown;
  /**
   * Orders another consumer is posting right now (their claim is fresh and the ERP does not show them
   * yet): the message comes back after this many seconds, when the claim has expired or the post landed.
   */
  deferSeconds?: number;
  /** The ERP refused the call itself (credentials, IP whitelist): recorded as one failure of the connection. */
  blocked?: boolean;
  /** The ERP answered at least one call (even with refusals): the connection itself works. */
  answered?: boolean;
}

type LedgerRow = {
  id: string;
  status: string;
  version: number;
  data: Order;
  ledger_status: "pending" | "in_flight" | "created" | "rejected";
  reference: string;
  /** The last post's claim is older than the claim lifetime: whoever made it is gone. */
  claim_expired: boolean;
};

/** Fingerprint of a failure of the ERP connection itself (credentials, whitelist): one open per connection. */
export function erpConnectionFailureFingerprint(erpConnectionId: string): string {
  return `erp:${erpConnectionId}`;
}

/**
 * How long a post's claim on an order lasts: beyond the longest governor wait and two upstream timeouts,
 * whoever posted has either had its answer or died. Within it, only a lookup may touch the order, never a second post.
 */
function claimSecondsOf(ctx: ServiceContext): number {
  // A chunk may wait up to the governor's longest wait for its permit, then up to two timeouts (a retry).
  return Math.ceil((DEFAULT_MAX_WAIT_MS + ctx.config.upstream.timeoutMs * 2) / 1000) + 5;
}

/**
 * Pushes orders to one ERP connection through the push ledger, so an order is created in the ERP once:
 *
 * 1. one round trip: ledger rows for orders that have none, the orders with their ledger state, mappings;
 * 2. orders whose last post got no answer (`in_flight`) are looked up in the ERP by reference first;
 * 3. the rest are marked `in_flight` (committed BEFORE posting: a crash or timeout after the ERP accepted
 *    leaves a trace that step 2 resolves), then posted in batches of the connection's batch size;
 * 4. one transaction records every outcome: ledger, order transitions, failures opened or resolved, job.
 *
 * A refused order (validation) opens a sync failure holding the exact ERP payload, which a person can
 * edit and replay (`edited`). A retryable error stops the posting; what succeeded is recorded and the
 * error returned for the consumer to retry the message.
 */
export async function pushOrdersToErp({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: {
    tenantId: string;
    erpConnectionId: string;
    orderIds: string[];
    trigger: SyncTrigger;
    /** A hand-edited ERP payload for one order (replay of a refused push). */
    edited?: { orderId: string; input: ErpOrderInput };
  };
}): Promise<PushSummary> {
  const t = input.tenantId;
  const erpId = input.erpConnectionId;
  const summary: PushSummary = { created: 0, duplicate: 0, confirmed: 0, rejected: 0, skipped: 0, calls: 0 };
  const erp = await loadConnectionForSync({ ctx, input: { tenantId: t, connectionId: erpId } });
  if (erp.kind !== "erp" || !erp.enabled) {
    summary.skipped = input.orderIds.length;
    return summary;
  }
  const settings = erpSettingsOf(erp);
  const ids = [...new Set(input.edited ? [input.edited.orderId] : input.orderIds)];
  const claimSeconds = claimSecondsOf(ctx);
  const [, loaded, mappingRows] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute(sql`
      insert into erp_push_ledger (tenant_id, order_id, erp_connection_id, reference)
      -- The same reference as erpReferenceOf(orderId) (erp-order-input.ts).
      select o.tenant_id, o.id, ${erpId}, 'TW' || upper(replace(o.id::text, '-', ''))
        from orders o join connections c on c.tenant_id = o.tenant_id and c.id = o.connection_id
       where o.tenant_id = ${t} and o.id = any(${sql.param(ids)}::uuid[]) and c.erp_connection_id = ${erpId}
      on conflict do nothing`),
    db.execute<LedgerRow>(sql`
      select o.id, o.status, o.version, o.data, l.status as ledger_status, l.reference,
             (l.last_attempt_at is null or l.last_attempt_at < now() - make_interval(secs => ${claimSeconds}))
               as claim_expired
        from orders o
        join erp_push_ledger l on l.tenant_id = o.tenant_id and l.order_id = o.id and l.erp_connection_id = ${erpId}
       where o.tenant_id = ${t} and o.id = any(${sql.param(ids)}::uuid[])`),
    db.execute<{ kind: "sku" | "warehouse" | "logistics"; source: string; target: string }>(sql`
      select kind, source, target from erp_mappings
       where tenant_id = ${t} and erp_connection_id = ${erpId}
         and (kind <> 'sku' or source in (
           select line->>'sku' from orders o, jsonb_array_elements(o.data->'lines') as line
            where o.tenant_id = ${t} and o.id = any(${sql.param(ids)}::uuid[])))`),
  ]);
  const mappings: ErpMappings = { sku: new Map(), warehouse: new Map(), logistics: new Map() };
  for (const row of mappingRows.rows) (mappings[row.kind] as Map<string, string>).set(row.source, row.target);

  const alreadyCreated: string[] = [];
  const toLookUp: LedgerRow[] = [];
  const toPost: LedgerRow[] = [];
  for (const row of loaded.rows) {
    if (row.ledger_status === "created") {
      alreadyCreated.push(row.id);
      continue;
    }
    const replaying = input.trigger === "replay";
    const pushable = row.status === "created" || (replaying && row.status === "failed");
    if (!pushable || (row.ledger_status === "rejected" && !replaying)) {
      summary.skipped += 1;
      continue;
    }
    (row.ledger_status === "in_flight" ? toLookUp : toPost).push(row);
  }
  summary.skipped += ids.length - loaded.rows.length;

  const adapter = erpAdapterFor(ctx, erp);
  const outcomes = new Map<string, ErpPushResult>();
  const byReference = new Map(loaded.rows.map((row) => [row.reference, row]));
  const confirmedIds = new Set<string>();
  const deferred: LedgerRow[] = [];
  const ready: ErpOrderInput[] = [];
  try {
    // A post without an answer (timeout, crash): ask the ERP before anything is posted again.
    if (toLookUp.length > 0) {
      const found = await adapter.findOrders(toLookUp.map((row) => row.reference));
      summary.answered = true;
      for (const row of toLookUp) {
        const hit = found.get(row.reference);
        if (hit) {
          outcomes.set(row.id, {
            reference: row.reference,
            outcome: "duplicate",
            erpOrderId: hit.erpOrderId,
          });
          confirmedIds.add(row.id);
        } else if (row.claim_expired) toPost.push(row);
        // Not there yet, and its claim is fresh: another consumer may be posting it right now.
        else deferred.push(row);
      }
    }

    // Map every order to the ERP's shape; a problem (no SKU, unmapped SKU) is a refusal we see ourselves.
    const mapped: ErpOrderInput[] = [];
    for (const row of toPost) {
      if (input.edited && input.edited.orderId === row.id) {
        mapped.push({ ...input.edited.input, reference: row.reference });
        continue;
      }
      const built = buildErpOrderInput(row.data, {
        reference: row.reference,
        mappings,
        requireSkuMapping: settings.requireSkuMapping,
        erpStoreId: settings.erpStoreId,
      });
      if (built.ok) mapped.push(built.value);
      else
        outcomes.set(row.id, {
          reference: row.reference,
          outcome: "rejected",
          code: "MAPPING",
          message: built.problem,
        });
    }

    if (mapped.length > 0) {
      // Each chunk is claimed right before it is posted, atomically: only rows still unclaimed (or whose
      // claim expired) are ours, so two consumers holding the same order never both post it, and a claim
      // never ages while earlier chunks wait for the ERP. Committed before the call, the claim also marks
      // the post as possibly done should its answer be lost.
      const claim = async (chunk: ErpOrderInput[]): Promise<ErpOrderInput[]> => {
        const [claimed] = await tenantBatch(ctx.db.http, t, (db) => [
          db.execute<{ reference: string }>(sql`
            update erp_push_ledger l
               set status = 'in_flight', attempts = l.attempts + 1, last_attempt_at = now(),
                   pushed_version = o.version, updated_at = now()
              from orders o
             where l.tenant_id = ${t} and l.erp_connection_id = ${erpId} and o.tenant_id = l.tenant_id
               and o.id = l.order_id and l.reference = any(${sql.param(chunk.map((r) => r.reference))}::text[])
               and (l.status in ('pending', 'rejected')
                    or (l.status = 'in_flight'
                        and (l.last_attempt_at is null
                             or l.last_attempt_at < now() - make_interval(secs => ${claimSeconds}))))
             returning l.reference`),
        ]);
        const ours = new Set(claimed.rows.map((row) => row.reference));
        const mine = chunk.filter((r) => ours.has(r.reference));
        for (const r of chunk) {
          const row = byReference.get(r.reference);
          if (!ours.has(r.reference) && row) deferred.push(row);
        }
        ready.push(...mine);
        return mine;
      };
      summary.calls = await postInBatches(
        adapter,
        mapped,
        { batchSize: settings.batchSize, concurrency: settings.requestConcurrency, claim },
        outcomes,
        byReference,
        summary,
      );
    }
  } catch (error) {
    summary.retryError = error;
  }
  if (summary.retryError !== undefined) {
    const kind = errorKindOf(summary.retryError);
    // Credentials or whitelist refused, or the call itself refused: retrying cannot help until a person acts.
    if (kind === "auth" || kind === "permanent") summary.blocked = true;
  }
  if (deferred.length > 0) {
    summary.skipped += deferred.length;
    summary.deferSeconds = claimSeconds;
  }

  await recordPushOutcomes(ctx, {
    tenantId: t,
    erpConnectionId: erpId,
    trigger: input.trigger,
    outcomes,
    alreadyCreated,
    inputs: new Map(ready.map((r) => [r.reference, r])),
    confirmedIds,
    unresolved: ids.filter((id) => !outcomes.has(id)),
    summary,
  });
  return summary;
}

async function postInBatches(
  adapter: ErpAdapter,
  ready: ErpOrderInput[],
  options: {
    batchSize: number;
    concurrency: number;
    /** Claims a chunk's orders in the ledger; only what it returns is posted. */
    claim: (chunk: ErpOrderInput[]) => Promise<ErpOrderInput[]>;
  },
  outcomes: Map<string, ErpPushResult>,
  byReference: Map<string, LedgerRow>,
  summary: PushSummary,
): Promise<number> {
  const size = Math.max(1, Math.min(options.batchSize, adapter.maxBatchSize));
  const chunks: ErpOrderInput[][] = [];
  for (let i = 0; i < ready.length; i += size) chunks.push(ready.slice(i, i + size));
  let calls = 0;
  let next = 0;
  // Up to `concurrency` calls in flight (the governor holds each to the ERP's permits anyway); after a
  // failure no further chunk starts: the ledger keeps them claimed, so the retry looks them up first.
  const worker = async () => {
    while (summary.retryError === undefined && next < chunks.length) {
      const chunk = chunks[next++] ?? [];
      try {
        const mine = await options.claim(chunk);
        if (mine.length === 0) continue;
        calls += 1;
        for (const result of await adapter.pushOrders(mine)) {
          const row = byReference.get(result.reference);
          if (row) outcomes.set(row.id, result);
        }
        summary.answered = true;
      } catch (error) {
        summary.retryError ??= error;
      }
    }
  };
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(options.concurrency, chunks.length)) }, worker),
  );
  return calls;
}

async function recordPushOutcomes(
  ctx: ServiceContext,
  input: {
    tenantId: string;
    erpConnectionId: string;
    trigger: SyncTrigger;
    outcomes: Map<string, ErpPushResult>;
    alreadyCreated: string[];
    inputs: Map<string, ErpOrderInput>;
    confirmedIds: Set<string>;
    /** Orders this run neither created nor refused (what a blocked connection's replay must push). */
    unresolved: string[];
    summary: PushSummary;
  },
): Promise<void> {
  const t = input.tenantId;
  const actor: Actor = ctx.actor ?? { type: "system", name: "erp-push" };
  const accepted: { order_id: string; erp_order_id: string }[] = [];
  const refused: { orderId: string; reference: string; error: string }[] = [];
  for (const [orderId, outcome] of input.outcomes) {
    if (outcome.outcome === "rejected") {
      refused.push({ orderId, reference: outcome.reference, error: `${outcome.code}: ${outcome.message}` });
      input.summary.rejected += 1;
    } else {
      accepted.push({ order_id: orderId, erp_order_id: outcome.erpOrderId });
      if (input.confirmedIds.has(orderId)) input.summary.confirmed += 1;
      else if (outcome.outcome === "created") input.summary.created += 1;
      else input.summary.duplicate += 1;
    }
  }
  const syncedIds = [...accepted.map((a) => a.order_id), ...input.alreadyCreated];
  const retryText = input.summary.retryError === undefined ? null : errorText(input.summary.retryError);
  await tenantBatch(ctx.db.http, t, (db) => [
    db.execute(sql`
      update erp_push_ledger l
         set status = 'created', erp_order_id = x.erp_order_id, confirmed_at = now(), last_error = null,
             updated_at = now()
        from jsonb_to_recordset(${JSON.stringify(accepted)}::jsonb) as x(order_id uuid, erp_order_id text)
       where l.tenant_id = ${t} and l.erp_connection_id = ${input.erpConnectionId} and l.order_id = x.order_id`),
    transitionOrdersStatement(db, {
      tenantId: t,
      orderIds: syncedIds,
      to: "synced",
      from: ["created", "failed"],
      actor,
      reason: "created in the ERP",
    }),
    resolveSyncFailures(db, {
      tenantId: t,
      fingerprints: [
        ...syncedIds.map((id) => pushFailureFingerprint(id)),
        // The ERP answered: whatever blocked the connection is gone.
        ...(input.summary.answered && !input.summary.blocked
          ? [erpConnectionFailureFingerprint(input.erpConnectionId)]
          : []),
      ],
      actor,
    }),
    ...(input.summary.blocked && input.unresolved.length > 0
      ? [
          upsertSyncFailure(db, {
            tenantId: t,
            connectionId: input.erpConnectionId,
            operation: "push",
            fingerprint: erpConnectionFailureFingerprint(input.erpConnectionId),
            payload: {
              type: "orders.push",
              tenantId: t,
              erpConnectionId: input.erpConnectionId,
              // The replay pushes these; the push-backlog sweep takes the rest once this is resolved.
              orderIds: input.unresolved.slice(0, 100),
              trigger: "replay",
            },
            errorKind: errorKindOf(input.summary.retryError) === "auth" ? "auth" : "permanent",
            error: errorText(input.summary.retryError),
          }),
        ]
      : []),
    db.execute(sql`
      update erp_push_ledger l
         set status = 'rejected', last_error = x.error, updated_at = now()
        from jsonb_to_recordset(${JSON.stringify(refused.map((r) => ({ order_id: r.orderId, error: r.error })))}::jsonb)
             as x(order_id uuid, error text)
       where l.tenant_id = ${t} and l.erp_connection_id = ${input.erpConnectionId} and l.order_id = x.order_id`),
    transitionOrdersStatement(db, {
      tenantId: t,
      orderIds: refused.map((r) => r.orderId),
      to: "failed",
      from: ["created"],
      actor,
      reason: "refused by the ERP",
    }),
    ...refused.map((r) =>
      upsertSyncFailure(db, {
        tenantId: t,
        connectionId: input.erpConnectionId,
        operation: "push",
        fingerprint: pushFailureFingerprint(r.orderId),
        orderId: r.orderId,
        payload: editablePushPayload(t, input.erpConnectionId, r, input.inputs),
        errorKind: "permanent",
        error: r.error,
      }),
    ),
    db.execute(sql`
      update erp_push_ledger set last_error = ${retryText}, updated_at = now()
       where tenant_id = ${t} and erp_connection_id = ${input.erpConnectionId} and status = 'in_flight'
         and ${retryText !== null}
         and reference = any(${sql.param([...input.inputs.keys()])}::text[])`),
    db.execute(sql`
      insert into sync_jobs (tenant_id, connection_id, type, resource, trigger, status, attempts, items_processed,
                             params, last_error, started_at, finished_at)
      values (${t}, ${input.erpConnectionId}, 'push', 'orders', ${input.trigger},
              ${retryText === null ? "succeeded" : "failed"}, 1, ${accepted.length + refused.length},
              ${JSON.stringify({ calls: input.summary.calls, rejected: refused.length, confirmed: input.summary.confirmed })}::jsonb,
              ${retryText}, now(), now())`),
  ]);
}

/** The failure's payload: the exact ERP order as it would be sent, so a person fixes the data and replays. */
function editablePushPayload(
  tenantId: string,
  erpConnectionId: string,
  refused: { orderId: string; reference: string },
  inputs: Map<string, ErpOrderInput>,
): Record<string, unknown> {
  const sent = inputs.get(refused.reference);
  if (sent) {
    return {
      type: "order.push_edited",
      tenantId,
      erpConnectionId,
      orderId: refused.orderId,
      input: sent,
      trigger: "replay",
    };
  }
  // Refused before sending (a mapping problem): replaying re-reads the order and the mappings.
  return { type: "orders.push", tenantId, erpConnectionId, orderIds: [refused.orderId], trigger: "replay" };
}
