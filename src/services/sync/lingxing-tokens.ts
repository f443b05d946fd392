import type { LingxingToken, LingxingTokenStore } from "../../adapters/erp/lingxing/client";
import { cacheKeys } from "../../cache/keys";
import { credentialsKeyring } from "../../lib/credentials-keyring";
import { decryptSecret, encryptSecret } from "../../lib/secret-box";
import type { ServiceContext } from "../context";

const LOCK_WAIT_MS = 5_000;
const LOCK_POLL_MS = 150;

/** Per isolate: the token when Redis is unavailable, so a Redis outage degrades to one token per isolate. */
const isolateTokens = new Map<string, LingxingToken>();

/**
 * Lingxing access tokens shared by every isolate through Redis, sealed like credentials (they are
 * bearer secrets). Refreshing holds a short Redis lock: refresh tokens are single-use, so two isolates
 * refreshing at once would burn each other's. Without Redis, the isolate keeps its own token.
 */
export function redisLingxingTokenStore(ctx: ServiceContext, appId: string): LingxingTokenStore {
  const redis = ctx.cache.redis;
  const tokenKey = ctx.cache.key(cacheKeys.lingxingToken.name(appId));
  const lockKey = ctx.cache.key(cacheKeys.lingxingTokenLock.name(appId));
  const aad = `lingxing-token:${appId}`;
  return {
    async get() {
      if (redis === null) return isolateTokens.get(appId) ?? null;
      try {
        const sealed = await redis.get<string>(tokenKey);
        if (typeof sealed !== "string") return isolateTokens.get(appId) ?? null;
        const token = JSON.parse(
          await decryptSecret(credentialsKeyring(ctx.config), sealed, aad),
        ) as LingxingToken;
        return token;
      } catch (error) {
        ctx.logger.warn("lingxing token cache read failed", { error: String(error) });
        return isolateTokens.get(appId) ?? null;
      }
    },
    async set(token) {
      isolateTokens.set(appId, token);
      if (redis === null) return;
      const ttlMs = Math.max(1_000, token.expiresAt - Date.now());
      try {
        const sealed = await encryptSecret(credentialsKeyring(ctx.config), JSON.stringify(token), aad);
        await redis.set(tokenKey, sealed, { px: ttlMs });
      } catch (error) {
        ctx.logger.warn("lingxing token cache write failed", { error: String(error) });
      }
    },
    async withRefreshLock(fn) {
      if (redis === null) return fn();
      const owner = crypto.randomUUID();
      const deadline = Date.now() + LOCK_WAIT_MS;
      let held = false;
      try {
        while (!held) {
          held = (await redis.set(lockKey, owner, { nx: true, px: 10_000 })) === "OK";
          if (held || Date.now() > deadline) break;
          await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
        }
      } catch (error) {
        ctx.logger.warn("lingxing token lock unavailable", { error: String(error) });
      }
      try {
        // Without the lock after the wait, go on: the adapter re-checks the store first, and a failed
        // refresh falls back to a fresh token from the app secret.
        return await fn();
      } finally {
        if (held) {
          await redis
            .eval(
              "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
              [lockKey],
              [owner],
            )
            .catch(() => undefined);
        }
      }
    },
  };
}
