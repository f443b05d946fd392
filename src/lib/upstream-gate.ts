/**
 * The one door every call to a rate-limited upstream goes through (cron pulls, queue pushes, replays,
 * manual syncs alike). Adapters take an `UpstreamGate` and ask it for a permit before each request; the
 * production gate is the `RateGovernor` Durable Object of that upstream account (src/durable-objects/
 * rate-governor.ts), which also keeps the circuit breaker of each endpoint.
 *
 * - `cost`: what the request spends of the upstream's budget: Shopify's requested query cost, 1 for a
 *   plain request. A cost-bucket governor makes the caller wait exactly until the bucket holds `cost`.
 * - `release`: what happened, so the governor can learn (Shopify's `throttleStatus`, the actual cost to
 *   refund, a 429's `Retry-After`) and the breaker can count failures. Always call it, also on errors.
 */

export type UpstreamFailureKind =
  /** Network error, timeout, 5xx: counts towards opening the breaker. */
  | "retryable"
  /** 429 / THROTTLED / vendor "too many requests": the governor backs off, the breaker does not count it. */
  | "rate_limited"
  /** The upstream answered and refused (validation, not found): the endpoint is healthy. */
  | "permanent"
  /** Credentials refused: the endpoint is healthy, the connection is not. */
  | "auth";

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  /** Units restored per second. */
  restoreRate: number;
}

export interface UpstreamOutcome {
  ok: boolean;
  failure?: UpstreamFailureKind;
  /** The upstream said when to come back (429 Retry-After, vendor hint). */
  retryAfterMs?: number;
  /** Shopify `extensions.cost.throttleStatus` as of this response. */
  throttle?: ThrottleStatus;
  /** Shopify `actualQueryCost`: the governor refunds `cost - actualCost`. */
  actualCost?: number;
}

export interface UpstreamPermit {
  release(outcome: UpstreamOutcome): Promise<void>;
}

export interface UpstreamGate {
  /**
   * Resolves when the request may be sent. Rejects with a retryable `UpstreamError` (with
   * `retryAfterSeconds`) when the endpoint's breaker is open or the wait would exceed `maxWaitMs`.
   */
  acquire(request: { endpoint: string; cost: number; maxWaitMs?: number }): Promise<UpstreamPermit>;
}

/** No limits and no breaker: for pure adapter tests and one-off tools, never for production paths. */
export const ungatedUpstream: UpstreamGate = {
  acquire: async () => ({ release: async () => undefined }),
};
