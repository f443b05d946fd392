/**
 * One `RateGovernor` per upstream account ("shopify:acme.myshopify.com", "lingxing:<appId>"): its rate
 * budget and the circuit breaker of each of its endpoints. Every path that calls the upstream — cron
 * pulls, queue consumers, DLQ replays, manual syncs, later webhooks — acquires a permit here first
 * (through `governorGate`, src/services/upstream/governor-gate.ts), so all concurrent consumers together
 * never exceed the upstream's limit.
 *
 * Why a Durable Object: a single-threaded object per account gives a strongly consistent budget and
 * FIFO waiting with no polling. A caller that cannot be served at once is parked here, in arrival order,
 * and its `acquire` resolves the moment it may send: a concurrency waiter when a release frees its
 * slot, a cost-bucket waiter when the balance covers its requested cost — re-checked at every release
 * (Shopify's refund of `requested - actual`, an adopted ThrottleStatus, a THROTTLED block) and by a
 * timer at the head's predicted refill time. Deciding at release time rather than handing out a fixed
 * wait up front is what keeps two callers sharing a shop at the restore rate: a wait computed from the
 * requested cost (954 for an orders page that costs ~277) would ignore the refund that arrives later.
 * A Redis token bucket would need a Lua script, a round trip per retry (callers polling until the
 * budget is back) and cannot hold FIFO waiters at all.
 *
 * Storage (SQLite-backed, synchronous `ctx.storage.kv`): breakers, leases, pauses, the policy and the
 * cost bucket are persisted so an evicted object resumes where it stopped — breakers stay open, the
 * cost of a grant still in flight stays deducted, a lease held by a request still in flight keeps
 * counting. Only live waiters and the timer live purely in memory: a waiter is an open RPC call, which
 * keeps the object in memory (and billed for its wall time) while it waits, and dies with the object
 * anyway — its caller then sees "governor unreachable" and retries, and nothing was deducted for it.
 * That is also why a timer suffices rather than an alarm. The bucket is one small row rewritten per
 * grant/release; that is cheap next to the upstream call it guards, and it spares the governor from
 * trusting a "full" bucket after a restart mid-burst. Leases whose consumer vanished are reclaimed
 * lazily on the next acquire; a parked caller that vanished is still granted in its turn and its cost
 * is then never refunded, which only makes the bucket cautious until it restores.
 */
import { DurableObject } from "cloudflare:workers";
import { newId } from "../lib/ids";
import type { UpstreamOutcome } from "../lib/upstream-gate";
import {
  abandonProbe,
  admitToBucket,
  admitToEndpoint,
  adoptThrottleStatus,
  advanceBucketWaiters,
  advanceWaiters,
  applyBucketPolicy,
  type Breaker,
  type BreakerPolicy,
  type BreakerView,
  beginProbe,
  breakerView,
  type ConcurrencyState,
  type CostBucket,
  type CostQueue,
  checkBreaker,
  DEFAULT_BREAKER_POLICY,
  type GovernorPolicy,
  inFlightByEndpoint,
  type Lease,
  newBreaker,
  newConcurrencyState,
  newCostBucket,
  newCostQueue,
  pauseEndpoint,
  reclaimExpiredLeases,
  recordBreakerOutcome,
  recordBucketThrottled,
  refundToBucket,
  releaseLease,
  removeBucketWaiters,
  removeWaiters,
  restoreBucket,
} from "../services/upstream/governor-policy";

export interface GovernorAcquireRequest {
  accountKey: string;
  /** Sent with every acquire: the object is created lazily by name and the latest policy wins. */
  policy: GovernorPolicy;
  breaker: BreakerPolicy;
  endpoint: string;
  cost: number;
  maxWaitMs: number;
}

export type GovernorRejection =
  /** The endpoint's breaker is open. */
  | "breaker_open"
  /** Half-open: one probe is already testing the upstream. */
  | "probe_in_flight"
  /** The cost bucket would not cover the cost within maxWaitMs. */
  | "over_budget"
  /** Every permit of the endpoint stayed taken (or the endpoint paused) for maxWaitMs. */
  | "no_permit";

export type GovernorAcquireDecision =
  | {
      /** Send now: the governor held the call until the request's turn came. */
      granted: true;
      permitId: string;
      /** The governor's clock at grant, for diagnostics and tests. */
      grantedAt: number;
    }
  | { granted: false; reason: GovernorRejection; retryAfterMs: number };

export interface GovernorReleaseRequest {
  permitId: string;
  endpoint: string;
  cost: number;
  outcome: UpstreamOutcome;
}

export interface GovernorStatus {
  accountKey: string;
  /** null until the first acquire told the governor what it governs. */
  policy: GovernorPolicy | null;
  bucket?: { available: number; maximumAvailable: number; restoreRate: number };
  inFlight?: Record<string, number>;
  breakers: BreakerView[];
}

const KEY = {
  account: "account",
  policy: "policy",
  breakerPolicy: "breaker-policy",
  bucket: "bucket",
  pauses: "pauses",
  leasePrefix: "lease:",
  breakerPrefix: "breaker:",
} as const;

interface ParkedAcquire {
  endpoint: string;
  isProbe: boolean;
  resolve: (decision: GovernorAcquireDecision) => void;
}

export class RateGovernor extends DurableObject<Env> {
  private readonly kv: SyncKvStorage;
  private accountKey: string | null;
  private policy: GovernorPolicy | null;
  private breakerPolicy: BreakerPolicy;
  private bucket: CostBucket | null;
  private readonly concurrency: ConcurrencyState;
  private readonly costQueue: CostQueue = newCostQueue();
  private readonly breakers = new Map<string, Breaker>();
  private readonly parked = new Map<string, ParkedAcquire>();
  private wakeTimer: ReturnType<typeof setTimeout> | null = null;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.kv = ctx.storage.kv;
    this.accountKey = this.kv.get<string>(KEY.account) ?? null;
    this.policy = this.kv.get<GovernorPolicy>(KEY.policy) ?? null;
    this.breakerPolicy = this.kv.get<BreakerPolicy>(KEY.breakerPolicy) ?? DEFAULT_BREAKER_POLICY;
    this.bucket = storedBucket(this.kv.get<StoredCostBucket>(KEY.bucket));
    this.concurrency = newConcurrencyState();
    this.concurrency.pausedUntil = this.kv.get<Record<string, number>>(KEY.pauses) ?? {};
    for (const [, lease] of this.kv.list<Lease>({ prefix: KEY.leasePrefix })) {
      this.concurrency.leases.push(lease);
    }
    for (const [, breaker] of this.kv.list<Breaker>({ prefix: KEY.breakerPrefix })) {
      this.breakers.set(breaker.endpoint, breaker);
    }
  }

  async acquire(request: GovernorAcquireRequest): Promise<GovernorAcquireDecision> {
    const now = Date.now();
    const policy = this.adoptPolicy(request, now);
    const breaker = this.breakerFor(request.endpoint);
    const admission = checkBreaker(breaker, this.breakerPolicy, now);
    if (admission.kind === "reject") {
      return {
        granted: false,
        reason: admission.state === "open" ? "breaker_open" : "probe_in_flight",
        retryAfterMs: admission.retryAfterMs,
      };
    }
    const isProbe = admission.kind === "probe";
    const permitId = newId("pmt", now);
    const maxWaitMs = Math.max(0, request.maxWaitMs);

    // The probe is claimed before it may queue, so nobody else probes meanwhile.
    if (isProbe) this.saveBreaker(breaker, () => beginProbe(breaker, permitId, now));

    if (policy.kind === "cost_bucket") {
      const bucket = this.costBucket(policy, now);
      const admission = admitToBucket(
        bucket,
        this.costQueue,
        { permitId, endpoint: request.endpoint, cost: request.cost, maxWaitMs },
        now,
      );
      if (admission.kind === "granted") {
        this.kv.put(KEY.bucket, bucket);
        return { granted: true, permitId, grantedAt: now };
      }
      if (admission.kind === "rejected") {
        if (isProbe) this.saveBreaker(breaker, () => abandonProbe(breaker, permitId));
        return { granted: false, reason: "over_budget", retryAfterMs: admission.retryAfterMs };
      }
      return this.park(permitId, request.endpoint, isProbe);
    }

    this.forgetReclaimed(reclaimExpiredLeases(this.concurrency, now));
    const decision = admitToEndpoint(
      this.concurrency,
      policy,
      { permitId, endpoint: request.endpoint, maxWaitMs },
      now,
    );
    if (decision.kind === "granted") {
      this.kv.put(KEY.leasePrefix + permitId, decision.lease);
      return { granted: true, permitId, grantedAt: now };
    }
    if (decision.kind === "rejected") {
      if (isProbe) this.saveBreaker(breaker, () => abandonProbe(breaker, permitId));
      return { granted: false, reason: "no_permit", retryAfterMs: decision.retryAfterMs };
    }
    return this.park(permitId, request.endpoint, isProbe);
  }

  async release(request: GovernorReleaseRequest): Promise<void> {
    const now = Date.now();
    const { outcome } = request;
    const breaker = this.breakerFor(request.endpoint);
    const { changed, opened } = recordBreakerOutcome(
      breaker,
      this.breakerPolicy,
      request.permitId,
      outcome,
      now,
    );
    if (changed) this.kv.put(KEY.breakerPrefix + request.endpoint, breaker);
    if (opened) this.turnAwayWaiters(request.endpoint, breaker, now);

    const policy = this.policy;
    if (policy?.kind === "cost_bucket") {
      const bucket = this.costBucket(policy, now);
      // A request that failed without a cost report (5xx, timeout, THROTTLED, 429) charged nothing we
      // know of: give the reservation back. Were it charged after all, the next ThrottleStatus lowers us.
      const charged = outcome.actualCost ?? (outcome.ok ? undefined : 0);
      if (charged !== undefined) refundToBucket(bucket, request.cost, charged, now);
      if (outcome.throttle) adoptThrottleStatus(bucket, outcome.throttle, now);
      if (outcome.failure === "rate_limited") recordBucketThrottled(bucket, outcome, now);
      this.kv.put(KEY.bucket, bucket);
      // The refund is usually what the head waiter is waiting for; a lower balance or a block re-times it.
      this.advanceQueue();
      return;
    }
    if (policy?.kind === "concurrency") {
      if (releaseLease(this.concurrency, request.permitId))
        this.kv.delete(KEY.leasePrefix + request.permitId);
      if (
        outcome.failure === "rate_limited" &&
        outcome.retryAfterMs !== undefined &&
        outcome.retryAfterMs > 0
      ) {
        pauseEndpoint(this.concurrency, request.endpoint, now + outcome.retryAfterMs);
        this.kv.put(KEY.pauses, this.concurrency.pausedUntil);
      }
      this.advanceQueue();
    }
  }

  async status(accountKey?: string): Promise<GovernorStatus> {
    const now = Date.now();
    const status: GovernorStatus = {
      accountKey: this.accountKey ?? accountKey ?? "",
      policy: this.policy,
      breakers: [...this.breakers.values()]
        .map((b) => breakerView(b, now))
        .sort((a, b) => a.endpoint.localeCompare(b.endpoint)),
    };
    if (this.policy?.kind === "cost_bucket" && this.bucket) {
      restoreBucket(this.bucket, now);
      status.bucket = {
        available: Math.round(this.bucket.available * 1000) / 1000,
        maximumAvailable: this.bucket.maximumAvailable,
        restoreRate: this.bucket.restoreRate,
      };
    }
    if (this.policy?.kind === "concurrency") {
      this.forgetReclaimed(reclaimExpiredLeases(this.concurrency, now));
      status.inFlight = inFlightByEndpoint(this.concurrency);
    }
    return status;
  }

  private adoptPolicy(request: GovernorAcquireRequest, now: number): GovernorPolicy {
    if (this.accountKey !== request.accountKey) {
      this.accountKey = request.accountKey;
      this.kv.put(KEY.account, request.accountKey);
    }
    if (!sameJson(this.breakerPolicy, request.breaker)) {
      this.breakerPolicy = request.breaker;
      this.kv.put(KEY.breakerPolicy, request.breaker);
    }
    const policy = request.policy;
    if (!sameJson(this.policy, policy)) {
      this.policy = policy;
      this.kv.put(KEY.policy, policy);
      if (policy.kind === "cost_bucket" && this.bucket) {
        applyBucketPolicy(this.bucket, policy, now);
        this.kv.put(KEY.bucket, this.bucket);
      }
      // New numbers re-time the bucket's queue; waiters of the other regime are told to retry.
      this.advanceQueue();
    }
    return policy;
  }

  private costBucket(policy: Extract<GovernorPolicy, { kind: "cost_bucket" }>, now: number): CostBucket {
    if (!this.bucket) this.bucket = newCostBucket(policy, now);
    return this.bucket;
  }

  private breakerFor(endpoint: string): Breaker {
    let breaker = this.breakers.get(endpoint);
    if (!breaker) {
      breaker = newBreaker(endpoint, this.breakerPolicy);
      this.breakers.set(endpoint, breaker);
    }
    return breaker;
  }

  private saveBreaker(breaker: Breaker, change: () => unknown): void {
    change();
    this.kv.put(KEY.breakerPrefix + breaker.endpoint, breaker);
  }

  private forgetReclaimed(leases: Lease[]): void {
    for (const lease of leases) this.kv.delete(KEY.leasePrefix + lease.permitId);
  }

  /** Park the caller until `advanceQueue` grants it, times it out or turns it away. */
  private park(permitId: string, endpoint: string, isProbe: boolean): Promise<GovernorAcquireDecision> {
    const parked = new Promise<GovernorAcquireDecision>((resolve) => {
      this.parked.set(permitId, { endpoint, isProbe, resolve });
    });
    this.advanceQueue();
    return parked;
  }

  /** Serve, time out or wake later the parked acquires, for whichever regime the account is under. */
  private advanceQueue(): void {
    if (this.wakeTimer !== null) {
      clearTimeout(this.wakeTimer);
      this.wakeTimer = null;
    }
    const now = Date.now();
    const policy = this.policy;
    let wakeAt: number | null = null;
    if (policy?.kind === "cost_bucket") {
      this.concurrency.waiters = [];
      const bucket = this.costBucket(policy, now);
      const progress = advanceBucketWaiters(bucket, this.costQueue, now);
      if (progress.granted.length > 0) this.kv.put(KEY.bucket, bucket);
      for (const permitId of progress.granted) this.grantParked(permitId, now);
      for (const { permitId, retryAfterMs } of progress.timedOut) {
        this.rejectParked(permitId, { granted: false, reason: "over_budget", retryAfterMs });
      }
      wakeAt = progress.wakeAt;
    } else if (policy?.kind === "concurrency") {
      this.costQueue.waiters = [];
      const progress = advanceWaiters(this.concurrency, policy, now);
      this.forgetReclaimed(progress.reclaimed);
      for (const lease of progress.granted) {
        this.kv.put(KEY.leasePrefix + lease.permitId, lease);
        this.grantParked(lease.permitId, now);
      }
      for (const { permitId, retryAfterMs } of progress.timedOut) {
        this.rejectParked(permitId, { granted: false, reason: "no_permit", retryAfterMs });
      }
      wakeAt = progress.wakeAt;
    }
    // Whoever is parked but in no queue now waited under a regime the account left: let it retry.
    const queued = new Set(
      [...this.costQueue.waiters, ...this.concurrency.waiters].map((waiter) => waiter.permitId),
    );
    for (const permitId of [...this.parked.keys()]) {
      if (!queued.has(permitId)) {
        this.rejectParked(permitId, { granted: false, reason: "no_permit", retryAfterMs: 1 });
      }
    }
    if (wakeAt !== null) {
      this.wakeTimer = setTimeout(() => this.advanceQueue(), Math.max(0, wakeAt - now));
    }
  }

  private grantParked(permitId: string, now: number): void {
    const parked = this.parked.get(permitId);
    if (!parked) return;
    this.parked.delete(permitId);
    parked.resolve({ granted: true, permitId, grantedAt: now });
  }

  /** The breaker just opened: parked callers would only pile onto a failing upstream. */
  private turnAwayWaiters(endpoint: string, breaker: Breaker, now: number): void {
    const retryAfterMs = Math.max(1, (breaker.openUntil ?? now) - now);
    const removed = [
      ...removeWaiters(this.concurrency, endpoint),
      ...removeBucketWaiters(this.costQueue, endpoint),
    ];
    for (const waiter of removed) {
      this.rejectParked(waiter.permitId, { granted: false, reason: "breaker_open", retryAfterMs });
    }
    // Those behind the removed waiters may be served now.
    if (removed.length > 0) this.advanceQueue();
  }

  private rejectParked(
    permitId: string,
    decision: Extract<GovernorAcquireDecision, { granted: false }>,
  ): void {
    const parked = this.parked.get(permitId);
    if (!parked) return;
    this.parked.delete(permitId);
    if (parked.isProbe) {
      const breaker = this.breakers.get(parked.endpoint);
      if (breaker && abandonProbe(breaker, permitId)) {
        this.kv.put(KEY.breakerPrefix + breaker.endpoint, breaker);
      }
    }
    parked.resolve(decision);
  }
}

/** Buckets persisted before grants were queued carry reservations not yet sent; their debt is kept. */
type StoredCostBucket = CostBucket & { scheduled?: unknown };

function storedBucket(stored: StoredCostBucket | undefined): CostBucket | null {
  if (!stored) return null;
  const { scheduled: _unsentReservations, ...bucket } = stored;
  return bucket;
}

function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
