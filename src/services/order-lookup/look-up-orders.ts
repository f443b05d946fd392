import type { OrderSearchCriteria } from "../../adapters/channels/order-search";
import { updateCache } from "../../cache/dual-write";
import { cacheKeys } from "../../cache/keys";
import { UnauthorizedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { criteriaHash, type OrderLookupInput, parseLookupCriteria } from "./criteria";
import { lookupFailureForLog, type OrderLookupResult, searchAllStores } from "./search-stores";

/**
 * Order lookup for customer service and the chat bot: a customer's orders across every store of the
 * tenant, by order number, email or phone (every one given must match).
 *
 * Cached with stale-while-revalidate (`lookup:orders:*`, see src/cache/keys.ts): an answer younger than
 * `freshSeconds` (counted from when its stores were asked) is served as it is; an older one (kept up to
 * `ttlSeconds`) is served at once and refreshed in the background, under a lock so one refresh runs
 * however many callers see it stale. An answer missing a store (`partial`) is stale from the start, so
 * the next lookup asks again. Answers are written conditionally (`storeLookupAnswer`): never over a later
 * one, and a partial one never over a fresh complete one. The cache is per tenant and the criteria enter
 * its keys only hashed. Each lookup also marks its tenant as using lookups (`lookup:active-tenants`): the
 * cron warms only those, so no store's rate budget is spent on a tenant that never looks orders up.
 */

export interface OrderLookupView extends OrderLookupResult {
  /** `miss`: asked the stores just now; `fresh`: a recent answer; `stale`: an older answer, being refreshed. */
  cache: "miss" | "fresh" | "stale";
  /** Age of the answer in seconds (0 for a miss). */
  ageSeconds: number;
}

/** An entry as read back: when its stores were asked, and what they said. */
interface CachedLookup {
  searchedAt: number;
  result: OrderLookupResult;
}

/**
 * An entry is a hash — `searchedAt` (epoch ms the stores were asked), `complete` (1, or 0 for a partial
 * answer) and `result` (JSON) — so the conditional write below can compare answers without decoding them.
 */
function isCachedLookup(value: unknown): value is CachedLookup {
  if (typeof value !== "object" || value === null) return false;
  const entry = value as Partial<CachedLookup>;
  return (
    typeof entry.searchedAt === "number" &&
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
  return now - entry.searchedAt < cacheKeys.orderLookup.freshSeconds * 1000;
}

async function readCached(ctx: ServiceContext, key: string): Promise<CachedLookup | null> {
  const redis = ctx.cache.redis;
  if (redis === null) return null;
  try {
    const value = await redis.hgetall<Record<string, unknown>>(key);
    return isCachedLookup(value) ? value : null;
  } catch (error) {
    // The cache is a speed-up here: without it, the stores are asked.
    ctx.logger.warn("order lookup cache read failed", lookupFailureForLog(error));
    return null;
  }
}

/**
 * Answers are written from several places at once — a miss, the background refresh of a stale answer,
 * the cron's warm-up — and finish in any order, so the write is conditional and atomic: an answer never
 * replaces one whose stores were asked later, and a partial answer never replaces a complete one that is
 * still fresh (one store's hiccup must not take its orders out of a good answer).
 * KEYS[1] the entry; ARGV: searchedAt (ms), complete (1|0), result (JSON), fresh period (ms), TTL (s).
 */
const STORE_IF_NOT_WORSE = `
local kept = tonumber(redis.call('HGET', KEYS[1], 'searchedAt'))
if kept then
  local at = tonumber(ARGV[1])
  if kept > at then return 0 end
  if ARGV[2] == '0' and redis.call('HGET', KEYS[1], 'complete') == '1' and at - kept < tonumber(ARGV[4]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'searchedAt', ARGV[1], 'complete', ARGV[2], 'result', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1`;

/**
 * Stores `result` unless the cache holds a better answer (see STORE_IF_NOT_WORSE). Resolves in every case
 * (a Redis failure is logged and counted by `updateCache`); true when it was stored.
 */
export async function storeLookupAnswer(
  ctx: ServiceContext,
  key: string,
  result: OrderLookupResult,
): Promise<boolean> {
  const redis = ctx.cache.redis;
  if (redis === null) return false;
  const searchedAt = Date.parse(result.searchedAt);
  let stored = false;
  await updateCache(ctx, "order lookup", async () => {
    const written = await redis.eval<string[], number>(
      STORE_IF_NOT_WORSE,
      [key],
      [
        String(searchedAt),
        result.partial ? "0" : "1",
        JSON.stringify(result),
        String(cacheKeys.orderLookup.freshSeconds * 1000),
        String(cacheKeys.orderLookup.ttlSeconds),
      ],
    );
    stored = Number(written) === 1;
  });
  return stored;
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
    ctx.logger.warn("order lookup refresh lock unavailable", lookupFailureForLog(error));
    return "failed";
  }
  try {
    const result = await searchAllStores(ctx, tenantId, criteria);
    await storeLookupAnswer(ctx, keys.entry, result);
    return "refreshed";
  } catch (error) {
    // Never String(error): a failed query's message carries its parameters (the customer's email or phone).
    ctx.logger.error("order lookup refresh failed", lookupFailureForLog(error));
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
    const ageSeconds = Math.max(0, Math.floor((now - cached.searchedAt) / 1000));
    if (isFresh(cached, now)) return { ...cached.result, cache: "fresh", ageSeconds };
    ctx.waitUntil(refreshLookup(ctx, tenantId, criteria, hash));
    return { ...cached.result, cache: "stale", ageSeconds };
  }
  const result = await searchAllStores(ctx, tenantId, criteria);
  ctx.waitUntil(storeLookupAnswer(ctx, keys.entry, result));
  return { ...result, cache: "miss", ageSeconds: 0 };
}

/** Whether a fresh answer for these criteria is cached (the cron warms only what is not). */
export async function hasFreshLookup(ctx: ServiceContext, tenantId: string, hash: string): Promise<boolean> {
  const cached = await readCached(ctx, lookupCacheKeys(ctx, tenantId, hash).entry);
  return cached !== null && isFresh(cached, Date.now());
}
