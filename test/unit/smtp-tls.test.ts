// The SMTP fake's TLS material (test/fakes/smtp-tls.ts), made without the openssl command: Node's own TLS
// stack (OpenSSL inside) must accept the server certificate for both names through the test CA, and
// refuse the self-signed one — what workerd's verification relies on in the workers tests.

import { X509Certificate } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connect, createServer, type TLSSocket } from "node:tls";
import { afterAll, describe, expect, it } from "vitest";
import { prepareSmtpTestTls } from "../fakes/smtp-tls";

const material = prepareSmtpTestTls();
const servers: ReturnType<typeof createServer>[] = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

async function listen(cert: string, key: string): Promise<number> {
  const server = createServer({ cert, key }, (socket) => socket.end());
  server.on("tlsClientError", () => undefined);
  servers.push(server);
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as AddressInfo).port;
}

/** Connects trusting only the test CA; resolves with the verification error, or null when trusted. */
async function handshake(port: number, servername?: string): Promise<string | null> {
  const socket: TLSSocket = connect({
    host: "127.0.0.1",
    port,
    ca: [material.ca],
    ...(servername ? { servername } : {}),
  });
  try {
    await once(socket, "secureConnect");
    return null;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code ?? String(error);
  } finally {
    socket.destroy();
  }
}

describe("SMTP fake TLS material", () => {
  it("is a CA and a server certificate for localhost and 127.0.0.1 that verify against it", async () => {
    const ca = new X509Certificate(material.ca);
    const [leafPem] = material.certChain.split(/(?<=-----END CERTIFICATE-----)\n/);
    const leaf = new X509Certificate(leafPem ?? "");
    expect(ca.ca).toBe(true);
    expect(leaf.ca).toBe(false);
    expect(leaf.checkIssued(ca)).toBe(true);
    expect(leaf.verify(ca.publicKey)).toBe(true);
    expect(leaf.checkHost("localhost")).toBe("localhost");
    expect(leaf.checkIP("127.0.0.1")).toBe("127.0.0.1");

    const port = await listen(material.certChain, material.key);
    expect(await handshake(port)).toBeNull();
    expect(await handshake(port, "localhost")).toBeNull();
  });

  it("includes a self-signed certificate that a client trusting the CA refuses", async () => {
    const port = await listen(material.untrusted.cert, material.untrusted.key);
    expect(await handshake(port, "localhost")).toBe("DEPTH_ZERO_SELF_SIGNED_CERT");
  });

  it("puts the CA into the file NODE_EXTRA_CA_CERTS names, for Miniflare to hand to workerd", async () => {
    const { readFileSync } = await import("node:fs");
    expect(readFileSync(process.env.NODE_EXTRA_CA_CERTS ?? "", "utf8")).toContain(material.ca.trim());
  });
});
