import { sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { Track17Client } from "../../adapters/tracking/track17/client";
import { registrationOutcomes, trackInfoByNumber } from "../../adapters/tracking/track17/transform";
import { TRACK17_MAX_BATCH, type Track17RegisterItem } from "../../adapters/tracking/track17/types";
import type { HttpDb } from "../../db/client";
import { tenantContextStatement } from "../../db/tenant";
import { UpstreamError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { type TrackingUpdate, upsertParcelState } from "../webhooks/parcel-tracking";
import { packRegistrationBatches } from "./batches";
import { trackingUpdateOfTrackInfo } from "./parcel-state";
import {
  type ClaimedRegistration,
  released,
  type Settlement,
  settlementOfFailure,
  settlementOfOutcome,
} from "./settlements";
import { track17ClientFor } from "./track17-client";

/**
 * How much one cron run takes on. 800 numbers = 20 register requests, about 8 s at the governor's 2.5
 * requests per second; the lease outlives the longest run, so rows a dying run held are due again after it.
 */
export const REGISTRATION_RUN = {
  claimLimit: 800,
  leaseSeconds: 600,
  /** Shipments created within this window whose numbers nobody registered yet are picked up. */
  shipmentLookbackHours: 48,
  /**
   * No new 17track request starts after this; the rest is released for the next run. The requests run in
   * waitUntil, which the runtime may cut 30 s after the handler returned: the budget plus one request's
   * timeout stays near that, and rows a cut run still held are claimed again after the lease anyway.
   */
  budgetMs: 20_000,
} as const;

export interface RegistrationRunSummary {
  claimed: number;
  requests: number;
  registered: number;
  alreadyRegistered: number;
  rejected: number;
  retrying: number;
  failed: number;
  /** Not attempted this run (time budget, governor refusal, refused key): due again later. */
  deferred: number;
  /** Parcel states read with gettrackinfo for numbers 17track already tracked. */
  statesFetched: number;
}

interface ClaimRow extends Record<string, unknown> {
  tenant_id: string;
  tracking_number: string;
  carrier_code: number | null;
  attempts: number;
}

/**
 * The registration cron (every minute). One statement claims due registrations of every tenant — and first
 * turns the numbers of recent shipments into registrations — so the scheduled handler itself stays short;
 * the 17track requests (bounded: at most `claimLimit` numbers, one run's time budget, each request with its
 * timeout) then run in `waitUntil` (see src/cron/index.ts for why not a queue).
 *
 * Without `TRACK17_API_KEY` nothing is claimed: registrations stay pending until a key is configured.
 */
export async function registerPendingParcels({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<{ claimed: number; done: Promise<RegistrationRunSummary | null> }> {
  const client = await track17ClientFor(ctx);
  if (client === null) {
    ctx.logger.debug("parcel registration skipped: TRACK17_API_KEY is not set");
    return { claimed: 0, done: Promise.resolve(null) };
  }
  const result = await ctx.db.http.execute<ClaimRow>(sql`
    select tenant_id, tracking_number, carrier_code, attempts
      from claim_parcel_registrations(${REGISTRATION_RUN.claimLimit}, ${REGISTRATION_RUN.leaseSeconds},
                                      ${REGISTRATION_RUN.shipmentLookbackHours})`);
  const claimed: ClaimedRegistration[] = result.rows.map((r) => ({
    tenantId: r.tenant_id,
    trackingNumber: r.tracking_number,
    carrierCode: r.carrier_code === null ? null : Number(r.carrier_code),
    attempts: Number(r.attempts),
  }));
  if (claimed.length === 0) return { claimed: 0, done: Promise.resolve(null) };
  const done = registerClaimed(ctx, client, claimed).catch((error: unknown) => {
    // Rows not settled stay leased and are claimed again once the lease ends.
    ctx.logger.error("parcel registration run failed", { claimed: claimed.length, error: String(error) });
    return null;
  });
  return { claimed: claimed.length, done };
}

/** Registers claimed rows in batches of 40 across tenants and writes back every outcome. */
async function registerClaimed(
  ctx: ServiceContext,
  client: Track17Client,
  claimed: ClaimedRegistration[],
): Promise<RegistrationRunSummary> {
  const deadline = Date.now() + REGISTRATION_RUN.budgetMs;
  const summary: RegistrationRunSummary = {
    claimed: claimed.length,
    requests: 0,
    registered: 0,
    alreadyRegistered: 0,
    rejected: 0,
    retrying: 0,
    failed: 0,
    deferred: 0,
    statesFetched: 0,
  };
  const batches = packRegistrationBatches(claimed);
  /** Set when 17track cannot be asked again this run (refused key, open breaker): the rest waits. */
  let stopped: UpstreamError | null = null;
  for (const batch of batches) {
    let settlements: Settlement[];
    const alreadyRegistered: ClaimedRegistration[] = [];
    if (stopped !== null) {
      const reason = stopped;
      settlements = batch.map((row) => settlementOfFailure(row, reason, Date.now()));
    } else if (Date.now() > deadline) {
      settlements = batch.map(released);
    } else {
      const items: Track17RegisterItem[] = batch.map((row) => ({
        number: row.trackingNumber,
        tag: row.tenantId,
        ...(row.carrierCode === null ? {} : { carrier: row.carrierCode }),
      }));
      try {
        const answer = await client.register(items);
        summary.requests += 1;
        const outcomes = registrationOutcomes(items, answer);
        settlements = batch.map((row) => {
          const outcome = outcomes.get(row.trackingNumber);
          if (outcome?.kind === "registered" && outcome.alreadyRegistered) alreadyRegistered.push(row);
          return outcome === undefined ? released(row) : settlementOfOutcome(row, outcome, Date.now());
        });
      } catch (error) {
        if (!(error instanceof UpstreamError)) throw error;
        const sent = error.details?.sent !== false;
        if (sent) summary.requests += 1;
        if (error.kind === "auth" || !sent) {
          stopped = error;
          ctx.logger.error("17track registration stopped for this run", {
            kind: error.kind,
            error: error.message,
            track17Code: error.details?.track17Code,
          });
        } else {
          ctx.logger.warn("17track register request failed; its numbers retry later", {
            kind: error.kind,
            error: error.message,
            numbers: batch.length,
          });
        }
        const failure = error;
        settlements = batch.map((row) => settlementOfFailure(row, failure, Date.now()));
      }
    }
    count(summary, settlements, alreadyRegistered.length);
    await settle(ctx.db.http, settlements);
    if (alreadyRegistered.length > 0 && stopped === null && Date.now() <= deadline) {
      summary.statesFetched += await fetchStates(ctx, client, alreadyRegistered);
    }
  }
  ctx.logger.info("parcel registration run", { ...summary });
  return summary;
}

function count(summary: RegistrationRunSummary, settlements: Settlement[], alreadyRegistered: number): void {
  summary.alreadyRegistered += alreadyRegistered;
  for (const s of settlements) {
    if (s.attempted === 0) summary.deferred += 1;
    else if (s.status === "registered") summary.registered += 1;
    else if (s.status === "rejected") summary.rejected += 1;
    else if (s.status === "failed") summary.failed += 1;
    else summary.retrying += 1;
  }
}

/** Statements of many tenants in one transaction, one round trip: each tenant's behind its own context. */
async function acrossTenants(
  db: HttpDb,
  byTenant: Map<string, (db: HttpDb) => BatchItem<"pg">[]>,
): Promise<void> {
  const statements: BatchItem<"pg">[] = [];
  for (const [tenantId, build] of byTenant) {
    statements.push(db.execute(tenantContextStatement(tenantId)), ...build(db));
  }
  const [first, ...rest] = statements;
  if (first === undefined) return;
  await db.batch([first, ...rest]);
}

function groupByTenant<T extends { tenantId: string }>(rows: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const group = groups.get(row.tenantId);
    if (group) group.push(row);
    else groups.set(row.tenantId, [row]);
  }
  return groups;
}

/** Writes every settlement back: per tenant, one statement over a JSON list, all in one transaction. */
async function settle(db: HttpDb, settlements: Settlement[]): Promise<void> {
  const statements = new Map<string, (db: HttpDb) => BatchItem<"pg">[]>();
  for (const [tenantId, rows] of groupByTenant(settlements)) {
    const json = JSON.stringify(
      rows.map((s) => ({
        tracking_number: s.trackingNumber,
        status: s.status,
        carrier_code: s.carrierCode,
        error: s.lastError === "keep" ? null : s.lastError,
        keep_error: s.lastError === "keep",
        delay_seconds: s.delaySeconds,
        attempted: s.attempted,
      })),
    );
    statements.set(tenantId, (db) => [
      db.execute(sql`
        update parcel_registrations r set
          status = u.status,
          carrier_code = coalesce(u.carrier_code, r.carrier_code),
          attempts = r.attempts + u.attempted,
          last_error = case when u.keep_error then r.last_error else u.error end,
          registered_at = case when u.status = 'registered' then coalesce(r.registered_at, now()) else r.registered_at end,
          next_attempt_at = now() + make_interval(secs => u.delay_seconds),
          updated_at = now()
          from jsonb_to_recordset(${json}::jsonb) as u(tracking_number text, status text, carrier_code integer,
                                                       error jsonb, keep_error boolean, delay_seconds integer,
                                                       attempted integer)
         where r.tenant_id = ${tenantId} and r.tracking_number = u.tracking_number and r.status = 'pending'`),
    ]);
  }
  await acrossTenants(db, statements);
}

/**
 * 17track already tracked these numbers (another tenant registered them, or an earlier run whose answer was
 * lost): it will not push their history again, so their current state is read now, once per number, and
 * written to each tenant that asked. Best effort: a failure only means the state arrives with the next push.
 */
async function fetchStates(
  ctx: ServiceContext,
  client: Track17Client,
  rows: readonly ClaimedRegistration[],
): Promise<number> {
  const numbers = [...new Set(rows.map((r) => r.trackingNumber))];
  const updates = new Map<string, TrackingUpdate>();
  for (let i = 0; i < numbers.length; i += TRACK17_MAX_BATCH) {
    const chunk = numbers.slice(i, i + TRACK17_MAX_BATCH);
    try {
      const found = trackInfoByNumber(await client.getTrackInfo(chunk.map((number) => ({ number }))));
      for (const number of chunk) {
        const item = found.get(number);
        const update = item ? trackingUpdateOfTrackInfo(item) : null;
        // Keyed by the number as registered: 17track's echo may differ in case only.
        if (update) updates.set(number, { ...update, trackingNumber: number });
      }
    } catch (error) {
      ctx.logger.warn("17track gettrackinfo failed; the state arrives with the next push", {
        numbers: chunk.length,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  const statements = new Map<string, (db: HttpDb) => BatchItem<"pg">[]>();
  let written = 0;
  for (const [tenantId, tenantRows] of groupByTenant(rows)) {
    const mine = tenantRows.flatMap((r) => {
      const update = updates.get(r.trackingNumber);
      return update ? [update] : [];
    });
    if (mine.length === 0) continue;
    written += mine.length;
    statements.set(tenantId, (db) => mine.map((update) => upsertParcelState(db, tenantId, update)));
  }
  await acrossTenants(ctx.db.http, statements);
  return written;
}
