// The webhook receivers' benchmark: signed Shopify orders/create deliveries sent to the running stack
// (wrangler dev) the way Shopify sends them, measured from the outside. Part of `npm run bench`; alone:
// `BENCH_FILTER=webhooks npm run bench`, or `BENCH_URL=http://127.0.0.1:8787 node bench/webhooks.ts`
// against a running `npm start` (its Shopify fake on DEMO_SHOPIFY_PORT, or BENCH_SHOPIFY_URL).
//
// On a fresh shop in the fake and a fresh channel connection (no ERP, so only receiving and processing
// are measured), deleted again at the end:
// 1. acknowledgement latency: N deliveries one after the other, request start → response read, p50/p99;
// 2. sustained rate: C concurrent senders for a fixed time, `accepted` answers per second (every other
//    answer is counted as a reject or an error);
// 3. processing: how long after the last acknowledgement every event is `processed`, and each event's
//    receive → processed lag (the queue consumer's work), read back from /api/v1/webhooks/events;
// 4. the Postgres and Redis round trips one acknowledgement costs (the Server-Timing header).
// Every delivery has its own X-Shopify-Webhook-Id and its own order id, so none is a duplicate.
import { createHmac, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import {
  BenchError,
  type Envelope,
  hex,
  http,
  type Page,
  REQUEST_TIMEOUT_MS,
  SEED_PASSWORD,
  seconds,
  sleep,
} from "./http.ts";

export interface WebhookBenchTargets {
  /** The Worker (wrangler dev). */
  url: string;
  /** The Shopify fake's base URL (its /__control/ API). */
  shopifyUrl: string;
}

export interface WebhookBenchOptions {
  /** Deliveries of the latency run, one after the other. */
  sequential: number;
  /** Concurrent senders of the sustained run. */
  concurrency: number;
  /** Length of the sustained run. */
  seconds: number;
  /** Longest wait for every event to be processed. */
  timeoutMs: number;
  log: (line: string) => void;
}

export function webhookOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): WebhookBenchOptions {
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
    return value;
  };
  return {
    sequential: num("BENCH_WEBHOOKS", 200),
    concurrency: Math.max(1, num("BENCH_WEBHOOK_CONCURRENCY", num("BENCH_CONNECTIONS", 10))),
    seconds: num("BENCH_WEBHOOK_SECONDS", 10),
    timeoutMs: num("BENCH_WEBHOOK_TIMEOUT_SECONDS", 120) * 1000,
    log: (line) => console.log(`[webhooks] ${line}`),
  };
}

// ───────────────────────────── HTTP ─────────────────────────────

/** Every connection this bench creates is named so, so a crashed run's leftovers are found and removed. */
const NAME_PREFIX = "bench-webhooks";

interface Connection {
  id: string;
  kind: "channel" | "erp";
  displayName: string;
}
interface WebhookEvent {
  id: string;
  providerEventId: string;
  status: "received" | "processed" | "ignored" | "failed";
  receivedAt: string;
  processedAt: string | null;
  attempts: number;
  lastError: Record<string, unknown> | null;
}

class Hub {
  // Plain fields, not parameter properties: Node runs this file with type stripping only.
  readonly url: string;
  private readonly token: string;

  constructor(url: string, token: string) {
    this.url = url;
    this.token = token;
  }

  static async signIn(url: string): Promise<Hub> {
    const { body } = await http<Envelope<{ accessToken: string }>>("POST", `${url}/api/v1/auth/login`, {
      body: { tenant: "demo", email: "admin@demo.local", password: SEED_PASSWORD },
    });
    return new Hub(url, body.data.accessToken);
  }

  api<T>(method: string, path: string, body?: unknown, expect?: number[]) {
    return http<Envelope<T>>(method, `${this.url}/api/v1${path}`, {
      token: this.token,
      ...(body === undefined ? {} : { body }),
      ...(expect === undefined ? {} : { expect }),
    });
  }

  async removeLeftovers(): Promise<number> {
    const stale: Connection[] = [];
    for (let page = 1; ; page++) {
      const { body } = await this.api<Page<Connection>>("GET", `/connections?pageSize=200&page=${page}`);
      for (const c of body.data.items) if (c.displayName.startsWith(NAME_PREFIX)) stale.push(c);
      if (page >= body.data.totalPages) break;
    }
    for (const c of stale) await this.api("DELETE", `/connections/${c.id}`, undefined, [200, 204, 404]);
    return stale.length;
  }

  /** Events of one connection with the given status, newest first, every page. */
  async events(connectionId: string, status?: WebhookEvent["status"]): Promise<WebhookEvent[]> {
    const all: WebhookEvent[] = [];
    let cursor: string | null = null;
    do {
      const q = new URLSearchParams({ connectionId, limit: "200" });
      if (status) q.set("status", status);
      if (cursor) q.set("cursor", cursor);
      const { body } = await this.api<{ items: WebhookEvent[]; nextCursor: string | null }>(
        "GET",
        `/webhooks/events?${q}`,
      );
      all.push(...body.data.items);
      cursor = body.data.nextCursor;
    } while (cursor);
    return all;
  }

  async anyEvent(connectionId: string, status: WebhookEvent["status"]): Promise<boolean> {
    const q = new URLSearchParams({ connectionId, status, limit: "1" });
    const { body } = await this.api<{ items: WebhookEvent[] }>("GET", `/webhooks/events?${q}`);
    return body.data.items.length > 0;
  }
}

// ───────────────────────────── deliveries ─────────────────────────────

interface Shop {
  connectionId: string;
  domain: string;
  secret: string;
}

/**
 * A Shopify REST order as orders/create carries it (what the receiver stores and the consumer maps):
 * snake_case, numeric ids, money in shop currency, one line, a shipping line; about 1.7 KB.
 */
function orderBody(orderId: number, at: string): string {
  const money = (amount: string) => ({ shop_money: { amount, currency_code: "USD" } });
  return JSON.stringify({
    id: orderId,
    admin_graphql_api_id: `gid://shopify/Order/${orderId}`,
    name: `#B${orderId}`,
    email: "ava.thompson@example.com",
    phone: null,
    created_at: at,
    updated_at: at,
    processed_at: at,
    cancelled_at: null,
    cancel_reason: null,
    note: null,
    tags: "bench",
    discount_codes: [],
    currency: "USD",
    financial_status: "paid",
    fulfillment_status: null,
    customer: {
      id: 7_200_000_001,
      first_name: "Ava",
      last_name: "Thompson",
      email: "ava.thompson@example.com",
      phone: null,
    },
    shipping_address: {
      name: "Ava Thompson",
      first_name: "Ava",
      last_name: "Thompson",
      company: null,
      address1: "1 Harbour Street",
      address2: null,
      city: "Sydney",
      province: "New South Wales",
      province_code: "NSW",
      zip: "2000",
      country_code: "AU",
      phone: "+61 2 5550 1234",
    },
    billing_address: null,
    current_subtotal_price_set: money("39.80"),
    current_shipping_price_set: money("5.00"),
    current_total_tax_set: money("0.00"),
    current_total_discounts_set: money("0.00"),
    current_total_price_set: money("44.80"),
    tax_lines: [],
    line_items: [
      {
        id: orderId * 10 + 1,
        sku: "TW-TEE-BLK-M",
        title: "Tradewind tee",
        variant_title: "Black / M",
        quantity: 2,
        current_quantity: 2,
        price_set: money("19.90"),
        total_discount_set: money("0.00"),
        tax_lines: [],
        product_id: 9_100_001,
        variant_id: 9_200_001,
      },
    ],
    shipping_lines: [{ id: orderId * 10 + 7, title: "Standard", code: "STANDARD", price_set: money("5.00") }],
    refunds: [],
  });
}

interface Delivery {
  status: number;
  /** `accepted`, `duplicate`, … or the error code. */
  outcome: string;
  ms: number;
  dbRoundTrips: number | null;
  cacheRoundTrips: number | null;
  /** Time the server spent waiting on Postgres / Redis (Server-Timing `dur`). */
  dbMs: number | null;
  cacheMs: number | null;
}

/** Order ids unique across runs (a millisecond clock × 1,000 stays a safe integer) and within one. */
let nextOrderId = Date.now() * 1000;

async function deliver(url: string, shop: Shop): Promise<Delivery> {
  nextOrderId += 1;
  const now = new Date().toISOString();
  const body = orderBody(nextOrderId, now);
  const webhookId = randomUUID();
  const headers = {
    "content-type": "application/json",
    "x-shopify-topic": "orders/create",
    "x-shopify-hmac-sha256": createHmac("sha256", shop.secret).update(body).digest("base64"),
    "x-shopify-shop-domain": shop.domain,
    "x-shopify-webhook-id": webhookId,
    "x-shopify-event-id": randomUUID(),
    "x-shopify-triggered-at": now,
    "x-shopify-api-version": "2026-10",
  };
  const started = performance.now();
  try {
    const res = await fetch(`${url}/webhooks/shopify/${shop.connectionId}`, {
      method: "POST",
      headers,
      body,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await res.text();
    const ms = performance.now() - started;
    let outcome = `HTTP ${res.status}`;
    try {
      const parsed = JSON.parse(text) as { data?: { status?: string }; error?: { code?: string } };
      outcome = parsed.data?.status ?? parsed.error?.code ?? outcome;
    } catch {
      // not an envelope: the status code says it
    }
    const timing = res.headers.get("server-timing") ?? "";
    const metric = (name: string) => {
      const found = new RegExp(`${name};dur=([\\d.]+);desc="(\\d+) rt"`).exec(timing);
      return found ? { ms: Number(found[1]), rt: Number(found[2]) } : null;
    };
    const db = metric("db");
    const cache = metric("cache");
    return {
      status: res.status,
      outcome,
      ms,
      dbRoundTrips: db?.rt ?? null,
      cacheRoundTrips: cache?.rt ?? null,
      dbMs: db?.ms ?? null,
      cacheMs: cache?.ms ?? null,
    };
  } catch (error) {
    const name = error instanceof Error ? error.name : "Error";
    return {
      status: 0,
      outcome: `network ${name}`,
      ms: performance.now() - started,
      dbRoundTrips: null,
      cacheRoundTrips: null,
      dbMs: null,
      cacheMs: null,
    };
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return Number((sorted[index] ?? Number.NaN).toFixed(1));
}

function latencies(deliveries: Delivery[]) {
  const sorted = deliveries.map((d) => d.ms).sort((a, b) => a - b);
  const median = (values: (number | null)[]) =>
    percentile(
      values.filter((v): v is number => v !== null).sort((a, b) => a - b),
      50,
    );
  return {
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: percentile(sorted, 100),
    dbMsP50: median(deliveries.map((d) => d.dbMs)),
    cacheMsP50: median(deliveries.map((d) => d.cacheMs)),
  };
}

function outcomesOf(values: string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

const outcomes = (deliveries: Delivery[]) => outcomesOf(deliveries.map((d) => d.outcome));

/** The most common value (round trips are the same for every fresh event; a retry path would differ). */
function mode(values: (number | null)[]): string {
  const counts = new Map<number, number>();
  for (const v of values) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  if (counts.size === 0) return "?";
  const sorted = [...counts.entries()].sort((a, b) => b[1] - a[1]);
  const [top] = sorted;
  const range = `${Math.min(...counts.keys())}–${Math.max(...counts.keys())}`;
  return counts.size === 1 || !top ? String(top?.[0]) : `${top[0]} (${range})`;
}

// ───────────────────────────── the run ─────────────────────────────

export interface WebhookReport {
  bodyBytes: number;
  latency: {
    deliveries: number;
    /** Accepted per second with one sender: 1 / the mean acknowledgement time. */
    eventsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    maxMs: number;
    /** Server-side waits on Postgres / Redis per acknowledgement, median. */
    dbMsP50: number;
    cacheMsP50: number;
    outcomes: Record<string, number>;
  };
  sustained: {
    concurrency: number;
    seconds: number;
    sent: number;
    accepted: number;
    eventsPerSecond: number;
    p50Ms: number;
    p99Ms: number;
    dbMsP50: number;
    cacheMsP50: number;
    rejects: Record<string, number>;
    errors: number;
  };
  processing: {
    events: number;
    processed: number;
    failed: number;
    /** From the last acknowledgement to no event left `received`. */
    drainedAfterLastAckSeconds: number;
    /** Each event's receivedAt → processedAt (server clock). */
    lagP50Seconds: number;
    lagP99Seconds: number;
    lagMaxSeconds: number;
    /** The latency run's events alone: the lag with no backlog in the queue. */
    idleLagP50Seconds: number;
    idleLagP99Seconds: number;
  };
  roundTrips: { db: string; cache: string };
  /** GET /health with the same senders just before the sustained run. */
  healthReference: { requestsPerSecond: number; p50Ms: number; p99Ms: number; failures: number };
}

export async function runWebhookBench(
  targets: WebhookBenchTargets,
  options: WebhookBenchOptions = webhookOptionsFromEnv(),
): Promise<WebhookReport> {
  const hub = await Hub.signIn(targets.url);
  const leftovers = await hub.removeLeftovers();
  if (leftovers > 0) options.log(`removed ${leftovers} connection(s) left by an earlier run`);

  const domain = `bench-wh-${hex(5)}.myshopify.com`;
  const accessToken = `shpat_${hex(16)}`;
  const secret = `bench-client-secret-${hex(16)}`;
  await http("POST", `${targets.shopifyUrl}/__control/shops`, {
    body: { shop: domain, accessToken, clientSecret: secret },
  });
  const { body: created } = await hub.api<Connection>("POST", "/connections", {
    provider: "shopify",
    account: domain,
    displayName: `${NAME_PREFIX} shop`,
    credentials: { accessToken, clientSecret: secret },
    // No ERP and a daily pull: only the webhooks reach this connection's orders during the run.
    settings: { resources: ["orders"], intervalMinutes: 1440, pageSize: 50 },
    erpConnectionId: null,
  });
  const shop: Shop = { connectionId: created.data.id, domain, secret };
  try {
    // Warm the isolate's code paths (verify, store, queue) before anything is timed.
    const warm: Delivery[] = [];
    for (let i = 0; i < 5; i++) warm.push(await deliver(targets.url, shop));
    const warmRefused = warm.filter((d) => d.outcome !== "accepted");
    if (warmRefused.length > 0) {
      throw new BenchError(`warm-up deliveries were not accepted: ${JSON.stringify(outcomes(warmRefused))}`);
    }

    options.log(`latency: ${options.sequential} signed orders/create deliveries, one after the other…`);
    const sequential: Delivery[] = [];
    const seqStarted = performance.now();
    for (let i = 0; i < options.sequential; i++) sequential.push(await deliver(targets.url, shop));
    const seqSeconds = (performance.now() - seqStarted) / 1000;
    const seqLatency = latencies(sequential);
    // The latency run's events are settled before the load starts: their lag is the idle queue's.
    await waitUntilProcessed(hub, shop.connectionId, options.timeoutMs);
    const idle = await hub.events(shop.connectionId);

    const reference = await healthReference(targets.url, options.concurrency, 3);
    options.log(
      `sustained: ${options.concurrency} concurrent senders for ${options.seconds} s (distinct webhook and order ids)…`,
    );
    const sustained: Delivery[] = [];
    const started = performance.now();
    const deadline = started + options.seconds * 1000;
    let lastAck = started;
    await Promise.all(
      Array.from({ length: options.concurrency }, async () => {
        while (performance.now() < deadline) {
          const d = await deliver(targets.url, shop);
          sustained.push(d);
          lastAck = Math.max(lastAck, performance.now());
        }
      }),
    );
    const elapsed = (lastAck - started) / 1000;
    await waitUntilProcessed(hub, shop.connectionId, options.timeoutMs);
    const drainedAfterLastAck = performance.now() - lastAck;

    const all = await hub.events(shop.connectionId);
    const lags = (events: WebhookEvent[]) =>
      events
        .filter((e) => e.processedAt !== null)
        .map((e) => (Date.parse(e.processedAt ?? "") - Date.parse(e.receivedAt)) / 1000)
        .sort((a, b) => a - b);
    const allLags = lags(all);
    const idleLags = lags(idle);
    const failed = all.filter((e) => e.status === "failed");
    if (failed.length > 0) {
      options.log(
        `${failed.length} event(s) dead-lettered, e.g. ${JSON.stringify(failed[0]?.lastError ?? null)}`,
      );
    }
    const accepted = sustained.filter((d) => d.outcome === "accepted").length;
    const rejects = outcomes(sustained.filter((d) => d.outcome !== "accepted" && d.status !== 0));
    const measured = [...sequential, ...sustained].filter((d) => d.outcome === "accepted");
    const acceptedTotal = warm.length + measured.length;
    if (all.length !== acceptedTotal) {
      options.log(`WARNING: ${acceptedTotal} deliveries accepted but ${all.length} events stored`);
    }
    const report: WebhookReport = {
      bodyBytes: Buffer.byteLength(orderBody(nextOrderId, new Date().toISOString())),
      latency: {
        deliveries: sequential.length,
        eventsPerSecond: Number(
          (sequential.filter((d) => d.outcome === "accepted").length / seqSeconds).toFixed(1),
        ),
        p50Ms: seqLatency.p50,
        p99Ms: seqLatency.p99,
        maxMs: seqLatency.max,
        dbMsP50: seqLatency.dbMsP50,
        cacheMsP50: seqLatency.cacheMsP50,
        outcomes: outcomes(sequential),
      },
      sustained: {
        concurrency: options.concurrency,
        seconds: Number(elapsed.toFixed(2)),
        sent: sustained.length,
        accepted,
        eventsPerSecond: Number((accepted / elapsed).toFixed(1)),
        ...(() => {
          const l = latencies(sustained);
          return { p50Ms: l.p50, p99Ms: l.p99, dbMsP50: l.dbMsP50, cacheMsP50: l.cacheMsP50 };
        })(),
        rejects,
        errors: sustained.filter((d) => d.status === 0).length,
      },
      processing: {
        events: all.length,
        processed: all.filter((e) => e.status === "processed").length,
        failed: failed.length,
        drainedAfterLastAckSeconds: seconds(drainedAfterLastAck),
        lagP50Seconds: percentile(allLags, 50),
        lagP99Seconds: percentile(allLags, 99),
        lagMaxSeconds: percentile(allLags, 100),
        idleLagP50Seconds: percentile(idleLags, 50),
        idleLagP99Seconds: percentile(idleLags, 99),
      },
      roundTrips: {
        db: mode(measured.map((d) => d.dbRoundTrips)),
        cache: mode(measured.map((d) => d.cacheRoundTrips)),
      },
      healthReference: reference,
    };
    options.log(
      `${report.sustained.eventsPerSecond} verified events/s sustained; ack p50 ${report.latency.p50Ms} ms idle, ${report.sustained.p50Ms} ms under load; all processed ${report.processing.drainedAfterLastAckSeconds} s after the last ack`,
    );
    return report;
  } finally {
    // BENCH_KEEP_CONNECTIONS=1 leaves it for a look at its events and orders (the next run removes it).
    if (process.env.BENCH_KEEP_CONNECTIONS !== "1") {
      await hub
        .api("DELETE", `/connections/${shop.connectionId}`, undefined, [200, 204, 404])
        .catch((error: unknown) =>
          options.log(`could not delete connection ${shop.connectionId}: ${String(error)}`),
        );
    }
  }
}

/**
 * The same senders against GET /health (1 Postgres + 1 Redis round trip) for a few seconds: a reference
 * taken under the same machine load, since a shared 2-core machine's numbers move between runs.
 */
async function healthReference(url: string, concurrency: number, secondsLong: number) {
  const samples: number[] = [];
  let failures = 0;
  const started = performance.now();
  const deadline = started + secondsLong * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
          await res.arrayBuffer();
          if (res.status === 200) samples.push(performance.now() - t);
          else failures += 1;
        } catch {
          failures += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  samples.sort((a, b) => a - b);
  return {
    requestsPerSecond: Number((samples.length / elapsed).toFixed(1)),
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    failures,
  };
}

/** Polls until the connection has no event left `received`. */
async function waitUntilProcessed(hub: Hub, connectionId: string, timeoutMs: number): Promise<void> {
  const started = performance.now();
  while (await hub.anyEvent(connectionId, "received")) {
    if (performance.now() - started > timeoutMs) {
      const waiting = await hub.events(connectionId, "received");
      const attempts = outcomesOf(waiting.map((e) => `${e.attempts} attempt(s)`));
      const sample = waiting.find((e) => e.lastError !== null) ?? waiting[0];
      throw new BenchError(
        `${waiting.length} event(s) still received after ${seconds(timeoutMs)} s (${JSON.stringify(attempts)}); e.g. ${JSON.stringify(sample)}. ` +
          "Events never attempted are queue messages lost in transit: wrangler dev reloads the Worker when a file under src/ " +
          "changes and drops its local queues' in-flight messages (the cron's stranded sweep re-enqueues them after 120 s; " +
          "the bench runs without cron). Run the bench on a tree nobody is editing.",
      );
    }
    await sleep(50);
  }
}

// ───────────────────────────── report ─────────────────────────────

export function printWebhookReport(report: WebhookReport, log: (line: string) => void = console.log): void {
  const { latency: l, sustained: s, processing: p, roundTrips: rt } = report;
  log("");
  log(`Webhook receivers: signed Shopify orders/create (${report.bodyBytes} B bodies), through wrangler dev`);
  console.table([
    {
      run: `latency, ${l.deliveries} one after the other`,
      "events/s": l.eventsPerSecond,
      "ack p50 ms": l.p50Ms,
      "ack p99 ms": l.p99Ms,
      "rejects/errors": Object.entries(l.outcomes)
        .filter(([k]) => k !== "accepted")
        .reduce((n, [, v]) => n + v, 0),
      "db/cache rt per ack": `${rt.db} / ${rt.cache}`,
      "server db/cache ms p50": `${l.dbMsP50} / ${l.cacheMsP50}`,
    },
    {
      run: `sustained, ${s.concurrency} concurrent × ${s.seconds} s`,
      "events/s": s.eventsPerSecond,
      "ack p50 ms": s.p50Ms,
      "ack p99 ms": s.p99Ms,
      "rejects/errors": Object.values(s.rejects).reduce((n, v) => n + v, 0) + s.errors,
      "db/cache rt per ack": `${rt.db} / ${rt.cache}`,
      "server db/cache ms p50": `${s.dbMsP50} / ${s.cacheMsP50}`,
    },
    {
      run: `reference: GET /health, ${s.concurrency} concurrent × 3 s`,
      "events/s": report.healthReference.requestsPerSecond,
      "ack p50 ms": report.healthReference.p50Ms,
      "ack p99 ms": report.healthReference.p99Ms,
      "rejects/errors": report.healthReference.failures,
      "db/cache rt per ack": "1 / 1",
      "server db/cache ms p50": "",
    },
  ]);
  console.table([
    {
      events: p.events,
      processed: p.processed,
      failed: p.failed,
      "all processed s after last ack": p.drainedAfterLastAckSeconds,
      "lag p50 s (idle)": p.idleLagP50Seconds,
      "lag p99 s (idle)": p.idleLagP99Seconds,
      "lag p50 s (all)": p.lagP50Seconds,
      "lag p99 s (all)": p.lagP99Seconds,
    },
  ]);
  if (Object.keys(s.rejects).length > 0 || s.errors > 0) {
    log(`sustained rejects: ${JSON.stringify(s.rejects)}; network errors: ${s.errors}`);
  }
  log(
    "ack = request start → response read, client side; lag = receivedAt → processedAt on the server (the webhooks queue and its consumer); (idle) = the latency run's events, (all) = every event incl. the sustained run's backlog.",
  );
  log(`WEBHOOK_BENCH ${JSON.stringify(report)}`);
}

/** The Shopify fake of a stack started by `npm start` / bench/run.ts. */
export function shopifyFakeUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.BENCH_SHOPIFY_URL ?? `http://127.0.0.1:${env.DEMO_SHOPIFY_PORT ?? 8791}`;
}

async function main() {
  const url = process.env.BENCH_URL;
  if (!url) {
    throw new BenchError(
      "set BENCH_URL to a running stack (npm start), or run `BENCH_FILTER=webhooks npm run bench` to start one",
    );
  }
  printWebhookReport(await runWebhookBench({ url, shopifyUrl: shopifyFakeUrlFromEnv() }));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    console.error(error instanceof BenchError ? `[webhooks] ${error.message}` : error);
    process.exit(1);
  });
}
