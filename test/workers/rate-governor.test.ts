import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { RateGovernor } from "../../src/durable-objects/rate-governor";
import { UpstreamError } from "../../src/lib/errors";
import type { UpstreamPermit } from "../../src/lib/upstream-gate";
import { governorGate, governorStatus } from "../../src/services/upstream/governor-gate";
import type { Breaker, BreakerPolicy, GovernorPolicy } from "../../src/services/upstream/governor-policy";

const shopifyBucket: GovernorPolicy = { kind: "cost_bucket", maximumAvailable: 100, restoreRate: 50 };
const breakerPolicy: BreakerPolicy = { failureThreshold: 5, openMs: 30_000, probeTimeoutMs: 60_000 };
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const shopKey = () => `shopify:${crypto.randomUUID()}.myshopify.com`;
const lingxingKey = () => `lingxing:${crypto.randomUUID()}`;
const governorOf = (accountKey: string) => env.RATE_GOVERNORS.get(env.RATE_GOVERNORS.idFromName(accountKey));

async function rejection(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof UpstreamError)) throw new Error(`expected an UpstreamError, got ${String(error)}`);
  return error;
}

describe("RateGovernor: Shopify cost bucket", () => {
  it("holds 30 concurrent queries in the governor and grants each only when the bucket covers it", async () => {
    const accountKey = shopKey();
    const governor = governorOf(accountKey);
    const fastBucket: GovernorPolicy = { kind: "cost_bucket", maximumAvailable: 100, restoreRate: 1000 };
    const started = Date.now();
    const decisions = await Promise.all(
      Array.from({ length: 30 }, () =>
        governor.acquire({
          accountKey,
          policy: fastBucket,
          breaker: breakerPolicy,
          endpoint: "graphql",
          cost: 20,
          maxWaitMs: 60_000,
        }),
      ),
    );
    const grants = decisions.flatMap((d) => (d.granted ? [d] : []));
    expect(grants).toHaveLength(30);
    await Promise.all(
      grants.map((g) =>
        governor.release({
          permitId: g.permitId,
          endpoint: "graphql",
          cost: 20,
          outcome: { ok: true, actualCost: 20 },
        }),
      ),
    );

    // Replay the sends (each at its grant) against a model of the shop's bucket, full at the start.
    const sends = grants.map((g) => g.grantedAt).sort((a, b) => a - b);
    let level = 100;
    let last = started;
    for (const sendAt of sends) {
      level = Math.min(100, level + ((sendAt - last) / 1000) * 1000) - 20;
      last = sendAt;
      expect(level).toBeGreaterThanOrEqual(-1e-9);
    }
    // 600 points with 100 in the bucket at 1000/s: the last query goes ~0.5 s after the first, not sooner.
    expect((sends.at(-1) ?? 0) - started).toBeGreaterThanOrEqual(490);
  });

  it("makes a caller wait in the governor exactly until restoration covers its cost", async () => {
    const gate = governorGate(env.RATE_GOVERNORS, shopKey(), shopifyBucket);
    const grantedAfter: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 7; i++) {
      await gate.acquire({ endpoint: "graphql", cost: 20, maxWaitMs: 10_000 });
      grantedAfter.push(Date.now() - started);
    }
    // Five fit the full bucket; 20 points at 50/s take 400 ms each after that.
    expect(grantedAfter[4]).toBeLessThan(200);
    const [sixth = 0, seventh = 0] = grantedAfter.slice(5);
    expect(sixth).toBeGreaterThanOrEqual(350);
    expect(sixth).toBeLessThan(600);
    expect(seventh - sixth).toBeGreaterThanOrEqual(390);
  });

  it("keeps two callers whose pages cost far less than requested at the restore rate, never overspending", async () => {
    // A Shopify orders page is requested at 954 points and costs ~277; the refund arrives at release.
    const requested = 954;
    const actual = 277;
    const fastShop: GovernorPolicy = { kind: "cost_bucket", maximumAvailable: 1000, restoreRate: 1000 };
    const accountKey = shopKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, fastShop);
    // The shop's side, like the fake: charges the requested cost on arrival, refunds the rest at once.
    const shop = { level: 1000, at: Date.now(), overLimit: 0, lowest: 1000, actualSpent: 0, requests: 0 };
    const refill = () => {
      const now = Date.now();
      shop.level = Math.min(1000, shop.level + ((now - shop.at) / 1000) * 1000);
      shop.at = now;
    };
    const windowMs = 2_000;
    const started = Date.now();
    const caller = async () => {
      while (Date.now() - started < windowMs) {
        const permit = await gate.acquire({ endpoint: "graphql", cost: requested, maxWaitMs: 10_000 });
        refill();
        shop.requests += 1;
        if (shop.level < requested) shop.overLimit += 1;
        shop.lowest = Math.min(shop.lowest, shop.level - requested);
        shop.level -= actual;
        shop.actualSpent += actual;
        await permit.release({
          ok: true,
          actualCost: actual,
          throttle: { maximumAvailable: 1000, restoreRate: 1000, currentlyAvailable: Math.floor(shop.level) },
        });
      }
    };
    await Promise.all([caller(), caller()]);
    const elapsedMs = Date.now() - started;
    refill();

    expect(shop.overLimit).toBe(0);
    expect(shop.lowest).toBeGreaterThanOrEqual(0);
    // What the callers drew from restoration (the full bucket at the start counts neither way): sleeping
    // out the requested cost would reach about half of it.
    const utilisation = (shop.actualSpent - (1000 - shop.level)) / ((elapsedMs / 1000) * 1000);
    expect(utilisation).toBeGreaterThanOrEqual(0.85);
    const status = await governorStatus(env.RATE_GOVERNORS, accountKey);
    expect(status.bucket?.available).toBeGreaterThanOrEqual(0);
  });

  it("rejects with a retryable error and a Retry-After when the wait exceeds the caller's patience", async () => {
    const accountKey = shopKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, shopifyBucket);
    await gate.acquire({ endpoint: "graphql", cost: 100 });
    const error = await rejection(gate.acquire({ endpoint: "graphql", cost: 100, maxWaitMs: 500 }));
    expect(error.retryable).toBe(true);
    expect(error.retryAfterSeconds).toBe(2);
    expect(error.details).toEqual({ upstream: `${accountKey}:graphql` });
  });

  it("refunds the unused cost and learns the shop's real bucket from ThrottleStatus", async () => {
    const accountKey = shopKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, shopifyBucket);
    const permit = await gate.acquire({ endpoint: "graphql", cost: 80 });
    await permit.release({
      ok: true,
      actualCost: 10,
      throttle: { maximumAvailable: 2000, currentlyAvailable: 30, restoreRate: 100 },
    });
    const status = await governorStatus(env.RATE_GOVERNORS, accountKey);
    expect(status.accountKey).toBe(accountKey);
    expect(status.policy).toEqual(shopifyBucket);
    expect(status.bucket?.maximumAvailable).toBe(2000);
    expect(status.bucket?.restoreRate).toBe(100);
    // Another app spent the shop's bucket: 30 left upstream beats our 90, give or take restoration.
    expect(status.bucket?.available).toBeGreaterThanOrEqual(30);
    expect(status.bucket?.available).toBeLessThan(60);

    // The configured policy does not undo what the shop told us.
    await gate.acquire({ endpoint: "graphql", cost: 1 });
    expect((await governorStatus(env.RATE_GOVERNORS, accountKey)).bucket?.maximumAvailable).toBe(2000);
  });

  it("holds every send after a THROTTLED answer until its Retry-After", async () => {
    const accountKey = shopKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, shopifyBucket);
    const permit = await gate.acquire({ endpoint: "graphql", cost: 10 });
    await permit.release({ ok: false, failure: "rate_limited", retryAfterMs: 5_000 });
    const error = await rejection(gate.acquire({ endpoint: "graphql", cost: 1, maxWaitMs: 1000 }));
    expect(error.retryAfterSeconds).toBe(5);
    // Throttling is not an outage.
    expect((await governorStatus(env.RATE_GOVERNORS, accountKey)).breakers[0]).toMatchObject({
      state: "closed",
      consecutiveFailures: 0,
    });
  });
});

describe("RateGovernor: Lingxing concurrency permits", () => {
  const lingxing: GovernorPolicy = { kind: "concurrency", permits: 2, leaseMs: 5_000 };

  it("never has more requests in flight per endpoint than permits, across many concurrent consumers", async () => {
    const accountKey = lingxingKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, lingxing);
    let inFlight = 0;
    let peak = 0;
    const consumer = async () => {
      const permit = await gate.acquire({ endpoint: "/erp/sc/data/mws/orders", cost: 1, maxWaitMs: 5_000 });
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      await pause(15);
      inFlight -= 1;
      await permit.release({ ok: true });
    };
    await Promise.all(Array.from({ length: 10 }, consumer));
    expect(peak).toBe(2);
    expect((await governorStatus(env.RATE_GOVERNORS, accountKey)).inFlight).toEqual({});
  });

  it("parks a caller until a permit is released, keeps endpoints apart and reports in-flight counts", async () => {
    const accountKey = lingxingKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, lingxing);
    const first = await gate.acquire({ endpoint: "/orders", cost: 1 });
    await gate.acquire({ endpoint: "/orders", cost: 1 });
    let thirdGranted = false;
    const third = gate.acquire({ endpoint: "/orders", cost: 1, maxWaitMs: 3_000 }).then((p) => {
      thirdGranted = true;
      return p;
    });
    await gate.acquire({ endpoint: "/inventory", cost: 1, maxWaitMs: 0 });
    await pause(30);
    expect(thirdGranted).toBe(false);
    expect((await governorStatus(env.RATE_GOVERNORS, accountKey)).inFlight).toEqual({
      "/orders": 2,
      "/inventory": 1,
    });

    const impatient = await rejection(gate.acquire({ endpoint: "/orders", cost: 1, maxWaitMs: 0 }));
    expect(impatient.retryable).toBe(true);
    expect(impatient.retryAfterSeconds).toBeGreaterThanOrEqual(1);

    await first.release({ ok: true });
    await third;
    expect(thirdGranted).toBe(true);
    // Releasing twice is harmless.
    await first.release({ ok: true });
    expect((await governorStatus(env.RATE_GOVERNORS, accountKey)).inFlight?.["/orders"]).toBe(2);
  });

  it("reclaims the permits of a consumer that crashed without releasing", async () => {
    const accountKey = lingxingKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, {
      kind: "concurrency",
      permits: 1,
      leaseMs: 150,
    });
    await gate.acquire({ endpoint: "/orders", cost: 1 }); // never released
    const started = Date.now();
    await gate.acquire({ endpoint: "/orders", cost: 1, maxWaitMs: 2_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
  });

  it("pauses an endpoint the upstream rate-limited", async () => {
    const accountKey = lingxingKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, lingxing);
    const permit = await gate.acquire({ endpoint: "/orders", cost: 1 });
    await permit.release({ ok: false, failure: "rate_limited", retryAfterMs: 3_000 });
    const error = await rejection(gate.acquire({ endpoint: "/orders", cost: 1, maxWaitMs: 500 }));
    expect(error.retryAfterSeconds).toBe(3);
    await gate.acquire({ endpoint: "/inventory", cost: 1, maxWaitMs: 0 });
  });
});

describe("RateGovernor: circuit breaker", () => {
  it("opens after N failures, rejects, half-opens after openMs with one probe, doubles on a failed probe, closes on success", async () => {
    const accountKey = shopKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, shopifyBucket, {
      breaker: { failureThreshold: 3, openMs: 80 },
    });
    const call = () => gate.acquire({ endpoint: "graphql", cost: 1 });
    for (let i = 0; i < 3; i++) await (await call()).release({ ok: false, failure: "retryable" });

    const open = await governorStatus(env.RATE_GOVERNORS, accountKey);
    expect(open.breakers).toEqual([
      { endpoint: "graphql", state: "open", consecutiveFailures: 3, openUntil: expect.any(String) },
    ]);
    const rejected = await rejection(call());
    expect(rejected.message).toBe("upstream circuit breaker is open");
    expect(rejected.retryable).toBe(true);
    expect(rejected.retryAfterSeconds).toBe(1);
    expect(rejected.details).toEqual({ upstream: `${accountKey}:graphql` });

    // The breaker survives the object being evicted: it lives in storage.
    const stored = await runInDurableObject(governorOf(accountKey), (_instance: RateGovernor, state) =>
      state.storage.kv.get<Breaker>("breaker:graphql"),
    );
    expect(stored?.state).toBe("open");

    await pause(100);
    expect((await governorStatus(env.RATE_GOVERNORS, accountKey)).breakers[0]?.state).toBe("half_open");
    const probe = await call();
    expect((await rejection(call())).message).toBe(
      "upstream circuit breaker is half-open and already probing",
    );
    await probe.release({ ok: false, failure: "retryable" });

    const reopened = await governorStatus(env.RATE_GOVERNORS, accountKey);
    const openFor = Date.parse(reopened.breakers[0]?.openUntil ?? "") - Date.now();
    expect(reopened.breakers[0]?.state).toBe("open");
    expect(openFor).toBeGreaterThan(100);
    expect(openFor).toBeLessThanOrEqual(160);

    await pause(openFor + 20);
    await (await call()).release({ ok: true });
    expect((await governorStatus(env.RATE_GOVERNORS, accountKey)).breakers).toEqual([
      { endpoint: "graphql", state: "closed", consecutiveFailures: 0, openUntil: null },
    ]);
    await (await call()).release({ ok: true });
  });

  it("keeps each endpoint's breaker apart and turns away callers parked for a permit when it opens", async () => {
    const accountKey = lingxingKey();
    const gate = governorGate(
      env.RATE_GOVERNORS,
      accountKey,
      { kind: "concurrency", permits: 1, leaseMs: 5_000 },
      { breaker: { failureThreshold: 1, openMs: 10_000 } },
    );
    const holder = await gate.acquire({ endpoint: "/orders", cost: 1 });
    const parked = rejection(gate.acquire({ endpoint: "/orders", cost: 1, maxWaitMs: 3_000 }));
    await pause(20);
    await holder.release({ ok: false, failure: "retryable" });
    const error = await parked;
    expect(error.message).toBe("upstream circuit breaker is open");
    expect(error.retryAfterSeconds).toBe(10);
    await (await gate.acquire({ endpoint: "/inventory", cost: 1 })).release({ ok: true });
    const status = await governorStatus(env.RATE_GOVERNORS, accountKey);
    expect(status.breakers.map((b) => [b.endpoint, b.state])).toEqual([
      ["/inventory", "closed"],
      ["/orders", "open"],
    ]);
  });
});

describe("RateGovernor: circuit breaker and the cost bucket's queue", () => {
  it("turns away callers queued for the bucket when their endpoint's breaker opens", async () => {
    const accountKey = shopKey();
    const gate = governorGate(env.RATE_GOVERNORS, accountKey, shopifyBucket, {
      breaker: { failureThreshold: 1, openMs: 10_000 },
    });
    const holder = await gate.acquire({ endpoint: "graphql", cost: 100 });
    const queued = rejection(gate.acquire({ endpoint: "graphql", cost: 100, maxWaitMs: 5_000 }));
    await pause(20);
    await holder.release({ ok: false, failure: "retryable" });
    const error = await queued;
    expect(error.message).toBe("upstream circuit breaker is open");
    expect(error.retryAfterSeconds).toBe(10);
  });
});

describe("governorGate when the governor itself fails", () => {
  const brokenNamespace = (stub: { acquire: () => Promise<unknown>; release: () => Promise<unknown> }) =>
    ({
      idFromName: () => ({}),
      get: () => stub,
    }) as unknown as DurableObjectNamespace<RateGovernor>;

  it("turns an unreachable governor into a retryable UpstreamError", async () => {
    const gate = governorGate(
      brokenNamespace({
        acquire: () => Promise.reject(new Error("Durable Object reset because its code was updated.")),
        release: () => Promise.resolve(),
      }),
      "shopify:acme.myshopify.com",
      shopifyBucket,
    );
    const error = await rejection(gate.acquire({ endpoint: "graphql", cost: 1 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe("rate governor unreachable");
  });

  it("stops waiting for a governor that never answers, past the caller's patience", async () => {
    const gate = governorGate(
      brokenNamespace({
        acquire: () => new Promise<never>(() => undefined),
        release: () => Promise.resolve(),
      }),
      "shopify:acme.myshopify.com",
      shopifyBucket,
      { answerGraceMs: 50 },
    );
    const started = Date.now();
    const error = await rejection(gate.acquire({ endpoint: "graphql", cost: 1, maxWaitMs: 100 }));
    expect(error.retryable).toBe(true);
    expect(error.message).toBe("rate governor unreachable");
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("never throws a failed release into the caller's success path", async () => {
    let releases = 0;
    const gate = governorGate(
      brokenNamespace({
        acquire: () => Promise.resolve({ granted: true, permitId: "pmt_1", grantedAt: Date.now() }),
        release: () => {
          releases += 1;
          return Promise.reject(new Error("network connection lost"));
        },
      }),
      "shopify:acme.myshopify.com",
      shopifyBucket,
    );
    const permit: UpstreamPermit = await gate.acquire({ endpoint: "graphql", cost: 1 });
    await expect(permit.release({ ok: true })).resolves.toBeUndefined();
    expect(releases).toBe(1);
  });
});
