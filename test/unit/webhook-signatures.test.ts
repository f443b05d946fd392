import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  verify17TrackWebhook,
  verifyShopifyWebhook,
  verifyStandardWebhook,
  verifyTikTokWebhook,
} from "../../src/lib/webhook-signatures";

/** Vectors from test/fixtures/webhooks/make-vectors.sh: computed by openssl, not by the code under test. */
const dir = join(__dirname, "../fixtures/webhooks");
const vectors = JSON.parse(readFileSync(join(dir, "vectors.json"), "utf8"));
const body = (file: string) => new Uint8Array(readFileSync(join(dir, file)));
const encoder = new TextEncoder();
const text = { encode: (s: string) => new Uint8Array(encoder.encode(s)) };

/** The tampered variants every scheme must refuse. */
function tamperings(raw: Uint8Array<ArrayBuffer>): [string, Uint8Array<ArrayBuffer>][] {
  const flipped = raw.slice();
  flipped[Math.floor(raw.length / 2)] = (flipped[Math.floor(raw.length / 2)] ?? 0) ^ 0x01;
  const decoded = new TextDecoder().decode(raw);
  const variants: [string, Uint8Array<ArrayBuffer>][] = [
    ["one bit flipped", flipped],
    ["truncated", raw.slice(0, raw.length - 1)],
    // Same JSON value, other bytes: what a framework that parses before verifying would hash.
    ["re-encoded (parsed and pretty-printed)", text.encode(JSON.stringify(JSON.parse(decoded), null, 2))],
    [
      "re-encoded (non-ASCII escaped)",
      text.encode(
        decoded.replace(
          /[^\u0020-\u007e\n]/g,
          (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`,
        ),
      ),
    ],
    ["trailing whitespace added", text.encode(`${decoded} `)],
    ["empty", new Uint8Array(0)],
  ];
  // A variant that happens to equal the original (escaping an ASCII-only body) proves nothing.
  return variants.filter(([, bytes]) => Buffer.compare(Buffer.from(bytes), Buffer.from(raw)) !== 0);
}

describe("Shopify X-Shopify-Hmac-Sha256", () => {
  const v = vectors.shopify;
  const raw = body(v.bodyFile);

  it("accepts the openssl vector with the current secret", async () => {
    expect(await verifyShopifyWebhook(raw, v.hmac, [v.secret])).toEqual({ ok: true, secretIndex: 0 });
  });

  it("accepts a delivery signed with the secret being rotated out, and says so", async () => {
    expect(await verifyShopifyWebhook(raw, v.hmacWithPrevious, [v.secret, v.previousSecret])).toEqual({
      ok: true,
      secretIndex: 1,
    });
    expect(await verifyShopifyWebhook(raw, v.hmacWithPrevious, [v.secret])).toEqual({ ok: false });
  });

  it.each(tamperings(raw))("refuses a body %s", async (_, tampered) => {
    expect(await verifyShopifyWebhook(tampered, v.hmac, [v.secret])).toEqual({ ok: false });
  });

  it.each([
    ["wrong secret", "not-the-secret"],
    ["secret with a trailing newline", `${v.secret}\n`],
  ])("refuses the %s", async (_, secret) => {
    expect(await verifyShopifyWebhook(raw, v.hmac, [secret])).toEqual({ ok: false });
  });

  it.each([
    ["missing", null],
    ["empty", ""],
    ["not base64", "%%%not-base64%%%"],
    ["hex instead of base64", "a".repeat(64)],
    ["truncated", v.hmac.slice(0, 20)],
  ])("refuses a %s header without throwing", async (_, header) => {
    expect(await verifyShopifyWebhook(raw, header, [v.secret])).toEqual({ ok: false });
  });

  it("refuses when no secret is configured", async () => {
    expect(await verifyShopifyWebhook(raw, v.hmac, [])).toEqual({ ok: false });
  });
});

describe("TikTok Shop Authorization", () => {
  const v = vectors.tiktok;
  const raw = body(v.bodyFile);

  it("accepts the openssl vector (app key + raw body, keyed by the app secret)", async () => {
    expect(await verifyTikTokWebhook(raw, v.authorization, v.appKey, [v.appSecret])).toEqual({
      ok: true,
      secretIndex: 0,
    });
    // Upper-case hex is the same signature.
    expect(
      await verifyTikTokWebhook(raw, v.authorization.toUpperCase(), v.appKey, ["x", v.appSecret]),
    ).toEqual({
      ok: true,
      secretIndex: 1,
    });
  });

  it.each(tamperings(raw))("refuses a body %s", async (_, tampered) => {
    expect(await verifyTikTokWebhook(tampered, v.authorization, v.appKey, [v.appSecret])).toEqual({
      ok: false,
    });
  });

  it("refuses another app key, a wrong secret and a malformed header", async () => {
    expect(await verifyTikTokWebhook(raw, v.authorization, "other-key", [v.appSecret])).toEqual({
      ok: false,
    });
    expect(await verifyTikTokWebhook(raw, v.authorization, v.appKey, ["wrong"])).toEqual({ ok: false });
    expect(await verifyTikTokWebhook(raw, "zz", v.appKey, [v.appSecret])).toEqual({ ok: false });
    expect(await verifyTikTokWebhook(raw, `Bearer ${v.authorization}`, v.appKey, [v.appSecret])).toEqual({
      ok: false,
    });
  });
});

describe("17track sign", () => {
  const v = vectors.track17;
  const raw = body(v.bodyFile);

  it("accepts the openssl vector (sha256 of body + '/' + key), with key rotation", async () => {
    expect(await verify17TrackWebhook(raw, v.sign, [v.key])).toEqual({ ok: true, secretIndex: 0 });
    expect(await verify17TrackWebhook(raw, v.sign, ["new-key", v.key])).toEqual({ ok: true, secretIndex: 1 });
  });

  it.each(tamperings(raw))("refuses a body %s", async (_, tampered) => {
    expect(await verify17TrackWebhook(tampered, v.sign, [v.key])).toEqual({ ok: false });
  });

  it("refuses a wrong key and malformed signs", async () => {
    expect(await verify17TrackWebhook(raw, v.sign, ["wrong"])).toEqual({ ok: false });
    expect(await verify17TrackWebhook(raw, v.sign.slice(2), [v.key])).toEqual({ ok: false });
    expect(await verify17TrackWebhook(raw, null, [v.key])).toEqual({ ok: false });
  });
});

describe("Standard Webhooks webhook-signature", () => {
  const v = vectors.standard;
  const raw = body(v.bodyFile);
  const input = (overrides: Partial<{ id: string; timestamp: string; signatureHeader: string }> = {}) => ({
    rawBody: raw,
    id: v.id,
    timestamp: v.timestamp,
    signatureHeader: v.signature,
    ...overrides,
  });

  it("accepts the openssl vector with a whsec_ secret", async () => {
    expect(await verifyStandardWebhook(input(), [v.secret])).toEqual({ ok: true, secretIndex: 0 });
  });

  it("accepts when any of several signatures matches (sender rotating), ignoring other versions", async () => {
    const header = `v1a,abc v1,bm90LXRoZS1yaWdodC1zaWduYXR1cmUtYXQtYWxsLi4u ${v.signature}`;
    expect(
      await verifyStandardWebhook(input({ signatureHeader: header }), ["whsec_b3RoZXI=", v.secret]),
    ).toEqual({
      ok: true,
      secretIndex: 1,
    });
  });

  it.each(tamperings(raw))("refuses a body %s", async (_, tampered) => {
    expect(await verifyStandardWebhook({ ...input(), rawBody: tampered }, [v.secret])).toEqual({ ok: false });
  });

  it("binds the id and the timestamp: changing either breaks the signature", async () => {
    expect(await verifyStandardWebhook(input({ id: "msg_other" }), [v.secret])).toEqual({ ok: false });
    expect(
      await verifyStandardWebhook(input({ timestamp: String(Number(v.timestamp) + 1) }), [v.secret]),
    ).toEqual({
      ok: false,
    });
  });

  it("refuses a wrong secret and headers without a v1 entry", async () => {
    expect(await verifyStandardWebhook(input(), ["whsec_d3Jvbmc="])).toEqual({ ok: false });
    expect(
      await verifyStandardWebhook(input({ signatureHeader: v.signature.replace("v1,", "v2,") }), [v.secret]),
    ).toEqual({ ok: false });
    expect(await verifyStandardWebhook(input({ signatureHeader: "" }), [v.secret])).toEqual({ ok: false });
  });
});
