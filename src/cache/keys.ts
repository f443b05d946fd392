/**
 * Every Redis key Tradewind writes, in one place: its name pattern, value shape and TTL. Names here are
 * unprefixed; `Cache.key()` adds `CACHE_KEY_PREFIX` (default `tw:`) so deployments and test runs can
 * share a Redis without colliding.
 *
 * | key                         | value                                            | TTL     | written by              |
 * |-----------------------------|--------------------------------------------------|---------|-------------------------|
 * | tenant:profile:<slug>       | JSON TenantPublicProfile {id,slug,name,status}    | 1 h     | tenants service (read-through, invalidated on change) |
 * | cron:last-run:<cron>        | JSON { cron, scheduledTime, finishedAt }         | 7 d     | cron dispatcher         |
 * | auth:user:<tenant>:<user>   | JSON CachedUserAuth {active,superuser,permissions,tokensValidAfter} | 5 min | auth middleware (read-through; deleted on user/role change) |
 * | auth:tenant:<tenant>        | JSON { status }                                  | 5 min   | auth middleware (deleted on suspend/reactivate) |
 * | auth:session-revoked:<sid>  | "1": the session was signed out; its access tokens die now | access-token TTL | logout, session revoke, refresh reuse |
 * | auth:apikey:<sha256>        | JSON CachedApiKey {id,tenantId,scopes,expiresAt,revoked,tenantStatus} | 1 min | API-key auth (deleted on revoke) |
 * | lingxing:token:<appId>      | sealed JSON { accessToken, refreshToken, expiresAt } (secret-box, aad lingxing-token:<appId>) | until expiry | Lingxing adapter token store |
 * | lingxing:token-lock:<appId> | random owner id: one isolate refreshes at a time (refresh tokens are single-use) | 10 s | Lingxing adapter token store |
 * | idem:<tenant>:<caller>:<sha256(key)> | JSON { state: pending, fingerprint } while the write runs, then { state: done, fingerprint, status, contentType, body } | 24 h | Idempotency-Key handling (src/http/idempotency.ts) |
 * | any key above, invalidated  | JSON { tombstone: true } (invalidateCache)       | 30 s    | readers treat it as a miss; auth read-through writes use NX |
 * | rl:<group>:<id>…            | @upstash/ratelimit sliding-window counters       | window  | rate-limit middleware   |
 * | auth:fail:acct|ip:<id>…     | @upstash/ratelimit counters of failed logins     | window  | login lockout           |
 * | auth:lock:<tenant>:<login>  | "1": account locked out (progressive)            | 15 min × 2^(n-1), ≤ 24 h | login lockout |
 * | auth:strikes:<tenant>:<login> | integer: lockouts in the last 24 h             | 24 h    | login lockout           |
 * | webhook:seen:<tenant>:<dedupe key> | "pending" while the receiver stores the event, then the event id: the fast path of "seen once" (Postgres' unique index is the truth) | 60 s, then 1 h | webhook receivers |
 * | webhook:rejected:<source>:<scope>:<yyyymmddhh> | integer: deliveries refused (bad signature / stale) in that UTC hour; scope `all` = the source's total | 48 h | webhook receivers (alerting, /webhooks/sources) |
 * | rl:webhook:<source>:<scope>… | @upstash/ratelimit counters per webhook source (connection, endpoint, or 17track) | window | webhook receivers |
 */
/**
 * What `invalidateCache` leaves behind instead of deleting a key: a 30 s marker. Readers treat it as a
 * miss; read-through writers of the auth records write with `NX`, so a request that read Postgres
 * just before a change cannot put the old value back just after the invalidation.
 */
export const TOMBSTONE = { tombstone: true } as const;
export const TOMBSTONE_TTL_SECONDS = 30;

export function isTombstone(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { tombstone?: unknown }).tombstone === true;
}

export const cacheKeys = {
  tenantProfile: { name: (slug: string) => `tenant:profile:${slug}`, ttlSeconds: 60 * 60 },
  cronLastRun: { name: (cron: string) => `cron:last-run:${cron}`, ttlSeconds: 7 * 24 * 60 * 60 },
  authUser: {
    name: (tenantId: string, userId: string) => `auth:user:${tenantId}:${userId}`,
    ttlSeconds: 5 * 60,
  },
  authTenant: { name: (tenantId: string) => `auth:tenant:${tenantId}`, ttlSeconds: 5 * 60 },
  authSessionRevoked: { name: (sessionId: string) => `auth:session-revoked:${sessionId}` },
  authApiKey: { name: (keyHash: string) => `auth:apikey:${keyHash}`, ttlSeconds: 60 },
  loginLock: { name: (account: string) => `auth:lock:${account}` },
  idempotency: {
    name: (tenantId: string, caller: string, keyHash: string) => `idem:${tenantId}:${caller}:${keyHash}`,
    ttlSeconds: 24 * 60 * 60,
  },
  lingxingToken: { name: (appId: string) => `lingxing:token:${appId}` },
  lingxingTokenLock: { name: (appId: string) => `lingxing:token-lock:${appId}` },
  loginStrikes: { name: (account: string) => `auth:strikes:${account}`, ttlSeconds: 24 * 60 * 60 },
  webhookSeen: {
    name: (tenantId: string, dedupeKey: string) => `webhook:seen:${tenantId}:${dedupeKey}`,
    pendingTtlSeconds: 60,
    ttlSeconds: 60 * 60,
  },
  webhookRejected: {
    name: (source: string, scope: string, hour: string) => `webhook:rejected:${source}:${scope}:${hour}`,
    ttlSeconds: 48 * 60 * 60,
  },
} as const;
