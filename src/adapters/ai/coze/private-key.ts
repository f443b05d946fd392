/**
 * Checks, without importing it, that a PEM is what Coze hands out when an OAuth app's key pair is created:
 * `private_key.pem`, an unencrypted PKCS#8 `PrivateKeyInfo` (RFC 5208) holding an RSA key (OID
 * 1.2.840.113549.1.1.1) of at least 2048 bits, which the JWT grant signs with RS256.
 *
 * Synchronous on purpose: connection credentials are validated by a zod schema when a connection is saved,
 * so a pasted PKCS#1 key, a public key or a truncated file is a 422 naming the field, not a chat that
 * degrades later. The key is still imported (WebCrypto) before first use; this only rejects what can never
 * import. Messages never echo the key.
 */

export type PrivateKeyProblem =
  | "not_pem"
  | "pkcs1"
  | "encrypted"
  | "not_private_key"
  | "not_der"
  | "not_rsa"
  | "too_short";

const PROBLEMS: Record<PrivateKeyProblem, string> = {
  not_pem: "Paste the whole private_key.pem, from -----BEGIN PRIVATE KEY----- to -----END PRIVATE KEY-----",
  pkcs1:
    "This is a PKCS#1 RSA key (BEGIN RSA PRIVATE KEY); use the PKCS#8 private_key.pem Coze downloaded (BEGIN PRIVATE KEY)",
  encrypted: "Encrypted private keys are not supported; use the unencrypted private_key.pem Coze downloaded",
  not_private_key:
    "This is not a private key; use the private_key.pem Coze downloaded when the key was created",
  not_der: "The private key is damaged (its base64 content is not a valid PKCS#8 structure)",
  not_rsa: "Coze OAuth apps sign with RS256: the private key must be an RSA key",
  too_short: "The RSA key is shorter than 2048 bits",
};

export function privateKeyProblemMessage(problem: PrivateKeyProblem): string {
  return PROBLEMS[problem];
}

const PEM = /^-----BEGIN PRIVATE KEY-----\s*([A-Za-z0-9+/=\s]+?)\s*-----END PRIVATE KEY-----$/;
const RSA_ENCRYPTION_OID = [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

/** Null when the PEM holds an importable RSA PKCS#8 key, else what is wrong with it. */
export function rsaPkcs8Problem(pem: string): PrivateKeyProblem | null {
  const text = pem.trim();
  if (text.includes("BEGIN RSA PRIVATE KEY")) return "pkcs1";
  if (text.includes("BEGIN ENCRYPTED PRIVATE KEY")) return "encrypted";
  if (text.includes("BEGIN PUBLIC KEY") || text.includes("BEGIN CERTIFICATE")) return "not_private_key";
  const match = PEM.exec(text);
  const body = match?.[1];
  if (body === undefined) return "not_pem";
  const der = decodeBase64(body.replace(/\s+/g, ""));
  if (der === undefined) return "not_der";
  return inspectPrivateKeyInfo(der);
}

interface Tlv {
  tag: number;
  start: number;
  end: number;
}

/** One DER tag-length-value at `offset` (definite lengths only, as DER requires). */
function readTlv(der: Uint8Array, offset: number, limit: number): Tlv | undefined {
  if (offset + 2 > limit) return undefined;
  const tag = der[offset] ?? -1;
  let length = der[offset + 1] ?? 0;
  let start = offset + 2;
  if (length & 0x80) {
    const octets = length & 0x7f;
    if (octets === 0 || octets > 4 || start + octets > limit) return undefined;
    length = 0;
    for (let i = 0; i < octets; i++) length = length * 256 + (der[start + i] ?? 0);
    start += octets;
  }
  const end = start + length;
  return end <= limit ? { tag, start, end } : undefined;
}

function inspectPrivateKeyInfo(der: Uint8Array): PrivateKeyProblem | null {
  // PrivateKeyInfo ::= SEQUENCE { version INTEGER, algorithm AlgorithmIdentifier, privateKey OCTET STRING, … }
  const info = readTlv(der, 0, der.length);
  if (info?.tag !== 0x30 || info.end !== der.length) return "not_der";
  const version = readTlv(der, info.start, info.end);
  if (version?.tag !== 0x02) return "not_der";
  const algorithm = readTlv(der, version.end, info.end);
  if (algorithm?.tag !== 0x30) return "not_der";
  const oid = readTlv(der, algorithm.start, algorithm.end);
  if (oid?.tag !== 0x06) return "not_der";
  const oidBytes = der.subarray(oid.start, oid.end);
  if (oidBytes.length !== RSA_ENCRYPTION_OID.length || RSA_ENCRYPTION_OID.some((b, i) => oidBytes[i] !== b)) {
    return "not_rsa";
  }
  const privateKey = readTlv(der, algorithm.end, info.end);
  if (privateKey?.tag !== 0x04) return "not_der";
  // RSAPrivateKey ::= SEQUENCE { version INTEGER, modulus INTEGER, publicExponent INTEGER, … }
  const rsa = readTlv(der, privateKey.start, privateKey.end);
  if (rsa?.tag !== 0x30) return "not_der";
  const rsaVersion = readTlv(der, rsa.start, rsa.end);
  if (rsaVersion?.tag !== 0x02) return "not_der";
  const modulus = readTlv(der, rsaVersion.end, rsa.end);
  if (modulus?.tag !== 0x02) return "not_der";
  let bytes = modulus.end - modulus.start;
  if (der[modulus.start] === 0) bytes--; // the sign octet of a positive INTEGER
  return bytes * 8 < 2048 ? "too_short" : null;
}

function decodeBase64(text: string): Uint8Array | undefined {
  if (text === "" || text.length % 4 !== 0) return undefined;
  let binary: string;
  try {
    binary = atob(text);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
