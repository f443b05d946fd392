import { ServiceUnavailableError } from "../../lib/errors";
import { decryptSecret, encryptSecret, type Keyring, parseKeyring } from "../../lib/secret-box";

/**
 * A tenant's mini-program secret at rest: sealed with `CREDENTIALS_KEYS`, bound (aad) to the tenant and
 * app id, so a sealed value copied onto another tenant's row does not open.
 */
export function wechatSecretAad(tenantId: string, appId: string): string {
  return `wechat:${tenantId}:${appId}`;
}

const keyrings = new Map<string, Keyring>();

/** Parsed once per isolate per secret value; the keyring caches its imported CryptoKeys. */
function keyringOf(raw: string): Keyring {
  let ring = keyrings.get(raw);
  if (!ring) {
    if (raw.trim() === "") throw new ServiceUnavailableError("Credential storage is not configured");
    ring = parseKeyring(raw);
    keyrings.set(raw, ring);
  }
  return ring;
}

export function sealWechatSecret(
  credentialsKeys: string,
  input: { tenantId: string; appId: string; appSecret: string },
): Promise<string> {
  return encryptSecret(
    keyringOf(credentialsKeys),
    input.appSecret,
    wechatSecretAad(input.tenantId, input.appId),
  );
}

export function openWechatSecret(
  credentialsKeys: string,
  input: { tenantId: string; appId: string; sealed: string },
): Promise<string> {
  return decryptSecret(
    keyringOf(credentialsKeys),
    input.sealed,
    wechatSecretAad(input.tenantId, input.appId),
  );
}
