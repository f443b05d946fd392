import { describe, expect, it } from "vitest";
import { acceptRequestId, newId } from "../../src/lib/ids";

describe("newId", () => {
  it("is prefixed, 26 Crockford characters, and sorts by time", () => {
    const a = newId("req", Date.UTC(2026, 0, 1));
    const b = newId("req", Date.UTC(2026, 0, 2));
    expect(a).toMatch(/^req_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(a < b).toBe(true);
  });

  it("is unique across many calls in the same millisecond", () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newId(undefined, 1_700_000_000_000)));
    expect(ids.size).toBe(2000);
  });
});

describe("acceptRequestId", () => {
  it("keeps sane caller ids", () => {
    expect(acceptRequestId("trace-1234.abcd:ef")).toBe("trace-1234.abcd:ef");
  });

  it.each([undefined, null, "", "short", "has space inside", "x".repeat(129), "naïve-unicode-id"])(
    "replaces %j",
    (candidate) => {
      expect(acceptRequestId(candidate)).toMatch(/^req_/);
    },
  );
});
