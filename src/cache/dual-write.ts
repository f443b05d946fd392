import type { Redis } from "@upstash/redis/cloudflare";
import { ServiceUnavailableError } from "../lib/errors";
import type { Logger } from "../lib/logger";
import type { IoMetrics } from "../lib/metrics";
import type { Cache } from "./client";
import { isTombstone } from "./keys";

/** The slice of a ServiceContext the dual-write policy needs (kept narrow so it is easy to test). */
export interface DualWriteDeps {
  cache: Cache;
  logger: Logger;
  metrics: IoMetrics;
  waitUntil(promise: Promise<unknown>): void;
  degraded: Set<"cache">;
}

/**
 * DESIGN.md §3 dual writes: Postgres first (the truth); then Redis, retried once; a Redis failure is
 * logged and counted and never fails the caller. `background` moves the Redis step into waitUntil when
 * the response need not wait for it.
 */
export async function writeThrough<T>(
  deps: DualWriteDeps,
  op: {
    write: () => Promise<T>;
    /** Set or invalidate the cache from the committed result. */
    cache: (redis: Redis, result: T) => Promise<unknown>;
    label: string;
    background?: boolean;
  },
): Promise<T> {
  const result = await op.write();
  const redis = deps.cache.redis;
  if (redis) {
    const step = updateCache(deps, op.label, () => op.cache(redis, result));
    if (op.background) deps.waitUntil(step);
    else await step;
  }
  return result;
}

/** Resolves in every case: the cache step's failure is recorded, never thrown. */
export async function updateCache(
  deps: DualWriteDeps,
  label: string,
  step: () => Promise<unknown>,
): Promise<void> {
  for (let attempt = 1; attempt <= 2; attempt++) {
    try {
      await step();
      return;
    } catch (error) {
      if (attempt === 2) {
        deps.metrics.cacheWriteFailures += 1;
        deps.logger.error("cache write failed", { label, attempts: attempt, error: describe(error) });
      }
    }
  }
}

/**
 * Reads Postgres; on success refreshes the Redis copy (in the background) so a later outage has
 * something to serve. When Postgres itself is unreachable, serves the Redis copy and marks the unit of
 * work degraded; with no copy either, the caller gets 503. Errors Postgres answered (constraint, syntax,
 * not found) are not outages and propagate unchanged.
 */
export async function readThrough<T>(
  deps: DualWriteDeps,
  op: {
    read: () => Promise<T>;
    key: string;
    ttlSeconds: number;
    label: string;
    cacheable?: (value: T) => boolean;
  },
): Promise<T> {
  const redis = deps.cache.redis;
  try {
    const value = await op.read();
    if (redis && (op.cacheable?.(value) ?? value !== null)) {
      deps.waitUntil(updateCache(deps, op.label, () => redis.set(op.key, value, { ex: op.ttlSeconds })));
    }
    return value;
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    deps.logger.warn("postgres unavailable, trying cache", { label: op.label, error: describe(error) });
    if (redis) {
      let cached: T | null = null;
      try {
        cached = await redis.get<T>(op.key);
      } catch (cacheError) {
        deps.logger.error("cache fallback read failed", { label: op.label, error: describe(cacheError) });
      }
      if (cached !== null && !isTombstone(cached)) {
        deps.degraded.add("cache");
        return cached;
      }
    }
    throw new ServiceUnavailableError("Database unavailable", { cause: error });
  }
}

/** SQLSTATE classes that mean "could not talk to Postgres" rather than "Postgres said no". */
const OUTAGE_SQLSTATE = /^(08|53|57P0[1-3])/;

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return OUTAGE_SQLSTATE.test(code);
    if (e.name === "AbortError" || e.name === "TimeoutError") return true;
    if (/fetch failed|network|connect|ECONNREFUSED|socket|WebSocket|Error connecting/i.test(e.message))
      return true;
  }
  return false;
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
