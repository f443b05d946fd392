import { credentialsKeyring } from "../../lib/credentials-keyring";
import { PreconditionFailedError } from "../../lib/errors";
import { decryptSecret, encryptSecret, type Keyring } from "../../lib/secret-box";
import { credentialsAad } from "./connection-config";

/** The one keyring cache (src/lib/credentials-keyring.ts), by the raw `CREDENTIALS_KEYS` value. */
function keyringOf(raw: string): Keyring {
  return credentialsKeyring({ credentialsKeys: raw });
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
