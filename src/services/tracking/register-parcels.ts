import { sql } from "drizzle-orm";
import { normalizeTrackingNumber } from "../../adapters/tracking/track17/transform";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { ValidationError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import {
  PARCEL_COLUMNS,
  type ParcelRow,
  type ParcelSummary,
  toParcelSummary,
  trackingTenantOf,
} from "./tracking-view";

export interface RegisterParcelsInput {
  trackingNumbers: string[];
  /** 17track carrier key; absent = 17track detects the carrier. */
  carrierCode?: number | undefined;
  /** The tenant's order the parcels belong to. */
  orderId?: string | undefined;
}

export interface RegisteredParcel {
  trackingNumber: string;
  /** False when the tenant already tracked the number (nothing new was queued unless it had been refused). */
  created: boolean;
  parcel: ParcelSummary;
}

/**
 * Asks 17track to track numbers for the tenant: each is queued as a `pending` registration in one
 * transaction, and the registration cron sends it to 17track (batches of 40, within 17track's rate limit) —
 * within a minute when 17track is reachable. Numbers are normalized as 17track takes them; one it could never
 * accept is a 422 before anything is stored. Idempotent per number: a number already pending or registered
 * keeps its state (a carrier code given now replaces one not yet sent, an order fills a missing one); a
 * refused or given-up one is queued again from scratch (send the carrier code 17track could not detect).
 */
export async function registerParcels({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: RegisterParcelsInput;
}): Promise<RegisteredParcel[]> {
  const t = trackingTenantOf(ctx, "tracking:write");
  const invalid: Record<string, string[]> = {};
  const numbers: string[] = [];
  input.trackingNumbers.forEach((raw, i) => {
    const number = normalizeTrackingNumber(raw);
    if (number === null) invalid[`trackingNumbers.${i}`] = ["Must be 5 to 50 letters and digits"];
    else if (!numbers.includes(number)) numbers.push(number);
  });
  if (Object.keys(invalid).length > 0) throw new ValidationError("Invalid tracking number", invalid);
  const refused = sql.raw("parcel_registrations.status in ('rejected', 'failed')");
  const write = () =>
    tenantBatch(ctx.db.http, t, (db) => [
      db.execute<{ tracking_number: string; created: boolean }>(sql`
        insert into parcel_registrations (tenant_id, tracking_number, carrier_code, order_id, status, next_attempt_at)
        select ${t}, n, ${input.carrierCode ?? null}::int, ${input.orderId ?? null}::uuid, 'pending', now()
          from unnest(${sql.param(numbers)}::text[]) as n
        on conflict (tenant_id, tracking_number) do update set
          carrier_code = case when parcel_registrations.status = 'registered'
                              then coalesce(parcel_registrations.carrier_code, excluded.carrier_code)
                              else coalesce(excluded.carrier_code, parcel_registrations.carrier_code) end,
          order_id = coalesce(parcel_registrations.order_id, excluded.order_id),
          status = case when ${refused} then 'pending' else parcel_registrations.status end,
          attempts = case when ${refused} then 0 else parcel_registrations.attempts end,
          last_error = case when ${refused} then null else parcel_registrations.last_error end,
          next_attempt_at = case when ${refused} then now() else parcel_registrations.next_attempt_at end,
          updated_at = now()
        returning tracking_number, (xmax = 0) as created`),
      db.execute<ParcelRow>(sql`
        select ${PARCEL_COLUMNS}
          from parcel_registrations r
          left join parcel_trackings p on p.tenant_id = r.tenant_id and p.tracking_number = r.tracking_number
         where r.tenant_id = ${t} and r.tracking_number = any(${sql.param(numbers)}::text[])`),
    ]);
  let results: Awaited<ReturnType<typeof write>>;
  try {
    results = await write();
  } catch (error) {
    const pg = pgErrorOf(error);
    if (pg?.code === PG_FOREIGN_KEY_VIOLATION && pg.constraint === "parcel_registrations_order_fk") {
      throw new ValidationError("Unknown order", { orderId: ["No such order in this tenant"] });
    }
    throw error;
  }
  const [upserted, parcels] = results;
  const created = new Map(upserted.rows.map((r) => [r.tracking_number, r.created === true]));
  const byNumber = new Map(parcels.rows.map((row) => [row.tracking_number, toParcelSummary(row)]));
  ctx.logger.info("parcels queued for 17track", {
    tenantId: t,
    numbers: numbers.length,
    created: [...created.values()].filter(Boolean).length,
  });
  return numbers.flatMap((number) => {
    const parcel = byNumber.get(number);
    return parcel ? [{ trackingNumber: number, created: created.get(number) ?? false, parcel }] : [];
  });
}
