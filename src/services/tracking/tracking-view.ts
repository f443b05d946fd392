import { sql } from "drizzle-orm";
import { UnauthorizedError } from "../../lib/errors";
import type { Permission } from "../auth/permissions";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import type { ParcelEvent } from "../webhooks/parcel-tracking";

/**
 * A parcel as customer service sees it: 17track's state (from pushes and gettrackinfo) merged with Tradewind's
 * registration of the number. `status` is 17track's main status (NotFound, InfoReceived, InTransit, Expired,
 * AvailableForPickup, OutForDelivery, DeliveryFailure, Delivered, Exception; Stopped when 17track stopped
 * before any news), or, while 17track has told nothing yet, `Pending` (registration pending or done) or
 * `Rejected` (17track refused the number, or registration gave up).
 */
export const PARCEL_STATUSES = [
  "Pending",
  "Rejected",
  "NotFound",
  "InfoReceived",
  "InTransit",
  "Expired",
  "AvailableForPickup",
  "OutForDelivery",
  "DeliveryFailure",
  "Delivered",
  "Exception",
  "Stopped",
] as const;
export type ParcelStatus = (typeof PARCEL_STATUSES)[number];

export const REGISTRATION_STATUSES = ["pending", "registered", "rejected", "failed"] as const;
export type RegistrationStatus = (typeof REGISTRATION_STATUSES)[number];

/** Why the last registration attempt did not succeed (absent once registered). */
export interface RegistrationError {
  /** `rejected`: 17track refused the number for good; otherwise the failure kind it will be retried for. */
  kind: "rejected" | "retryable" | "rate_limited" | "auth" | "permanent";
  message: string;
  /** 17track's error code, when it gave one (e.g. -18019903 carrier not detected). */
  track17Code: number | null;
  at: string;
}

export interface ParcelRegistration {
  status: RegistrationStatus;
  carrierCode: number | null;
  orderId: string | null;
  shipmentId: string | null;
  attempts: number;
  lastError: RegistrationError | null;
  /** When a pending registration is tried next. */
  nextAttemptAt: string | null;
  registeredAt: string | null;
  createdAt: string;
}

export interface ParcelSummary {
  trackingNumber: string;
  status: string;
  subStatus: string | null;
  /** 17track carrier key (3011 China Post, 100002 UPS, …). */
  carrierCode: number | null;
  stopped: boolean;
  latestEvent: ParcelEvent | null;
  /** Time of the newest carrier event known; null before the first. */
  lastEventAt: string | null;
  updatedAt: string;
  /** Null when the state came from a push for a shipped number Tradewind did not register itself. */
  registration: ParcelRegistration | null;
}

export interface ParcelTracking extends ParcelSummary {
  /** The carrier's events, newest first (at most 100). */
  events: ParcelEvent[];
}

/** The row both reads select: a registration and/or a parcel state of one number. */
export interface ParcelRow extends Record<string, unknown> {
  tracking_number: string;
  r_status: RegistrationStatus | null;
  r_carrier_code: number | null;
  r_order_id: string | null;
  r_shipment_id: string | null;
  r_attempts: number | null;
  r_last_error: RegistrationError | null;
  r_next_attempt_at: string | null;
  r_registered_at: string | null;
  r_created_at: string | null;
  r_updated_at: string | null;
  p_carrier_code: number | null;
  p_status: string | null;
  p_sub_status: string | null;
  p_latest_event: ParcelEvent | null;
  p_stopped: boolean | null;
  /** The NEVER_NEWER sentinel (1970) when no carrier event was ever seen. */
  p_source_updated_at: string | null;
  p_updated_at: string | null;
  p_events?: ParcelEvent[] | null;
}

/** The columns of `ParcelRow`, for `r` (parcel_registrations) and `p` (parcel_trackings). */
export const PARCEL_COLUMNS = sql.raw(
  "coalesce(r.tracking_number, p.tracking_number) as tracking_number, " +
    "r.status as r_status, r.carrier_code as r_carrier_code, r.order_id as r_order_id, " +
    "r.shipment_id as r_shipment_id, r.attempts as r_attempts, r.last_error as r_last_error, " +
    "r.next_attempt_at as r_next_attempt_at, r.registered_at as r_registered_at, " +
    "r.created_at as r_created_at, r.updated_at as r_updated_at, " +
    "p.carrier_code as p_carrier_code, p.status as p_status, p.sub_status as p_sub_status, " +
    "p.latest_event as p_latest_event, p.stopped as p_stopped, p.source_updated_at as p_source_updated_at, " +
    "p.updated_at as p_updated_at",
);

/** The status shown for a row: 17track's once it said anything, else what registration came to. */
export const PARCEL_STATUS_SQL = sql.raw(
  "coalesce(p.status, case when r.status in ('rejected', 'failed') then 'Rejected' else 'Pending' end)",
);

const iso = (value: string | null | undefined): string | null =>
  value === null || value === undefined ? null : new Date(value).toISOString();

/** Before 17track's first carrier event, the state's source time is the 1970 sentinel: no event time. */
const eventTime = (value: string | null): string | null => {
  const at = iso(value);
  return at === null || Date.parse(at) <= 0 ? null : at;
};

export function toParcelSummary(row: ParcelRow): ParcelSummary {
  const registration: ParcelRegistration | null =
    row.r_status === null
      ? null
      : {
          status: row.r_status,
          carrierCode: row.r_carrier_code === null ? null : Number(row.r_carrier_code),
          orderId: row.r_order_id,
          shipmentId: row.r_shipment_id,
          attempts: Number(row.r_attempts ?? 0),
          lastError: row.r_last_error,
          nextAttemptAt: row.r_status === "pending" ? iso(row.r_next_attempt_at) : null,
          registeredAt: iso(row.r_registered_at),
          createdAt: iso(row.r_created_at) ?? new Date(0).toISOString(),
        };
  const pendingStatus = row.r_status === "rejected" || row.r_status === "failed" ? "Rejected" : "Pending";
  const carrier = row.p_carrier_code ?? row.r_carrier_code;
  return {
    trackingNumber: row.tracking_number,
    status: row.p_status ?? pendingStatus,
    subStatus: row.p_sub_status,
    carrierCode: carrier === null ? null : Number(carrier),
    stopped: row.p_stopped ?? false,
    latestEvent: row.p_latest_event,
    lastEventAt: eventTime(row.p_source_updated_at),
    updatedAt:
      [iso(row.p_updated_at), iso(row.r_updated_at)]
        .filter((v): v is string => v !== null)
        .sort()
        .at(-1) ?? new Date(0).toISOString(),
    registration,
  };
}

export function toParcelTracking(row: ParcelRow): ParcelTracking {
  return { ...toParcelSummary(row), events: row.p_events ?? [] };
}

/**
 * The tenant whose parcels a caller may see. A signed-in user or API key needs `permission`; the chat bot
 * and other internal callers act as a system actor for the tenant the context names.
 */
export function trackingTenantOf(ctx: ServiceContext, permission: Permission): string {
  const principal = ctx.principal;
  if (principal && principal.kind !== "applicant") {
    requirePermissionOf(principal, permission);
    return principal.tenantId;
  }
  if (!principal && ctx.actor?.type === "system" && ctx.tenantId) return ctx.tenantId;
  throw new UnauthorizedError("Authentication required");
}
