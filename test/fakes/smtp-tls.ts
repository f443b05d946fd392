// TLS material for the SMTP fake: a throw-away certificate authority and a server certificate for
// 127.0.0.1 / localhost signed by it, made fresh for every test run (nothing secret is committed).
//
// workerd verifies the certificate of every TLS socket (`secureTransport: "on"` and `startTls()`), and
// Miniflare builds its trust store once, when its module loads: the public CAs plus the certificates in
// the file named by NODE_EXTRA_CA_CERTS. So `prepareSmtpTestTls()` must run in vitest.config.ts before
// @cloudflare/vitest-pool-workers (which imports Miniflare) is loaded; the fake (test/fakes/smtp.ts,
// started by test/global-setup.ts in the same process) finds the files through SMTP_TEST_TLS_DIR.
// The sockets then do real, verified TLS against the fake: nothing in the Worker is relaxed for tests.

import { execFileSync } from "node:child_process";
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

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/**
 * Makes the CA and server certificate (once per process) and adds the CA to NODE_EXTRA_CA_CERTS, keeping
 * any CA file the developer already had there. Returns null, with a warning, when `openssl` is missing:
 * the TLS tests then fail with the runtime's "certificate not trusted" instead of the whole run failing.
 */
export function prepareSmtpTestTls(): SmtpTestTls | null {
  const existing = process.env[DIR_ENV];
  if (existing && existsSync(join(existing, "ca.pem"))) return readSmtpTestTls();
  const dir = mkdtempSync(join(tmpdir(), "tradewind-smtp-tls-"));
  try {
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Tradewind test SMTP CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
      ],
      dir,
    );
    openssl(
      [
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=localhost",
      ],
      dir,
    );
    writeFileSync(
      join(dir, "server.ext"),
      "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n" +
        "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
    openssl(
      [
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
      ],
      dir,
    );
    openssl(
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "untrusted.key",
        "-out",
        "untrusted.pem",
        "-days",
        "2",
        "-subj",
        "/CN=localhost",
        "-addext",
        "subjectAltName=DNS:localhost,IP:127.0.0.1",
      ],
      dir,
    );
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    console.warn(`[smtp fake] no TLS: could not make a test certificate with openssl (${String(error)})`);
    return null;
  }
  const ca = readFileSync(join(dir, "ca.pem"), "utf8");
  const previous = process.env.NODE_EXTRA_CA_CERTS;
  let bundle = ca;
  if (previous && existsSync(previous)) bundle = `${readFileSync(previous, "utf8").trim()}\n${ca}`;
  writeFileSync(join(dir, "trusted.pem"), bundle);
  process.env.NODE_EXTRA_CA_CERTS = join(dir, "trusted.pem");
  process.env[DIR_ENV] = dir;
  return readSmtpTestTls();
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
