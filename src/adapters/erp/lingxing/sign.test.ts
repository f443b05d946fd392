import { describe, expect, it } from "vitest";
import vectors from "./fixtures/sign-vectors.json";
import { canonicalJson, lingxingSignPlaintext, signLingxingParams } from "./sign";

// Vectors computed with md5sum + `openssl enc -aes-128-ecb` independently of sign.ts (see the fixture's
// `_source`): Lingxing publishes no worked example with unredacted inputs.
describe("Lingxing request signing", () => {
  for (const vector of vectors.vectors) {
    it(`builds the sorted k=v string for ${vector.name}`, () => {
      expect(lingxingSignPlaintext(vector.params)).toBe(vector.plaintext);
    });
    it(`signs ${vector.name} exactly as OpenSSL does`, async () => {
      expect(await signLingxingParams(vector.params, vector.appId)).toBe(vector.sign);
    });
  }

  it("yields a sign that URL-encodes into the query string as Lingxing expects (+ and / escaped)", async () => {
    const [first] = vectors.vectors;
    if (first === undefined) throw new Error("no vectors");
    const sign = await signLingxingParams(first.params, first.appId);
    expect(new URLSearchParams({ sign }).toString()).toBe(`sign=${first.signUrlEncoded}`);
  });

  it("gives a 64-character sign for a 32-character MD5 (two AES blocks plus full padding)", async () => {
    const [first] = vectors.vectors;
    if (first === undefined) throw new Error("no vectors");
    expect(await signLingxingParams(first.params, first.appId)).toHaveLength(64);
  });

  it("serialises nested values with sorted keys and no whitespace, whatever order they were built in", () => {
    expect(canonicalJson({ b: 1, a: [{ z: "é", y: null, x: undefined }], c: true })).toBe(
      '{"a":[{"y":null,"z":"é"}],"b":1,"c":true}',
    );
  });

  it("refuses an appId that cannot be an AES key", async () => {
    await expect(signLingxingParams({ timestamp: "1" }, "ak_short")).rejects.toThrow(/16, 24 or 32 bytes/);
  });
});
