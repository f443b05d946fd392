import { Redis } from "@upstash/redis/cloudflare";
import type { AppConfig } from "../lib/config";
import type { Logger } from "../lib/logger";
import { currentMetrics, timed } from "../lib/metrics";

/**
 * Upstash Redis for one unit of work, or `redis: null` when no cache is configured: the app then runs
 * degraded (no fallback reads, no fast paths) instead of failing.
 */
export interface Cache {
  readonly redis: Redis | null;
  /** Prefixes a registry key (see keys.ts) with the deployment's namespace (`CACHE_KEY_PREFIX`). */
  key(name: string): string;
}

interface Requester {
  request: (req: unknown) => Promise<unknown>;
}

let warnedDisabled = false;

export function createCache(config: AppConfig, logger: Logger): Cache {
  const prefix = config.cacheKeyPrefix;
  const key = (name: string) => `${prefix}${name}`;
  if (!config.redisUrl || !config.redisToken) {
    if (!warnedDisabled) {
      warnedDisabled = true;
      logger.warn("cache disabled: UPSTASH_REDIS_REST_URL or UPSTASH_REDIS_REST_TOKEN is not set");
    }
    return { redis: null, key };
  }
  const timeoutMs = config.cacheTimeoutMs;
  const redis = new Redis({
    url: config.redisUrl,
    token: config.redisToken,
    // One attempt per call: the dual-write helper owns the retry policy, and reads fall back instead.
    retry: { retries: 0 },
    // A function, so each HTTP call gets a fresh timeout and an abort surfaces as an error.
    signal: () => AbortSignal.timeout(timeoutMs),
    enableTelemetry: false,
  });
  countRoundTrips(redis);
  return { redis, key };
}

/** Every HTTP call the client makes (a command, a pipeline, an auto-pipelined group) is one round trip. */
function countRoundTrips(redis: Redis): void {
  const requester = (redis as unknown as { client: Requester }).client;
  const original = requester.request.bind(requester);
  requester.request = (req: unknown) => {
    const metrics = currentMetrics();
    return metrics
      ? timed(
          (ms) => metrics.recordCache(ms),
          () => original(req),
        )
      : original(req);
  };
}
