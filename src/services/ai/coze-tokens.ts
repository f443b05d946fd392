import type { CozeAccessToken, CozeClient } from "../../adapters/ai/coze/client";
import { cacheKeys } from "../../cache/keys";
import { credentialsKeyring } from "../../lib/credentials-keyring";
import { decryptSecret, encryptSecret } from "../../lib/secret-box";
import type { ServiceContext } from "../context";

/**
 * Coze access tokens of an AI connection, shared by every isolate through Redis so concurrent chats do not
 * each mint one (a JWT exchange is a round trip to Coze and a signature; Coze also limits how fast an app
 * may mint). Tokens are bearer secrets: sealed with the credentials keyring like connection credentials,
 * never logged.
 *
 * - Lookup order: this isolate's memory, then Redis, then a new token. The isolate copy saves the Redis
 *   round trip on every message of a busy chat; it is dropped with the Redis copy when Coze refuses it.
 * - A token is used until `expiresAt - margin` (margin: a fifth of its lifetime, at most 60 s), so none goes
 *   out about to expire mid-reply; Redis keeps it exactly that long (PX).
 * - Minting holds a short Redis lock (SET NX PX); other callers, in this isolate or another, wait for the
 *   winner's token instead of minting their own. (No promise is shared between calls: in Workers a promise
 *   settled by another request's I/O must not be awaited.) If the lock cannot be had in time (a crashed
 *   holder, Redis down), the caller mints anyway: a chat never waits on a lock for long.
 * - Key and aad name the tenant, the connection, the app and its key id, so a token never crosses tenants
 *   and a credentials change (new app or key) orphans the old token instead of reusing it.
 */

/** Coze's grant allows up to 86 399 s; an hour bounds what a leaked token is worth. */
export const TOKEN_DURATION_SECONDS = 3600;
const MAX_MARGIN_MS = 60_000;
const LOCK_TTL_MS = 10_000;
const LOCK_WAIT_MS = 3_000;
const LOCK_POLL_MS = 100;

export interface CozeTokenOwner {
  tenantId: string;
  connectionId: string;
  appId: string;
  keyId: string;
}

interface CachedToken extends CozeAccessToken {
  /** When it stops being handed out (epoch ms): `expiresAt` minus the safety margin. */
  usableUntil: number;
}

const isolateTokens = new Map<string, CachedToken>();
/** Connections whose token this isolate keeps: a long-lived isolate serving many tenants must not grow. */
const MAX_ISOLATE_TOKENS = 256;

/**
 * Keeps `token` for `identity` in `tokens`, which never exceeds `max` entries: when full, tokens no longer
 * usable go first, then the ones stored longest ago (a busy connection stores again as soon as it re-mints).
 */
export function rememberToken<T extends { usableUntil: number }>(
  tokens: Map<string, T>,
  identity: string,
  token: T,
  now: number,
  max: number = MAX_ISOLATE_TOKENS,
): void {
  tokens.delete(identity);
  if (tokens.size >= max) {
    for (const [key, kept] of tokens) if (kept.usableUntil <= now) tokens.delete(key);
  }
  for (const key of tokens.keys()) {
    if (tokens.size < max) break;
    tokens.delete(key);
  }
  tokens.set(identity, token);
}

function identityOf(owner: CozeTokenOwner): string {
  return `${owner.tenantId}:${owner.connectionId}:${owner.appId}:${owner.keyId}`;
}

function usable(token: CachedToken | undefined, now: number): token is CachedToken {
  return token !== undefined && token.usableUntil > now;
}

export function usableUntil(token: CozeAccessToken, issuedAt: number): number {
  const lifetime = Math.max(0, token.expiresAt - issuedAt);
  return token.expiresAt - Math.min(MAX_MARGIN_MS, lifetime / 5);
}

export interface CozeTokenStore {
  /** A token good for at least the safety margin; mints one when none is cached. */
  get(client: CozeClient, options?: { signal?: AbortSignal }): Promise<string>;
  /** Forget `accessToken` (Coze refused it), here and in Redis, unless a newer one replaced it already. */
  drop(accessToken: string): Promise<void>;
}

export function cozeTokenStore(ctx: ServiceContext, owner: CozeTokenOwner): CozeTokenStore {
  const redis = ctx.cache.redis;
  const identity = identityOf(owner);
  const tokenKey = ctx.cache.key(cacheKeys.cozeToken.name(owner.connectionId));
  const lockKey = ctx.cache.key(cacheKeys.cozeTokenLock.name(owner.connectionId));
  const aad = `coze-token:${identity}`;
  const log = ctx.logger.child({
    upstream: "coze",
    tenantId: owner.tenantId,
    connectionId: owner.connectionId,
  });

  async function readShared(): Promise<CachedToken | undefined> {
    if (redis === null) return undefined;
    try {
      const sealed = await redis.get<string>(tokenKey);
      if (typeof sealed !== "string") return undefined;
      const token = JSON.parse(
        await decryptSecret(credentialsKeyring(ctx.config), sealed, aad),
      ) as CachedToken;
      return usable(token, Date.now()) ? token : undefined;
    } catch (error) {
      // Sealed for other credentials (aad mismatch), unreadable, or Redis down: a miss either way.
      log.warn("coze token cache read failed", { error: String(error) });
      return undefined;
    }
  }

  async function writeShared(token: CachedToken): Promise<void> {
    if (redis === null) return;
    const ttlMs = Math.floor(token.usableUntil - Date.now());
    if (ttlMs < 1000) return;
    try {
      const sealed = await encryptSecret(credentialsKeyring(ctx.config), JSON.stringify(token), aad);
      await redis.set(tokenKey, sealed, { px: ttlMs });
    } catch (error) {
      log.warn("coze token cache write failed", { error: String(error) });
    }
  }

  async function takeLock(owned: string): Promise<boolean> {
    if (redis === null) return false;
    try {
      return (await redis.set(lockKey, owned, { nx: true, px: LOCK_TTL_MS })) === "OK";
    } catch (error) {
      log.warn("coze token lock unavailable", { error: String(error) });
      return false;
    }
  }

  async function releaseLock(owned: string): Promise<void> {
    await redis
      ?.eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        [lockKey],
        [owned],
      )
      .catch(() => undefined);
  }

  async function mint(client: CozeClient, signal: AbortSignal | undefined): Promise<CachedToken> {
    const owned = crypto.randomUUID();
    const deadline = Date.now() + LOCK_WAIT_MS;
    let held = await takeLock(owned);
    while (!held && redis !== null && Date.now() < deadline && !signal?.aborted) {
      // Another isolate is minting: its token will be in Redis in a moment.
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
      const shared = await readShared();
      if (shared) return shared;
      held = await takeLock(owned);
    }
    try {
      if (held) {
        // The previous holder may have stored a token between our read and our lock.
        const shared = await readShared();
        if (shared) return shared;
      }
      const issuedAt = Date.now();
      const token = await client.issueAccessToken({
        durationSeconds: TOKEN_DURATION_SECONDS,
        ...(signal ? { signal } : {}),
      });
      const cached = { ...token, usableUntil: usableUntil(token, issuedAt) };
      await writeShared(cached);
      log.info("coze access token issued", { expiresAt: new Date(token.expiresAt).toISOString() });
      return cached;
    } finally {
      if (held) await releaseLock(owned);
    }
  }

  return {
    async get(client, { signal } = {}) {
      const local = isolateTokens.get(identity);
      if (usable(local, Date.now())) return local.accessToken;
      const token = (await readShared()) ?? (await mint(client, signal));
      rememberToken(isolateTokens, identity, token, Date.now());
      return token.accessToken;
    },

    async drop(accessToken) {
      if (isolateTokens.get(identity)?.accessToken === accessToken) isolateTokens.delete(identity);
      if (redis === null) return;
      try {
        const sealed = await redis.get<string>(tokenKey);
        if (typeof sealed !== "string") return;
        const shared = JSON.parse(
          await decryptSecret(credentialsKeyring(ctx.config), sealed, aad),
        ) as CachedToken;
        // Another isolate may already have replaced the refused token; keep its new one.
        if (shared.accessToken === accessToken) await redis.del(tokenKey);
      } catch (error) {
        log.warn("coze token cache drop failed", { error: String(error) });
        await redis.del(tokenKey).catch(() => undefined);
      }
    },
  };
}
