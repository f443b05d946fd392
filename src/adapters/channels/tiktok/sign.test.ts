import { describe, expect, it } from "vitest";
import vectors from "./fixtures/sign-vectors.json";
import { signTikTokRequest, tiktokSignPlaintext, tiktokWebhookSignature } from "./sign";

/** The fixture's query as the string record it is (JSON imports type absent keys as optional). */
function queryOf(vector: { query: Record<string, string | undefined> }): Record<string, string> {
  return Object.fromEntries(
    Object.entries(vector.query).filter((entry): entry is [string, string] => entry[1] !== undefined),
  );
}

// Expected values come from OpenSSL (see the fixture's `_source`), never from sign.ts itself.
describe("TikTok Shop request signing", () => {
  for (const vector of vectors.requests) {
    const input = {
      appSecret: vector.appSecret,
      path: vector.path,
      query: queryOf(vector),
      body: vector.body,
    };
    it(`builds the signed text for ${vector.name}`, () => {
      expect(tiktokSignPlaintext(input)).toBe(vector.plaintext);
    });
    it(`signs ${vector.name} exactly as OpenSSL does`, async () => {
      expect(await signTikTokRequest(input)).toBe(vector.sign);
    });
  }

  it("reads URLSearchParams like a record (as the client builds its query)", async () => {
    const [first] = vectors.requests;
    if (first === undefined) throw new Error("no vectors");
    const query = new URLSearchParams(queryOf(first));
    expect(
      await signTikTokRequest({ appSecret: first.appSecret, path: first.path, query, body: first.body }),
    ).toBe(first.sign);
  });

  it("changes with any byte of the body", async () => {
    const vector = vectors.requests[1];
    if (vector === undefined || vector.body === null) throw new Error("no body vector");
    const input = {
      appSecret: vector.appSecret,
      path: vector.path,
      query: queryOf(vector),
      body: vector.body,
    };
    expect(
      await signTikTokRequest({ ...input, body: vector.body.replace("1696900000", "1696900001") }),
    ).not.toBe(vector.sign);
  });

  it("refuses an empty app secret", async () => {
    await expect(signTikTokRequest({ appSecret: "", path: "/x", query: {}, body: null })).rejects.toThrow(
      /empty/,
    );
  });
});

describe("TikTok Shop webhook signature", () => {
  for (const vector of vectors.webhooks) {
    it(`matches OpenSSL for ${vector.name}`, async () => {
      expect(await tiktokWebhookSignature(vector.appKey, vector.appSecret, vector.rawBody)).toBe(
        vector.authorization,
      );
    });
  }
});
