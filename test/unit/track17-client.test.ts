// The 17track client against the fake (test/fakes/track17.ts) in Node: 17token auth, ≤ 40 numbers per
// request, per-number results, every failure classified, the key never in an error, and the governor's
// policy keeping a burst under 17track's 3 requests per second.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createTrack17Client, type Track17ClientInput } from "../../src/adapters/tracking/track17/client";
import errorDataErrorsCodeZero from "../../src/adapters/tracking/track17/fixtures/error-data-errors-code-zero.json";
import { TRACK17_ERROR } from "../../src/adapters/tracking/track17/types";
import { UpstreamError } from "../../src/lib/errors";
import { type UpstreamGate, type UpstreamOutcome, ungatedUpstream } from "../../src/lib/upstream-gate";
import { verify17TrackWebhook } from "../../src/lib/webhook-signatures";
import { TRACK17_GOVERNOR_POLICY } from "../../src/services/tracking/track17-client";
import { newTrack17Key, startTrack17Fake, type Track17Fake } from "../fakes/track17";
import { localBucketGate } from "../support/local-bucket-gate";

let fake: Track17Fake;
beforeAll(async () => {
  fake = await startTrack17Fake();
});
afterAll(async () => {
  await fake.close();
});

/** A fresh 17track account per test: its own registry, quota and rate window. */
let key: string;
beforeEach(() => {
  key = newTrack17Key();
  fake.addAccount(key);
});

/** A gate without limits that records what it was told. */
function recordingGate(): UpstreamGate & { endpoints: string[]; outcomes: UpstreamOutcome[] } {
  const endpoints: string[] = [];
  const outcomes: UpstreamOutcome[] = [];
  return {
    endpoints,
    outcomes,
    async acquire({ endpoint, cost }) {
      expect(cost).toBe(1);
      endpoints.push(endpoint);
      return {
        async release(outcome) {
          outcomes.push(outcome);
        },
      };
    },
  };
}

function client(overrides: Partial<Track17ClientInput> = {}) {
  return createTrack17Client({ apiKey: key, apiBase: fake.url, gate: ungatedUpstream, ...overrides });
}

async function failureOf(promise: Promise<unknown>): Promise<UpstreamError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(UpstreamError);
  return error as UpstreamError;
}

const numbers = (count: number, offset = 0) =>
  Array.from({ length: count }, (_, i) => `RR${String(100_000_000 + offset + i)}CN`);

describe("register", () => {
  it("sends 17token, gets per-number answers, and the fake remembers numbers with their tags", async () => {
    const gate = recordingGate();
    const c = client({ gate });
    const answer = await c.register([
      { number: "RR123456789CN", tag: "tenant-a" },
      { number: "1Z999AA10123456784", carrier: 100002, tag: "tenant-a" },
      { number: "000000000", tag: "tenant-a" },
      { number: "ZZ0042TW7", tag: "tenant-a" },
      { number: "RR555555555CN", carrier: 424242, tag: "tenant-a" },
    ]);
    expect(answer.accepted).toEqual([
      { origin: 1, number: "RR123456789CN", carrier: 3011, tag: "tenant-a" },
      { origin: 2, number: "1Z999AA10123456784", carrier: 100002, tag: "tenant-a" },
    ]);
    expect(answer.rejected.map((r) => [r.number, r.error.code])).toEqual([
      ["000000000", TRACK17_ERROR.invalidFormat],
      ["ZZ0042TW7", TRACK17_ERROR.carrierNotDetected],
      ["RR555555555CN", TRACK17_ERROR.carrierCodeIncorrect],
    ]);
    expect(gate.endpoints).toEqual(["/track/v2.2/register"]);
    expect(gate.outcomes).toEqual([{ ok: true, actualCost: 1 }]);

    const again = await c.register([{ number: "RR123456789CN", tag: "tenant-b" }]);
    expect(again.accepted).toEqual([]);
    expect(again.rejected).toEqual([
      {
        number: "RR123456789CN",
        error: {
          code: TRACK17_ERROR.alreadyRegistered,
          message: "Tracking number RR123456789CN is already registered.",
        },
      },
    ]);
    expect(fake.registrations(key).map((r) => [r.number, r.carrier, r.tag])).toEqual([
      ["RR123456789CN", 3011, "tenant-a"],
      ["1Z999AA10123456784", 100002, "tenant-a"],
    ]);
  });

  it("takes at most 40 numbers per request: 41 is refused before anything is sent", async () => {
    const c = client();
    await expect(c.register(numbers(41).map((number) => ({ number })))).rejects.toThrow(RangeError);
    await expect(c.register([])).rejects.toThrow(RangeError);
    expect(fake.stats(key).requests).toEqual({});
    const answer = await c.register(numbers(40).map((number) => ({ number })));
    expect(answer.accepted).toHaveLength(40);
  });

  it("the fake itself refuses 41 numbers with -18010014, which the client reads as a permanent refusal", async () => {
    const response = await fetch(`${fake.url}/track/v2.2/register`, {
      method: "POST",
      headers: { "content-type": "application/json", "17token": key },
      body: JSON.stringify(numbers(41).map((number) => ({ number }))),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      code: -18010014,
      data: { errors: [{ code: -18010014, message: "Tracking numbers exceed the 40 limit." }] },
    });
    fake.failNext(key, TRACK17_ERROR.tooManyNumbers);
    const error = await failureOf(client().register([{ number: "RR100000001CN" }]));
    expect(error).toMatchObject({ kind: "permanent", retryable: false });
    expect(error.details).toMatchObject({ track17Code: -18010014 });
  });

  it("a quota used up refuses further numbers one by one (-18019908)", async () => {
    const small = newTrack17Key();
    fake.addAccount(small, { quota: 2 });
    const answer = await client({ apiKey: small }).register(numbers(3, 500).map((number) => ({ number })));
    expect(answer.accepted).toHaveLength(2);
    expect(answer.rejected.map((r) => r.error.code)).toEqual([TRACK17_ERROR.quotaExhausted]);
  });
});

describe("failures, classified", () => {
  it("a wrong key is an auth failure (HTTP 401, -18010002) whose message never holds the key", async () => {
    const wrong = newTrack17Key();
    const gate = recordingGate();
    const error = await failureOf(client({ apiKey: wrong, gate }).register([{ number: "RR100000002CN" }]));
    expect(error).toMatchObject({ kind: "auth", retryable: false });
    expect(error.details).toMatchObject({ track17Code: TRACK17_ERROR.invalidSecurityKey, httpStatus: 401 });
    expect(error.message).toContain("Invalid security key.");
    expect(JSON.stringify({ m: error.message, d: error.details, c: String(error.cause) })).not.toContain(
      wrong,
    );
    expect(gate.outcomes).toEqual([{ ok: false, failure: "auth", actualCost: 1 }]);
  });

  it("a disabled account is an auth failure too (-18010004)", async () => {
    await fetch(`${fake.url}/__control/config`, {
      method: "POST",
      body: JSON.stringify({ key, disabled: true }),
    });
    const error = await failureOf(client().register([{ number: "RR100000003CN" }]));
    expect(error).toMatchObject({ kind: "auth" });
    expect(error.details).toMatchObject({ track17Code: TRACK17_ERROR.accountDisabled });
  });

  it("HTTP 429 is rate-limited with 17track's Retry-After (1 s when it sends none), told to the governor", async () => {
    const gate = recordingGate();
    fake.failNext(key, 429, { retryAfterSeconds: 7 });
    const withHint = await failureOf(client({ gate }).register([{ number: "RR100000004CN" }]));
    expect(withHint).toMatchObject({ kind: "rate_limited", retryable: true, retryAfterSeconds: 7 });
    fake.failNext(key, 429);
    const withoutHint = await failureOf(client({ gate }).register([{ number: "RR100000004CN" }]));
    expect(withoutHint).toMatchObject({ kind: "rate_limited", retryAfterSeconds: 1 });
    expect(gate.outcomes).toEqual([
      { ok: false, failure: "rate_limited", retryAfterMs: 7000, actualCost: 1 },
      { ok: false, failure: "rate_limited", retryAfterMs: 1000, actualCost: 1 },
    ]);
  });

  it("the fake's own limit: a fourth request within one second of the same key is answered 429", async () => {
    const c = client();
    const results = await Promise.allSettled(
      [0, 1, 2, 3].map((i) => c.getTrackInfo([{ number: `RR20000000${i}CN` }])),
    );
    const limited = results.filter(
      (r) => r.status === "rejected" && (r.reason as UpstreamError).kind === "rate_limited",
    );
    expect(limited).toHaveLength(1);
    expect(fake.stats(key).rateLimited).toBe(1);
  });

  it("5xx, -18010003 and a timeout are retryable; a quota refusal of the whole request waits an hour", async () => {
    // One account per request: four quick requests of one key would meet the fake's own 3-per-second limit.
    const fresh = () => {
      key = newTrack17Key();
      fake.addAccount(key);
      return key;
    };
    fake.failNext(fresh(), 503);
    expect(await failureOf(client().register([{ number: "RR100000005CN" }]))).toMatchObject({
      kind: "retryable",
      retryable: true,
    });
    fake.failNext(fresh(), TRACK17_ERROR.internalError);
    expect(await failureOf(client().register([{ number: "RR100000005CN" }]))).toMatchObject({
      kind: "retryable",
    });
    fake.failNext(fresh(), TRACK17_ERROR.quotaExhausted);
    expect(await failureOf(client().register([{ number: "RR100000005CN" }]))).toMatchObject({
      kind: "rate_limited",
      retryAfterSeconds: 3600,
    });
    fake.failNext(fresh(), "hang");
    const gate = recordingGate();
    const timedOut = await failureOf(
      client({ gate, timeoutMs: 200 }).register([{ number: "RR100000005CN" }]),
    );
    expect(timedOut).toMatchObject({ kind: "retryable" });
    expect(timedOut.message).toContain("timed out after 200 ms");
    // Maybe never sent: the governor may refund it.
    expect(gate.outcomes).toEqual([{ ok: false, failure: "retryable" }]);
  });

  it("`data.errors` beside a top-level code 0 is still a refusal", async () => {
    const error = await failureOf(
      client({
        fetch: async () => new Response(JSON.stringify(errorDataErrorsCodeZero), { status: 200 }),
      }).register([{ number: "RR100000006CN" }]),
    );
    expect(error).toMatchObject({ kind: "permanent" });
    expect(error.details).toMatchObject({ track17Code: TRACK17_ERROR.invalidSubmittedData });
  });

  it("an answer that is not 17track's envelope is retried, not trusted", async () => {
    const error = await failureOf(
      client({ fetch: async () => new Response("<html>gateway</html>", { status: 200 }) }).register([
        { number: "RR100000007CN" },
      ]),
    );
    expect(error).toMatchObject({ kind: "retryable" });
  });
});

describe("gettrackinfo and pushes", () => {
  it("returns the state of registered numbers (NotFound until the carrier scans), rejects unknown ones", async () => {
    const c = client();
    await c.register([{ number: "RR300000001CN", tag: "tenant-a" }]);
    const before = await c.getTrackInfo([{ number: "RR300000001CN" }, { number: "RR399999999CN" }]);
    expect(before.accepted).toHaveLength(1);
    expect(before.accepted[0]).toMatchObject({ number: "RR300000001CN", carrier: 3011, tag: "tenant-a" });
    expect(before.accepted[0]?.track_info).toMatchObject({
      latest_status: { status: "NotFound" },
      latest_event: null,
    });
    expect(before.rejected).toEqual([
      {
        number: "RR399999999CN",
        error: {
          code: TRACK17_ERROR.notRegistered,
          message: "Tracking number RR399999999CN is not registered yet. Register first.",
        },
      },
    ]);

    const push = await fake.push(key, {
      number: "RR300000001CN",
      status: "InTransit",
      subStatus: "InTransit_PickedUp",
      events: [{ at: "2026-11-18T03:20:00Z", description: "Acceptance — 收寄", location: "Shenzhen" }],
    });
    const after = await c.getTrackInfo([{ number: "RR300000001CN" }]);
    expect(after.accepted[0]?.track_info).toMatchObject({
      latest_status: { status: "InTransit", sub_status: "InTransit_PickedUp" },
      latest_event: { time_utc: "2026-11-18T03:20:00Z", description: "Acceptance — 收寄" },
    });
    // The push carries the same track_info and the registration's tag, signed as the receiver verifies.
    const body = JSON.parse(push.body) as { event: string; data: Record<string, unknown> };
    expect(body.event).toBe("TRACKING_UPDATED");
    expect(body.data).toMatchObject({ number: "RR300000001CN", carrier: 3011, tag: "tenant-a" });
    const bytes = new Uint8Array(new TextEncoder().encode(push.body));
    expect(await verify17TrackWebhook(bytes, push.sign, [key])).toEqual({ ok: true, secretIndex: 0 });
    expect((await verify17TrackWebhook(bytes, push.sign, ["another-key"])).ok).toBe(false);
  });
});

describe("the governor's policy for 17track", () => {
  it("a burst of 9 requests through one bucket never meets 17track's 429 and never exceeds 3 in a second", async () => {
    const c = client({ gate: localBucketGate(TRACK17_GOVERNOR_POLICY) });
    await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        c.register([{ number: `RR4000000${String(i).padStart(2, "0")}CN` }]),
      ),
    );
    const stats = fake.stats(key);
    expect(stats.requests.register).toBe(9);
    expect(stats.rateLimited).toBe(0);
    expect(stats.maxPerSecond).toBeLessThanOrEqual(3);
  });
});
