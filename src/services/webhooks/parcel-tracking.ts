import { sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";

/**
 * 17track's push (API v2.x) mapped to a parcel's tracking state: pure, so it is tested on the documented
 * payloads. TRACKING_UPDATED carries the whole `track_info`; TRACKING_STOPPED only says tracking ended.
 * `upsertParcelState` is the one statement that writes such a state, for pushes and gettrackinfo alike.
 */

export interface ParcelEvent {
  timeUtc: string | null;
  description: string;
  location: string | null;
  stage: string | null;
  subStatus: string | null;
}

export interface TrackingUpdate {
  trackingNumber: string;
  carrierCode: number | null;
  status: string;
  subStatus: string | null;
  latestEvent: ParcelEvent | null;
  events: ParcelEvent[];
  stopped: boolean;
  /** The newest carrier event's time: an older push never overwrites a newer state. */
  sourceUpdatedAt: string;
}

/** Events kept per parcel: the newest first, enough for any customer conversation. */
const MAX_EVENTS = 100;
/**
 * A push that carries no carrier event time (a stop, or a registration's "NotFound") says nothing about
 * where the parcel is: it never wins over a state that has one. Ties go to the later arrival (`>=`).
 */
const NEVER_NEWER = "1970-01-01T00:00:00.000Z";

type Fields = Record<string, unknown>;

function fields(value: unknown): Fields | null {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Fields) : null;
}

function text(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

function utc(value: unknown): string | null {
  const s = text(value);
  if (s === null) return null;
  const ms = Date.parse(s);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

function eventOf(raw: unknown): ParcelEvent | null {
  const e = fields(raw);
  if (!e) return null;
  const description = text(e.description);
  if (description === null) return null;
  return {
    timeUtc: utc(e.time_utc) ?? utc(e.time_iso),
    description: description.slice(0, 1000),
    location: text(e.location)?.slice(0, 300) ?? null,
    stage: text(e.stage),
    subStatus: text(e.sub_status),
  };
}

/** Null for events Tradewind does not act on (or a push without a parcel number). */
export function trackingUpdateOf(payload: Fields): TrackingUpdate | null {
  const event = text(payload.event);
  const data = fields(payload.data);
  const trackingNumber = text(data?.number);
  if (!data || trackingNumber === null) return null;
  const carrierCode =
    typeof data.carrier === "number" && Number.isInteger(data.carrier) ? data.carrier : null;
  if (event === "TRACKING_STOPPED") {
    return {
      trackingNumber,
      carrierCode,
      status: "Stopped",
      subStatus: null,
      latestEvent: null,
      events: [],
      stopped: true,
      sourceUpdatedAt: NEVER_NEWER,
    };
  }
  if (event !== "TRACKING_UPDATED") return null;
  const info = fields(data.track_info);
  const latestStatus = fields(info?.latest_status);
  const latestEvent = eventOf(info?.latest_event);
  const providers = Array.isArray(fields(info?.tracking)?.providers)
    ? (fields(info?.tracking)?.providers as unknown[])
    : [];
  const events = providers
    .flatMap((p) => {
      const list = fields(p)?.events;
      return Array.isArray(list) ? list : [];
    })
    .map(eventOf)
    .filter((e): e is ParcelEvent => e !== null)
    .sort((a, b) => (b.timeUtc ?? "").localeCompare(a.timeUtc ?? ""))
    .slice(0, MAX_EVENTS);
  const newest = latestEvent?.timeUtc ?? events[0]?.timeUtc ?? null;
  return {
    trackingNumber,
    carrierCode,
    status: text(latestStatus?.status) ?? "NotFound",
    subStatus: text(latestStatus?.sub_status),
    latestEvent,
    events,
    stopped: false,
    // Without any event time the push ranks below every evented state. Dating it by its arrival made a
    // later push whose carrier scan predates that arrival (17track syncs scans late) lose: stuck at NotFound.
    sourceUpdatedAt: newest ?? NEVER_NEWER,
  };
}

/**
 * Writes a tenant's parcel state, newer carrier events winning: a state only replaces one whose newest carrier
 * event is not newer (ties go to the later arrival), events only when the new state has some, `stopped` only
 * ever turns on. Used by the webhook consumer (a push: `webhookEventId` names it) and by the registration
 * cron (a gettrackinfo read names no event, so the last push applied stays recorded). One statement, to run
 * inside the tenant's transaction.
 */
export function upsertParcelState(
  db: HttpDb,
  tenantId: string,
  update: TrackingUpdate,
  webhookEventId: string | null = null,
) {
  const newer = sql.raw("excluded.source_updated_at >= parcel_trackings.source_updated_at");
  return db.execute(sql`
    insert into parcel_trackings (tenant_id, tracking_number, carrier_code, status, sub_status, latest_event,
                                  events, stopped, source_updated_at, last_webhook_event_id)
    values (${tenantId}, ${update.trackingNumber}, ${update.carrierCode}, ${update.status}, ${update.subStatus},
            ${JSON.stringify(update.latestEvent)}::jsonb, ${JSON.stringify(update.events)}::jsonb, ${update.stopped},
            ${update.sourceUpdatedAt}::timestamptz, ${webhookEventId}::uuid)
    on conflict (tenant_id, tracking_number) do update set
      carrier_code = coalesce(excluded.carrier_code, parcel_trackings.carrier_code),
      status = case when ${newer} then excluded.status else parcel_trackings.status end,
      sub_status = case when ${newer} then excluded.sub_status else parcel_trackings.sub_status end,
      latest_event = case when ${newer} then excluded.latest_event else parcel_trackings.latest_event end,
      events = case when ${newer} and jsonb_array_length(excluded.events) > 0
                    then excluded.events else parcel_trackings.events end,
      stopped = parcel_trackings.stopped or excluded.stopped,
      source_updated_at = greatest(parcel_trackings.source_updated_at, excluded.source_updated_at),
      last_webhook_event_id = coalesce(excluded.last_webhook_event_id, parcel_trackings.last_webhook_event_id),
      updated_at = now()`);
}
