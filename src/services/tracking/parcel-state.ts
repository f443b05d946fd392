import { asTrackingUpdatedPush } from "../../adapters/tracking/track17/transform";
import type { Track17TrackInfoItem } from "../../adapters/tracking/track17/types";
import { type TrackingUpdate, trackingUpdateOf } from "../webhooks/parcel-tracking";

/**
 * A gettrackinfo item as the parcel state a TRACKING_UPDATED push would write: the same `track_info`, read by
 * the webhook path's own transform, so both sources agree on status, events and their order. Both are then
 * written by the same statement (`upsertParcelState` in src/services/webhooks/parcel-tracking.ts).
 */
export function trackingUpdateOfTrackInfo(item: Track17TrackInfoItem): TrackingUpdate | null {
  return trackingUpdateOf(asTrackingUpdatedPush(item));
}
