/**
 * The arithmetic of the rate governor, without I/O and without a clock: every function takes `now`
 * (epoch ms) so the same code runs inside the `RateGovernor` Durable Object and in deterministic unit
 * tests. Functions mutate the state object they are given and return the decision taken.
 *
 * Three independent pieces:
 * - cost bucket (Shopify GraphQL): a leaky bucket of cost points, restored continuously. A caller is
 *   granted only when the balance covers its requested cost, and sends at once; otherwise it waits in a
 *   FIFO queue that moves whenever the balance grows — restoration (a timer at the head's predicted
 *   time), and above all the refund of `requested - actual` at each release. Shopify charges the
 *   requested cost up front and refunds the difference, so a page requested at 954 that costs 277 must
 *   find 954 in the bucket; deciding the next caller's turn only after the previous refund is what lets
 *   several callers together spend the whole restore rate instead of sleeping out each other's
 *   over-estimates;
 * - concurrency (Lingxing): at most `permits` requests in flight per endpoint, FIFO waiters, leases that
 *   expire so a crashed consumer cannot leak capacity;
 * - circuit breaker per endpoint: closed → open → half-open (one probe) → closed.
 */
import type { ThrottleStatus, UpstreamOutcome } from "../../lib/upstream-gate";

export type GovernorPolicy =
  /** Shopify GraphQL: points restored per second up to a maximum; refunds `cost - actualCost`. */
  | { kind: "cost_bucket"; maximumAvailable: number /** per second */; restoreRate: number }
  /** Lingxing: a permit is held while a request is in flight, per endpoint; expired leases are reclaimed. */
  | { kind: "concurrency"; permits: number; leaseMs: number };

export interface BreakerPolicy {
  /** Consecutive `retryable` failures that open the breaker. */
  failureThreshold: number;
  /** First open period; doubles on every failed probe up to MAX_BREAKER_OPEN_MS. */
  openMs: number;
  /**
   * A half-open probe that has not reported back after this long is presumed lost (its consumer
   * crashed) and the next caller may probe instead, so a breaker can never stay stuck half-open.
   */
  probeTimeoutMs: number;
}

export const DEFAULT_BREAKER_POLICY: BreakerPolicy = {
  failureThreshold: 5,
  openMs: 30_000,
  probeTimeoutMs: 60_000,
};
export const MAX_BREAKER_OPEN_MS = 10 * 60_000;

export function resolveBreakerPolicy(partial: Partial<BreakerPolicy> = {}): BreakerPolicy {
  const policy = { ...DEFAULT_BREAKER_POLICY, ...partial };
  if (!Number.isInteger(policy.failureThreshold) || policy.failureThreshold < 1) {
    throw new RangeError("breaker failureThreshold must be a positive integer");
  }
  if (!(policy.openMs > 0) || !(policy.probeTimeoutMs > 0)) {
    throw new RangeError("breaker openMs and probeTimeoutMs must be positive");
  }
  return { ...policy, openMs: Math.min(policy.openMs, MAX_BREAKER_OPEN_MS) };
}

/** A policy that cannot work (zero restore rate, no permits) is a wiring mistake: fail where it is made. */
export function assertGovernorPolicy(policy: GovernorPolicy): void {
  if (policy.kind === "cost_bucket") {
    if (!(policy.maximumAvailable > 0) || !(policy.restoreRate > 0)) {
      throw new RangeError("cost_bucket policy needs a positive maximumAvailable and restoreRate");
    }
  } else if (!Number.isInteger(policy.permits) || policy.permits < 1 || !(policy.leaseMs > 0)) {
    throw new RangeError("concurrency policy needs a positive integer permits and a positive leaseMs");
  }
}

// ───────────────────────────── cost bucket ─────────────────────────────

export interface CostBucket {
  maximumAvailable: number;
  restoreRate: number;
  /**
   * Points available as of `updatedAt`, net of every grant not yet released. Negative only when the
   * upstream charged more than was requested or reported less than we held (its own debt, restored
   * like any other deficit) — never because of a grant.
   */
  available: number;
  updatedAt: number;
  /** The upstream throttled us and said when to come back: nobody sends before this. 0 = not blocked. */
  blockedUntil: number;
  /** `maximumAvailable`/`restoreRate` came from the upstream's ThrottleStatus and outrank the policy. */
  learned: boolean;
}

export interface BucketWaiter {
  permitId: string;
  endpoint: string;
  /** The requested cost; charged as `chargeFor` at grant, against the maximum known then. */
  cost: number;
  /** Past this the waiter gives up (the caller's maxWaitMs). */
  deadline: number;
}

/** Callers waiting for the bucket to cover their cost, in arrival order across the whole account. */
export interface CostQueue {
  waiters: BucketWaiter[];
}

export type BucketAdmission =
  | { kind: "granted" }
  | { kind: "queued" }
  | { kind: "rejected"; retryAfterMs: number };

export interface BucketProgress {
  /** Permit ids granted by this step, in arrival order; their cost is already deducted. */
  granted: string[];
  timedOut: { permitId: string; retryAfterMs: number }[];
  /** When the head's cost is predicted to be covered or a deadline passes; null = nobody waits. */
  wakeAt: number | null;
}

export function newCostBucket(
  policy: Extract<GovernorPolicy, { kind: "cost_bucket" }>,
  now: number,
): CostBucket {
  return {
    maximumAvailable: policy.maximumAvailable,
    restoreRate: policy.restoreRate,
    available: policy.maximumAvailable,
    updatedAt: now,
    blockedUntil: 0,
    learned: false,
  };
}

export function newCostQueue(): CostQueue {
  return { waiters: [] };
}

/** The latest policy wins, except where the upstream already told us its real numbers. */
export function applyBucketPolicy(
  bucket: CostBucket,
  policy: Extract<GovernorPolicy, { kind: "cost_bucket" }>,
  now: number,
): void {
  restoreBucket(bucket, now);
  if (bucket.learned) return;
  bucket.maximumAvailable = policy.maximumAvailable;
  bucket.restoreRate = policy.restoreRate;
  bucket.available = Math.min(bucket.available, bucket.maximumAvailable);
}

export function restoreBucket(bucket: CostBucket, now: number): void {
  const elapsedMs = Math.max(0, now - bucket.updatedAt);
  bucket.available = Math.min(
    bucket.maximumAvailable,
    bucket.available + (elapsedMs / 1000) * bucket.restoreRate,
  );
  bucket.updatedAt = Math.max(bucket.updatedAt, now);
}

/**
 * A cost above the whole bucket is charged as a full bucket: it waits for a full bucket and lets the
 * upstream judge it (our maximum may be stale until the first ThrottleStatus arrives).
 */
function chargeFor(bucket: CostBucket, cost: number): number {
  return Math.min(Math.max(0, cost), bucket.maximumAvailable);
}

/**
 * Whether a caller may send now. Only the first waiter with a cost may take points: one behind it
 * would delay it, however small (no queue jumping). A zero-cost caller takes nothing from anyone, so
 * only a Retry-After block holds it back.
 */
function coveredNow(bucket: CostBucket, charge: number, pointsAhead: number, now: number): boolean {
  if (now < bucket.blockedUntil) return false;
  return charge === 0 || (pointsAhead === 0 && bucket.available >= charge);
}

/**
 * How long until a caller with `pointsAhead` queued before it is covered, if nothing is refunded
 * meanwhile. While anyone waits the balance stays below the head's cost, so the bucket's cap never
 * cuts the restoration short and the waiters' costs simply add up.
 */
function predictedWaitMs(bucket: CostBucket, charge: number, pointsAhead: number, now: number): number {
  const blockedMs = Math.max(0, bucket.blockedUntil - now);
  if (charge === 0) return blockedMs;
  const deficit = pointsAhead + charge - bucket.available;
  const refillMs = deficit > 0 ? Math.ceil((deficit / bucket.restoreRate) * 1000) : 0;
  return Math.max(refillMs, blockedMs);
}

/**
 * Grant `cost` at once when nobody waits and the balance covers it (deducted now: the caller sends
 * right away); otherwise queue the caller behind those already waiting — unless the predicted wait
 * already exceeds its patience, then turn it away with that wait as its Retry-After.
 */
export function admitToBucket(
  bucket: CostBucket,
  queue: CostQueue,
  request: { permitId: string; endpoint: string; cost: number; maxWaitMs: number },
  now: number,
): BucketAdmission {
  restoreBucket(bucket, now);
  const charge = chargeFor(bucket, request.cost);
  const pointsAhead = queue.waiters.reduce((sum, w) => sum + chargeFor(bucket, w.cost), 0);
  if (coveredNow(bucket, charge, pointsAhead, now)) {
    bucket.available -= charge;
    return { kind: "granted" };
  }
  const waitMs = predictedWaitMs(bucket, charge, pointsAhead, now);
  if (waitMs > request.maxWaitMs) return { kind: "rejected", retryAfterMs: Math.max(1, waitMs) };
  queue.waiters.push({
    permitId: request.permitId,
    endpoint: request.endpoint,
    cost: request.cost,
    deadline: now + request.maxWaitMs,
  });
  return { kind: "queued" };
}

/**
 * Move the queue forward: grant waiters in arrival order while the balance covers the first one's cost,
 * then turn away those whose deadline passed (a waiter that can be served at its deadline is served,
 * and one that leaves no longer holds up those behind it). Call it whenever the balance may have grown
 * (a refund, a policy change) or a block ended, and at the returned `wakeAt`.
 */
export function advanceBucketWaiters(bucket: CostBucket, queue: CostQueue, now: number): BucketProgress {
  restoreBucket(bucket, now);
  const granted: string[] = [];
  const timedOut: BucketProgress["timedOut"] = [];
  const stillWaiting: BucketWaiter[] = [];
  let pointsAhead = 0;
  for (const waiter of queue.waiters) {
    const charge = chargeFor(bucket, waiter.cost);
    if (coveredNow(bucket, charge, pointsAhead, now)) {
      bucket.available -= charge;
      granted.push(waiter.permitId);
    } else if (waiter.deadline <= now) {
      timedOut.push({
        permitId: waiter.permitId,
        retryAfterMs: Math.max(1, predictedWaitMs(bucket, charge, pointsAhead, now)),
      });
    } else {
      stillWaiting.push(waiter);
      pointsAhead += charge;
    }
  }
  queue.waiters = stillWaiting;
  return { granted, timedOut, wakeAt: nextBucketWakeAt(bucket, queue, now) };
}

function nextBucketWakeAt(bucket: CostBucket, queue: CostQueue, now: number): number | null {
  if (queue.waiters.length === 0) return null;
  const moments = queue.waiters.map((w) => w.deadline);
  // Those behind the first costly waiter are woken by its grant; zero-cost ones only wait out a block.
  const head = queue.waiters.find((w) => chargeFor(bucket, w.cost) > 0);
  if (head) moments.push(now + predictedWaitMs(bucket, chargeFor(bucket, head.cost), 0, now));
  if (queue.waiters.some((w) => chargeFor(bucket, w.cost) === 0)) moments.push(bucket.blockedUntil);
  return Math.max(now, Math.min(...moments));
}

/** Take waiters of `endpoint` out of the queue (its breaker opened: they would only pile onto a dead upstream). */
export function removeBucketWaiters(queue: CostQueue, endpoint: string): BucketWaiter[] {
  const removed = queue.waiters.filter((w) => w.endpoint === endpoint);
  if (removed.length > 0) queue.waiters = queue.waiters.filter((w) => w.endpoint !== endpoint);
  return removed;
}

/** Give back what the upstream did not charge (`actualCost` below the requested cost) — or take more. */
export function refundToBucket(bucket: CostBucket, cost: number, actualCost: number, now: number): void {
  restoreBucket(bucket, now);
  const refund = chargeFor(bucket, cost) - Math.max(0, actualCost);
  bucket.available = Math.min(bucket.maximumAvailable, bucket.available + refund);
}

/**
 * Learn from the upstream's ThrottleStatus. Its maximum and restore rate are the truth. Its current
 * availability only ever LOWERS ours: another client of the same app and shop may spend the bucket, so
 * the upstream may hold less than we computed; a higher figure is only a snapshot taken before requests
 * we granted since reached it. Lowering is always safe — ours is deducted at grant (before the upstream
 * deducts) and refunded at release (after it refunds), so without other clients ours never exceeds the
 * upstream's, and the minimum of the two cannot either.
 */
export function adoptThrottleStatus(bucket: CostBucket, status: ThrottleStatus, now: number): void {
  restoreBucket(bucket, now);
  if (status.maximumAvailable > 0) bucket.maximumAvailable = status.maximumAvailable;
  if (status.restoreRate > 0) bucket.restoreRate = status.restoreRate;
  bucket.learned = bucket.learned || status.maximumAvailable > 0 || status.restoreRate > 0;
  bucket.available = Math.min(bucket.available, status.currentlyAvailable, bucket.maximumAvailable);
}

/**
 * The upstream throttled a request. Without a ThrottleStatus to learn from, believe it is empty (our
 * model was too optimistic, most likely because another client spends the same bucket); a Retry-After
 * blocks every send until then.
 */
export function recordBucketThrottled(
  bucket: CostBucket,
  outcome: Pick<UpstreamOutcome, "retryAfterMs" | "throttle">,
  now: number,
): void {
  restoreBucket(bucket, now);
  if (!outcome.throttle) bucket.available = Math.min(bucket.available, 0);
  if (outcome.retryAfterMs !== undefined && outcome.retryAfterMs > 0) {
    bucket.blockedUntil = Math.max(bucket.blockedUntil, now + outcome.retryAfterMs);
  }
}

// ───────────────────────────── concurrency ─────────────────────────────

export interface Lease {
  permitId: string;
  endpoint: string;
  grantedAt: number;
  expiresAt: number;
}

export interface Waiter {
  permitId: string;
  endpoint: string;
  /** Past this the waiter gives up (the caller's maxWaitMs). */
  deadline: number;
}

export interface ConcurrencyState {
  leases: Lease[];
  /** FIFO across the account; each endpoint's waiters are served in their own arrival order. */
  waiters: Waiter[];
  /** The upstream said "too many requests, come back at…" for an endpoint. */
  pausedUntil: Record<string, number>;
}

export type ConcurrencyAdmission =
  | { kind: "granted"; lease: Lease }
  | { kind: "queued" }
  | { kind: "rejected"; retryAfterMs: number };

export interface ConcurrencyProgress {
  granted: Lease[];
  timedOut: { permitId: string; retryAfterMs: number }[];
  reclaimed: Lease[];
  /** When to look again (a lease expires, a pause ends, a waiter's deadline); null = nobody waits. */
  wakeAt: number | null;
}

type ConcurrencyPolicy = Extract<GovernorPolicy, { kind: "concurrency" }>;

export function newConcurrencyState(): ConcurrencyState {
  return { leases: [], waiters: [], pausedUntil: {} };
}

export function inFlight(state: ConcurrencyState, endpoint: string): number {
  return state.leases.filter((l) => l.endpoint === endpoint).length;
}

export function inFlightByEndpoint(state: ConcurrencyState): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const lease of state.leases) counts[lease.endpoint] = (counts[lease.endpoint] ?? 0) + 1;
  return counts;
}

/** A lease older than `leaseMs` belongs to a consumer that crashed or forgot to release: take it back. */
export function reclaimExpiredLeases(state: ConcurrencyState, now: number): Lease[] {
  const expired = state.leases.filter((l) => l.expiresAt <= now);
  if (expired.length > 0) state.leases = state.leases.filter((l) => l.expiresAt > now);
  for (const [endpoint, until] of Object.entries(state.pausedUntil)) {
    if (until <= now) delete state.pausedUntil[endpoint];
  }
  return expired;
}

function hasSlot(state: ConcurrencyState, policy: ConcurrencyPolicy, endpoint: string, now: number): boolean {
  return (state.pausedUntil[endpoint] ?? 0) <= now && inFlight(state, endpoint) < policy.permits;
}

function grantLease(
  state: ConcurrencyState,
  policy: ConcurrencyPolicy,
  permitId: string,
  endpoint: string,
  now: number,
): Lease {
  const lease = { permitId, endpoint, grantedAt: now, expiresAt: now + policy.leaseMs };
  state.leases.push(lease);
  return lease;
}

/** The latest moment by which a slot of `endpoint` is certain to be free: the first lease expiry, after any pause. */
function certainSlotAt(
  state: ConcurrencyState,
  policy: ConcurrencyPolicy,
  endpoint: string,
  now: number,
): number {
  const pausedUntil = state.pausedUntil[endpoint] ?? 0;
  const leases = state.leases.filter((l) => l.endpoint === endpoint);
  const slotAt = leases.length < policy.permits ? now : Math.min(...leases.map((l) => l.expiresAt));
  return Math.max(pausedUntil, slotAt, now);
}

export function admitToEndpoint(
  state: ConcurrencyState,
  policy: ConcurrencyPolicy,
  request: { permitId: string; endpoint: string; maxWaitMs: number },
  now: number,
): ConcurrencyAdmission {
  reclaimExpiredLeases(state, now);
  const queueAhead = state.waiters.some((w) => w.endpoint === request.endpoint);
  if (!queueAhead && hasSlot(state, policy, request.endpoint, now)) {
    return { kind: "granted", lease: grantLease(state, policy, request.permitId, request.endpoint, now) };
  }
  const pausedUntil = state.pausedUntil[request.endpoint] ?? 0;
  if (request.maxWaitMs <= 0 || pausedUntil - now > request.maxWaitMs) {
    return {
      kind: "rejected",
      retryAfterMs: Math.max(1, certainSlotAt(state, policy, request.endpoint, now) - now),
    };
  }
  state.waiters.push({
    permitId: request.permitId,
    endpoint: request.endpoint,
    deadline: now + request.maxWaitMs,
  });
  return { kind: "queued" };
}

/** Returns the lease, or undefined when it was already reclaimed (the release came too late). */
export function releaseLease(state: ConcurrencyState, permitId: string): Lease | undefined {
  const lease = state.leases.find((l) => l.permitId === permitId);
  if (lease) state.leases = state.leases.filter((l) => l !== lease);
  return lease;
}

export function pauseEndpoint(state: ConcurrencyState, endpoint: string, until: number): void {
  state.pausedUntil[endpoint] = Math.max(state.pausedUntil[endpoint] ?? 0, until);
}

/** Take waiters of `endpoint` out of the queue (its breaker opened: they would only pile onto a dead upstream). */
export function removeWaiters(state: ConcurrencyState, endpoint: string): Waiter[] {
  const removed = state.waiters.filter((w) => w.endpoint === endpoint);
  if (removed.length > 0) state.waiters = state.waiters.filter((w) => w.endpoint !== endpoint);
  return removed;
}

/**
 * Move the queue forward: reclaim expired leases, hand free slots to waiters in arrival order, then
 * turn away waiters whose deadline passed (a waiter that can be served at its deadline is served).
 */
export function advanceWaiters(
  state: ConcurrencyState,
  policy: ConcurrencyPolicy,
  now: number,
): ConcurrencyProgress {
  const reclaimed = reclaimExpiredLeases(state, now);
  const granted: Lease[] = [];
  const stillWaiting: Waiter[] = [];
  const blockedEndpoints = new Set<string>();
  for (const waiter of state.waiters) {
    if (!blockedEndpoints.has(waiter.endpoint) && hasSlot(state, policy, waiter.endpoint, now)) {
      granted.push(grantLease(state, policy, waiter.permitId, waiter.endpoint, now));
    } else {
      // Keep FIFO per endpoint: once one waiter of an endpoint is stuck, those behind it stay behind it.
      blockedEndpoints.add(waiter.endpoint);
      stillWaiting.push(waiter);
    }
  }
  const timedOut: ConcurrencyProgress["timedOut"] = [];
  state.waiters = stillWaiting.filter((w) => {
    if (w.deadline > now) return true;
    timedOut.push({
      permitId: w.permitId,
      retryAfterMs: Math.max(1, certainSlotAt(state, policy, w.endpoint, now) - now),
    });
    return false;
  });
  return { granted, timedOut, reclaimed, wakeAt: nextWakeAt(state) };
}

function nextWakeAt(state: ConcurrencyState): number | null {
  if (state.waiters.length === 0) return null;
  const waitingEndpoints = new Set(state.waiters.map((w) => w.endpoint));
  const moments = state.waiters.map((w) => w.deadline);
  for (const lease of state.leases) {
    if (waitingEndpoints.has(lease.endpoint)) moments.push(lease.expiresAt);
  }
  for (const endpoint of waitingEndpoints) {
    const until = state.pausedUntil[endpoint];
    if (until !== undefined) moments.push(until);
  }
  return Math.min(...moments);
}

// ───────────────────────────── circuit breaker ─────────────────────────────

export type BreakerStateName = "closed" | "open" | "half_open";

export interface Breaker {
  endpoint: string;
  /** Stored state; an `open` breaker whose `openUntil` has passed is effectively half-open. */
  state: BreakerStateName;
  consecutiveFailures: number;
  openUntil: number | null;
  /** The open period last applied: doubled by each failed probe, back to the policy's on close. */
  openMs: number;
  probePermitId: string | null;
  probeStartedAt: number | null;
}

export interface BreakerView {
  endpoint: string;
  state: BreakerStateName;
  consecutiveFailures: number;
  openUntil: string | null;
}

export type BreakerAdmission =
  | { kind: "pass" }
  /** The breaker is ready to try the upstream again: this caller is the one probe. */
  | { kind: "probe" }
  | { kind: "reject"; state: "open" | "half_open"; retryAfterMs: number };

export function newBreaker(endpoint: string, policy: BreakerPolicy): Breaker {
  return {
    endpoint,
    state: "closed",
    consecutiveFailures: 0,
    openUntil: null,
    openMs: policy.openMs,
    probePermitId: null,
    probeStartedAt: null,
  };
}

export function effectiveBreakerState(breaker: Breaker, now: number): BreakerStateName {
  if (breaker.state === "open" && breaker.openUntil !== null && breaker.openUntil <= now) return "half_open";
  return breaker.state;
}

/** Decide without changing anything: the caller may still be turned away by the limiter. */
export function checkBreaker(breaker: Breaker, policy: BreakerPolicy, now: number): BreakerAdmission {
  if (breaker.state === "closed") return { kind: "pass" };
  if (breaker.state === "open" && breaker.openUntil !== null && breaker.openUntil > now) {
    return { kind: "reject", state: "open", retryAfterMs: breaker.openUntil - now };
  }
  const probeAlive =
    breaker.state === "half_open" &&
    breaker.probePermitId !== null &&
    breaker.probeStartedAt !== null &&
    now - breaker.probeStartedAt < policy.probeTimeoutMs;
  if (!probeAlive) return { kind: "probe" };
  const probeDeadline = (breaker.probeStartedAt ?? now) + policy.probeTimeoutMs;
  return {
    kind: "reject",
    state: "half_open",
    retryAfterMs: Math.max(1, Math.min(probeDeadline - now, policy.openMs)),
  };
}

export function beginProbe(breaker: Breaker, permitId: string, now: number): void {
  breaker.state = "half_open";
  breaker.probePermitId = permitId;
  breaker.probeStartedAt = now;
}

/** The probe never got to the upstream (the limiter turned it away): let the next caller probe. */
export function abandonProbe(breaker: Breaker, permitId: string): boolean {
  if (breaker.probePermitId !== permitId) return false;
  breaker.probePermitId = null;
  breaker.probeStartedAt = null;
  return true;
}

/**
 * Only network errors, timeouts and 5xx count (`retryable`, or a failure of unknown kind). A 429, a
 * validation error or refused credentials mean the upstream answered — the endpoint is alive, which
 * ends a failure streak and passes a probe.
 */
export function countsAsBreakerFailure(outcome: UpstreamOutcome): boolean {
  return !outcome.ok && (outcome.failure ?? "retryable") === "retryable";
}

export function recordBreakerOutcome(
  breaker: Breaker,
  policy: BreakerPolicy,
  permitId: string,
  outcome: UpstreamOutcome,
  now: number,
): { changed: boolean; opened: boolean } {
  const failed = countsAsBreakerFailure(outcome);
  if (breaker.state === "closed") {
    if (!failed) {
      if (breaker.consecutiveFailures === 0) return { changed: false, opened: false };
      breaker.consecutiveFailures = 0;
      return { changed: true, opened: false };
    }
    breaker.consecutiveFailures += 1;
    if (breaker.consecutiveFailures < policy.failureThreshold) return { changed: true, opened: false };
    openBreaker(breaker, policy.openMs, now);
    return { changed: true, opened: true };
  }
  // While open, stragglers granted before it opened prove nothing about now; in half-open only the
  // probe's answer decides.
  if (breaker.state === "open" || breaker.probePermitId !== permitId)
    return { changed: false, opened: false };
  if (failed) {
    breaker.consecutiveFailures += 1;
    openBreaker(breaker, Math.min(breaker.openMs * 2, MAX_BREAKER_OPEN_MS), now);
    return { changed: true, opened: true };
  }
  breaker.state = "closed";
  breaker.consecutiveFailures = 0;
  breaker.openUntil = null;
  breaker.openMs = policy.openMs;
  breaker.probePermitId = null;
  breaker.probeStartedAt = null;
  return { changed: true, opened: false };
}

function openBreaker(breaker: Breaker, openMs: number, now: number): void {
  breaker.state = "open";
  breaker.openMs = openMs;
  breaker.openUntil = now + openMs;
  breaker.probePermitId = null;
  breaker.probeStartedAt = null;
}

export function breakerView(breaker: Breaker, now: number): BreakerView {
  const state = effectiveBreakerState(breaker, now);
  return {
    endpoint: breaker.endpoint,
    state,
    consecutiveFailures: breaker.consecutiveFailures,
    openUntil:
      state !== "closed" && breaker.openUntil !== null ? new Date(breaker.openUntil).toISOString() : null,
  };
}
