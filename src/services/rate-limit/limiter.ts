import { Ratelimit } from "@upstash/ratelimit";
import type { RateLimitRule } from "../../lib/config";
import type { ServiceContext } from "../context";

export interface RateLimitOutcome {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Seconds until the window frees capacity again. */
  resetSeconds: number;
}

/**
 * A sliding-window limiter over Upstash Redis (@upstash/ratelimit). Limits protect the service, they
 * are not the truth: when Redis is missing or failing the request is let through (fail-open), logged
 * and marked degraded, rather than turning a cache outage into a full outage.
 */
export function slidingWindow(ctx: ServiceContext, prefix: string, rule: RateLimitRule): Ratelimit | null {
  const redis = ctx.cache.redis;
  if (!redis) return null;
  return new Ratelimit({
    redis,
    limiter: Ratelimit.slidingWindow(rule.limit, `${rule.windowSeconds} s`),
    prefix: ctx.cache.key(prefix),
    // The in-isolate block cache would outlive a test's or an operator's reset; Redis is the one counter.
    ephemeralCache: false,
    analytics: false,
    timeout: ctx.config.cacheTimeoutMs,
  });
}

export async function consumeRateLimit(
  ctx: ServiceContext,
  input: { prefix: string; rule: RateLimitRule; identifier: string },
): Promise<RateLimitOutcome | null> {
  const limiter = slidingWindow(ctx, input.prefix, input.rule);
  if (!limiter) return null;
  try {
    const result = await limiter.limit(input.identifier);
    return {
      allowed: result.success,
      limit: result.limit,
      remaining: Math.max(0, result.remaining),
      resetSeconds: Math.max(1, Math.ceil((result.reset - Date.now()) / 1000)),
    };
  } catch (error) {
    ctx.logger.warn("rate limiter unavailable; allowing request", {
      prefix: input.prefix,
      error: String(error),
    });
    return null;
  }
}
