import { randomBytes, scrypt, timingSafeEqual } from "node:crypto";

/**
 * Password hashing: scrypt, memory-hard, at an OWASP Password Storage Cheat Sheet setting
 * (N=2^14, r=8, p=5: 16 MiB, equivalent in cost to the N=2^17/p=1 baseline but inside a Worker's
 * 128 MB). PBKDF2 is not an option on Workers: production caps it at 100,000 iterations, a sixth of
 * OWASP's 600,000 for PBKDF2-SHA256. Measured cost: README "Password hashing".
 *
 * Stored as `$scrypt$ln=14,r=8,p=5$<salt b64>$<hash b64>` so parameters can rise later: a login that
 * verifies against older parameters is told to re-hash.
 */
export const SCRYPT_PARAMS = { logN: 14, r: 8, p: 5 } as const;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const PHC =
  /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})$/;

/** Upper bounds for parameters read back from storage, so a tampered row cannot ask for unbounded work. */
const MAX_LOG_N = 17;
const MAX_R = 16;
const MAX_P = 16;

function derive(password: string, salt: Buffer, logN: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** logN;
  return new Promise((resolve, reject) => {
    scrypt(
      password.normalize("NFKC"),
      salt,
      KEY_LENGTH,
      { N, r, p, maxmem: 256 * N * r + 1024 * 1024 },
      (err, key) => (err ? reject(err) : resolve(key)),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const { logN, r, p } = SCRYPT_PARAMS;
  const key = await derive(password, salt, logN, r, p);
  return `$scrypt$ln=${logN},r=${r},p=${p}$${salt.toString("base64")}$${key.toString("base64")}`;
}

export interface PasswordCheck {
  ok: boolean;
  /** The hash uses weaker parameters than today's: store a fresh one after a successful login. */
  needsRehash: boolean;
}

/**
 * Constant-time check. A null or malformed hash still costs one full derivation against a dummy, so an
 * unknown account, a password-less account and a wrong password take the same time.
 */
export async function verifyPassword(password: string, stored: string | null): Promise<PasswordCheck> {
  const parsed = stored ? PHC.exec(stored) : null;
  const logN = Number(parsed?.[1]);
  const r = Number(parsed?.[2]);
  const p = Number(parsed?.[3]);
  const usable =
    parsed !== null && logN >= 10 && logN <= MAX_LOG_N && r >= 1 && r <= MAX_R && p >= 1 && p <= MAX_P;
  if (!usable || !parsed) {
    await derive(password, DUMMY_SALT, SCRYPT_PARAMS.logN, SCRYPT_PARAMS.r, SCRYPT_PARAMS.p);
    return { ok: false, needsRehash: false };
  }
  const salt = Buffer.from(parsed[4] ?? "", "base64");
  const expected = Buffer.from(parsed[5] ?? "", "base64");
  const actual = await derive(password, salt, logN, r, p);
  const ok = expected.length === actual.length && timingSafeEqual(expected, actual);
  const needsRehash = ok && (logN !== SCRYPT_PARAMS.logN || r !== SCRYPT_PARAMS.r || p !== SCRYPT_PARAMS.p);
  return { ok, needsRehash };
}

const DUMMY_SALT = Buffer.alloc(SALT_LENGTH, 7);
