import { describe, expect, it } from "vitest";
import {
  abandonProbe,
  admitToBucket,
  admitToEndpoint,
  adoptThrottleStatus,
  advanceBucketWaiters,
  advanceWaiters,
  applyBucketPolicy,
  assertGovernorPolicy,
  type BreakerPolicy,
  beginProbe,
  breakerView,
  type CostBucket,
  type CostQueue,
  checkBreaker,
  type GovernorPolicy,
  inFlight,
  MAX_BREAKER_OPEN_MS,
  newBreaker,
  newConcurrencyState,
  newCostBucket,
  newCostQueue,
  pauseEndpoint,
  recordBreakerOutcome,
  recordBucketThrottled,
  refundToBucket,
  releaseLease,
  removeBucketWaiters,
  removeWaiters,
  resolveBreakerPolicy,
  restoreBucket,
} from "./governor-policy";

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const shopifyStandard = { kind: "cost_bucket", maximumAvailable: 100, restoreRate: 50 } as const;
const lingxing = { kind: "concurrency", permits: 2, leaseMs: 10_000 } as const;

describe("cost bucket (Shopify GraphQL)", () => {
  const admit = (
    bucket: CostBucket,
    queue: CostQueue,
    permitId: string,
    cost: number,
    now: number,
    maxWaitMs = 60_000,
    endpoint = "graphql",
  ) => admitToBucket(bucket, queue, { permitId, endpoint, cost, maxWaitMs }, now);

  it("grants at once while the bucket covers the cost, then queues the next caller until restoration covers it", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    for (let i = 0; i < 5; i++) expect(admit(bucket, queue, `p${i}`, 20, T0)).toEqual({ kind: "granted" });
    expect(admit(bucket, queue, "sixth", 20, T0)).toEqual({ kind: "queued" });
    // Empty: 20 points at 50/s take 400 ms.
    const early = advanceBucketWaiters(bucket, queue, T0 + 399);
    expect(early).toEqual({ granted: [], timedOut: [], wakeAt: T0 + 400 });
    expect(advanceBucketWaiters(bucket, queue, T0 + 400)).toEqual({
      granted: ["sixth"],
      timedOut: [],
      wakeAt: null,
    });
    expect(bucket.available).toBeCloseTo(0, 9);
  });

  it("serves waiters in arrival order: a later small request never jumps a head that needs more", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    admit(bucket, queue, "burst", 100, T0);
    expect(admit(bucket, queue, "large", 60, T0)).toEqual({ kind: "queued" });
    // 10 points are back after 200 ms, enough for the small one, but the large one came first.
    expect(admit(bucket, queue, "small", 10, T0 + 200)).toEqual({ kind: "queued" });
    expect(advanceBucketWaiters(bucket, queue, T0 + 1000).granted).toEqual([]);
    expect(advanceBucketWaiters(bucket, queue, T0 + 1200)).toEqual({
      granted: ["large"],
      timedOut: [],
      wakeAt: T0 + 1400,
    });
    expect(advanceBucketWaiters(bucket, queue, T0 + 1400).granted).toEqual(["small"]);
    // Nobody waits any more: a newcomer covered by the balance goes at once.
    expect(admit(bucket, queue, "newcomer", 5, T0 + 1500)).toEqual({ kind: "granted" });
  });

  it("turns a caller away when the predicted wait, counting everyone queued ahead, exceeds its patience", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    admit(bucket, queue, "burst", 100, T0);
    admit(bucket, queue, "ahead", 30, T0); // covered at +600 ms
    // 30 + 50 points at 50/s: 1600 ms.
    expect(admit(bucket, queue, "impatient", 50, T0, 1500)).toEqual({ kind: "rejected", retryAfterMs: 1600 });
    expect(admit(bucket, queue, "patient", 50, T0, 1600)).toEqual({ kind: "queued" });
    expect(admit(bucket, queue, "will-not-wait", 1, T0 + 10, 0)).toEqual({
      kind: "rejected",
      retryAfterMs: 1610,
    });
    expect(queue.waiters.map((w) => w.permitId)).toEqual(["ahead", "patient"]);
    // Nothing was deducted for the callers that left or still wait.
    expect(bucket.available).toBe(0.5);
  });

  it("turns a waiter away at its deadline and lets those behind it move up", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    admit(bucket, queue, "burst", 100, T0);
    expect(admit(bucket, queue, "costly", 50, T0, 1000)).toEqual({ kind: "queued" }); // due at +1000 ms
    expect(admit(bucket, queue, "cheap", 20, T0, 5000)).toEqual({ kind: "queued" }); // due at +1400 ms
    // Another client spent the shop's bucket: the costly one can no longer be served in time.
    adoptThrottleStatus(bucket, { maximumAvailable: 100, restoreRate: 50, currentlyAvailable: 0 }, T0 + 500);
    const progress = advanceBucketWaiters(bucket, queue, T0 + 1000);
    // 25 points are back: the cheap one, now first in line, goes as the costly one leaves.
    expect(progress).toEqual({
      granted: ["cheap"],
      timedOut: [{ permitId: "costly", retryAfterMs: 500 }],
      wakeAt: null,
    });
    expect(bucket.available).toBeCloseTo(5, 9);
  });

  it("wakes the head as soon as a refund covers it, long before restoration alone would", () => {
    const bucket = newCostBucket({ kind: "cost_bucket", maximumAvailable: 1000, restoreRate: 100 }, T0);
    const queue = newCostQueue();
    expect(admit(bucket, queue, "orders-page", 954, T0)).toEqual({ kind: "granted" });
    expect(admit(bucket, queue, "backfill-page", 954, T0 + 100)).toEqual({ kind: "queued" });
    // Restoration alone would cover it in (954 - 56) / 100 s.
    expect(advanceBucketWaiters(bucket, queue, T0 + 100).wakeAt).toBe(T0 + 100 + 8980);
    // The orders page cost 277: 677 come back at its release.
    refundToBucket(bucket, 954, 277, T0 + 150);
    const progress = advanceBucketWaiters(bucket, queue, T0 + 150);
    expect(progress.granted).toEqual([]);
    // 61 restored + 677 refunded = 738: the last 216 points take 2.16 s instead of 8.93 s.
    expect(progress.wakeAt).toBe(T0 + 150 + 2160);
    expect(advanceBucketWaiters(bucket, queue, T0 + 2310).granted).toEqual(["backfill-page"]);
    expect(bucket.available).toBeGreaterThanOrEqual(0);
  });

  it("lets a zero-cost request through the queue, since it takes nothing from those waiting", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    admit(bucket, queue, "burst", 100, T0);
    admit(bucket, queue, "waiting", 50, T0);
    expect(admit(bucket, queue, "bulk-download", 0, T0, 0)).toEqual({ kind: "granted" });
    expect(queue.waiters.map((w) => w.permitId)).toEqual(["waiting"]);
  });

  it("never lets the upstream's bucket be overspent, whatever the mix of callers and refunds", () => {
    const result = simulateCallers({
      policy: shopifyStandard,
      callers: Array.from({ length: 6 }, (_, i) => ({ requested: 10 + i * 17, actual: 3 + i * 5 })),
      seconds: 30,
    });
    expect(result.overLimit).toBe(0);
    expect(result.lowestBalanceAtGrant).toBeGreaterThanOrEqual(0);
    expect(result.rejected).toBe(0);
    expect(result.utilisation).toBeGreaterThanOrEqual(0.95);
  });

  it("restores at the restore rate but never above the maximum", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    admit(bucket, newCostQueue(), "p", 80, T0);
    restoreBucket(bucket, T0 + 500);
    expect(bucket.available).toBe(45);
    restoreBucket(bucket, T0 + 60_000);
    expect(bucket.available).toBe(100);
  });

  it("charges a query dearer than the whole bucket as a full bucket", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    admit(bucket, queue, "small", 10, T0);
    expect(admit(bucket, queue, "huge", 1000, T0)).toEqual({ kind: "queued" });
    expect(advanceBucketWaiters(bucket, queue, T0).wakeAt).toBe(T0 + 200);
    expect(advanceBucketWaiters(bucket, queue, T0 + 200).granted).toEqual(["huge"]);
    expect(bucket.available).toBeCloseTo(0, 9);
  });

  it("refunds what the query did not actually cost", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    admit(bucket, newCostQueue(), "p", 60, T0);
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

  it("believes a lower availability reported by the shop (another client spends the same bucket), never a higher one", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    admit(bucket, newCostQueue(), "p", 40, T0);
    adoptThrottleStatus(bucket, { maximumAvailable: 100, restoreRate: 50, currentlyAvailable: 90 }, T0);
    expect(bucket.available).toBe(60);
    adoptThrottleStatus(bucket, { maximumAvailable: 100, restoreRate: 50, currentlyAvailable: 25 }, T0);
    expect(bucket.available).toBe(25);
  });

  it("after a THROTTLED answer with Retry-After, believes the bucket empty and holds every send until then", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    recordBucketThrottled(bucket, { retryAfterMs: 2000 }, T0);
    expect(bucket.available).toBe(0);
    // Refilled to 100 well before the block ends: the block still decides, for a free request too.
    expect(admit(bucket, queue, "first", 10, T0)).toEqual({ kind: "queued" });
    expect(admit(bucket, queue, "free", 0, T0)).toEqual({ kind: "queued" });
    expect(admit(bucket, queue, "impatient", 10, T0 + 500, 1000)).toEqual({
      kind: "rejected",
      retryAfterMs: 1500,
    });
    expect(advanceBucketWaiters(bucket, queue, T0 + 1999)).toMatchObject({ granted: [], wakeAt: T0 + 2000 });
    expect(advanceBucketWaiters(bucket, queue, T0 + 2000).granted).toEqual(["first", "free"]);
  });

  it("removes the waiters of one endpoint only", () => {
    const bucket = newCostBucket(shopifyStandard, T0);
    const queue = newCostQueue();
    admit(bucket, queue, "burst", 100, T0);
    admit(bucket, queue, "a", 10, T0, 5000, "graphql");
    admit(bucket, queue, "b", 10, T0, 5000, "bulk");
    admit(bucket, queue, "c", 10, T0, 5000, "graphql");
    expect(removeBucketWaiters(queue, "graphql").map((w) => w.permitId)).toEqual(["a", "c"]);
    expect(queue.waiters.map((w) => w.permitId)).toEqual(["b"]);
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

describe("cost bucket shared by callers whose pages cost far less than requested", () => {
  // A Shopify orders page of 250 is requested at 954 points and actually costs about 277.
  const tightShop = { kind: "cost_bucket", maximumAvailable: 1000, restoreRate: 100 } as const;
  const ordersPage = { requested: 954, actual: 277 };

  it("keeps two callers at the restore rate: ≥95% of the restored points spent, none overspent", () => {
    const result = simulateCallers({ policy: tightShop, callers: [ordersPage, ordersPage], seconds: 60 });
    expect(result.overLimit).toBe(0);
    expect(result.lowestBalanceAtGrant).toBeGreaterThanOrEqual(0);
    expect(result.rejected).toBe(0);
    expect(result.utilisation).toBeGreaterThanOrEqual(0.95);
    // ≈ restoreRate / actual pages per second, shared between the two.
    expect(result.requests / 60).toBeGreaterThanOrEqual((0.95 * 100) / 277);
    expect(Math.min(...result.requestsPerCaller)).toBeGreaterThanOrEqual(result.requests / 2 - 1);
  });

  it("keeps one caller alone just as busy", () => {
    const result = simulateCallers({ policy: tightShop, callers: [ordersPage], seconds: 60 });
    expect(result.overLimit).toBe(0);
    expect(result.lowestBalanceAtGrant).toBeGreaterThanOrEqual(0);
    expect(result.utilisation).toBeGreaterThanOrEqual(0.95);
  });
});

interface SimulatedCaller {
  requested: number;
  actual: number;
}

/**
 * Callers that each send, wait for the answer and release, back to back, on a fake clock, against a
 * model of Shopify's bucket: it charges the requested cost when a query arrives (THROTTLED — counted
 * as over limit — if it holds less), refunds `requested - actual` when the query completes and reports
 * its ThrottleStatus then. The governor is driven the way the Durable Object drives it: admit on
 * acquire, refund/adopt and advance on release, and one timer at the latest `wakeAt`.
 */
function simulateCallers(input: {
  policy: Extract<GovernorPolicy, { kind: "cost_bucket" }>;
  callers: SimulatedCaller[];
  seconds: number;
}) {
  const { policy, callers } = input;
  const toShopMs = 30;
  const processingMs = 150;
  const backMs = 30;
  const thinkMs = 5;
  const end = T0 + input.seconds * 1000;

  const bucket = newCostBucket(policy, T0);
  const queue = newCostQueue();
  const shop = { level: policy.maximumAvailable, at: T0 };
  const refillShop = (now: number) => {
    shop.level = Math.min(
      policy.maximumAvailable,
      shop.level + ((now - shop.at) / 1000) * policy.restoreRate,
    );
    shop.at = now;
  };

  let seq = 0;
  const events: { at: number; seq: number; run: (now: number) => void }[] = [];
  const schedule = (at: number, run: (now: number) => void) => {
    events.push({ at, seq: seq++, run });
    events.sort((a, b) => a.at - b.at || a.seq - b.seq);
  };
  let timerSeq = -1;
  const armTimer = (wakeAt: number | null) => {
    timerSeq = -1;
    if (wakeAt === null) return;
    schedule(wakeAt, (now) => {
      if (mySeq === timerSeq) advance(now);
    });
    const mySeq = seq - 1;
    timerSeq = mySeq;
  };

  const result = {
    requests: 0,
    requestsPerCaller: callers.map(() => 0),
    actualInWindow: 0,
    overLimit: 0,
    rejected: 0,
    lowestBalanceAtGrant: Number.POSITIVE_INFINITY,
    utilisation: 0,
  };
  const waiting = new Map<string, number>();

  const send = (callerIndex: number, now: number) => {
    result.lowestBalanceAtGrant = Math.min(result.lowestBalanceAtGrant, bucket.available);
    const caller = callers[callerIndex];
    if (!caller) throw new Error("unknown caller");
    schedule(now + toShopMs, (arrival) => {
      if (arrival > end) return;
      refillShop(arrival);
      result.requests += 1;
      result.requestsPerCaller[callerIndex] = (result.requestsPerCaller[callerIndex] ?? 0) + 1;
      if (shop.level < caller.requested) {
        result.overLimit += 1;
        return;
      }
      shop.level -= caller.requested;
      result.actualInWindow += caller.actual;
      schedule(arrival + processingMs, (completed) => {
        refillShop(completed);
        shop.level = Math.min(policy.maximumAvailable, shop.level + caller.requested - caller.actual);
        const throttle = {
          maximumAvailable: policy.maximumAvailable,
          restoreRate: policy.restoreRate,
          currentlyAvailable: Math.floor(shop.level),
        };
        schedule(completed + backMs, (released) => {
          refundToBucket(bucket, caller.requested, caller.actual, released);
          adoptThrottleStatus(bucket, throttle, released);
          advance(released);
          schedule(released + thinkMs, (next) => acquire(callerIndex, next));
        });
      });
    });
  };

  const advance = (now: number) => {
    const progress = advanceBucketWaiters(bucket, queue, now);
    for (const permitId of progress.granted) {
      const callerIndex = waiting.get(permitId);
      if (callerIndex === undefined) throw new Error(`nobody waits as ${permitId}`);
      waiting.delete(permitId);
      send(callerIndex, now);
    }
    result.rejected += progress.timedOut.length;
    armTimer(progress.wakeAt);
  };

  const acquire = (callerIndex: number, now: number) => {
    if (now > end) return;
    const caller = callers[callerIndex];
    if (!caller) throw new Error("unknown caller");
    const permitId = `c${callerIndex}-${seq}`;
    const admission = admitToBucket(
      bucket,
      queue,
      { permitId, endpoint: "graphql", cost: caller.requested, maxWaitMs: 30_000 },
      now,
    );
    if (admission.kind === "granted") send(callerIndex, now);
    else if (admission.kind === "rejected") result.rejected += 1;
    else {
      waiting.set(permitId, callerIndex);
      advance(now);
    }
  };

  callers.forEach((_, i) => {
    schedule(T0, (now) => acquire(i, now));
  });
  while (events.length > 0) {
    const event = events.shift();
    if (event) event.run(event.at);
  }
  // What the callers drew from restoration: points spent less what the shop's own bucket gave up.
  const startLevel = policy.maximumAvailable;
  refillShop(end);
  const fromRestore = result.actualInWindow - (startLevel - shop.level);
  result.utilisation = fromRestore / ((policy.restoreRate * (end - T0)) / 1000);
  return result;
}

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
