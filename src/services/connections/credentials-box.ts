import { PreconditionFailedError, ServiceUnavailableError } from "../../lib/errors";
import { decryptSecret, encryptSecret, type Keyring, parseKeyring } from "../../lib/secret-box";
import { credentialsAad } from "./connection-config";

const keyrings = new Map<string, Keyring>();

/** Parsed once per isolate per `CREDENTIALS_KEYS` value; the keyring caches its imported CryptoKeys. */
function keyringOf(raw: string): Keyring {
  let ring = keyrings.get(raw);
  if (!ring) {
    if (raw.trim() === "") throw new ServiceUnavailableError("Credential storage is not configured");
    ring = parseKeyring(raw);
    keyrings.set(raw, ring);
  }
  return ring;
}

/**
 * A connection's credentials at rest: the JSON of the validated object, sealed with the active key and bound
 * (aad) to the tenant and the connection id, so a value copied onto another row does not open.
 */
export function sealConnectionCredentials(
  credentialsKeys: string,
  input: { tenantId: string; connectionId: string; credentials: Record<string, unknown> },
): Promise<string> {
  return encryptSecret(
    keyringOf(credentialsKeys),
    JSON.stringify(input.credentials),
    credentialsAad(input.tenantId, input.connectionId),
  );
}

/**
 * Opens what `sealConnectionCredentials` sealed. A value that no longer opens (its key was dropped from
 * `CREDENTIALS_KEYS`, or the row was tampered with) cannot be fixed by retrying: it is a 412 telling the
 * tenant to enter the credentials again. The failure says nothing about the secret.
 */
export async function openConnectionCredentials(
  credentialsKeys: string,
  input: { tenantId: string; connectionId: string; sealed: string },
): Promise<unknown> {
  const ring = keyringOf(credentialsKeys);
  let plain: string;
  try {
    plain = await decryptSecret(ring, input.sealed, credentialsAad(input.tenantId, input.connectionId));
  } catch {
    throw new PreconditionFailedError(
      "The connection's stored credentials cannot be opened; enter them again (PATCH credentials)",
      { details: { connectionId: input.connectionId } },
    );
  }
  try {
    return JSON.parse(plain) as unknown;
  } catch {
    throw new PreconditionFailedError(
      "The connection's stored credentials are unreadable; enter them again",
      {
        details: { connectionId: input.connectionId },
      },
    );
  }
}
