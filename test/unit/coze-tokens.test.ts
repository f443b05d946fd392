import { describe, expect, it } from "vitest";
import { rememberToken, usableUntil } from "../../src/services/ai/coze-tokens";

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

describe("Coze access tokens kept in an isolate", () => {
  const now = Date.parse("2026-03-10T08:00:00Z");
  const token = (name: string, usableUntil: number) => ({ accessToken: name, usableUntil });

  it("never keeps more than its limit: unusable tokens go first, then the ones stored longest ago", () => {
    const tokens = new Map<string, { accessToken: string; usableUntil: number }>();
    rememberToken(tokens, "a", token("a1", now + 60_000), now, 3);
    rememberToken(tokens, "b", token("b1", now - 1), now, 3);
    rememberToken(tokens, "c", token("c1", now + 60_000), now, 3);
    rememberToken(tokens, "d", token("d1", now + 60_000), now, 3);
    // b had expired: it made room, a stays.
    expect([...tokens.keys()]).toEqual(["a", "c", "d"]);
    rememberToken(tokens, "e", token("e1", now + 60_000), now, 3);
    expect([...tokens.keys()]).toEqual(["c", "d", "e"]);
    // Storing a connection's new token again moves it to the back; the size never grows.
    rememberToken(tokens, "c", token("c2", now + 120_000), now, 3);
    expect([...tokens.entries()].map(([k, v]) => [k, v.accessToken])).toEqual([
      ["d", "d1"],
      ["e", "e1"],
      ["c", "c2"],
    ]);
  });
});
