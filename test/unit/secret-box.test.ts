import { describe, expect, it } from "vitest";
import {
  decryptSecret,
  encryptSecret,
  needsReencryption,
  parseKeyring,
  SecretBoxError,
} from "../../src/lib/secret-box";

function key(fill: number): string {
  return Buffer.alloc(32, fill).toString("base64");
}

const AAD = "wechat:7f1c2a9e-3b6d-4c1e-9a0f-2d5e8b7c6a41:wx1234567890abcdef";

describe("parseKeyring", () => {
  it("uses the first entry as the active key and tolerates whitespace", () => {
    const keyring = parseKeyring(` k2:${key(2)} , k1:${key(1)} `);
    expect(keyring.activeKid).toBe("k2");
    expect(keyring.kids).toEqual(["k2", "k1"]);
  });

  it("accepts URL-safe, unpadded base64 keys", () => {
    const urlSafe = Buffer.alloc(32, 0xfb).toString("base64url");
    expect(parseKeyring(`k:${urlSafe}`).activeKid).toBe("k");
  });

  it("never exposes key bytes on the keyring object", () => {
    const raw = key(7);
    const keyring = parseKeyring(`k:${raw}`);
    expect(JSON.stringify(keyring)).not.toContain(raw);
  });

  it.each([
    ["empty", ""],
    ["only separators", " , ,"],
    ["missing colon", key(1)],
    ["empty kid", `:${key(1)}`],
    ["kid with a dot", `k.1:${key(1)}`],
    ["not base64", "k1:not*base64!"],
    ["short key (16 bytes)", `k1:${Buffer.alloc(16, 1).toString("base64")}`],
    ["long key (33 bytes)", `k1:${Buffer.alloc(33, 1).toString("base64")}`],
    ["duplicate kid", `k1:${key(1)},k1:${key(2)}`],
  ])("rejects a malformed keyring: %s", (_name, raw) => {
    expect(() => parseKeyring(raw)).toThrow(Error);
  });

  it("names the bad entry but never echoes key material", () => {
    const short = Buffer.alloc(16, 9).toString("base64");
    expect(() => parseKeyring(`k1:${key(1)},k2:${short}`)).toThrow(/entry 2 \(kid "k2"\).*32 bytes, got 16/);
    try {
      parseKeyring(`k1:${short}`);
    } catch (error) {
      expect((error as Error).message).not.toContain(short);
    }
  });
});

describe("encryptSecret / decryptSecret", () => {
  const keyring = parseKeyring(`k1:${key(1)}`);

  it("round-trips, including non-ASCII and empty plaintexts", async () => {
    for (const plaintext of ["app-secret-0123456789abcdef", "密钥 🔐", "\uFEFFbom-first", ""]) {
      const sealed = await encryptSecret(keyring, plaintext, AAD);
      expect(sealed).toMatch(/^v1\.k1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
      expect(sealed).not.toContain(plaintext || "\u0000");
      await expect(decryptSecret(keyring, sealed, AAD)).resolves.toBe(plaintext);
    }
  });

  it("uses a fresh IV per seal", async () => {
    const a = await encryptSecret(keyring, "same", AAD);
    const b = await encryptSecret(keyring, "same", AAD);
    expect(a).not.toBe(b);
    expect(a.split(".")[2]).not.toBe(b.split(".")[2]);
  });

  it("supports rotation: old kid still opens, new kid seals", async () => {
    const old = parseKeyring(`k1:${key(1)}`);
    const sealedOld = await encryptSecret(old, "s3cret", AAD);

    const rotated = parseKeyring(`k2:${key(2)},k1:${key(1)}`);
    await expect(decryptSecret(rotated, sealedOld, AAD)).resolves.toBe("s3cret");
    expect(needsReencryption(rotated, sealedOld)).toBe(true);

    const sealedNew = await encryptSecret(rotated, "s3cret", AAD);
    expect(sealedNew.startsWith("v1.k2.")).toBe(true);
    expect(needsReencryption(rotated, sealedNew)).toBe(false);
    await expect(decryptSecret(rotated, sealedNew, AAD)).resolves.toBe("s3cret");
    // Once the old key is dropped, the new seal still opens with the new keyring alone.
    await expect(decryptSecret(parseKeyring(`k2:${key(2)}`), sealedNew, AAD)).resolves.toBe("s3cret");
  });

  it("fails with the wrong aad (a value copied to another tenant's row)", async () => {
    const sealed = await encryptSecret(keyring, "s3cret", AAD);
    const otherTenant = AAD.replace("7f1c2a9e", "00000000");
    await expect(decryptSecret(keyring, sealed, otherTenant)).rejects.toBeInstanceOf(SecretBoxError);
  });

  it("fails on a tampered ciphertext, tag or IV", async () => {
    const sealed = await encryptSecret(keyring, "s3cret-value", AAD);
    const [v, kid, iv, ct] = sealed.split(".") as [string, string, string, string];
    const flip = (b64: string, index: number) => {
      const bytes = Buffer.from(b64, "base64url");
      bytes[index] = (bytes[index] ?? 0) ^ 0x01;
      return bytes.toString("base64url");
    };
    const tampered = [
      [v, kid, iv, flip(ct, 0)].join("."), // ciphertext
      [v, kid, iv, flip(ct, Buffer.from(ct, "base64url").length - 1)].join("."), // tag
      [v, kid, flip(iv, 0), ct].join("."), // IV
      [v, kid, iv, Buffer.from(ct, "base64url").subarray(0, -1).toString("base64url")].join("."), // truncated
    ];
    for (const value of tampered) {
      await expect(decryptSecret(keyring, value, AAD)).rejects.toBeInstanceOf(SecretBoxError);
    }
  });

  it("fails when the value names a key it was not sealed with", async () => {
    const both = parseKeyring(`k1:${key(1)},k2:${key(2)}`);
    const sealed = await encryptSecret(both, "s3cret", AAD);
    const relabelled = sealed.replace(/^v1\.k1\./, "v1.k2.");
    await expect(decryptSecret(both, relabelled, AAD)).rejects.toBeInstanceOf(SecretBoxError);
  });

  it("fails on an unknown kid", async () => {
    const sealed = await encryptSecret(parseKeyring(`gone:${key(3)}`), "s3cret", AAD);
    await expect(decryptSecret(keyring, sealed, AAD)).rejects.toThrow(/unknown key id "gone"/);
  });

  it.each([
    ["empty", ""],
    ["plaintext", "s3cret"],
    ["wrong version", "v2.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA"],
    ["short iv", "v1.k1.AAAA.AAAAAAAAAAAAAAAAAAAAAA"],
    ["short ciphertext", "v1.k1.AAAAAAAAAAAAAAAA.AAAA"],
    ["extra part", "v1.k1.AAAAAAAAAAAAAAAA.AAAAAAAAAAAAAAAAAAAAAA.x"],
  ])("rejects a malformed sealed value: %s", async (_name, value) => {
    await expect(decryptSecret(keyring, value, AAD)).rejects.toBeInstanceOf(SecretBoxError);
    expect(() => needsReencryption(keyring, value)).toThrow(SecretBoxError);
  });

  it("rejects a keyring object not made by parseKeyring", async () => {
    await expect(encryptSecret({ activeKid: "k1", kids: ["k1"] }, "x", AAD)).rejects.toBeInstanceOf(
      SecretBoxError,
    );
  });
});
