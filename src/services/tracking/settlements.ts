import {
  isAccountLimitCode,
  type RegistrationOutcome,
  TRACK17_ACCOUNT_LIMIT_RETRY_SECONDS,
} from "../../adapters/tracking/track17/transform";
import { backoffSeconds } from "../../lib/backoff";
import type { UpstreamError } from "../../lib/errors";
import type { PendingParcel } from "./batches";
import type { RegistrationError, RegistrationStatus } from "./tracking-view";

/** A registration the cron claimed: which tenant, which number, and how it stood. */
export interface ClaimedRegistration extends PendingParcel {
  carrierCode: number | null;
  attempts: number;
}

/** What one claimed registration comes to after a run; written back by the tenant's settle statement. */
export interface Settlement {
  tenantId: string;
  trackingNumber: string;
  status: RegistrationStatus;
  carrierCode: number | null;
  /** `keep`: nothing was sent, so the last attempt's error still says how it stands. */
  lastError: RegistrationError | null | "keep";
  /** From now until it is due again (pending only; 0 = at once). */
  delaySeconds: number;
  /** 1 when 17track was asked this time. */
  attempted: 0 | 1;
}

export const RETRY_POLICY = {
  /** Attempts before a registration that keeps failing is given up (`failed`; re-POST to try again). */
  maxAttempts: 8,
  /** Exponential backoff with jitter between attempts: 1 minute, doubling, at most 6 hours. */
  baseSeconds: 60,
  capSeconds: 6 * 60 * 60,
  /** A refused key is not the numbers' fault: they wait, unattempted, until the key is fixed. */
  authRetrySeconds: 15 * 60,
  /**
   * Nor is the account's quota or daily limit running out: they wait, unattempted, until it is topped up or
   * the day turns (else a weekend without quota would give up every number queued during it).
   */
  accountLimitRetrySeconds: TRACK17_ACCOUNT_LIMIT_RETRY_SECONDS,
} as const;

const errorOf = (
  kind: RegistrationError["kind"],
  message: string,
  track17Code: number | null,
  now: number,
): RegistrationError => ({
  kind,
  message: message.slice(0, 500),
  track17Code,
  at: new Date(now).toISOString(),
});

/** The account cannot register now (quota, daily limit): pending, unattempted, due again in an hour or later. */
function waitForAccount(
  row: ClaimedRegistration,
  error: RegistrationError,
  retryAfterSeconds: number | undefined,
): Settlement {
  return {
    tenantId: row.tenantId,
    trackingNumber: row.trackingNumber,
    status: "pending",
    carrierCode: null,
    lastError: error,
    delaySeconds: Math.max(retryAfterSeconds ?? 0, RETRY_POLICY.accountLimitRetrySeconds),
    attempted: 0,
  };
}

/** A retry, or `failed` once the attempts run out. */
function retryOrGiveUp(
  row: ClaimedRegistration,
  error: RegistrationError,
  retryAfterSeconds: number | undefined,
  random: () => number,
): Settlement {
  const attempt = row.attempts + 1;
  const base = {
    tenantId: row.tenantId,
    trackingNumber: row.trackingNumber,
    carrierCode: null,
    attempted: 1 as const,
  };
  if (attempt >= RETRY_POLICY.maxAttempts)
    return { ...base, status: "failed", lastError: error, delaySeconds: 0 };
  return {
    ...base,
    status: "pending",
    lastError: error,
    delaySeconds: backoffSeconds(attempt, {
      baseSeconds: RETRY_POLICY.baseSeconds,
      capSeconds: RETRY_POLICY.capSeconds,
      random,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    }),
  };
}

/** The settlement of a number 17track answered for. */
export function settlementOfOutcome(
  row: ClaimedRegistration,
  outcome: RegistrationOutcome,
  now: number,
  random: () => number = Math.random,
): Settlement {
  const base = { tenantId: row.tenantId, trackingNumber: row.trackingNumber, attempted: 1 as const };
  switch (outcome.kind) {
    case "registered":
      return {
        ...base,
        status: "registered",
        carrierCode: outcome.carrierCode,
        lastError: null,
        delaySeconds: 0,
      };
    case "rejected":
      return {
        ...base,
        status: "rejected",
        carrierCode: null,
        lastError: errorOf("rejected", outcome.error.message, outcome.error.code, now),
        delaySeconds: 0,
      };
    case "retry": {
      const error = errorOf(
        outcome.retryAfterSeconds === null ? "retryable" : "rate_limited",
        outcome.error.message || "17track could not register the number now",
        outcome.error.code === 0 ? null : outcome.error.code,
        now,
      );
      if (isAccountLimitCode(outcome.error.code)) {
        return waitForAccount(row, error, outcome.retryAfterSeconds ?? undefined);
      }
      return retryOrGiveUp(row, error, outcome.retryAfterSeconds ?? undefined, random);
    }
  }
}

/**
 * The settlement of a number whose whole request failed. Not sent (the governor's breaker is open or its
 * budget would not come in time): released for later, unattempted. A refused key, or an account out of
 * quota or over its daily limit: waits unattempted. Sent and failed (429, 5xx, timeout, refusal of the
 * request): an attempt, retried with backoff honouring 17track's Retry-After, until the attempts run out.
 */
export function settlementOfFailure(
  row: ClaimedRegistration,
  error: UpstreamError,
  now: number,
  random: () => number = Math.random,
): Settlement {
  const base = { tenantId: row.tenantId, trackingNumber: row.trackingNumber, carrierCode: null };
  const track17Code = typeof error.details?.track17Code === "number" ? error.details.track17Code : null;
  if (error.details?.sent === false) {
    return {
      ...base,
      status: "pending",
      lastError: "keep",
      delaySeconds: error.retryAfterSeconds ?? 0,
      attempted: 0,
    };
  }
  if (error.kind === "auth") {
    return {
      ...base,
      status: "pending",
      lastError: errorOf("auth", error.message, track17Code, now),
      delaySeconds: RETRY_POLICY.authRetrySeconds,
      attempted: 0,
    };
  }
  const lastError = errorOf(error.kind, error.message, track17Code, now);
  if (isAccountLimitCode(track17Code)) return waitForAccount(row, lastError, error.retryAfterSeconds);
  return retryOrGiveUp(row, lastError, error.retryAfterSeconds, random);
}

/** Claimed rows a run did not get to (its time budget ran out): due again at once, unattempted. */
export function released(row: ClaimedRegistration): Settlement {
  return {
    tenantId: row.tenantId,
    trackingNumber: row.trackingNumber,
    status: "pending",
    carrierCode: null,
    lastError: "keep",
    delaySeconds: 0,
    attempted: 0,
  };
}
