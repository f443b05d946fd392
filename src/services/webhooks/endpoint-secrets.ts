import type { AppConfig } from "../../lib/config";
import { credentialsKeyring } from "../../lib/credentials-keyring";
import { decryptSecret, encryptSecret } from "../../lib/secret-box";

/** A generic endpoint's Standard Webhooks secrets, sealed together in `webhook_endpoints.secrets_sealed`. */
export interface EndpointSecrets {
  current: string;
  /** The secret being rotated out; it verifies until `previous_secret_expires_at`. */
  previous: string | null;
}

/** Binds the sealed value to its row: copied onto another endpoint or tenant, it does not open. */
export function endpointSecretsAad(tenantId: string, endpointId: string): string {
  return `webhook-endpoint:${tenantId}:${endpointId}`;
}

export function sealEndpointSecrets(
  config: Pick<AppConfig, "credentialsKeys">,
  input: { tenantId: string; endpointId: string; secrets: EndpointSecrets },
): Promise<string> {
  return encryptSecret(
    credentialsKeyring(config),
    JSON.stringify(input.secrets),
    endpointSecretsAad(input.tenantId, input.endpointId),
  );
}

/** A new signing secret in the Standard Webhooks serialisation: `whsec_` + base64 of 32 random bytes. */
export function newStandardWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

/** Opens what `sealEndpointSecrets` sealed; throws (naming no secret) when it no longer opens. */
export async function openEndpointSecrets(
  config: Pick<AppConfig, "credentialsKeys">,
  input: { tenantId: string; endpointId: string; sealed: string },
): Promise<EndpointSecrets> {
  const plain = await decryptSecret(
    credentialsKeyring(config),
    input.sealed,
    endpointSecretsAad(input.tenantId, input.endpointId),
  );
  const parsed = JSON.parse(plain) as Partial<EndpointSecrets>;
  if (typeof parsed.current !== "string") throw new Error("sealed endpoint secrets have no current secret");
  return { current: parsed.current, previous: typeof parsed.previous === "string" ? parsed.previous : null };
}
