import type { Context, MiddlewareHandler } from "hono";
import { RateLimitedError } from "../lib/errors";
import { consumeRateLimit } from "../services/rate-limit/limiter";
import type { AppEnv } from "./types";

export function clientIp(c: Context<AppEnv>): string | null {
  return c.req.header("cf-connecting-ip") ?? null;
}

/**
 * The general API limit of a route group (`RATE_LIMITS`, falling back to `default`): per tenant once
 * signed in, per client IP before. Answers carry `RateLimit-Limit`, `RateLimit-Remaining` and
 * `RateLimit-Reset` (seconds); a 429 adds `Retry-After`.
 */
export function rateLimit(
  group: string,
  options: {
    /** Who the limit is for, when not the tenant or IP (e.g. one webhook source: a shop, an endpoint). */
    key?: (c: Context<AppEnv>) => string;
  } = {},
): MiddlewareHandler<AppEnv> {
  return async function rateLimit(c, next) {
    const ctx = c.var.services;
    const rule = ctx.config.rateLimits[group] ?? ctx.config.rateLimits.default;
    if (!rule) return next();
    const ip = clientIp(c);
    // Cloudflare always sets CF-Connecting-IP; without it (a local call, a test) there is no client to
    // key an anonymous limit on, and one shared "unknown" bucket would throttle unrelated callers together.
    if (!options.key && !ctx.tenantId && !ip) return next();
    const identifier = options.key ? options.key(c) : ctx.tenantId ? `tenant:${ctx.tenantId}` : `ip:${ip}`;
    const outcome = await consumeRateLimit(ctx, { prefix: `rl:${group}`, rule, identifier });
    if (!outcome) return next();
    const headers = {
      "RateLimit-Limit": String(outcome.limit),
      "RateLimit-Remaining": String(outcome.remaining),
      "RateLimit-Reset": String(outcome.resetSeconds),
    };
    for (const [name, value] of Object.entries(headers)) c.header(name, value);
    if (!outcome.allowed) throw new RateLimitedError("Rate limit exceeded; slow down", outcome.resetSeconds);
    await next();
    for (const [name, value] of Object.entries(headers)) c.res.headers.set(name, value);
  };
}
