import type { UpstreamFailureKind } from "../../../lib/upstream-gate";
import {
  TRACK17_ERROR,
  type Track17ItemError,
  type Track17RegisterData,
  type Track17RegisterItem,
  type Track17TrackInfoData,
  type Track17TrackInfoItem,
} from "./types";

/**
 * Pure mapping of 17track's answers into what Tradewind decides per tracking number. The parcel state
 * itself (status, events) is read from `track_info` by the webhook path's transform
 * (src/services/webhooks/parcel-tracking.ts), so a gettrackinfo answer and a push land identically.
 */

/**
 * A tracking number as 17track takes it: 5–50 letters and digits ("a continuous combination"). Spaces and
 * dashes that people and ERPs put in are dropped and letters upper-cased, so "rr 123-456-789 cn" and
 * "RR123456789CN" are one parcel. Null = not a number 17track could ever accept.
 */
export function normalizeTrackingNumber(raw: string): string | null {
  const compact = raw.replace(/[\s-]+/g, "").toUpperCase();
  return /^[A-Z0-9]{5,50}$/.test(compact) ? compact : null;
}

/** What the registration of one number came to. */
export type RegistrationOutcome =
  /** 17track tracks it now (`alreadyRegistered`: it did before this call, maybe for another tenant). */
  | { kind: "registered"; carrierCode: number | null; alreadyRegistered: boolean }
  /** 17track will never take it as sent (bad format, carrier unknown, …): tell the user, do not retry. */
  | { kind: "rejected"; error: Track17ItemError }
  /** Try again later (17track had an internal error, the account's quota or daily limit ran out). */
  | { kind: "retry"; error: Track17ItemError; retryAfterSeconds: number | null };

/** Per-number refusals that no retry can change: the number or carrier as sent is wrong. */
const PERMANENT_ITEM_CODES: ReadonlySet<number> = new Set([
  TRACK17_ERROR.missingData,
  TRACK17_ERROR.invalidValue,
  TRACK17_ERROR.invalidFormat,
  TRACK17_ERROR.invalidSubmittedData,
  TRACK17_ERROR.invalidFieldValue,
  TRACK17_ERROR.lastMileOnlyForPostal,
  TRACK17_ERROR.countryAndPostalCodeRequired,
  TRACK17_ERROR.postalCodeRequired,
  TRACK17_ERROR.phoneNumberRequired,
  TRACK17_ERROR.carrierNotDetected,
  TRACK17_ERROR.carrierCodeIncorrect,
]);

/** The account ran out (quota, daily limit): nothing is gained by asking again before an hour. */
const ACCOUNT_LIMIT_RETRY_SECONDS = 3600;

/**
 * Codes saying the 17track account, not the number, cannot go on (daily limit, quota used up), per number or
 * for a whole request: the number is fine and waits for the account without spending one of its attempts.
 */
export function isAccountLimitCode(code: number | null | undefined): boolean {
  return code === TRACK17_ERROR.quotaExhausted || code === TRACK17_ERROR.dailyLimitExceeded;
}

/** How a per-number error code of register is treated. Unknown codes are retried (a bounded number of times). */
export function registrationOutcomeOfError(error: Track17ItemError): RegistrationOutcome {
  if (error.code === TRACK17_ERROR.alreadyRegistered) {
    return { kind: "registered", carrierCode: null, alreadyRegistered: true };
  }
  if (PERMANENT_ITEM_CODES.has(error.code)) return { kind: "rejected", error };
  if (isAccountLimitCode(error.code)) {
    return { kind: "retry", error, retryAfterSeconds: ACCOUNT_LIMIT_RETRY_SECONDS };
  }
  return { kind: "retry", error, retryAfterSeconds: null };
}

/**
 * The outcome of every number sent in one register call. A number 17track names in neither list (it
 * should not happen) is retried rather than assumed registered.
 */
export function registrationOutcomes(
  sent: readonly Track17RegisterItem[],
  data: Track17RegisterData,
): Map<string, RegistrationOutcome> {
  const accepted = new Map(data.accepted.map((a) => [a.number.toUpperCase(), a]));
  const rejected = new Map(data.rejected.map((r) => [r.number.toUpperCase(), r.error]));
  const outcomes = new Map<string, RegistrationOutcome>();
  for (const item of sent) {
    const key = item.number.toUpperCase();
    const ok = accepted.get(key);
    const error = rejected.get(key);
    if (ok !== undefined) {
      outcomes.set(item.number, {
        kind: "registered",
        carrierCode: ok.carrier ?? item.carrier ?? null,
        alreadyRegistered: false,
      });
    } else if (error !== undefined) {
      const outcome = registrationOutcomeOfError(error);
      outcomes.set(
        item.number,
        outcome.kind === "registered" ? { ...outcome, carrierCode: item.carrier ?? null } : outcome,
      );
    } else {
      outcomes.set(item.number, {
        kind: "retry",
        error: { code: 0, message: "17track's answer did not mention this number" },
        retryAfterSeconds: null,
      });
    }
  }
  return outcomes;
}

/** gettrackinfo's accepted items by number (upper-cased); rejected ones (not registered, no info yet) are left out. */
export function trackInfoByNumber(data: Track17TrackInfoData): Map<string, Track17TrackInfoItem> {
  const found = new Map<string, Track17TrackInfoItem>();
  for (const item of data.accepted) {
    if (item.track_info) found.set(item.number.toUpperCase(), item);
  }
  return found;
}

/**
 * A gettrackinfo item as the TRACKING_UPDATED push that carries the same `track_info`, so the webhook
 * path's transform reads both.
 */
export function asTrackingUpdatedPush(item: Track17TrackInfoItem): Record<string, unknown> {
  return {
    event: "TRACKING_UPDATED",
    data: {
      number: item.number,
      carrier: item.carrier ?? null,
      tag: item.tag ?? null,
      track_info: item.track_info ?? null,
    },
  };
}

/** How a code refusing a whole request is treated. */
export function kindOfTrack17Code(code: number): UpstreamFailureKind {
  switch (code) {
    case TRACK17_ERROR.ipNotWhitelisted:
    case TRACK17_ERROR.invalidSecurityKey:
    case TRACK17_ERROR.accountDisabled:
    case TRACK17_ERROR.unauthorized:
      return "auth";
    case TRACK17_ERROR.internalError:
      return "retryable";
    case TRACK17_ERROR.quotaExhausted:
    case TRACK17_ERROR.dailyLimitExceeded:
      return "rate_limited";
    default:
      return "permanent";
  }
}

export const TRACK17_ACCOUNT_LIMIT_RETRY_SECONDS = ACCOUNT_LIMIT_RETRY_SECONDS;
