// `npm start`: Tradewind on this machine with no cloud account and no docker.
// Postgres: DATABASE_URL, else an embedded PGlite under .data/. Redis: REDIS_URL, else 127.0.0.1:6379,
// else no cache (loudly). Gateways speak Neon's and Upstash's protocols to them; wrangler dev runs the Worker.
import { spawn } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import type * as PgModule from "pg";
import type * as RedisModule from "redis";
import { hashPassword } from "../src/services/auth/password.ts";
import { PERMISSIONS } from "../src/services/auth/permissions.ts";
import {
  DEMO_LINGXING_APP_ID,
  DEMO_SHOP,
  registerDemoWebhooks,
  seedDemoConnections,
  startDemoFakes,
} from "./demo-hub.ts";
import { ensureDatabase, migrateDatabase, withDatabase } from "./migrate.ts";
import { startNeonGateway } from "./neon-gateway.ts";
import { startUpstashGateway } from "./upstash-gateway.ts";

const requireCjs = createRequire(import.meta.url);
const pg = requireCjs("pg") as typeof PgModule;
const { createClient } = requireCjs("redis") as typeof RedisModule;

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DATA_DIR = `${ROOT}.data`;
const PORT = Number(process.env.PORT ?? 8787);
const started = performance.now();
const cleanups: (() => Promise<unknown> | unknown)[] = [];

function say(line: string) {
  console.log(`[tradewind] ${line}`);
}

function seconds(): string {
  return `${((performance.now() - started) / 1000).toFixed(1)} s`;
}

async function startPostgres(): Promise<{ url: string; embedded: boolean }> {
  if (process.env.DATABASE_URL) {
    say("postgres: using DATABASE_URL");
    // A local server: create the named database on first run (needs CREATEDB; harmless where it exists).
    const name = new URL(process.env.DATABASE_URL).pathname.slice(1);
    await ensureDatabase(withDatabase(process.env.DATABASE_URL, "postgres"), name).catch(() => undefined);
    return { url: process.env.DATABASE_URL, embedded: false };
  }
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  await mkdir(`${DATA_DIR}/pglite`, { recursive: true });
  const { pg_trgm } = await import("@electric-sql/pglite/contrib/pg_trgm");
  // pg_trgm backs the user search index (migration 0005); PGlite ships it as a loadable extension.
  const db = await PGlite.create(`${DATA_DIR}/pglite`, { extensions: { pg_trgm } });
  const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1" });
  await server.start();
  const address = server.getServerConn();
  cleanups.push(async () => {
    await server.stop();
    await db.close();
  });
  say(`postgres: embedded PGlite (data in .data/pglite) at ${address}`);
  return { url: `postgres://postgres@${address}/postgres`, embedded: true };
}

async function redisReachable(url: string): Promise<boolean> {
  const client = createClient({ url, RESP: 2, socket: { connectTimeout: 1500, reconnectStrategy: false } });
  client.on("error", () => undefined);
  try {
    await client.connect();
    await client.ping();
    return true;
  } catch {
    return false;
  } finally {
    if (client.isOpen) await client.quit().catch(() => undefined);
  }
}

const PLATFORM_TENANT_ID = "00000000-0000-4000-8000-000000000001";
const SEED_PASSWORD = process.env.SEED_ADMIN_PASSWORD ?? "tradewind-demo-password";

/**
 * Local development only, idempotent: the demo tenant with an Administrator role and its admin, and a
 * platform admin. The seeded passwords are reset to SEED_ADMIN_PASSWORD on every start, so the printed
 * password always works.
 */
async function seedDemo(ownerUrl: string) {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const hash = await hashPassword(SEED_PASSWORD);
    await client.query("begin");
    const tenant = await client.query<{ id: string }>(
      `insert into tenants (slug, name) values ('demo', 'Demo Trading Co.')
       on conflict (slug) do update set slug = excluded.slug returning id`,
    );
    const demoId = tenant.rows[0]?.id;
    if (!demoId) throw new Error("demo tenant was not created");
    const role = await client.query<{ id: string }>(
      `insert into roles (tenant_id, name, description, permissions) values ($1, 'Administrator', 'Every permission', $2)
       on conflict (tenant_id, lower(name)) do update set permissions = excluded.permissions returning id`,
      [demoId, [...PERMISSIONS]],
    );
    for (const [tenantId, email, fullName] of [
      [demoId, "admin@demo.local", "Demo Admin"],
      [PLATFORM_TENANT_ID, "platform@tradewind.local", "Platform Admin"],
    ] as const) {
      const user = await client.query<{ id: string }>(
        `insert into users (tenant_id, email, full_name, password_hash, superuser) values ($1, $2, $3, $4, true)
         on conflict (tenant_id, email) where deleted_at is null and email is not null
         do update set password_hash = excluded.password_hash, active = true, superuser = true, tokens_valid_after = null
         returning id`,
        [tenantId, email, fullName, hash],
      );
      if (tenantId === demoId) {
        await client.query(
          "insert into user_roles (tenant_id, user_id, role_id) values ($1, $2, $3) on conflict do nothing",
          [demoId, user.rows[0]?.id, role.rows[0]?.id],
        );
      }
    }
    await client.query("commit");
  } catch (error) {
    await client.query("rollback").catch(() => undefined);
    throw error;
  } finally {
    await client.end();
  }
}

/**
 * Signing and encryption keys for local runs, generated once into .data/secrets.json (mode 600) so
 * tokens and sealed credentials survive a restart. JWT_SIGNING_KEYS / CREDENTIALS_KEYS in the
 * environment win.
 */
async function localSecrets(): Promise<{ jwtSigningKeys: string; credentialsKeys: string }> {
  const file = `${DATA_DIR}/secrets.json`;
  let saved: { jwtSigningKeys?: string; credentialsKeys?: string } = {};
  try {
    saved = JSON.parse(await readFile(file, "utf8")) as typeof saved;
  } catch {
    // first start
  }
  const secrets = {
    jwtSigningKeys:
      saved.jwtSigningKeys ??
      JSON.stringify([
        { ...generateKeyPairSync("ed25519").privateKey.export({ format: "jwk" }), kid: `dev-${Date.now()}` },
      ]),
    credentialsKeys: saved.credentialsKeys ?? `dev1:${randomBytes(32).toString("base64")}`,
  };
  await mkdir(DATA_DIR, { recursive: true });
  await writeFile(file, JSON.stringify(secrets), { mode: 0o600 });
  await chmod(file, 0o600);
  return {
    jwtSigningKeys: process.env.JWT_SIGNING_KEYS ?? secrets.jwtSigningKeys,
    credentialsKeys: process.env.CREDENTIALS_KEYS ?? secrets.credentialsKeys,
  };
}

async function waitForHealth(url: string, child: ReturnType<typeof spawn>): Promise<void> {
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
      if (res.status === 200 || res.status === 503) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error("wrangler dev did not answer /health within 90 s");
}

async function main() {
  const postgres = await startPostgres();
  await migrateDatabase(postgres.url);
  await seedDemo(postgres.url);
  const secrets = await localSecrets();
  await seedDemoConnections(postgres.url, secrets.credentialsKeys);
  say(`postgres: migrations applied (${seconds()})`);

  // The demo tenant's Shopify store and Lingxing ERP, and a TikTok Shop API (test/fakes), on fixed ports
  // for the README's curl lines.
  const demo = await startDemoFakes({
    ordersEverySeconds: Number(process.env.DEMO_ORDERS_EVERY_SECONDS ?? 30),
  });
  cleanups.push(() => demo.close());
  say(
    `fake Shopify: ${demo.shopify.url} (shop ${DEMO_SHOP}); fake Lingxing: ${demo.lingxing.url} (app ${DEMO_LINGXING_APP_ID}); fake TikTok Shop: ${demo.tiktok.url}`,
  );

  const pgUrl = new URL(postgres.url);
  const neon = await startNeonGateway({
    allowedTargets: [`${pgUrl.hostname}:${pgUrl.port || "5432"}`],
    singleSession: postgres.embedded,
  });
  cleanups.push(() => neon.close());
  say(`neon gateway: ${neon.url}/sql and ws://${neon.wsProxy}`);

  const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
  const token = randomBytes(24).toString("hex");
  let upstashUrl = "";
  if (await redisReachable(redisUrl)) {
    const upstash = await startUpstashGateway({ redisUrl, token });
    cleanups.push(() => upstash.close());
    upstashUrl = upstash.url;
    say(`upstash gateway: ${upstash.url} -> ${new URL(redisUrl).host}`);
  } else {
    console.warn("");
    console.warn(`  !!! REDIS IS NOT REACHABLE at ${new URL(redisUrl).host} — starting WITHOUT the cache.`);
    console.warn("  !!! The API runs degraded: no cache fallback, /health reports redis 'disabled'.");
    console.warn("  !!! Start Redis or set REDIS_URL, then restart `npm start`.");
    console.warn("");
  }

  // Bindings go through an env file (mode 600), not --var, so wrangler does not echo secrets.
  const envFile = `${DATA_DIR}/dev.env`;
  const vars: Record<string, string> = {
    APP_ENV: "development",
    LOG_LEVEL: process.env.LOG_LEVEL ?? "info",
    DATABASE_URL: postgres.url,
    NEON_HTTP_ENDPOINT: `${neon.url}/sql`,
    NEON_WS_PROXY: neon.wsProxy,
    UPSTASH_REDIS_REST_URL: upstashUrl,
    UPSTASH_REDIS_REST_TOKEN: token,
    CORS_ORIGINS: process.env.CORS_ORIGINS ?? "",
    SECURE_HEADERS: "on",
    RATE_LIMITS: process.env.RATE_LIMITS ?? "",
    JWT_SIGNING_KEYS: secrets.jwtSigningKeys,
    CREDENTIALS_KEYS: secrets.credentialsKeys,
    SHOPIFY_API_BASE: `${demo.shopify.url}/shops/{shop}`,
    LINGXING_API_BASE: demo.lingxing.url,
    TIKTOK_API_BASE: demo.tiktok.url,
    // Where channels deliver webhooks: the fakes accept plain http on loopback, so the fake Shopify
    // delivers signed webhooks straight to this Worker once its subscriptions are registered.
    PUBLIC_BASE_URL: process.env.PUBLIC_BASE_URL ?? `http://127.0.0.1:${PORT}`,
    WEBHOOK_TOLERANCE_SECONDS: process.env.WEBHOOK_TOLERANCE_SECONDS ?? "300",
  };
  // An optional secret: wrangler dev loads only the `[secrets] required` names from the env file, so it
  // goes in as a --var (a local-only key, fine to echo). It enables /webhooks/17track for hand-signed pushes.
  const track17Keys = process.env.TRACK17_SECURITY_KEYS ?? "demo-17track-key";
  await mkdir(DATA_DIR, { recursive: true });
  await writeFile(
    envFile,
    `${Object.entries(vars)
      // Single quotes are literal in dotenv (JSON keys keep their double quotes); double quotes otherwise.
      .map(([k, v]) => `${k}=${v.includes("'") ? JSON.stringify(v) : `'${v}'`}`)
      .join("\n")}\n`,
    { mode: 0o600 },
  );
  await chmod(envFile, 0o600);

  const wrangler = spawn(
    process.execPath,
    [
      `${ROOT}node_modules/wrangler/bin/wrangler.js`,
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(PORT),
      "--test-scheduled",
      "--env-file",
      envFile,
      ...(track17Keys ? ["--var", `TRACK17_SECURITY_KEYS:${track17Keys}`] : []),
      "--persist-to",
      `${DATA_DIR}/wrangler`,
      "--show-interactive-dev-session=false",
      ...(process.env.WRANGLER_LOG_LEVEL ? ["--log-level", process.env.WRANGLER_LOG_LEVEL] : []),
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "inherit", "inherit"],
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    },
  );
  cleanups.push(() => {
    if (wrangler.exitCode === null) wrangler.kill("SIGTERM");
  });
  const url = `http://127.0.0.1:${PORT}`;
  await waitForHealth(url, wrangler);
  say(`ready: ${url}  (health ${url}/health, docs ${url}/docs) in ${seconds()}`);
  // wrangler dev never fires Cron Triggers by itself: tick them as Cloudflare would.
  const cronEvery = Number(process.env.DEMO_CRON_SECONDS ?? 60);
  if (cronEvery > 0) {
    let ticks = 0;
    const tick = () => {
      const crons = ticks % 5 === 0 ? ["* * * * *", "*/5 * * * *"] : ["* * * * *"];
      ticks += 1;
      for (const cron of crons) {
        fetch(`${url}/__scheduled?cron=${encodeURIComponent(cron)}`).catch(() => undefined);
      }
    };
    tick();
    const timer = setInterval(tick, cronEvery * 1000);
    cleanups.push(() => clearInterval(timer));
    say(
      `cron: ticking every ${cronEvery} s (DEMO_CRON_SECONDS; 0 = off; by hand: ${url}/__scheduled?cron=*+*+*+*+*)`,
    );
  }
  say(`sign in: tenant "demo" as admin@demo.local, or tenant "platform" as platform@tradewind.local`);
  say(`         password "${SEED_PASSWORD}" (SEED_ADMIN_PASSWORD; local seed only)`);
  say(
    `webhooks: ${url}/webhooks/shopify/<demo Shopify connection id>, signed with DEMO_SHOPIFY_WEBHOOK_SECRET (README: "Send a webhook")`,
  );
  // Not awaited: the subscriptions are registered through the hub's queue, which may take a moment.
  registerDemoWebhooks(demo, url, SEED_PASSWORD)
    .then((outcome) => say(`webhooks: fake Shopify → ${vars.PUBLIC_BASE_URL}: ${outcome}`))
    .catch((error: unknown) =>
      console.warn(
        `[tradewind] webhooks: the demo store's subscriptions were not registered (${error instanceof Error ? error.message : String(error)}); the cron pulls still run`,
      ),
    );
  wrangler.on("exit", (code) => {
    say(`wrangler dev exited (${code}); shutting down`);
    void shutdown(code ?? 1);
  });
}

let stopping = false;
async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch {
      // keep going: every resource gets its chance to close
    }
  }
  process.exit(code);
}

process.on("SIGINT", () => void shutdown(0));
process.on("SIGTERM", () => void shutdown(0));

main().catch((error: unknown) => {
  console.error(`[tradewind] failed to start: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
