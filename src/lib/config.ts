import { type LogLevel, parseLogLevel } from "./logger";

/** Env vars and secrets the Worker reads, parsed once per isolate into typed settings. */
export interface AppConfig {
  appEnv: "development" | "test" | "production";
  logLevel: LogLevel;
  databaseUrl: string;
  /** Local gateway in dev/test; undefined = Neon's hosted endpoint derived from the connection string. */
  neonHttpEndpoint: string | undefined;
  neonWsProxy: string | undefined;
  redisUrl: string | undefined;
  redisToken: string | undefined;
  cacheKeyPrefix: string;
  maxBodyBytes: number;
  corsOrigins: string[];
  secureHeaders: boolean;
  hstsMaxAge: number;
  dbTimeoutMs: number;
  cacheTimeoutMs: number;
  auth: AuthConfig;
  /** Requests per window per route group (`RATE_LIMITS`), keyed by tenant when signed in, else by IP. */
  rateLimits: Record<string, RateLimitRule>;
  /** `CREDENTIALS_KEYS`: `kid:base64key,…`, first = active (src/lib/secret-box.ts). Empty = cannot store credentials. */
  credentialsKeys: string;
  wechatApiBase: string;
  /** Shopify Admin API origin template; `{shop}` is replaced by the shop domain. */
  shopifyApiBase: string;
  lingxingApiBase: string;
  tiktokApiBase: string;
  /**
   * Coze OpenAPI origin (`COZE_API_BASE`); `{region}` is replaced by the AI connection's region (`com` or
   * `cn`: api.coze.com / api.coze.cn are separate deployments). A base without it serves every region.
   */
  cozeApiBase: string;
  /** This Worker's public origin, for webhook callback URLs; undefined = do not register webhooks. */
  publicBaseUrl: string | undefined;
  webhooks: {
    /** Max distance of a webhook's timestamp from now. */
    toleranceSeconds: number;
    /** `TRACK17_SECURITY_KEYS`: 17track push keys, current first; empty = receiver disabled. */
    track17Keys: string[];
  };
  /** Every call to a channel or ERP: its timeout, and when its endpoint's circuit breaker opens. */
  upstream: { timeoutMs: number; breakerFailureThreshold: number; breakerOpenMs: number };
  /**
   * 17track Tracking API: `TRACK17_API_KEY` (the account's security key, sent as `17token`; undefined =
   * parcels are queued but never registered) and `TRACK17_API_BASE`.
   */
  track17: { apiKey: string | undefined; apiBase: string };
  /** Live chats (src/durable-objects/chat-session.ts): idle close, and how long a customer's chat token lives. */
  chat: { idleTimeoutSeconds: number; tokenTtlSeconds: number };
}

export interface AuthConfig {
  /** `JWT_SIGNING_KEYS`: JSON array of private JWKs (Ed25519 `OKP` or P-256 `EC`, each with `kid`); the first signs. */
  signingKeys: string;
  issuer: string;
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  sessionMaxAgeSeconds: number;
  refreshReuseGraceSeconds: number;
  maxFailuresPerAccount: number;
  maxFailuresPerIp: number;
  failureWindowSeconds: number;
}

export interface RateLimitRule {
  limit: number;
  windowSeconds: number;
}

export const DEFAULT_RATE_LIMITS: Record<string, RateLimitRule> = {
  default: { limit: 600, windowSeconds: 60 },
  auth: { limit: 60, windowSeconds: 60 },
  public: { limit: 120, windowSeconds: 60 },
  /** Per signed-in session, on top of `auth` per IP. */
  refresh: { limit: 30, windowSeconds: 60 },
  /**
   * Per webhook source (one shop, one TikTok shop, one generic endpoint, 17track): far above any sender's
   * real rate (a Shopify bulk edit sends a few hundred a minute), low enough that a flood is shed at the
   * edge before it reaches Postgres. Senders retry a 429.
   */
  webhook: { limit: 3000, windowSeconds: 60 },
  /**
   * Per chat session, on the customer's HTTP calls (messages, handover, close, event streams): a person
   * types far fewer; a script looping on one session is stopped. WebSocket frames have their own
   * per-connection limit inside the ChatSession object.
   */
  chat: { limit: 120, windowSeconds: 60 },
  /**
   * Per tenant, AI replies (Coze chats) across all its chat sessions: bounds what one tenant's traffic (or a
   * script talking to its bot) can spend of its Coze quota and of ours. Over it, customers are told an agent
   * will reply.
   */
  ai: { limit: 120, windowSeconds: 60 },
};

export type ConfigSource = Pick<
  Env,
  | "APP_ENV"
  | "LOG_LEVEL"
  | "DATABASE_URL"
  | "NEON_HTTP_ENDPOINT"
  | "NEON_WS_PROXY"
  | "UPSTASH_REDIS_REST_URL"
  | "UPSTASH_REDIS_REST_TOKEN"
  | "CACHE_KEY_PREFIX"
  | "MAX_BODY_BYTES"
  | "CORS_ORIGINS"
  | "SECURE_HEADERS"
  | "HSTS_MAX_AGE"
  | "DB_TIMEOUT_MS"
  | "CACHE_TIMEOUT_MS"
  | "JWT_SIGNING_KEYS"
  | "JWT_ISSUER"
  | "JWT_AUDIENCE"
  | "ACCESS_TOKEN_TTL_SECONDS"
  | "REFRESH_TOKEN_TTL_SECONDS"
  | "SESSION_MAX_AGE_SECONDS"
  | "REFRESH_REUSE_GRACE_SECONDS"
  | "LOGIN_MAX_FAILURES_PER_ACCOUNT"
  | "LOGIN_MAX_FAILURES_PER_IP"
  | "LOGIN_FAILURE_WINDOW_SECONDS"
  | "RATE_LIMITS"
  | "CREDENTIALS_KEYS"
  | "WECHAT_API_BASE"
  | "SHOPIFY_API_BASE"
  | "LINGXING_API_BASE"
  | "TIKTOK_API_BASE"
  | "COZE_API_BASE"
  | "PUBLIC_BASE_URL"
  | "WEBHOOK_TOLERANCE_SECONDS"
  | "TRACK17_SECURITY_KEYS"
  | "TRACK17_API_KEY"
  | "TRACK17_API_BASE"
  | "UPSTREAM_TIMEOUT_MS"
  | "BREAKER_FAILURE_THRESHOLD"
  | "BREAKER_OPEN_MS"
  | "CHAT_IDLE_TIMEOUT_SECONDS"
  | "CHAT_TOKEN_TTL_SECONDS"
>;

const cache = new WeakMap<object, AppConfig>();

export function readConfig(env: ConfigSource): AppConfig {
  const hit = cache.get(env);
  if (hit) return hit;
  const appEnv = env.APP_ENV === "development" || env.APP_ENV === "test" ? env.APP_ENV : "production";
  const config: AppConfig = {
    appEnv,
    logLevel: parseLogLevel(env.LOG_LEVEL),
    databaseUrl: env.DATABASE_URL ?? "",
    neonHttpEndpoint: nonEmpty(env.NEON_HTTP_ENDPOINT),
    neonWsProxy: nonEmpty(env.NEON_WS_PROXY),
    redisUrl: nonEmpty(env.UPSTASH_REDIS_REST_URL),
    redisToken: nonEmpty(env.UPSTASH_REDIS_REST_TOKEN),
    cacheKeyPrefix: env.CACHE_KEY_PREFIX ?? "tw:",
    maxBodyBytes: positiveInt(env.MAX_BODY_BYTES, 1024 * 1024),
    corsOrigins: (env.CORS_ORIGINS ?? "")
      .split(",")
      .map((o) => o.trim())
      .filter(Boolean),
    secureHeaders: env.SECURE_HEADERS !== "off",
    hstsMaxAge: positiveInt(env.HSTS_MAX_AGE, 31536000),
    dbTimeoutMs: positiveInt(env.DB_TIMEOUT_MS, 8000),
    cacheTimeoutMs: positiveInt(env.CACHE_TIMEOUT_MS, 1500),
    auth: {
      signingKeys: env.JWT_SIGNING_KEYS ?? "",
      issuer: nonEmpty(env.JWT_ISSUER) ?? "tradewind",
      audience: nonEmpty(env.JWT_AUDIENCE) ?? "tradewind-api",
      accessTokenTtlSeconds: positiveInt(env.ACCESS_TOKEN_TTL_SECONDS, 15 * 60),
      refreshTokenTtlSeconds: positiveInt(env.REFRESH_TOKEN_TTL_SECONDS, 30 * 24 * 60 * 60),
      sessionMaxAgeSeconds: positiveInt(env.SESSION_MAX_AGE_SECONDS, 90 * 24 * 60 * 60),
      refreshReuseGraceSeconds: nonNegativeInt(env.REFRESH_REUSE_GRACE_SECONDS, 10),
      maxFailuresPerAccount: positiveInt(env.LOGIN_MAX_FAILURES_PER_ACCOUNT, 10),
      maxFailuresPerIp: positiveInt(env.LOGIN_MAX_FAILURES_PER_IP, 30),
      failureWindowSeconds: positiveInt(env.LOGIN_FAILURE_WINDOW_SECONDS, 15 * 60),
    },
    rateLimits: parseRateLimits(env.RATE_LIMITS),
    credentialsKeys: env.CREDENTIALS_KEYS ?? "",
    wechatApiBase: nonEmpty(env.WECHAT_API_BASE) ?? "https://api.weixin.qq.com",
    shopifyApiBase: nonEmpty(env.SHOPIFY_API_BASE) ?? "https://{shop}",
    lingxingApiBase: nonEmpty(env.LINGXING_API_BASE) ?? "https://openapi.lingxing.com",
    tiktokApiBase: nonEmpty(env.TIKTOK_API_BASE) ?? "https://open-api.tiktokglobalshop.com",
    cozeApiBase: nonEmpty(env.COZE_API_BASE) ?? "https://api.coze.{region}",
    publicBaseUrl: nonEmpty(env.PUBLIC_BASE_URL)?.replace(/\/+$/, ""),
    webhooks: {
      toleranceSeconds: positiveInt(env.WEBHOOK_TOLERANCE_SECONDS, 300),
      track17Keys: (env.TRACK17_SECURITY_KEYS ?? "")
        .split(",")
        .map((k) => k.trim())
        .filter(Boolean),
    },
    track17: {
      apiKey: nonEmpty(env.TRACK17_API_KEY),
      apiBase: nonEmpty(env.TRACK17_API_BASE) ?? "https://api.17track.net",
    },
    upstream: {
      timeoutMs: positiveInt(env.UPSTREAM_TIMEOUT_MS, 15_000),
      breakerFailureThreshold: positiveInt(env.BREAKER_FAILURE_THRESHOLD, 5),
      breakerOpenMs: positiveInt(env.BREAKER_OPEN_MS, 30_000),
    },
    chat: {
      idleTimeoutSeconds: positiveInt(env.CHAT_IDLE_TIMEOUT_SECONDS, 30 * 60),
      tokenTtlSeconds: positiveInt(env.CHAT_TOKEN_TTL_SECONDS, 4 * 60 * 60),
    },
  };
  cache.set(env, config);
  return config;
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}

function positiveInt(value: string | undefined, fallback: number): number {
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function nonNegativeInt(value: string | undefined, fallback: number): number {
  if (value === undefined || value.trim() === "") return fallback;
  const n = Number(value);
  return Number.isInteger(n) && n >= 0 ? n : fallback;
}

/**
 * `RATE_LIMITS` is JSON like `{"default":{"limit":600,"windowSeconds":60},"users":{"limit":120,"windowSeconds":60}}`;
 * groups not named fall back to `default`. A malformed value keeps the defaults rather than disabling limits.
 */
function parseRateLimits(raw: string | undefined): Record<string, RateLimitRule> {
  const rules: Record<string, RateLimitRule> = { ...DEFAULT_RATE_LIMITS };
  if (!raw?.trim()) return rules;
  try {
    const parsed: unknown = JSON.parse(raw);
    if (!parsed || typeof parsed !== "object") return rules;
    for (const [group, rule] of Object.entries(parsed)) {
      const { limit, windowSeconds } = (rule ?? {}) as Partial<RateLimitRule>;
      if (
        Number.isInteger(limit) &&
        Number.isInteger(windowSeconds) &&
        Number(limit) > 0 &&
        Number(windowSeconds) > 0
      ) {
        rules[group] = { limit: Number(limit), windowSeconds: Number(windowSeconds) };
      }
    }
  } catch {
    // keep the defaults
  }
  return rules;
}
