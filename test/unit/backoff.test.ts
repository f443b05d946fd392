import { describe, expect, it } from "vitest";
import { backoffSeconds } from "../../src/lib/backoff";

describe("backoffSeconds", () => {
  it("grows exponentially up to the cap (upper bound with random=1)", () => {
    const upper = (attempt: number) => backoffSeconds(attempt, { random: () => 1 });
    expect([1, 2, 3, 4, 5].map(upper)).toEqual([2, 4, 8, 16, 32]);
    expect(upper(30)).toBe(900);
  });

  it("never goes below the base (lower bound with random=0)", () => {
    expect(backoffSeconds(7, { random: () => 0 })).toBe(2);
  });

  it("honours Retry-After as a floor, even above the cap", () => {
    expect(backoffSeconds(1, { retryAfterSeconds: 120, random: () => 0 })).toBe(120);
    expect(backoffSeconds(1, { retryAfterSeconds: 3600, capSeconds: 60 })).toBe(3600);
  });

  it("stays within the queue's 12 h maximum delay", () => {
    expect(backoffSeconds(1, { retryAfterSeconds: 86_400 })).toBe(43_200);
  });
});
