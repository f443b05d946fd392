import { describe, expect, it } from "vitest";
import vectors from "../../src/adapters/erp/lingxing/fixtures/sign-vectors.json";
import { signLingxingParams } from "../../src/adapters/erp/lingxing/sign";

// The same signing code must give the same bytes in workerd as in Node: WebCrypto has no MD5 and no AES-ECB,
// so sign.ts relies on node:crypto under nodejs_compat. This file proves that runtime actually provides both.
describe("Lingxing request signing in workerd", () => {
  for (const vector of vectors.vectors) {
    it(`signs ${vector.name} exactly as OpenSSL does`, async () => {
      expect(await signLingxingParams(vector.params, vector.appId)).toBe(vector.sign);
    });
  }
});
