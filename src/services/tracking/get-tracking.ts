import { sql } from "drizzle-orm";
import { normalizeTrackingNumber } from "../../adapters/tracking/track17/transform";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, ValidationError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import {
  PARCEL_COLUMNS,
  type ParcelRow,
  type ParcelTracking,
  toParcelTracking,
  trackingTenantOf,
} from "./tracking-view";

/**
 * "Where is my parcel": the tenant's state of one tracking number — status, sub-status, carrier, latest
 * event, the events timeline and how its registration with 17track stands — in one Postgres round trip.
 *
 * - Registered (or queued) but 17track has told nothing yet: status `Pending`.
 * - 17track refused it: status `Rejected`, with `registration.lastError` saying why.
 * - Never registered by this tenant and never pushed to it: 404. A read never registers on demand: the chat
 *   bot passes numbers customers type, and each registration spends 17track quota; registering is an
 *   explicit `POST /tracking` (or automatic for the tenant's own shipments).
 *
 * Called by `GET /api/v1/tracking/{number}` (tracking:read) and by the chat bot (system actor of the tenant).
 */
export async function getTracking({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { trackingNumber: string };
}): Promise<ParcelTracking> {
  const t = trackingTenantOf(ctx, "tracking:read");
  const number = normalizeTrackingNumber(input.trackingNumber);
  if (number === null) {
    throw new ValidationError("Invalid tracking number", {
      trackingNumber: ["Must be 5 to 50 letters and digits (spaces and dashes are ignored)"],
    });
  }
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ParcelRow>(sql`
      select ${PARCEL_COLUMNS}, p.events as p_events
        from (select ${t}::uuid as tenant_id, ${number}::text as tracking_number) q
        left join parcel_registrations r on r.tenant_id = q.tenant_id and r.tracking_number = q.tracking_number
        left join parcel_trackings p on p.tenant_id = q.tenant_id and p.tracking_number = q.tracking_number
       where r.tracking_number is not null or p.tracking_number is not null`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("This tracking number is not tracked by this tenant");
  return toParcelTracking(row);
}
