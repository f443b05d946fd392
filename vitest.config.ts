import { cloudflareTest } from "@cloudflare/vitest-pool-workers";
import { defineConfig } from "vitest/config";

/**
 * Two projects: `unit` runs pure logic in Node (fast, no I/O); `workers` runs in workerd through
 * vitest-pool-workers against the real Postgres and Redis, reached through the same drivers production
 * uses via the local gateways that test/global-setup.ts starts.
 */
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "unit",
          include: ["test/unit/**/*.test.ts", "src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "gateways",
          include: ["test/gateways/**/*.test.ts"],
          environment: "node",
          testTimeout: 120_000,
        },
      },
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            main: "./src/index.ts",
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                APP_ENV: "test",
                LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? "error",
                DATABASE_URL: inject("databaseUrl"),
                NEON_HTTP_ENDPOINT: inject("neonHttpEndpoint"),
                NEON_WS_PROXY: inject("neonWsProxy"),
                UPSTASH_REDIS_REST_URL: inject("upstashUrl"),
                UPSTASH_REDIS_REST_TOKEN: inject("upstashToken"),
                CACHE_KEY_PREFIX: inject("cacheKeyPrefix"),
                JWT_SIGNING_KEYS: inject("jwtSigningKeys"),
                CREDENTIALS_KEYS: inject("credentialsKeys"),
                WECHAT_API_BASE: inject("wechatApiBase"),
                SHOPIFY_API_BASE: `${inject("shopifyFakeUrl")}/shops/{shop}`,
                LINGXING_API_BASE: inject("lingxingFakeUrl"),
                TIKTOK_API_BASE: inject("tiktokFakeUrl"),
                PUBLIC_BASE_URL: "https://tradewind.test",
                TRACK17_SECURITY_KEYS: "test-17track-key-current,test-17track-key-previous",
                // Short enough that timeout and breaker paths run in a test's time.
                UPSTREAM_TIMEOUT_MS: "1500",
                BREAKER_OPEN_MS: "1000",
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: ["./test/global-setup.ts"],
        },
      },
    ],
  },
});
