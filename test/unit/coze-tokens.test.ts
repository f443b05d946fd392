import { describe, expect, it } from "vitest";
import { usableUntil } from "../../src/services/ai/coze-tokens";

describe("Coze access token lifetime", () => {
  const issuedAt = Date.parse("2026-03-10T08:00:00Z");

  it("stops using an hour-long token a minute before it expires", () => {
    const expiresAt = issuedAt + 3600_000;
    expect(usableUntil({ accessToken: "czs_x", expiresAt }, issuedAt)).toBe(expiresAt - 60_000);
  });

  it("keeps a fifth of a short token's life as the margin", () => {
    const expiresAt = issuedAt + 2_000;
    expect(usableUntil({ accessToken: "czs_x", expiresAt }, issuedAt)).toBe(expiresAt - 400);
  });

  it("never trusts a token that expired before it was issued (clock skew)", () => {
    expect(usableUntil({ accessToken: "czs_x", expiresAt: issuedAt - 1 }, issuedAt)).toBe(issuedAt - 1);
  });
});
