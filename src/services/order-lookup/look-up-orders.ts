import type { OrderSearchCriteria } from "../../adapters/channels/order-search";
import { updateCache } from "../../cache/dual-write";
import { cacheKeys } from "../../cache/keys";
import { UnauthorizedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { criteriaHash, type OrderLookupInput, parseLookupCriteria } from "./criteria";
import { type OrderLookupResult, searchAllStores } from "./search-stores";

/**
 * Order lookup for customer service and the chat bot: a customer's orders across every store of the
 * tenant, by order number, email or phone (every one given must match).
 *
 * Cached with stale-while-revalidate (`lookup:orders:*`, see src/cache/keys.ts): an answer younger than
 * `freshSeconds` is served as it is; an older one (kept up to `ttlSeconds`) is served at once and
 * refreshed in the background, under a lock so one refresh runs however many callers see it stale. An
 * answer missing a store (`partial`) is stale from the start, so the next lookup asks again. The cache
 * is per tenant and the criteria enter its keys only hashed. Each lookup also marks its tenant as using
 * lookups (`lookup:active-tenants`): the cron warms only those, so no store's rate budget is spent on a
 * tenant that never looks orders up.
 */

export interface OrderLookupView extends OrderLookupResult {
  /** `miss`: asked the stores just now; `fresh`: a recent answer; `stale`: an older answer, being refreshed. */
  cache: "miss" | "fresh" | "stale";
  /** Age of the answer in seconds (0 for a miss). */
  ageSeconds: number;
}

interface CachedLookup {
  storedAt: number;
  result: OrderLookupResult;
}

function isCachedLookup(value: unknown): value is CachedLookup {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Partial<CachedLookup>;
  return (
    typeof entry.storedAt === "number" &&
    typeof entry.result === "object" &&
    entry.result !== null &&
    Array.isArray(entry.result.orders) &&
    Array.isArray(entry.result.stores)
  );
}

export function lookupCacheKeys(ctx: ServiceContext, tenantId: string, hash: string) {
  return {
    entry: ctx.cache.key(cacheKeys.orderLookup.name(tenantId, hash)),
    lock: ctx.cache.key(cacheKeys.orderLookupRefreshLock.name(tenantId, hash)),
  };
}

function isFresh(entry: CachedLookup, now: number): boolean {
  if (entry.result.partial) return false;
  return now - entry.storedAt < cacheKeys.orderLookup.freshSeconds * 1000;
}

async function readCached(ctx: ServiceContext, key: string): Promise<CachedLookup | null> {
  const redis = ctx.cache.redis;
  if (redis === null) return null;
  try {
    const value = await redis.get<unknown>(key);
    return isCachedLookup(value) ? value : null;
  } catch (error) {
    // The cache is a speed-up here: without it, the stores are asked.
    ctx.logger.warn("order lookup cache read failed", { error: String(error) });
    return null;
  }
}

async function storeCached(ctx: ServiceContext, key: string, result: OrderLookupResult): Promise<void> {
  const redis = ctx.cache.redis;
  if (redis === null) return;
  const entry: CachedLookup = { storedAt: Date.now(), result };
  await updateCache(ctx, "order lookup", () =>
    redis.set(key, entry, { ex: cacheKeys.orderLookup.ttlSeconds }),
  );
}

/**
 * Asks the stores again and stores the answer, unless another refresh of the same lookup holds the lock.
 * Resolves in every case (it runs in the background): `busy` when another refresh holds the lock (or no
 * cache is configured), `failed` when the stores or Tradewind could not be read.
 */
export async function refreshLookup(
  ctx: ServiceContext,
  tenantId: string,
  criteria: OrderSearchCriteria,
  hash: string,
): Promise<"refreshed" | "busy" | "failed"> {
  const redis = ctx.cache.redis;
  if (redis === null) return "busy";
  const keys = lookupCacheKeys(ctx, tenantId, hash);
  const owner = crypto.randomUUID();
  try {
    const held =
      (await redis.set(keys.lock, owner, { nx: true, ex: cacheKeys.orderLookupRefreshLock.ttlSeconds })) ===
      "OK";
    if (!held) return "busy";
  } catch (error) {
    ctx.logger.warn("order lookup refresh lock unavailable", { error: String(error) });
    return "failed";
  }
  try {
    const result = await searchAllStores(ctx, tenantId, criteria);
    await storeCached(ctx, keys.entry, result);
    return "refreshed";
  } catch (error) {
    ctx.logger.error("order lookup refresh failed", { error: String(error) });
    return "failed";
  } finally {
    await redis
      .eval(
        "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
        [keys.lock],
        [owner],
      )
      .catch(() => undefined);
  }
}

/** Records that the tenant looks orders up now (a sorted set by time; see `warmOrderLookups`). */
async function markTenantActive(ctx: ServiceContext, tenantId: string): Promise<void> {
  const redis = ctx.cache.redis;
  if (redis === null) return;
  const key = ctx.cache.key(cacheKeys.orderLookupActiveTenants.name());
  await updateCache(ctx, "order lookup active tenants", () =>
    redis
      .pipeline()
      .zadd(key, { score: Date.now(), member: tenantId })
      .expire(key, cacheKeys.orderLookupActiveTenants.ttlSeconds)
      .exec(),
  );
}

/** Tenants that looked orders up in the last `withinMs`, most recent first, at most `limit`. */
export async function activeLookupTenants(
  ctx: ServiceContext,
  withinMs: number,
  limit: number,
): Promise<string[]> {
  const redis = ctx.cache.redis;
  if (redis === null) return [];
  const key = ctx.cache.key(cacheKeys.orderLookupActiveTenants.name());
  const since = Date.now() - withinMs;
  await redis.zremrangebyscore(key, 0, since);
  const members = await redis.zrange<string[]>(key, "+inf", since, {
    byScore: true,
    rev: true,
    offset: 0,
    count: limit,
  });
  return members.map(String);
}

/**
 * The tenant's orders matching `input` (at least one of orderNumber, email, phone; 422 otherwise), with
 * per-store outcomes. Acts for `ctx.tenantId` (set by authentication, or by the chat bot for its session).
 */
export async function lookUpOrders({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: OrderLookupInput;
}): Promise<OrderLookupView> {
  const tenantId = ctx.tenantId;
  if (tenantId === undefined) throw new UnauthorizedError("Authentication required");
  const criteria = parseLookupCriteria(input);
  ctx.waitUntil(markTenantActive(ctx, tenantId));
  const hash = await criteriaHash(criteria);
  const keys = lookupCacheKeys(ctx, tenantId, hash);
  const cached = await readCached(ctx, keys.entry);
  const now = Date.now();
  if (cached !== null) {
    const ageSeconds = Math.max(0, Math.floor((now - cached.storedAt) / 1000));
    if (isFresh(cached, now)) return { ...cached.result, cache: "fresh", ageSeconds };
    ctx.waitUntil(refreshLookup(ctx, tenantId, criteria, hash));
    return { ...cached.result, cache: "stale", ageSeconds };
  }
  const result = await searchAllStores(ctx, tenantId, criteria);
  ctx.waitUntil(storeCached(ctx, keys.entry, result));
  return { ...result, cache: "miss", ageSeconds: 0 };
}

/** Whether a fresh answer for these criteria is cached (the cron warms only what is not). */
export async function hasFreshLookup(ctx: ServiceContext, tenantId: string, hash: string): Promise<boolean> {
  const cached = await readCached(ctx, lookupCacheKeys(ctx, tenantId, hash).entry);
  return cached !== null && isFresh(cached, Date.now());
}
