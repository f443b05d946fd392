// What each claimed registration comes to after a cron run: registered, rejected for good, retried with
// backoff (17track's Retry-After a floor), given up after the last attempt, or left unattempted.
import { describe, expect, it } from "vitest";
import { UpstreamError } from "../../src/lib/errors";
import {
  type ClaimedRegistration,
  RETRY_POLICY,
  released,
  settlementOfFailure,
  settlementOfOutcome,
} from "../../src/services/tracking/settlements";

const NOW = Date.parse("2026-11-22T10:00:00Z");
const row = (attempts = 0): ClaimedRegistration => ({
  tenantId: "6f1c2b7e-0c55-4b61-9d0a-3f7c9e2a1b44",
  trackingNumber: "RR123456789CN",
  carrierCode: null,
  attempts,
});
const lowest = () => 0;
const highest = () => 0.999999;

describe("settlements of answered numbers", () => {
  it("registered (also 'already registered') keeps 17track's carrier and clears the error", () => {
    expect(
      settlementOfOutcome(row(2), { kind: "registered", carrierCode: 3011, alreadyRegistered: true }, NOW),
    ).toEqual({
      tenantId: row().tenantId,
      trackingNumber: "RR123456789CN",
      status: "registered",
      carrierCode: 3011,
      lastError: null,
      delaySeconds: 0,
      attempted: 1,
    });
  });

  it("a refusal is final and says why, with 17track's code", () => {
    const settled = settlementOfOutcome(
      row(),
      { kind: "rejected", error: { code: -18019903, message: "Carrier cannot be detected." } },
      NOW,
    );
    expect(settled).toMatchObject({
      status: "rejected",
      attempted: 1,
      lastError: {
        kind: "rejected",
        track17Code: -18019903,
        message: "Carrier cannot be detected.",
        at: "2026-11-22T10:00:00.000Z",
      },
    });
  });

  it("a per-number retry backs off from a minute, doubling with jitter, and an account limit waits an hour", () => {
    const internal = {
      kind: "retry" as const,
      error: { code: -18010003, message: "Internal" },
      retryAfterSeconds: null,
    };
    expect(settlementOfOutcome(row(0), internal, NOW, lowest)).toMatchObject({
      status: "pending",
      delaySeconds: 60,
      lastError: { kind: "retryable" },
    });
    expect(settlementOfOutcome(row(3), internal, NOW, highest).delaySeconds).toBe(480);
    expect(settlementOfOutcome(row(6), internal, NOW, highest).delaySeconds).toBeLessThanOrEqual(
      RETRY_POLICY.capSeconds,
    );
    const quota = {
      kind: "retry" as const,
      error: { code: -18019908, message: "Quota" },
      retryAfterSeconds: 3600,
    };
    expect(settlementOfOutcome(row(0), quota, NOW, lowest)).toMatchObject({
      status: "pending",
      delaySeconds: 3600,
      lastError: { kind: "rate_limited", track17Code: -18019908 },
    });
  });

  it("the account's quota or daily limit running out spends no attempt: the number waits, never gives up", () => {
    for (const code of [-18019908, -18019907]) {
      const limited = {
        kind: "retry" as const,
        error: { code, message: "The account cannot track more now" },
        retryAfterSeconds: 3600,
      };
      expect(settlementOfOutcome(row(RETRY_POLICY.maxAttempts - 1), limited, NOW, lowest)).toMatchObject({
        status: "pending",
        attempted: 0,
        delaySeconds: RETRY_POLICY.accountLimitRetrySeconds,
        lastError: { kind: "rate_limited", track17Code: code },
      });
    }
  });

  it("the last attempt gives up: failed, with the error that ended it", () => {
    const settled = settlementOfOutcome(
      row(RETRY_POLICY.maxAttempts - 1),
      { kind: "retry", error: { code: -18010003, message: "Internal" }, retryAfterSeconds: null },
      NOW,
    );
    expect(settled).toMatchObject({ status: "failed", attempted: 1, lastError: { track17Code: -18010003 } });
  });
});

describe("settlements of a failed request", () => {
  const upstream = (kind: "retryable" | "rate_limited" | "auth" | "permanent", extra = {}) =>
    new UpstreamError(`17track ${kind}`, {
      upstream: "17track",
      retryable: kind === "retryable" || kind === "rate_limited",
      kind,
      ...extra,
    });

  it("429: an attempt, retried no sooner than 17track's Retry-After", () => {
    const settled = settlementOfFailure(
      row(),
      upstream("rate_limited", { retryAfterSeconds: 90 }),
      NOW,
      lowest,
    );
    expect(settled).toMatchObject({
      status: "pending",
      attempted: 1,
      delaySeconds: 90,
      lastError: { kind: "rate_limited" },
    });
  });

  it("a whole request refused for the account's quota or daily limit costs no attempt either", () => {
    const settled = settlementOfFailure(
      row(RETRY_POLICY.maxAttempts - 1),
      upstream("rate_limited", { retryAfterSeconds: 3600, details: { track17Code: -18019907 } }),
      NOW,
      lowest,
    );
    expect(settled).toMatchObject({
      status: "pending",
      attempted: 0,
      delaySeconds: 3600,
      lastError: { kind: "rate_limited", track17Code: -18019907 },
    });
    // A per-second 429 (no 17track code) is an attempt like any other.
    expect(
      settlementOfFailure(row(RETRY_POLICY.maxAttempts - 1), upstream("rate_limited"), NOW, lowest).status,
    ).toBe("failed");
  });

  it("a refused key costs no attempt: the numbers wait for the key", () => {
    const settled = settlementOfFailure(
      row(4),
      upstream("auth", { details: { track17Code: -18010002 } }),
      NOW,
    );
    expect(settled).toMatchObject({
      status: "pending",
      attempted: 0,
      delaySeconds: RETRY_POLICY.authRetrySeconds,
      lastError: { kind: "auth", track17Code: -18010002 },
    });
  });

  it("never sent (breaker open): unattempted, due when the governor said, the last error kept", () => {
    const settled = settlementOfFailure(
      row(1),
      upstream("retryable", { retryAfterSeconds: 30, details: { sent: false } }),
      NOW,
    );
    expect(settled).toEqual({ ...released(row(1)), delaySeconds: 30 });
    expect(released(row(1))).toMatchObject({
      status: "pending",
      attempted: 0,
      lastError: "keep",
      delaySeconds: 0,
    });
  });
});
