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
 * | coze:token:<connectionId>  | sealed JSON { accessToken, expiresAt, usableUntil } (secret-box, aad coze-token:<tenant>:<connection>:<appId>:<keyId>) | until usableUntil (expiry − min(60 s, lifetime/5)) | AI replies (src/services/ai/coze-tokens.ts) |
 * | coze:token-lock:<connectionId> | random owner id: one caller mints a Coze access token at a time, the others wait for it | 10 s | AI replies |
 * | rl:ai:tenant:<tenant>…     | @upstash/ratelimit counters of AI replies per tenant (`RATE_LIMITS.ai`) | window | AI replies (src/services/ai/stream-ai-reply.ts) |
 * | idem:<tenant>:<caller>:<sha256(key)> | JSON { state: pending, fingerprint } while the write runs, then { state: done, fingerprint, status, contentType, body } | 24 h | Idempotency-Key handling (src/http/idempotency.ts) |
 * | lookup:orders:<tenant>:<sha256(criteria)> | hash { searchedAt (epoch ms), complete (1, or 0 for a partial answer), result (JSON OrderLookupResult) }, written by a script that never lets an older answer, or a partial one over a fresh complete one, replace it — the criteria (order number, email, phone) only as a hash | 15 min (fresh 60 s; a partial answer is stale at once) | order lookup (stale-while-revalidate; cron warms recent orders) |
 * | lookup:orders-refresh:<tenant>:<sha256(criteria)> | random owner id: one background refresh of a stale lookup at a time | 30 s | order lookup |
 * | lookup:active-tenants      | sorted set: tenant id → epoch ms of its latest order lookup (the cron warms only these; members older than 24 h are trimmed) | 24 h (renewed on each lookup) | order lookup |
 * | email:status:<tenant>:<email id> | JSON EmailMessageView (no bodies): the message's latest status, written after every status change; served for GET /emails/{id} when Postgres is down | 7 d | email sending (src/services/email/email-model.ts); Postgres email_messages is the truth |
 * | any key above, invalidated  | JSON { tombstone: true } (invalidateCache)       | 30 s    | readers treat it as a miss; auth read-through writes use NX |
 * | rl:<group>:<id>…            | @upstash/ratelimit sliding-window counters       | window  | rate-limit middleware   |
 * | auth:fail:acct|ip:<id>…     | @upstash/ratelimit counters of failed logins     | window  | login lockout           |
 * | auth:lock:<tenant>:<login>  | "1": account locked out (progressive)            | 15 min × 2^(n-1), ≤ 24 h | login lockout |
 * | auth:strikes:<tenant>:<login> | integer: lockouts in the last 24 h             | 24 h    | login lockout           |
 * | webhook:seen:<tenant>:<dedupe key> | "pending" while the receiver stores the event, then the event id: the fast path of "seen once" (Postgres' unique index is the truth) | 60 s, then 1 h | webhook receivers |
 * | webhook:rejected:<source>:<scope>:<yyyymmddhh> | integer: deliveries refused (bad signature / stale) in that UTC hour; scope `all` = the source's total | 48 h | webhook receivers (alerting, /webhooks/sources) |
 * | rl:webhook:<source>:<scope>… | @upstash/ratelimit counters per webhook source (connection, endpoint, or 17track) | window | webhook receivers |
 * | audit:recent:<tenant>      | list of JSON AuditRecord {id,entityType,entityId,action,actor,actorKey,changes,requestId,occurredAt}, newest first, capped at 200 (LTRIM) | 7 d (renewed on each push) | audit feed after each audited change (src/services/audit/audit-feed.ts); Postgres audit_log is the truth |
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
  emailStatus: {
    name: (tenantId: string, emailId: string) => `email:status:${tenantId}:${emailId}`,
    ttlSeconds: 7 * 24 * 60 * 60,
  },
  lingxingTokenLock: { name: (appId: string) => `lingxing:token-lock:${appId}` },
  cozeToken: { name: (connectionId: string) => `coze:token:${connectionId}` },
  cozeTokenLock: { name: (connectionId: string) => `coze:token-lock:${connectionId}` },
  loginStrikes: { name: (account: string) => `auth:strikes:${account}`, ttlSeconds: 24 * 60 * 60 },
  webhookSeen: {
    name: (tenantId: string, dedupeKey: string) => `webhook:seen:${tenantId}:${dedupeKey}`,
    pendingTtlSeconds: 60,
    ttlSeconds: 60 * 60,
  },
  orderLookup: {
    name: (tenantId: string, criteriaHash: string) => `lookup:orders:${tenantId}:${criteriaHash}`,
    /** How long an entry is kept: a stale answer beats no answer while a store is down. */
    ttlSeconds: 15 * 60,
    /** Younger than this, an answer is served as it is; older, it is served and refreshed. */
    freshSeconds: 60,
  },
  orderLookupRefreshLock: {
    name: (tenantId: string, criteriaHash: string) => `lookup:orders-refresh:${tenantId}:${criteriaHash}`,
    ttlSeconds: 30,
  },
  orderLookupActiveTenants: { name: () => "lookup:active-tenants", ttlSeconds: 24 * 60 * 60 },
  webhookRejected: {
    name: (source: string, scope: string, hour: string) => `webhook:rejected:${source}:${scope}:${hour}`,
    ttlSeconds: 48 * 60 * 60,
  },
  auditRecent: {
    name: (tenantId: string) => `audit:recent:${tenantId}`,
    maxLength: 200,
    ttlSeconds: 7 * 24 * 60 * 60,
  },
} as const;
