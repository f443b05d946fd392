import type { AppConfig } from "./config";
import { ServiceUnavailableError } from "./errors";
import { type Keyring, parseKeyring } from "./secret-box";

const keyrings = new Map<string, Keyring>();

/** The `CREDENTIALS_KEYS` keyring, parsed once per isolate (it caches its imported CryptoKeys). */
export function credentialsKeyring(config: Pick<AppConfig, "credentialsKeys">): Keyring {
  const raw = config.credentialsKeys;
  let ring = keyrings.get(raw);
  if (!ring) {
    if (raw.trim() === "") throw new ServiceUnavailableError("Credential storage is not configured");
    ring = parseKeyring(raw);
    keyrings.set(raw, ring);
  }
  return ring;
}
