import { describe, expect, it } from "vitest";
import {
  abandonProbe,
  admitToEndpoint,
  adoptThrottleStatus,
  advanceWaiters,
  applyBucketPolicy,
  assertGovernorPolicy,
  type BreakerPolicy,
  beginProbe,
  breakerView,
  checkBreaker,
  type GovernorPolicy,
  inFlight,
  MAX_BREAKER_OPEN_MS,
  newBreaker,
  newConcurrencyState,
  newCostBucket,
  pauseEndpoint,
  recordBreakerOutcome,
  recordBucketThrottled,
  refundToBucket,
  releaseLease,
  removeWaiters,
  reserveFromBucket,
  resolveBreakerPolicy,
  restoreBucket,
} from "./governor-policy";

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const shopifyStandard = { kind: "cost_bucket", maximumAvailable: 100, restoreRate: 50 } as const;
const lingxing = { kind: "concurrency", permits: 2, leaseMs: 10_000 } as const;

describe("cost bucket (Shopify GraphQL)", () => {
  it("grants at once while the bucket covers the cost, then makes the next caller wait exactly for the refill", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    for (let i = 0; i < 5; i++)
      expect(reserveFromBucket(bucket, 20, 60_000, T0)).toEqual({ granted: true, waitMs: 0 });
    // Empty: 20 points at 50/s take 400 ms.
    expect(reserveFromBucket(bucket, 20, 60_000, T0)).toEqual({ granted: true, waitMs: 400 });
  });

  it("queues callers behind each other's debt, first come first served", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    reserveFromBucket(bucket, 100, 60_000, T0);
    const waits = [30, 10, 50].map((cost) => reserveFromBucket(bucket, cost, 60_000, T0));
    // 30 points → 600 ms; the 10 after it → 800 ms; the 50 after both → 1800 ms.
    expect(waits).toEqual([
      { granted: true, waitMs: 600 },
      { granted: true, waitMs: 800 },
      { granted: true, waitMs: 1800 },
    ]);
    expect(bucket.available).toBe(-90);
  });

  it("never lets the upstream's bucket be overspent when the callers send at their granted times", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const sends: { at: number; cost: number }[] = [];
    let now = T0;
    for (let i = 0; i < 40; i++) {
      now += i % 3 === 0 ? 0 : 37; // bursts and trickles
      const cost = 5 + ((i * 7) % 40);
      const r = reserveFromBucket(bucket, cost, 60_000, now);
      if (!r.granted) throw new Error("expected a grant");
      sends.push({ at: now + r.waitMs, cost });
    }
    sends.sort((a, b) => a.at - b.at);
    let level = 100;
    let last = T0;
    for (const send of sends) {
      level = Math.min(100, level + ((send.at - last) / 1000) * 50) - send.cost;
      last = send.at;
      expect(level).toBeGreaterThanOrEqual(-1e-9);
    }
  });

  it("turns a caller away with the time it would have had to wait when that exceeds its patience", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    reserveFromBucket(bucket, 100, 60_000, T0);
    expect(reserveFromBucket(bucket, 50, 500, T0)).toEqual({ granted: false, retryAfterMs: 1000 });
    // Nothing was reserved for the caller that left.
    expect(bucket.available).toBe(0);
  });

  it("restores at the restore rate but never above the maximum", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    reserveFromBucket(bucket, 80, 0, T0);
    restoreBucket(bucket, T0 + 500);
    expect(bucket.available).toBe(45);
    restoreBucket(bucket, T0 + 60_000);
    expect(bucket.available).toBe(100);
  });

  it("charges a query dearer than the whole bucket as a full bucket", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    reserveFromBucket(bucket, 10, 0, T0);
    expect(reserveFromBucket(bucket, 1000, 60_000, T0)).toEqual({ granted: true, waitMs: 200 });
  });

  it("refunds what the query did not actually cost", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    reserveFromBucket(bucket, 60, 0, T0);
    refundToBucket(bucket, 60, 12, T0);
    expect(bucket.available).toBe(88);
    refundToBucket(bucket, 10, 0, T0);
    expect(bucket.available).toBe(98);
    refundToBucket(bucket, 10, 0, T0);
    expect(bucket.available).toBe(100);
  });

  it("adopts the shop's real maximum and restore rate and keeps them over the configured policy", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    adoptThrottleStatus(bucket, { maximumAvailable: 2000, restoreRate: 100, currentlyAvailable: 1990 }, T0);
    expect(bucket).toMatchObject({ maximumAvailable: 2000, restoreRate: 100, available: 100, learned: true });
    applyBucketPolicy(bucket, shopifyStandard, T0 + 1000);
    expect(bucket).toMatchObject({ maximumAvailable: 2000, restoreRate: 100, available: 200 });
  });

  it("believes a lower availability reported by the shop (another app spends the same bucket), never a higher one", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    reserveFromBucket(bucket, 40, 0, T0);
    adoptThrottleStatus(bucket, { maximumAvailable: 100, restoreRate: 50, currentlyAvailable: 90 }, T0);
    expect(bucket.available).toBe(60);
    adoptThrottleStatus(bucket, { maximumAvailable: 100, restoreRate: 50, currentlyAvailable: 25 }, T0);
    expect(bucket.available).toBe(25);
  });

  it("counts reservations not yet sent against the shop's snapshot, which cannot include them", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    reserveFromBucket(bucket, 100, 0, T0);
    reserveFromBucket(bucket, 40, 60_000, T0); // sends at T0+800
    // At T0+100 we expect the shop to hold 5 (our -35 plus the 40 not sent yet); it says 0, so we owe 40.
    adoptThrottleStatus(bucket, { maximumAvailable: 100, restoreRate: 50, currentlyAvailable: 0 }, T0 + 100);
    expect(bucket.available).toBe(-40);
    expect(reserveFromBucket(bucket, 10, 60_000, T0 + 100)).toEqual({ granted: true, waitMs: 1000 });
  });

  it("after a THROTTLED answer with Retry-After, believes the bucket empty and holds every send until then", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    recordBucketThrottled(bucket, { retryAfterMs: 2000 }, T0);
    expect(bucket.available).toBe(0);
    // Refilled to 100 well before the block ends: the block still decides.
    expect(reserveFromBucket(bucket, 10, 60_000, T0)).toEqual({ granted: true, waitMs: 2000 });
    expect(reserveFromBucket(bucket, 10, 1000, T0 + 500)).toEqual({ granted: false, retryAfterMs: 1500 });
  });

  it("rejects policies that could never grant anything", () => {
    expect(() =>
      assertGovernorPolicy({ kind: "cost_bucket", maximumAvailable: 100, restoreRate: 0 }),
    ).toThrow(RangeError);
    expect(() => assertGovernorPolicy({ kind: "concurrency", permits: 0, leaseMs: 1000 })).toThrow(
      RangeError,
    );
    expect(() => resolveBreakerPolicy({ failureThreshold: 0 })).toThrow(RangeError);
    expect(resolveBreakerPolicy({ openMs: 3_600_000 }).openMs).toBe(MAX_BREAKER_OPEN_MS);
  });
});

describe("concurrency permits (Lingxing)", () => {
  const admit = (
    state: ReturnType<typeof newConcurrencyState>,
    permitId: string,
    now: number,
    maxWaitMs = 5000,
    endpoint = "/erp/sc/routing/data/local_inventory/productList",
  ) => admitToEndpoint(state, lingxing, { permitId, endpoint, maxWaitMs }, now);

  it("grants up to the permit count per endpoint, then queues, each endpoint on its own", () => {
    const state = newConcurrencyState();
    expect(admit(state, "a", T0).kind).toBe("granted");
    expect(admit(state, "b", T0).kind).toBe("granted");
    expect(admit(state, "c", T0).kind).toBe("queued");
    expect(admit(state, "d", T0, 5000, "/erp/sc/data/mws/orders").kind).toBe("granted");
    expect(inFlight(state, "/erp/sc/routing/data/local_inventory/productList")).toBe(2);
  });

  it("hands a released permit to the longest waiter first", () => {
    const state = newConcurrencyState();
    admit(state, "a", T0);
    admit(state, "b", T0);
    admit(state, "c", T0);
    admit(state, "d", T0 + 1);
    releaseLease(state, "a");
    const progress = advanceWaiters(state, lingxing, T0 + 50);
    expect(progress.granted.map((l) => l.permitId)).toEqual(["c"]);
    expect(state.waiters.map((w) => w.permitId)).toEqual(["d"]);
    // A newcomer does not jump the queue even if a slot frees at the same moment.
    releaseLease(state, "b");
    expect(admit(state, "e", T0 + 60).kind).toBe("queued");
    expect(advanceWaiters(state, lingxing, T0 + 60).granted.map((l) => l.permitId)).toEqual(["d"]);
  });

  it("reclaims the lease of a consumer that crashed without releasing, and serves the waiter with it", () => {
    const state = newConcurrencyState();
    admit(state, "crashed-1", T0);
    admit(state, "crashed-2", T0 + 100);
    expect(admit(state, "waiting", T0 + 200, 20_000).kind).toBe("queued");
    const idle = advanceWaiters(state, lingxing, T0 + 5000);
    expect(idle.granted).toEqual([]);
    expect(idle.wakeAt).toBe(T0 + 10_000);
    const progress = advanceWaiters(state, lingxing, T0 + 10_000);
    expect(progress.reclaimed.map((l) => l.permitId)).toEqual(["crashed-1"]);
    expect(progress.granted.map((l) => l.permitId)).toEqual(["waiting"]);
    // A late release of a reclaimed lease changes nothing.
    expect(releaseLease(state, "crashed-1")).toBeUndefined();
  });

  it("turns away a waiter at its deadline with the time a permit is certain to be free", () => {
    const state = newConcurrencyState();
    admit(state, "a", T0);
    admit(state, "b", T0 + 2000);
    admit(state, "c", T0 + 3000, 1000);
    expect(advanceWaiters(state, lingxing, T0 + 3500).timedOut).toEqual([]);
    const progress = advanceWaiters(state, lingxing, T0 + 4000);
    expect(progress.timedOut).toEqual([{ permitId: "c", retryAfterMs: 6000 }]);
    expect(progress.wakeAt).toBeNull();
  });

  it("rejects at once a caller that will not wait when every permit is taken", () => {
    const state = newConcurrencyState();
    admit(state, "a", T0);
    admit(state, "b", T0);
    expect(admit(state, "c", T0 + 4000, 0)).toEqual({ kind: "rejected", retryAfterMs: 6000 });
  });

  it("pauses an endpoint the upstream rate-limited until its Retry-After, even with free permits", () => {
    const state = newConcurrencyState();
    pauseEndpoint(state, "/orders", T0 + 3000);
    expect(
      admitToEndpoint(state, lingxing, { permitId: "a", endpoint: "/orders", maxWaitMs: 1000 }, T0),
    ).toEqual({
      kind: "rejected",
      retryAfterMs: 3000,
    });
    expect(
      admitToEndpoint(state, lingxing, { permitId: "b", endpoint: "/orders", maxWaitMs: 5000 }, T0).kind,
    ).toBe("queued");
    expect(advanceWaiters(state, lingxing, T0).wakeAt).toBe(T0 + 3000);
    expect(advanceWaiters(state, lingxing, T0 + 3000).granted.map((l) => l.permitId)).toEqual(["b"]);
  });

  it("removes the waiters of one endpoint only", () => {
    const state = newConcurrencyState();
    for (const id of ["a", "b", "c"])
      admitToEndpoint(state, lingxing, { permitId: id, endpoint: "/x", maxWaitMs: 9 }, T0);
    for (const id of ["d", "e", "f"])
      admitToEndpoint(state, lingxing, { permitId: id, endpoint: "/y", maxWaitMs: 9 }, T0);
    expect(removeWaiters(state, "/x").map((w) => w.permitId)).toEqual(["c"]);
    expect(state.waiters.map((w) => w.permitId)).toEqual(["f"]);
  });
});

describe("circuit breaker per endpoint", () => {
  const policy: BreakerPolicy = { failureThreshold: 3, openMs: 1000, probeTimeoutMs: 5000 };
  const fail = { ok: false, failure: "retryable" } as const;
  const ok = { ok: true } as const;

  function openedBreaker() {
    const breaker = newBreaker("graphql", policy);
    for (let i = 0; i < 3; i++) recordBreakerOutcome(breaker, policy, `p${i}`, fail, T0);
    return breaker;
  }

  it("opens after the threshold of consecutive retryable failures and rejects until it half-opens", () => {
    const breaker = newBreaker("graphql", policy);
    expect(recordBreakerOutcome(breaker, policy, "p1", fail, T0).opened).toBe(false);
    expect(recordBreakerOutcome(breaker, policy, "p2", fail, T0).opened).toBe(false);
    expect(recordBreakerOutcome(breaker, policy, "p3", fail, T0)).toEqual({ changed: true, opened: true });
    expect(checkBreaker(breaker, policy, T0 + 400)).toEqual({
      kind: "reject",
      state: "open",
      retryAfterMs: 600,
    });
    expect(breakerView(breaker, T0 + 400)).toEqual({
      endpoint: "graphql",
      state: "open",
      consecutiveFailures: 3,
      openUntil: new Date(T0 + 1000).toISOString(),
    });
    expect(breakerView(breaker, T0 + 1000).state).toBe("half_open");
    expect(checkBreaker(breaker, policy, T0 + 1000)).toEqual({ kind: "probe" });
  });

  it("does not count throttling, validation or credential refusals, and a success ends the streak", () => {
    const breaker = newBreaker("graphql", policy);
    recordBreakerOutcome(breaker, policy, "p1", fail, T0);
    recordBreakerOutcome(breaker, policy, "p2", fail, T0);
    for (const failure of ["rate_limited", "permanent", "auth"] as const) {
      recordBreakerOutcome(breaker, policy, "p", { ok: false, failure }, T0);
    }
    expect(breaker.consecutiveFailures).toBe(0);
    recordBreakerOutcome(breaker, policy, "p3", fail, T0);
    recordBreakerOutcome(breaker, policy, "p4", ok, T0);
    recordBreakerOutcome(breaker, policy, "p5", fail, T0);
    expect(breaker.state).toBe("closed");
    expect(breaker.consecutiveFailures).toBe(1);
  });

  it("admits exactly one probe while half-open and closes on its success", () => {
    const breaker = openedBreaker();
    beginProbe(breaker, "probe", T0 + 1000);
    expect(checkBreaker(breaker, policy, T0 + 1100)).toMatchObject({ kind: "reject", state: "half_open" });
    // A straggler granted before the breaker opened does not decide anything.
    expect(recordBreakerOutcome(breaker, policy, "straggler", ok, T0 + 1200).changed).toBe(false);
    recordBreakerOutcome(breaker, policy, "probe", ok, T0 + 1300);
    expect(breakerView(breaker, T0 + 1300)).toEqual({
      endpoint: "graphql",
      state: "closed",
      consecutiveFailures: 0,
      openUntil: null,
    });
    expect(checkBreaker(breaker, policy, T0 + 1300)).toEqual({ kind: "pass" });
  });

  it("re-opens for twice as long after each failed probe, up to ten minutes, and resets once it closes", () => {
    const breaker = openedBreaker();
    let now = T0 + 1000;
    const periods: number[] = [];
    for (let i = 0; i < 12; i++) {
      beginProbe(breaker, `probe${i}`, now);
      recordBreakerOutcome(breaker, policy, `probe${i}`, fail, now);
      periods.push(breaker.openMs);
      now = breaker.openUntil ?? now;
    }
    expect(periods.slice(0, 4)).toEqual([2000, 4000, 8000, 16_000]);
    expect(periods.at(-1)).toBe(MAX_BREAKER_OPEN_MS);
    beginProbe(breaker, "good", now);
    recordBreakerOutcome(breaker, policy, "good", ok, now);
    for (let i = 0; i < 3; i++) recordBreakerOutcome(breaker, policy, `again${i}`, fail, now);
    expect(breaker.openUntil).toBe(now + 1000);
  });

  it("lets another caller probe when the probe never reported back or never got a permit", () => {
    const breaker = openedBreaker();
    beginProbe(breaker, "lost", T0 + 1000);
    expect(checkBreaker(breaker, policy, T0 + 5999).kind).toBe("reject");
    expect(checkBreaker(breaker, policy, T0 + 6000)).toEqual({ kind: "probe" });
    beginProbe(breaker, "queued", T0 + 6000);
    expect(abandonProbe(breaker, "someone-else")).toBe(false);
    expect(abandonProbe(breaker, "queued")).toBe(true);
    expect(checkBreaker(breaker, policy, T0 + 6001)).toEqual({ kind: "probe" });
  });
});

describe("policy types", () => {
  it("accept the shapes used for Shopify and Lingxing", () => {
    const policies: GovernorPolicy[] = [shopifyStandard, lingxing];
    for (const p of policies) expect(() => assertGovernorPolicy(p)).not.toThrow();
  });
});
