import { sql } from "drizzle-orm";
import { asTrackingUpdatedPush } from "../../adapters/tracking/track17/transform";
import type { Track17TrackInfoItem } from "../../adapters/tracking/track17/types";
import type { HttpDb } from "../../db/client";
import { type TrackingUpdate, trackingUpdateOf } from "../webhooks/parcel-tracking";

/**
 * A gettrackinfo item as the parcel state a TRACKING_UPDATED push would write: the same `track_info`, read by
 * the webhook path's own transform, so both sources agree on status, events and their order.
 */
export function trackingUpdateOfTrackInfo(item: Track17TrackInfoItem): TrackingUpdate | null {
  return trackingUpdateOf(asTrackingUpdatedPush(item));
}

/**
 * Upserts a tenant's parcel state with the webhook path's rule (src/services/webhooks/process-webhook-event.ts):
 * a state only replaces one whose newest carrier event is not newer, events only when the new state has
 * some, `stopped` only ever turns on. A state read with gettrackinfo names no webhook event, so the last
 * one applied stays recorded. Runs inside the tenant's transaction.
 */
export function upsertParcelState(db: HttpDb, tenantId: string, update: TrackingUpdate) {
  return db.execute(sql`
    insert into parcel_trackings (tenant_id, tracking_number, carrier_code, status, sub_status, latest_event,
                                  events, stopped, source_updated_at)
    values (${tenantId}, ${update.trackingNumber}, ${update.carrierCode}, ${update.status}, ${update.subStatus},
            ${JSON.stringify(update.latestEvent)}::jsonb, ${JSON.stringify(update.events)}::jsonb, ${update.stopped},
            ${update.sourceUpdatedAt}::timestamptz)
    on conflict (tenant_id, tracking_number) do update set
      carrier_code = coalesce(excluded.carrier_code, parcel_trackings.carrier_code),
      status = case when excluded.source_updated_at >= parcel_trackings.source_updated_at
                    then excluded.status else parcel_trackings.status end,
      sub_status = case when excluded.source_updated_at >= parcel_trackings.source_updated_at
                        then excluded.sub_status else parcel_trackings.sub_status end,
      latest_event = case when excluded.source_updated_at >= parcel_trackings.source_updated_at
                          then excluded.latest_event else parcel_trackings.latest_event end,
      events = case when excluded.source_updated_at >= parcel_trackings.source_updated_at
                         and jsonb_array_length(excluded.events) > 0
                    then excluded.events else parcel_trackings.events end,
      stopped = parcel_trackings.stopped or excluded.stopped,
      source_updated_at = greatest(parcel_trackings.source_updated_at, excluded.source_updated_at),
      updated_at = now()`);
}
