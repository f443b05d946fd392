import { credentialsKeyring } from "../../lib/credentials-keyring";
import { decryptSecret, encryptSecret, type Keyring } from "../../lib/secret-box";

/**
 * A tenant's mini-program secret at rest: sealed with `CREDENTIALS_KEYS`, bound (aad) to the tenant and
 * app id, so a sealed value copied onto another tenant's row does not open.
 */
export function wechatSecretAad(tenantId: string, appId: string): string {
  return `wechat:${tenantId}:${appId}`;
}

/** The one keyring cache (src/lib/credentials-keyring.ts), by the raw `CREDENTIALS_KEYS` value. */
function keyringOf(raw: string): Keyring {
  return credentialsKeyring({ credentialsKeys: raw });
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
