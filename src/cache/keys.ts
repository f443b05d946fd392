/**
 * Every Redis key Tradewind writes, in one place: its name pattern, value shape and TTL. Names here are
 * unprefixed; `Cache.key()` adds `CACHE_KEY_PREFIX` (default `tw:`) so deployments and test runs can
 * share a Redis without colliding.
 *
 * | key                         | value                                            | TTL     | written by              |
 * |-----------------------------|--------------------------------------------------|---------|-------------------------|
 * | tenant:profile:<slug>       | JSON TenantPublicProfile {id,slug,name,status}    | 1 h     | tenants service (read-through, invalidated on change) |
 * | cron:last-run:<cron>        | JSON { cron, scheduledTime, finishedAt }         | 7 d     | cron dispatcher         |
 */
export const cacheKeys = {
  tenantProfile: { name: (slug: string) => `tenant:profile:${slug}`, ttlSeconds: 60 * 60 },
  cronLastRun: { name: (cron: string) => `cron:last-run:${cron}`, ttlSeconds: 7 * 24 * 60 * 60 },
} as const;
