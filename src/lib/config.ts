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
}

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
