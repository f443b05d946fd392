/**
 * 17track's push (API v2.x) mapped to a parcel's tracking state: pure, so it is tested on the documented
 * payloads. TRACKING_UPDATED carries the whole `track_info`; TRACKING_STOPPED only says tracking ended.
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
