// `npm run bench`: starts the local stack (or uses BENCH_URL), runs each scenario with autocannon and
// prints req/s, p50/p99 latency and the Postgres/Redis round trips the server reports in Server-Timing;
// then the webhook receivers' bench (bench/webhooks.ts; BENCH_FILTER=webhooks runs only that,
// BENCH_WEBHOOKS_BENCH=0 skips it) and the integration hub's pipeline bench (bench/pipeline.ts).
// BENCH_FILTER=pipeline runs only that (pipeline:throughput,batch,rate picks parts); BENCH_PIPELINE=0 skips it.
import { type ChildProcess, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import { hashPassword, verifyPassword } from "../src/services/auth/password.ts";
import { startCozeFake } from "../test/fakes/coze.ts";
import { chatOptionsFromEnv, cozeFakeUrlFromEnv, printChatReport, runChatBench } from "./chat.ts";
import {
  fakeUrlsFromEnv,
  pipelineOptionsFromEnv,
  printPipelineReport,
  runPipelineBench,
} from "./pipeline.ts";
import { type Scenario, scenarios } from "./scenarios.ts";
import {
  printWebhookReport,
  runWebhookBench,
  shopifyFakeUrlFromEnv,
  webhookOptionsFromEnv,
} from "./webhooks.ts";

/** CPU cost of one password check (scrypt, the parameters login uses), median of 9 runs on this machine. */
async function passwordCost(): Promise<string> {
  const hash = await hashPassword("bench-password-123");
  const samples: number[] = [];
  for (let i = 0; i < 9; i++) {
    const cpu = process.cpuUsage();
    await verifyPassword("bench-password-123", hash);
    const used = process.cpuUsage(cpu);
    samples.push((used.user + used.system) / 1000);
  }
  samples.sort((a, b) => a - b);
  return `${(samples[4] ?? 0).toFixed(1)} ms CPU (min ${(samples[0] ?? 0).toFixed(1)}, max ${(samples[8] ?? 0).toFixed(1)})`;
}

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const DURATION = Number(process.env.BENCH_DURATION ?? 5);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 10);
const FILTER = process.env.BENCH_FILTER;
const PIPELINE_ONLY = FILTER?.startsWith("pipeline") ?? false;
const WEBHOOKS_ONLY = FILTER === "webhooks";
const RUN_PIPELINE = process.env.BENCH_PIPELINE !== "0" && (!FILTER || PIPELINE_ONLY);
const RUN_WEBHOOKS = process.env.BENCH_WEBHOOKS_BENCH !== "0" && (!FILTER || WEBHOOKS_ONLY);
// The chat bench (bench/chat.ts): BENCH_FILTER=chat runs only it; BENCH_CHAT=0 skips it.
const CHAT_ONLY = FILTER === "chat";
const RUN_CHAT = process.env.BENCH_CHAT !== "0" && (!FILTER || CHAT_ONLY);
// The stack's fakes, away from the ports of an `npm start` that may be running beside the bench.
const FAKE_PORTS = {
  DEMO_SHOPIFY_PORT: process.env.DEMO_SHOPIFY_PORT ?? "8795",
  DEMO_LINGXING_PORT: process.env.DEMO_LINGXING_PORT ?? "8796",
  DEMO_TIKTOK_PORT: process.env.DEMO_TIKTOK_PORT ?? "8798",
};

/** The stack this run started, if any: stopped on every way out. */
let stackChild: ChildProcess | undefined;

async function startStack(): Promise<{ url: string; child: ChildProcess }> {
  const port = process.env.BENCH_PORT ?? "8797";
  const child = spawn(process.execPath, [`${ROOT}dev/start.ts`], {
    cwd: ROOT,
    env: {
      ...process.env,
      PORT: port,
      ...FAKE_PORTS,
      // Only the bench's own work on the queues: no cron ticks, no demo orders.
      DEMO_CRON_SECONDS: "0",
      DEMO_ORDERS_EVERY_SECONDS: "0",
      LOG_LEVEL: "warn",
      WRANGLER_LOG_LEVEL: "warn",
      // Load from one address would trip the per-IP and per-account limits that protect real traffic,
      // and the webhooks bench sends more than one source's 3,000 deliveries a minute.
      RATE_LIMITS:
        process.env.RATE_LIMITS ??
        JSON.stringify({
          default: { limit: 10_000_000, windowSeconds: 60 },
          auth: { limit: 10_000_000, windowSeconds: 60 },
          public: { limit: 10_000_000, windowSeconds: 60 },
          webhook: { limit: 10_000_000, windowSeconds: 60 },
          chat: { limit: 10_000_000, windowSeconds: 60 },
          ai: { limit: 10_000_000, windowSeconds: 60 },
        }),
    },
    stdio: ["ignore", "pipe", "inherit"],
    // Its own process group, so stopping it reaches wrangler and workerd even if dev/start.ts hangs.
    detached: true,
  });
  stackChild = child;
  const url = `http://127.0.0.1:${port}`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("local stack not ready within 120 s")), 120_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("[tradewind] ready:")) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on("exit", (code) => reject(new Error(`local stack exited (${code})`)));
  });
  // The stack's own output (the Worker's log lines included), for a look after a surprising run.
  child.stdout?.pipe(createWriteStream(`${ROOT}.data/bench-stack.log`));
  return { url, child };
}

/** One request outside the load, to read what the server says it spent. */
async function roundTrips(url: string, s: Scenario): Promise<string> {
  const res = await fetch(url + s.path, { method: s.method, headers: s.headers, body: s.body });
  await res.arrayBuffer();
  const timing = res.headers.get("server-timing") ?? "";
  const db = /db;dur=[\d.]+;desc="(\d+) rt"/.exec(timing)?.[1] ?? "?";
  const cache = /cache;dur=[\d.]+;desc="(\d+) rt"/.exec(timing)?.[1] ?? "?";
  return `db ${db} rt, cache ${cache} rt`;
}

async function run(url: string, scenario: Scenario) {
  const s = { ...scenario, ...(await scenario.prepare?.(url)) };
  const result = await autocannon({
    url: url + s.path,
    method: s.method,
    headers: s.headers,
    body: s.body,
    connections: s.connections ?? CONNECTIONS,
    duration: DURATION,
  });
  const expected = result.statusCodeStats?.[`${s.expectStatus}` as `${number}`]?.count ?? 0;
  const wrongStatus = result.requests.total - expected;
  return {
    scenario: s.name,
    "req/s": Math.round(result.requests.average),
    "p50 ms": result.latency.p50,
    "p99 ms": result.latency.p99,
    errors: result.errors + result.timeouts + wrongStatus,
    "server round trips": await roundTrips(url, s),
  };
}

async function main() {
  const external = process.env.BENCH_URL;
  try {
    // A started stack's Worker calls this Coze fake (wrangler dev takes COZE_API_BASE from the process
    // environment, which dev/start.ts passes on); it answers at once, for the chat bench's AI relay.
    const coze = RUN_CHAT && !external ? await startCozeFake() : undefined;
    if (coze) process.env.COZE_API_BASE = coze.url;
    const stack = external ? undefined : await startStack();
    const url = external ?? stack?.url ?? "";
    const selected =
      PIPELINE_ONLY || WEBHOOKS_ONLY || CHAT_ONLY
        ? []
        : scenarios.filter((s) => !FILTER || s.name.includes(FILTER));
    // Warm the isolate and the connections so the first scenario is not measuring startup.
    await autocannon({ url: `${url}/health`, connections: 2, amount: 50 });
    if (selected.length > 0) {
      console.log(`password verify (scrypt N=2^14 r=8 p=5): ${await passwordCost()}`);
      const rows = [];
      for (const s of selected) rows.push(await run(url, s));
      console.log(`\n${CONNECTIONS} connections, ${DURATION} s per scenario, against ${url}`);
      console.table(rows);
    }
    if (RUN_WEBHOOKS) {
      // A started stack's Shopify fake is on FAKE_PORTS; an external one's on its own DEMO_SHOPIFY_PORT.
      const shopifyUrl = shopifyFakeUrlFromEnv(external ? process.env : { ...process.env, ...FAKE_PORTS });
      const started = performance.now();
      printWebhookReport(await runWebhookBench({ url, shopifyUrl }, webhookOptionsFromEnv()));
      console.log(`webhooks bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    if (RUN_CHAT) {
      const started = performance.now();
      const cozeUrl = coze?.url ?? cozeFakeUrlFromEnv();
      printChatReport(await runChatBench({ url, cozeUrl }, chatOptionsFromEnv()));
      console.log(`chat bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
      await coze?.close();
    }
    if (RUN_PIPELINE) {
      // A started stack's fakes are on FAKE_PORTS; an external one's on its own DEMO_*_PORT (default 8791/8792).
      const fakes = external ? fakeUrlsFromEnv() : fakeUrlsFromEnv({ ...process.env, ...FAKE_PORTS });
      const started = performance.now();
      const report = await runPipelineBench({ url, ...fakes }, pipelineOptionsFromEnv());
      printPipelineReport(report);
      console.log(`pipeline bench took ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
  } finally {
    await stopStack(stackChild);
  }
}

/**
 * SIGINT lets dev/start.ts close wrangler, the gateways and the fakes; whatever of its process group is
 * still there after 15 s is killed.
 */
async function stopStack(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid) return;
  const group = -child.pid;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(group, sig);
    } catch {
      // the group is gone already
    }
  };
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    signal("SIGINT");
    const timer = setTimeout(() => signal("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  }
  // dev/start.ts is gone: nothing it started may outlive it.
  signal("SIGKILL");
}

// The stack runs in its own process group, so Ctrl-C on the bench does not reach it: stop it here.
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    void stopStack(stackChild).finally(() => process.exit(130));
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
