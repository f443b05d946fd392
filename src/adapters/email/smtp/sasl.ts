import { createHmac } from "node:crypto";
import { base64Utf8 } from "./encoding";

/**
 * SASL mechanisms for SMTP AUTH (RFC 4954): PLAIN (RFC 4616), LOGIN (the widespread draft mechanism),
 * CRAM-MD5 (RFC 2195). Over TLS, PLAIN is preferred: it is the standard, one round trip, and the
 * channel protects it. Without TLS (only allowed for a local test server) CRAM-MD5 is preferred because
 * it does not reveal the password.
 */
export type SaslMechanism = "PLAIN" | "LOGIN" | "CRAM-MD5";

const OVER_TLS: SaslMechanism[] = ["PLAIN", "LOGIN", "CRAM-MD5"];
const IN_CLEAR: SaslMechanism[] = ["CRAM-MD5", "PLAIN", "LOGIN"];

export function chooseMechanism(offered: readonly string[], encrypted: boolean): SaslMechanism | null {
  const order = encrypted ? OVER_TLS : IN_CLEAR;
  return order.find((m) => offered.includes(m)) ?? null;
}

/** RFC 4616: `authzid NUL authcid NUL passwd`, empty authzid, UTF-8, base64 (RFC 4954 initial response). */
export function plainResponse(username: string, password: string): string {
  return base64Utf8(`\u0000${username}\u0000${password}`);
}

/** RFC 2195: `username SP hex(HMAC-MD5(password, challenge))`, base64; the challenge arrives base64. */
export function cramMd5Response(username: string, password: string, challengeBase64: string): string {
  const challenge = Uint8Array.from(atob(challengeBase64.trim()), (c) => c.charCodeAt(0));
  const digest = createHmac("md5", new TextEncoder().encode(password)).update(challenge).digest("hex");
  return base64Utf8(`${username} ${digest}`);
}

/** The base64 forms a password takes on the wire, so error texts can be scrubbed of any echo of them. */
export function credentialNeedles(username: string, password: string): string[] {
  return [password, base64Utf8(password), plainResponse(username, password)];
}
