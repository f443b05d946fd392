import { cacheKeys } from "../../cache/keys";
import { RateLimitedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { slidingWindow } from "../rate-limit/limiter";

/**
 * Brute-force protection for password login: failed attempts are counted per account and per IP in a
 * sliding window (defaults 10 and 30 per 15 minutes). Reaching the account limit locks the account for
 * one window, doubling with each further lockout within 24 hours (capped at 24 hours). Unknown accounts
 * are counted exactly like real ones, so lockouts reveal nothing about who exists.
 *
 * Counters live in Redis only (rebuildable: at worst an attacker gets a fresh window after a Redis loss).
 */
const MAX_LOCK_SECONDS = 24 * 60 * 60;

export interface LoginSubject {
  /** `<tenantId>:<normalised login name>` */
  account: string;
  ip: string;
}

function limiters(ctx: ServiceContext) {
  const { maxFailuresPerAccount, maxFailuresPerIp, failureWindowSeconds } = ctx.config.auth;
  return {
    account: slidingWindow(ctx, "auth:fail:acct", {
      limit: maxFailuresPerAccount,
      windowSeconds: failureWindowSeconds,
    }),
    ip: slidingWindow(ctx, "auth:fail:ip", { limit: maxFailuresPerIp, windowSeconds: failureWindowSeconds }),
  };
}

/** Throws 429 with Retry-After while the account is locked or the IP has used its failures. */
export async function assertLoginAllowed(ctx: ServiceContext, subject: LoginSubject): Promise<void> {
  const redis = ctx.cache.redis;
  const { ip } = limiters(ctx);
  if (!redis || !ip) return;
  try {
    const [lockMs, ipState] = await Promise.all([
      redis.pttl(ctx.cache.key(cacheKeys.loginLock.name(subject.account))),
      ip.getRemaining(subject.ip),
    ]);
    if (lockMs > 0) {
      throw new RateLimitedError(
        "Too many failed sign-in attempts; try again later",
        Math.ceil(lockMs / 1000),
      );
    }
    if (ipState.remaining <= 0) {
      throw new RateLimitedError(
        "Too many failed sign-in attempts from this address; try again later",
        Math.max(1, Math.ceil((ipState.reset - Date.now()) / 1000)),
      );
    }
  } catch (error) {
    if (error instanceof RateLimitedError) throw error;
    ctx.logger.warn("login guard unavailable; allowing attempt", { error: String(error) });
  }
}

export async function recordLoginFailure(ctx: ServiceContext, subject: LoginSubject): Promise<void> {
  const redis = ctx.cache.redis;
  const { account, ip } = limiters(ctx);
  if (!redis || !account || !ip) return;
  try {
    const [accountResult] = await Promise.all([account.limit(subject.account), ip.limit(subject.ip)]);
    if (accountResult.remaining > 0) return;
    const strikesKey = ctx.cache.key(cacheKeys.loginStrikes.name(subject.account));
    const strikes = await redis.incr(strikesKey);
    await redis.expire(strikesKey, cacheKeys.loginStrikes.ttlSeconds);
    const base = ctx.config.auth.failureWindowSeconds;
    const lockSeconds = Math.min(MAX_LOCK_SECONDS, base * 2 ** Math.max(0, strikes - 1));
    await redis.set(ctx.cache.key(cacheKeys.loginLock.name(subject.account)), "1", { ex: lockSeconds });
    // A fresh count starts after the lock, so the next lockout needs a full set of failures again.
    await account.resetUsedTokens(subject.account);
    ctx.logger.warn("account locked after repeated sign-in failures", { strikes, lockSeconds });
  } catch (error) {
    ctx.logger.warn("could not record sign-in failure", { error: String(error) });
  }
}

export async function recordLoginSuccess(ctx: ServiceContext, subject: LoginSubject): Promise<void> {
  const { account } = limiters(ctx);
  if (!account) return;
  try {
    await account.resetUsedTokens(subject.account);
  } catch (error) {
    ctx.logger.warn("could not reset sign-in failures", { error: String(error) });
  }
}
