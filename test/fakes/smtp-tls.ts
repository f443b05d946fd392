// TLS material for the SMTP fake: a throw-away certificate authority and a server certificate for
// 127.0.0.1 / localhost signed by it, made fresh for every test run (nothing secret is committed).
//
// workerd verifies the certificate of every TLS socket (`secureTransport: "on"` and `startTls()`), and
// Miniflare builds its trust store once, when its module loads: the public CAs plus the certificates in
// the file named by NODE_EXTRA_CA_CERTS. So `prepareSmtpTestTls()` must run in vitest.config.ts before
// @cloudflare/vitest-pool-workers (which imports Miniflare) is loaded; the fake (test/fakes/smtp.ts,
// started by test/global-setup.ts in the same process) finds the files through SMTP_TEST_TLS_DIR.
// The sockets then do real, verified TLS against the fake: nothing in the Worker is relaxed for tests.
//
// The certificates are made with node:crypto alone (keys, SHA-256 ECDSA signatures) and a minimal DER
// writer for X.509 v3 (RFC 5280), so a fresh CI machine or a slim container without the `openssl`
// command runs the TLS tests too.

import { createHash, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface SmtpTestTls {
  dir: string;
  /** PEM of the test CA (what the Worker's runtime trusts). */
  ca: string;
  /** PEM of the server certificate followed by the CA (the chain the fake presents). */
  certChain: string;
  key: string;
  /** A self-signed certificate for the same names that nothing trusts: proves verification is on. */
  untrusted: { cert: string; key: string };
}

const DIR_ENV = "SMTP_TEST_TLS_DIR";

// ── DER (X.690), just what a certificate needs ──────────────────────────────────────────────────────

function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const length =
    n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

const sequence = (...items: Buffer[]) => der(0x30, Buffer.concat(items));
const set = (...items: Buffer[]) => der(0x31, Buffer.concat(items));
const octets = (content: Buffer) => der(0x04, content);
const bits = (content: Buffer, unused = 0) => der(0x03, Buffer.concat([Buffer.from([unused]), content]));
const explicit = (n: number, content: Buffer) => der(0xa0 + n, content);
const TRUE = Buffer.from([0x01, 0x01, 0xff]);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [a * 40 + b];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = arc >> 7; v > 0; v >>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return der(0x06, Buffer.from(bytes));
}

function utcTime(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-22T08:05:09.000Z → 261122080509Z
  const text = `${iso.slice(2, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  return der(0x17, Buffer.from(text, "ascii"));
}

const commonName = (cn: string) =>
  sequence(set(sequence(oid("2.5.4.3"), der(0x0c, Buffer.from(cn, "utf8")))));
const extension = (id: string, value: Buffer, critical = false) =>
  sequence(oid(id), ...(critical ? [TRUE] : []), octets(value));

interface Issued {
  pem: string;
  keyPem: string;
  key: KeyObject;
  keyId: Buffer;
}

/** An ECDSA P-256 certificate for `cn`, signed by `issuer` (or by itself), valid from an hour ago for two days. */
function issue(options: {
  cn: string;
  ca: boolean;
  issuer?: { cn: string; key: KeyObject; keyId: Buffer };
}): Issued {
  const { publicKey, privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const spki = publicKey.export({ type: "spki", format: "der" });
  // RFC 5280 §4.2.1.2 method 1: SHA-1 of the subjectPublicKey bits (the 65-byte uncompressed point).
  const keyId = createHash("sha1")
    .update(spki.subarray(spki.length - 65))
    .digest();
  const issuer = options.issuer ?? { cn: options.cn, key: privateKey, keyId };
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01; // positive and minimally encoded
  const ecdsaWithSha256 = sequence(oid("1.2.840.10045.4.3.2"));
  const now = Date.now();
  const extensions = options.ca
    ? [
        extension("2.5.29.19", sequence(TRUE), true), // basicConstraints: CA
        extension("2.5.29.15", bits(Buffer.from([0x06]), 1), true), // keyUsage: keyCertSign, cRLSign
      ]
    : [
        extension("2.5.29.19", sequence(), true), // basicConstraints: not a CA
        extension("2.5.29.15", bits(Buffer.from([0x80]), 7), true), // keyUsage: digitalSignature
        extension("2.5.29.37", sequence(oid("1.3.6.1.5.5.7.3.1"))), // extKeyUsage: serverAuth
        // subjectAltName: DNS localhost, IP 127.0.0.1
        extension(
          "2.5.29.17",
          sequence(der(0x82, Buffer.from("localhost", "ascii")), der(0x87, Buffer.from([127, 0, 0, 1]))),
        ),
      ];
  extensions.push(extension("2.5.29.14", octets(keyId))); // subjectKeyIdentifier
  if (options.issuer) extensions.push(extension("2.5.29.35", sequence(der(0x80, issuer.keyId))));
  const tbs = sequence(
    explicit(0, der(0x02, Buffer.from([2]))), // v3
    der(0x02, serial),
    ecdsaWithSha256,
    commonName(issuer.cn),
    sequence(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 2 * 86_400_000))),
    commonName(options.cn),
    spki,
    explicit(3, sequence(...extensions)),
  );
  const certificate = sequence(tbs, ecdsaWithSha256, bits(sign("sha256", tbs, issuer.key)));
  const base64 = certificate.toString("base64").replace(/.{64}/g, "$&\n");
  return {
    pem: `-----BEGIN CERTIFICATE-----\n${base64.trimEnd()}\n-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    key: privateKey,
    keyId,
  };
}

// ── The per-run files ───────────────────────────────────────────────────────────────────────────────

/**
 * Makes the CA and server certificate (once per process) and adds the CA to NODE_EXTRA_CA_CERTS, keeping
 * any CA file the developer already had there. The directory is removed when the process exits (also
 * for runs of the unit project only, which never start the fake and its teardown).
 */
export function prepareSmtpTestTls(): SmtpTestTls {
  const existing = readSmtpTestTls();
  if (existing) return existing;
  const dir = mkdtempSync(join(tmpdir(), "tradewind-smtp-tls-"));
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const caCn = "Tradewind test SMTP CA";
  const ca = issue({ cn: caCn, ca: true });
  const server = issue({ cn: "localhost", ca: false, issuer: { cn: caCn, key: ca.key, keyId: ca.keyId } });
  const untrusted = issue({ cn: "localhost", ca: false });
  writeFileSync(join(dir, "ca.pem"), ca.pem);
  writeFileSync(join(dir, "server.pem"), server.pem);
  writeFileSync(join(dir, "server.key"), server.keyPem);
  writeFileSync(join(dir, "untrusted.pem"), untrusted.pem);
  writeFileSync(join(dir, "untrusted.key"), untrusted.keyPem);
  const previous = process.env.NODE_EXTRA_CA_CERTS;
  let bundle = ca.pem;
  if (previous && existsSync(previous)) bundle = `${readFileSync(previous, "utf8").trim()}\n${ca.pem}`;
  writeFileSync(join(dir, "trusted.pem"), bundle);
  process.env.NODE_EXTRA_CA_CERTS = join(dir, "trusted.pem");
  process.env[DIR_ENV] = dir;
  const made = readSmtpTestTls();
  if (!made) throw new Error(`smtp fake: TLS files missing in ${dir}`);
  return made;
}

/** The material `prepareSmtpTestTls` made in this process, or null when there is none. */
export function readSmtpTestTls(): SmtpTestTls | null {
  const dir = process.env[DIR_ENV];
  if (!dir || !existsSync(join(dir, "server.pem"))) return null;
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  return {
    dir,
    ca,
    certChain: `${readFileSync(join(dir, "server.pem"), "utf8").trim()}\n${ca}`,
    key: readFileSync(join(dir, "server.key"), "utf8"),
    untrusted: {
      cert: readFileSync(join(dir, "untrusted.pem"), "utf8"),
      key: readFileSync(join(dir, "untrusted.key"), "utf8"),
    },
  };
}

export function removeSmtpTestTls(): void {
  const dir = process.env[DIR_ENV];
  if (dir) rmSync(dir, { recursive: true, force: true });
}
