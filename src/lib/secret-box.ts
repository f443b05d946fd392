/**
 * Encryption at rest for credentials we must be able to read back (WeChat app secrets, channel and ERP
 * credentials): AES-256-GCM through WebCrypto, so the same code runs in Workers and in Node.
 *
 * Keys come from one Worker secret, `CREDENTIALS_KEYS = "kid2:base64key,kid1:base64key"`. The FIRST entry
 * is the active key (every new seal uses it); the others only open older values, so a key is rotated by
 * prepending a new entry, re-sealing rows for which `needsReencryption` is true, then dropping the old one.
 *
 * Sealed format: `v1.<kid>.<base64url iv>.<base64url ciphertext‖tag>`, a fresh random 12-byte IV per seal.
 * The `aad` (additional authenticated data) is not stored; it names the row the value belongs to
 * (e.g. `wechat:<tenantId>:<appId>`) and must be given again to open it, so a sealed value copied onto
 * another tenant's row fails to decrypt instead of leaking that tenant's credential.
 */

const VERSION = "v1";
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** No dots (the sealed-format separator), no colons or commas (the keyring separators). */
const KID = /^[A-Za-z0-9_-]{1,32}$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

export interface Keyring {
  /** The kid every new seal uses: the first entry of `CREDENTIALS_KEYS`. */
  readonly activeKid: string;
  /** All kids that can open a sealed value, the active one first. */
  readonly kids: readonly string[];
}

/** Raw key bytes live here, not on the keyring object, so logging a keyring never prints a key. */
const rawKeys = new WeakMap<Keyring, ReadonlyMap<string, Uint8Array<ArrayBuffer>>>();
/** Imported CryptoKeys, per keyring object: importing once per isolate, not once per call. */
const importedKeys = new WeakMap<Keyring, Map<string, Promise<CryptoKey>>>();

/** Opening a sealed value failed: unknown kid, malformed value, wrong aad or tampering. Never says which secret. */
export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

/** Parses `kid:base64key[,kid:base64key…]`; throws an Error naming the bad entry (by position/kid, never the key). */
export function parseKeyring(raw: string): Keyring {
  const entries = raw
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  if (entries.length === 0)
    throw new Error("CREDENTIALS_KEYS is empty: expected `kid:base64key[,kid:base64key…]`");
  const keys = new Map<string, Uint8Array<ArrayBuffer>>();
  entries.forEach((entry, index) => {
    const position = `CREDENTIALS_KEYS entry ${index + 1}`;
    const colon = entry.indexOf(":");
    if (colon < 0) throw new Error(`${position} is malformed: expected \`kid:base64key\``);
    const kid = entry.slice(0, colon).trim();
    const encoded = entry.slice(colon + 1).trim();
    if (!KID.test(kid)) throw new Error(`${position} has an invalid kid: use 1-32 of [A-Za-z0-9_-]`);
    if (keys.has(kid)) throw new Error(`${position} repeats kid "${kid}"`);
    const bytes = decodeBase64(encoded);
    if (bytes === undefined) throw new Error(`${position} (kid "${kid}") is not valid base64`);
    if (bytes.length !== KEY_BYTES) {
      throw new Error(`${position} (kid "${kid}") must decode to ${KEY_BYTES} bytes, got ${bytes.length}`);
    }
    keys.set(kid, bytes);
  });
  const kids = [...keys.keys()];
  const activeKid = kids[0];
  if (activeKid === undefined) throw new Error("CREDENTIALS_KEYS is empty");
  const keyring: Keyring = Object.freeze({ activeKid, kids: Object.freeze(kids) });
  rawKeys.set(keyring, keys);
  return keyring;
}

/** Seals `plaintext` with the active key, bound to `aad`. */
export async function encryptSecret(keyring: Keyring, plaintext: string, aad: string): Promise<string> {
  const key = await cryptoKey(keyring, keyring.activeKid);
  if (key === undefined) throw new SecretBoxError("Keyring was not created by parseKeyring");
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: utf8(aad), tagLength: TAG_BYTES * 8 },
    key,
    utf8(plaintext),
  );
  return [VERSION, keyring.activeKid, encodeBase64Url(iv), encodeBase64Url(new Uint8Array(sealed))].join(".");
}

/** Opens a value sealed by `encryptSecret` with any key of the keyring; throws `SecretBoxError` otherwise. */
export async function decryptSecret(keyring: Keyring, sealed: string, aad: string): Promise<string> {
  const { kid, iv, ciphertext } = parseSealed(sealed);
  const key = await cryptoKey(keyring, kid);
  if (key === undefined) throw new SecretBoxError(`Sealed secret uses unknown key id "${kid}"`);
  let plain: ArrayBuffer;
  try {
    plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: utf8(aad), tagLength: TAG_BYTES * 8 },
      key,
      ciphertext,
    );
  } catch {
    // WebCrypto reports a failed tag check as an opaque OperationError; say what it means.
    throw new SecretBoxError("Sealed secret failed authentication (wrong aad, wrong key or tampered)");
  }
  try {
    // ignoreBOM: keep a leading U+FEFF, so the round trip is exact.
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(plain);
  } catch {
    throw new SecretBoxError("Sealed secret is not valid UTF-8");
  }
}

/** True when `sealed` was not sealed with the active key (re-seal it after a rotation). Throws on a malformed value. */
export function needsReencryption(keyring: Keyring, sealed: string): boolean {
  return parseSealed(sealed).kid !== keyring.activeKid;
}

function parseSealed(sealed: string): {
  kid: string;
  iv: Uint8Array<ArrayBuffer>;
  ciphertext: Uint8Array<ArrayBuffer>;
} {
  const parts = sealed.split(".");
  if (parts.length !== 4) throw new SecretBoxError("Sealed secret is malformed");
  const [version, kid, ivText, ciphertextText] = parts as [string, string, string, string];
  if (version !== VERSION) throw new SecretBoxError("Sealed secret has an unsupported version");
  if (!KID.test(kid)) throw new SecretBoxError("Sealed secret has an invalid key id");
  const iv = decodeBase64(ivText);
  const ciphertext = decodeBase64(ciphertextText);
  if (iv?.length !== IV_BYTES || ciphertext === undefined || ciphertext.length < TAG_BYTES) {
    throw new SecretBoxError("Sealed secret is malformed");
  }
  return { kid, iv, ciphertext };
}

function cryptoKey(keyring: Keyring, kid: string): Promise<CryptoKey | undefined> {
  const raw = rawKeys.get(keyring)?.get(kid);
  if (raw === undefined) return Promise.resolve(undefined);
  let cache = importedKeys.get(keyring);
  if (cache === undefined) {
    cache = new Map();
    importedKeys.set(keyring, cache);
  }
  let key = cache.get(kid);
  if (key === undefined) {
    key = crypto.subtle.importKey("raw", raw, { name: "AES-GCM" }, false, ["encrypt", "decrypt"]);
    cache.set(kid, key);
  }
  return key;
}

function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Accepts standard and URL-safe base64, padded or not. `undefined` when it is not base64. */
function decodeBase64(text: string): Uint8Array<ArrayBuffer> | undefined {
  if (!BASE64.test(text) || text.length % 4 === 1) return undefined;
  const standard = text.replace(/-/g, "+").replace(/_/g, "/").replace(/=+$/, "");
  const padded = standard + "=".repeat((4 - (standard.length % 4)) % 4);
  let binary: string;
  try {
    binary = atob(padded);
  } catch {
    return undefined;
  }
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function encodeBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
