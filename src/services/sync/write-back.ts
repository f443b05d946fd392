import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { Shipment } from "../../domain/commerce";
import type { SyncTrigger } from "../../queues/hub-messages";
import { loadConnectionForSync } from "../connections/load-connection";
import type { Actor, ServiceContext } from "../context";
import { writebackFailureFingerprint } from "../sync-failures/fingerprints";
import { resolveSyncFailures, upsertSyncFailure } from "../sync-failures/statements";
import { channelAdapterFor, erpAdapterFor, type SyncConnection } from "./adapters";
import { errorKindOf, errorText } from "./failure-kind";
import {
  abandonStreamRun,
  acquireStreamLease,
  completeStreamRun,
  LeaseLostError,
  type StreamLease,
  saveCheckpointStatement,
  withLeaseCheck,
} from "./streams";
import { transitionOrdersStatement } from "./transitions";

/** Orders asked about per poll; the longest-unchecked first, so every order gets its turn. */
const ORDERS_PER_POLL = 200;
/** References per ERP shipment / invoice query. */
const REFERENCES_PER_QUERY = 50;
/** Fulfilments created per run (each is a read and a write at the channel); the rest wait for the next poll. */
const FULFILMENTS_PER_RUN = 50;

export interface WritebackSummary {
  checked: number;
  shipmentsFound: number;
  fulfilled: number;
  writebackFailed: number;
  invoiced: number;
}

type PendingShipment = {
  id: string;
  order_id: string;
  order_external_id: string;
  order_status: string;
  channel_connection_id: string;
  carrier: string;
  tracking_numbers: string[];
  tracking_url: string | null;
  lines: { sku: string; quantity: number }[];
  order_lines: { externalLineId: string; sku: string | null; quantity: number }[];
};

/**
 * The write-back stream of an ERP connection: asks the ERP for shipments (and invoices) of the orders it
 * holds, stores them, creates each shipment's fulfilment in the order's channel (carrier + tracking),
 * and moves orders to `shipped`, then `invoiced`.
 */
export async function pollErpShipments({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; connectionId: string; trigger: SyncTrigger; jobId?: string; owner: string };
}): Promise<WritebackSummary | { status: "busy" | "disabled" }> {
  const t = input.tenantId;
  const erp = await loadConnectionForSync({ ctx, input: { tenantId: t, connectionId: input.connectionId } });
  if (!erp.enabled || erp.kind !== "erp") return { status: "disabled" };
  const lease = await acquireStreamLease(ctx, { ...input, resource: "shipments" });
  if (lease === null) return { status: "busy" };
  const summary: WritebackSummary = {
    checked: 0,
    shipmentsFound: 0,
    fulfilled: 0,
    writebackFailed: 0,
    invoiced: 0,
  };
  try {
    const adapter = erpAdapterFor(ctx, erp);
    // Shipped orders are only asked about again where the ERP has invoices to report; elsewhere they would
    // crowd the synced orders out of every poll as history grows.
    const statuses = adapter.listInvoices ? ["synced", "shipped"] : ["synced"];
    const [due] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<{ order_id: string; reference: string; status: string }>(sql`
        select l.order_id, l.reference, o.status from erp_push_ledger l
          join orders o on o.tenant_id = l.tenant_id and o.id = l.order_id
         where l.tenant_id = ${t} and l.erp_connection_id = ${erp.id} and l.status = 'created'
           and o.status = any(${sql.param(statuses)}::text[])
         order by l.last_shipment_check_at nulls first, l.confirmed_at
         limit ${ORDERS_PER_POLL}`),
    ]);
    const byReference = new Map(due.rows.map((row) => [row.reference, row]));
    const shipments: Shipment[] = [];
    const awaitingShipment = due.rows.filter((row) => row.status === "synced").map((row) => row.reference);
    for (let i = 0; i < awaitingShipment.length; i += REFERENCES_PER_QUERY) {
      shipments.push(...(await adapter.listShipments(awaitingShipment.slice(i, i + REFERENCES_PER_QUERY))));
    }
    const invoices = [];
    if (adapter.listInvoices) {
      const all = due.rows.map((row) => row.reference);
      for (let i = 0; i < all.length; i += REFERENCES_PER_QUERY) {
        invoices.push(...(await adapter.listInvoices(all.slice(i, i + REFERENCES_PER_QUERY))));
      }
    }
    summary.checked = due.rows.length;
    summary.shipmentsFound = shipments.length;
    const shipmentRows = shipments.flatMap((s) => {
      const order = byReference.get(s.orderReference);
      return order
        ? [
            {
              order_id: order.order_id,
              external_id: s.externalId,
              carrier: s.carrier,
              carrier_code: s.carrierCode,
              tracking_numbers: s.trackingNumbers,
              tracking_url: s.trackingUrl,
              lines: s.lines,
              shipped_at: s.shippedAt,
            },
          ]
        : [];
    });
    const invoiceRows = invoices.flatMap((inv) => {
      const order = byReference.get(inv.orderReference);
      return order
        ? [
            {
              order_id: order.order_id,
              external_id: inv.externalId,
              number: inv.number,
              currency: inv.currency,
              total_minor: inv.totalMinor,
              issued_at: inv.issuedAt,
            },
          ]
        : [];
    });
    const [, , pending] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, carrier_code,
                               tracking_numbers, tracking_url, lines, shipped_at)
        select ${t}, x.order_id, ${erp.id}, x.external_id, x.carrier, x.carrier_code,
               array(select jsonb_array_elements_text(x.tracking_numbers)), x.tracking_url, x.lines, x.shipped_at
          from jsonb_to_recordset(${JSON.stringify(shipmentRows)}::jsonb) as x(
                 order_id uuid, external_id text, carrier text, carrier_code text, tracking_numbers jsonb,
                 tracking_url text, lines jsonb, shipped_at timestamptz)
        on conflict (tenant_id, order_id, external_id) do nothing`),
      db.execute(sql`
        insert into invoices (tenant_id, order_id, source, external_id, number, currency, total_minor, issued_at)
        select ${t}, x.order_id, ${erp.provider}, x.external_id, x.number, x.currency, x.total_minor, x.issued_at
          from jsonb_to_recordset(${JSON.stringify(invoiceRows)}::jsonb) as x(
                 order_id uuid, external_id text, number text, currency text, total_minor bigint, issued_at timestamptz)
        on conflict (tenant_id, order_id, source, external_id) do nothing`),
      // Every shipment of this ERP still to be written back, oldest first — also a second parcel of an
      // order already shipped, and those a previous run left (cap, outage).
      selectPendingShipments(db, t, { erpConnectionId: erp.id, limit: FULFILMENTS_PER_RUN }),
      db.execute(sql`
        update erp_push_ledger set last_shipment_check_at = now(), updated_at = now()
         where tenant_id = ${t} and erp_connection_id = ${erp.id}
           and order_id = any(${sql.param(due.rows.map((row) => row.order_id))}::uuid[])`),
    ]);
    await fulfilShipments(ctx, {
      tenantId: t,
      shipments: pending.rows,
      trigger: input.trigger,
      summary,
      lease,
    });
    const [advanced] = await tenantBatch(ctx.db.http, t, (db) => [
      advanceInvoicedStatement(db, t, actorOf(ctx)),
    ]);
    summary.invoiced = advanced.rows.length;
    await completeStreamRun(ctx, lease, {});
    return summary;
  } catch (error) {
    await abandonStreamRun(ctx, lease, { error: errorText(error), final: false }).catch(() => undefined);
    throw error;
  }
}

function actorOf(ctx: ServiceContext): Actor {
  return ctx.actor ?? { type: "system", name: "write-back" };
}

function selectPendingShipments(
  db: Parameters<Parameters<typeof tenantBatch>[2]>[0],
  tenantId: string,
  filter: { erpConnectionId?: string; shipmentId?: string; limit?: number },
) {
  return db.execute<PendingShipment>(sql`
    select s.id, s.order_id, o.external_id as order_external_id, o.status as order_status,
           o.connection_id as channel_connection_id, s.carrier, s.tracking_numbers, s.tracking_url, s.lines,
           coalesce((select jsonb_agg(jsonb_build_object('externalLineId', l->>'externalLineId', 'sku', l->>'sku',
                     'quantity', (l->>'quantity')::int)) from jsonb_array_elements(o.data->'lines') l), '[]'::jsonb)
             as order_lines
      from shipments s join orders o on o.tenant_id = s.tenant_id and o.id = s.order_id
     where s.tenant_id = ${tenantId} and s.writeback_status in ('pending', 'failed')
       and ${
         filter.shipmentId === undefined
           ? sql`s.writeback_status = 'pending' and s.source_connection_id = ${filter.erpConnectionId ?? null}`
           : sql`s.id = ${filter.shipmentId}`
       }
     order by s.shipped_at
     limit ${filter.limit ?? 1}`);
}

/** Invoiced = shipped and an invoice on record (whichever arrived first). */
function advanceInvoicedStatement(
  db: Parameters<Parameters<typeof tenantBatch>[2]>[0],
  tenantId: string,
  actor: Actor,
) {
  return db.execute<{ id: string }>(sql`
    with ready as (
      select o.id from orders o
       where o.tenant_id = ${tenantId} and o.status = 'shipped'
         and exists (select 1 from invoices i where i.tenant_id = o.tenant_id and i.order_id = o.id)
         for update
    ), moved as (
      update orders o set status = 'invoiced', updated_at = now() from ready
       where o.tenant_id = ${tenantId} and o.id = ready.id
      returning o.id
    )
    insert into order_transitions (tenant_id, order_id, from_status, to_status, actor, reason)
    select ${tenantId}, id, 'shipped', 'invoiced', ${JSON.stringify(actor)}::jsonb, 'invoice recorded' from moved
    returning order_id as id`);
}

/**
 * Creates each shipment's fulfilment in its channel. Idempotent at the channel (the adapter finds an
 * existing fulfilment with the same tracking number), so a retry after a lost answer creates nothing twice.
 */
async function fulfilShipments(
  ctx: ServiceContext,
  input: {
    tenantId: string;
    shipments: PendingShipment[];
    trigger: SyncTrigger;
    summary: WritebackSummary;
    /** The stream's lease, renewed with every fulfilment so a long run keeps the stream to itself. */
    lease?: StreamLease;
  },
): Promise<void> {
  const t = input.tenantId;
  const channels = new Map<string, SyncConnection>();
  let retryError: unknown;
  for (const shipment of input.shipments) {
    try {
      let channel = channels.get(shipment.channel_connection_id);
      if (!channel) {
        channel = await loadConnectionForSync({
          ctx,
          input: { tenantId: t, connectionId: shipment.channel_connection_id },
        });
        channels.set(channel.id, channel);
      }
      const adapter = channelAdapterFor(ctx, channel);
      const lines = allocateShipmentLines(shipment.lines, shipment.order_lines);
      const result = await adapter.createFulfillment({
        orderExternalId: shipment.order_external_id,
        carrier: shipment.carrier,
        trackingNumbers: shipment.tracking_numbers,
        trackingUrl: shipment.tracking_url,
        lines,
        notifyCustomer: true,
      });
      const lease = input.lease;
      await withLeaseCheck(() =>
        tenantBatch(ctx.db.http, t, (db) => [
          db.execute(sql`
          update shipments set writeback_status = 'done', channel_fulfillment_id = ${result.fulfillmentId},
                 written_back_at = now(), last_error = null, updated_at = now()
           where tenant_id = ${t} and id = ${shipment.id}`),
          transitionOrdersStatement(db, {
            tenantId: t,
            orderIds: [shipment.order_id],
            to: "shipped",
            from: ["synced"],
            actor: actorOf(ctx),
            reason: `shipped with ${shipment.carrier} ${shipment.tracking_numbers.join(", ")}`,
          }),
          resolveSyncFailures(db, {
            tenantId: t,
            fingerprints: [writebackFailureFingerprint(shipment.id)],
            actor: actorOf(ctx),
          }),
          db.execute(sql`
          insert into sync_jobs (tenant_id, connection_id, type, resource, trigger, status, attempts,
                                 items_processed, params, started_at, finished_at)
          values (${t}, ${shipment.channel_connection_id}, 'writeback', 'fulfillments', ${input.trigger}, 'succeeded',
                  1, 1, ${JSON.stringify({ shipmentId: shipment.id, created: result.created })}::jsonb, now(), now())`),
          // Fails the whole batch when the lease was lost (see saveCheckpointStatement).
          ...(lease ? [saveCheckpointStatement(db, lease, {}, { items: 1, pages: 0 })] : []),
        ]),
      );
      input.summary.fulfilled += 1;
    } catch (error) {
      // The stream was taken over: stop here, the new holder carries on (its fulfilments are idempotent).
      if (error instanceof LeaseLostError) throw error;
      const kind = errorKindOf(error);
      const final = kind === "permanent" || kind === "auth" || kind === "invalid";
      input.summary.writebackFailed += 1;
      await tenantBatch(ctx.db.http, t, (db) => [
        db.execute(sql`
          update shipments set writeback_status = ${final ? "failed" : "pending"}, last_error = ${errorText(error)},
                 updated_at = now()
           where tenant_id = ${t} and id = ${shipment.id}`),
        ...(final
          ? [
              upsertSyncFailure(db, {
                tenantId: t,
                connectionId: shipment.channel_connection_id,
                operation: "writeback",
                fingerprint: writebackFailureFingerprint(shipment.id),
                orderId: shipment.order_id,
                payload: { type: "shipment.fulfil", tenantId: t, shipmentId: shipment.id, trigger: "replay" },
                errorKind: kind === "auth" ? "auth" : "permanent",
                error: errorText(error),
              }),
            ]
          : []),
      ]);
      if (!final) {
        retryError = error;
        // The channel is unwell (rate limit, breaker, outage): the next poll tries the rest.
        break;
      }
    }
  }
  if (retryError !== undefined) ctx.logger.warn("write-back paused", { error: errorText(retryError) });
}

/** Replays one shipment's write-back (a `shipment.fulfil` message). */
export async function fulfilShipment({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; shipmentId: string; trigger: SyncTrigger };
}): Promise<WritebackSummary> {
  const [pending] = await tenantBatch(ctx.db.http, input.tenantId, (db) => [
    selectPendingShipments(db, input.tenantId, { shipmentId: input.shipmentId }),
  ]);
  const summary: WritebackSummary = {
    checked: 0,
    shipmentsFound: 0,
    fulfilled: 0,
    writebackFailed: 0,
    invoiced: 0,
  };
  await fulfilShipments(ctx, {
    tenantId: input.tenantId,
    shipments: pending.rows,
    trigger: input.trigger,
    summary,
  });
  const [advanced] = await tenantBatch(ctx.db.http, input.tenantId, (db) => [
    advanceInvoicedStatement(db, input.tenantId, actorOf(ctx)),
  ]);
  summary.invoiced = advanced.rows.length;
  return summary;
}

/**
 * Which order lines a shipment covers. The ERP reports SKUs and quantities; an order may hold the same
 * SKU on several lines (or the ERP may sum them into one): quantities are spread over those lines in
 * order, never more than a line holds. Empty = the shipment named no lines (the whole order ships).
 */
export function allocateShipmentLines(
  shipped: readonly { sku: string; quantity: number }[],
  orderLines: readonly { externalLineId: string; sku: string | null; quantity: number }[],
): { externalLineId: string; quantity: number }[] {
  const left = new Map(orderLines.map((line) => [line.externalLineId, line.quantity]));
  const allocated = new Map<string, number>();
  for (const item of shipped) {
    let wanted = item.quantity;
    for (const line of orderLines) {
      if (wanted <= 0) break;
      if (line.sku !== item.sku) continue;
      const available = left.get(line.externalLineId) ?? 0;
      const take = Math.min(available, wanted);
      if (take <= 0) continue;
      left.set(line.externalLineId, available - take);
      allocated.set(line.externalLineId, (allocated.get(line.externalLineId) ?? 0) + take);
      wanted -= take;
    }
  }
  return [...allocated].map(([externalLineId, quantity]) => ({ externalLineId, quantity }));
}
