import { defineConfig } from "vitest/config";
import { prepareSmtpTestTls } from "./test/fakes/smtp-tls.ts";

// workerd verifies TLS certificates, and Miniflare reads the extra CAs it trusts (NODE_EXTRA_CA_CERTS)
// once, when it is first imported: the SMTP fake's test CA must be in place before the pool (which
// imports Miniflare) loads, hence the dynamic import after it (test/fakes/smtp-tls.ts).
prepareSmtpTestTls();
const { cloudflareTest } = await import("@cloudflare/vitest-pool-workers");

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
                COZE_API_BASE: inject("cozeFakeUrl"),
                PUBLIC_BASE_URL: "https://tradewind.test",
                TRACK17_SECURITY_KEYS: "test-17track-key-current,test-17track-key-previous",
                TRACK17_API_BASE: inject("track17FakeUrl"),
                // No TRACK17_API_KEY: the every-minute cron of every other test file then claims no parcel
                // registration (one is cross-tenant and would register other files' numbers meanwhile);
                // test/workers/tracking-registration.test.ts gives each test its own key.
                // Short enough that timeout and breaker paths run in a test's time.
                UPSTREAM_TIMEOUT_MS: "1500",
                BREAKER_OPEN_MS: "1000",
                // Chats close after 10 idle minutes in tests; the tests move a chat's clock instead of waiting.
                CHAT_IDLE_TIMEOUT_SECONDS: "600",
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
