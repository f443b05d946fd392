// Brings up the real parts for the workers tests: a fresh Postgres database per run (dropped after),
// a per-run Redis key prefix (deleted after), and the Neon and Upstash gateways in front of them.
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import type * as RedisModule from "redis";
import type { TestProject } from "vitest/node";
import {
  allowAppRoleLogin,
  dropDatabase,
  ensureDatabase,
  migrateDatabase,
  withDatabase,
} from "../dev/migrate.ts";
import { startNeonGateway } from "../dev/neon-gateway.ts";
import { startUpstashGateway } from "../dev/upstash-gateway.ts";
import { startCozeFake } from "./fakes/coze.ts";
import { startLingxingFake } from "./fakes/lingxing.ts";
import { startShopifyFake } from "./fakes/shopify.ts";
import { startSmtpFake } from "./fakes/smtp.ts";
import { removeSmtpTestTls } from "./fakes/smtp-tls.ts";
import { startTikTokFake } from "./fakes/tiktok.ts";
import { startTrack17Fake } from "./fakes/track17.ts";
import { startWechatFake } from "./fakes/wechat.ts";

const requireCjs = createRequire(import.meta.url);
const { createClient } = requireCjs("redis") as typeof RedisModule;

declare module "vitest" {
  export interface ProvidedContext {
    databaseUrl: string;
    ownerDatabaseUrl: string;
    neonHttpEndpoint: string;
    neonWsProxy: string;
    upstashUrl: string;
    upstashToken: string;
    cacheKeyPrefix: string;
    jwtSigningKeys: string;
    credentialsKeys: string;
    /** The WeChat fake (test/fakes/wechat.ts): the Worker's WECHAT_API_BASE; tests drive it via /__control/. */
    wechatApiBase: string;
    /** The Shopify fake's origin (control API under /__control/); the Worker's SHOPIFY_API_BASE is `${it}/shops/{shop}`. */
    shopifyFakeUrl: string;
    /** The Lingxing fake (test/fakes/lingxing.ts): the Worker's LINGXING_API_BASE; control API under /__control/. */
    lingxingFakeUrl: string;
    /** The TikTok Shop fake (test/fakes/tiktok.ts): the Worker's TIKTOK_API_BASE; control API under /__control/. */
    tiktokFakeUrl: string;
    /** The SMTP fake (test/fakes/smtp.ts): control API origin (/__control/…). */
    smtpFakeUrl: string;
    /** Its listeners on 127.0.0.1: STARTTLS submission, implicit TLS, and plain text (no TLS at all). */
    smtpStarttlsPort: number;
    smtpTlsPort: number;
    smtpPlainPort: number;
    /** STARTTLS with a certificate nobody trusts, and a listener that never answers. */
    smtpUntrustedPort: number;
    smtpSilentPort: number;
    /** The 17track fake (test/fakes/track17.ts): the Worker's TRACK17_API_BASE; control API under /__control/. */
    track17FakeUrl: string;
    /** The 17track account's security key: the Worker's TRACK17_API_KEY, and what the fake signs pushes with. */
    track17ApiKey: string;
    /** The Coze fake (test/fakes/coze.ts): the Worker's COZE_API_BASE; control API under /__control/. */
    cozeFakeUrl: string;
    /** The Coze fake's RSA key pair: apps registered through its control API verify JWTs signed with this PKCS#8 PEM. */
    cozePrivateKey: string;
    /** That key's public key fingerprint (the JWT `kid`). */
    cozeKeyId: string;
  }
}

export default async function setup(project: TestProject) {
  const adminUrl = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
  const redisUrl = process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379";
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  const dbName = `tradewind_test_${runId}`;
  const keyPrefix = `test:${runId}:`;
  const token = randomBytes(24).toString("hex");

  await ensureDatabase(adminUrl, dbName);
  const ownerUrl = withDatabase(adminUrl, dbName);
  await migrateDatabase(ownerUrl);
  await allowAppRoleLogin(adminUrl);

  const pgTarget = new URL(adminUrl);
  const neon = await startNeonGateway({
    allowedTargets: [`${pgTarget.hostname}:${pgTarget.port || "5432"}`],
  });
  const upstash = await startUpstashGateway({ redisUrl, token });
  const wechat = await startWechatFake();
  const shopify = await startShopifyFake();
  const lingxing = await startLingxingFake();
  const tiktok = await startTikTokFake();
  const smtp = await startSmtpFake();
  // One account whose key is also the receiver's current push key (TRACK17_SECURITY_KEYS), as in 17track.
  const track17ApiKey = "test-17track-key-current";
  const track17 = await startTrack17Fake({ keys: [track17ApiKey] });
  const coze = await startCozeFake();

  project.provide("databaseUrl", withDatabase(adminUrl, dbName, "tradewind_app"));
  project.provide("ownerDatabaseUrl", ownerUrl);
  project.provide("neonHttpEndpoint", `${neon.url}/sql`);
  project.provide("neonWsProxy", neon.wsProxy);
  project.provide("upstashUrl", upstash.url);
  project.provide("upstashToken", token);
  project.provide("cacheKeyPrefix", keyPrefix);
  project.provide("jwtSigningKeys", testSigningKeys());
  project.provide("credentialsKeys", `test1:${randomBytes(32).toString("base64")}`);
  project.provide("wechatApiBase", wechat.url);
  project.provide("shopifyFakeUrl", shopify.url);
  project.provide("lingxingFakeUrl", lingxing.url);
  project.provide("tiktokFakeUrl", tiktok.url);
  project.provide("smtpFakeUrl", smtp.url);
  project.provide("smtpStarttlsPort", smtp.ports.starttls);
  project.provide("smtpTlsPort", smtp.ports.tls);
  project.provide("smtpPlainPort", smtp.ports.plain);
  project.provide("smtpUntrustedPort", smtp.ports.untrusted);
  project.provide("smtpSilentPort", smtp.ports.silent);
  project.provide("track17FakeUrl", track17.url);
  project.provide("track17ApiKey", track17ApiKey);
  project.provide("cozeFakeUrl", coze.url);
  project.provide("cozePrivateKey", coze.privateKeyPem);
  project.provide("cozeKeyId", coze.keyId);

  return async () => {
    await Promise.allSettled([
      neon.close(),
      upstash.close(),
      wechat.close(),
      shopify.close(),
      lingxing.close(),
      tiktok.close(),
      smtp.close(),
      track17.close(),
      coze.close(),
    ]);
    removeSmtpTestTls();
    await dropDatabase(adminUrl, dbName);
    const redis = createClient({ url: redisUrl, RESP: 2 });
    await redis.connect();
    try {
      for await (const keys of redis.scanIterator({ MATCH: `${keyPrefix}*`, COUNT: 500 })) {
        if (keys.length > 0) await redis.del(keys);
      }
    } finally {
      await redis.quit();
    }
  };
}

/** A fresh Ed25519 signing key per run (plus a second, verify-only key, as during a rotation). */
function testSigningKeys(): string {
  const jwk = (kid: string) => ({
    ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }),
    kid,
  });
  return JSON.stringify([jwk("test-active"), jwk("test-previous")]);
}
