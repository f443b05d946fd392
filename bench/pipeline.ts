import { pathToFileURL } from "node:url";
import { BenchError, type Envelope, hex, http, type Page, SEED_PASSWORD, seconds, sleep } from "./http.ts";

export type PipelinePart = "throughput" | "batch" | "rate";
export const PIPELINE_PARTS: readonly PipelinePart[] = ["throughput", "batch", "rate"];

export interface PipelineTargets {
  /** The Worker (wrangler dev). */
  url: string;
  /** The Shopify fake's base URL (its /__control/ API). */
  shopifyUrl: string;
  /** The Lingxing fake's base URL. */
  lingxingUrl: string;
}

export interface PipelineOptions {
  parts: readonly PipelinePart[];
  /** Orders for the throughput run. */
  orders: number;
  /** Orders per batch-size run. */
  batchOrders: number;
  batchSizes: readonly number[];
  /** Shopify bucket of the rate-limit run (points, points/s). */
  rateBucket: { maximumAvailable: number; restoreRate: number };
  /** Target length of the rate-limit run: orders are seeded so the pull needs about this long. */
  rateSeconds: number;
  /** Orders for the rate-limit run; 0 = sized from `rateSeconds` and the measured cost per order. */
  rateOrders: number;
  /** 2: the orders stream and a paged backfill at once; 1: the stream alone (the baseline). */
  ratePaths: 1 | 2;
  /** Longest wait for one measurement before it fails with what it saw. */
  timeoutMs: number;
  log: (line: string) => void;
}

export function pipelineOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): PipelineOptions {
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
    return value;
  };
  // BENCH_FILTER=pipeline runs every part; pipeline:rate (or pipeline:batch,rate) only those.
  const filter = env.BENCH_FILTER ?? "";
  const named = filter.startsWith("pipeline:") ? filter.slice("pipeline:".length).split(",") : [];
  const parts = named.length > 0 ? PIPELINE_PARTS.filter((p) => named.includes(p)) : PIPELINE_PARTS;
  if (named.length > 0 && parts.length !== named.length) {
    throw new Error(`BENCH_FILTER: pipeline parts are ${PIPELINE_PARTS.join(", ")}`);
  }
  return {
    parts,
    orders: num("BENCH_ORDERS", 500),
    batchOrders: num("BENCH_BATCH_ORDERS", 100),
    batchSizes: [1, 10, 50],
    rateBucket: {
      maximumAvailable: num("BENCH_RATE_MAXIMUM", 1000),
      restoreRate: num("BENCH_RATE_RESTORE", 100),
    },
    rateSeconds: num("BENCH_RATE_SECONDS", 30),
    rateOrders: num("BENCH_RATE_ORDERS", 0),
    ratePaths: num("BENCH_RATE_PATHS", 2) === 1 ? 1 : 2,
    timeoutMs: num("BENCH_PIPELINE_TIMEOUT_SECONDS", 120) * 1000,
    log: (line) => console.log(`[pipeline] ${line}`),
  };
}

// ───────────────────────────── HTTP ─────────────────────────────

/** Every connection this bench creates is named so, so a crashed run's leftovers are found and removed. */
const NAME_PREFIX = "bench-pipeline";

interface Connection {
  id: string;
  kind: "channel" | "erp";
  displayName: string;
}
interface SyncJob {
  id: string;
  type: string;
  resource: string;
  status: string;
  pages: number;
  itemsProcessed: number;
  lastError: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}
interface ShopifyStats {
  requests: number;
  throttled: number;
  overLimit: number;
  maxCostExceeded: number;
  injected: Record<string, number>;
  requestedCost: number;
  actualCost: number;
  throttleStatus: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number };
}
interface LingxingStats {
  requests: Record<string, number>;
  rateLimited: number;
  overLimit: number;
  ordersCreated: number;
  duplicatesRejected: number;
  ordersRejected: number;
}

const CREATE_ORDERS_PATH = "/pb/mp/order/v2/create";

/** Polls `check` until it returns a value; on timeout, fails naming what it waited for and what it last saw. */
async function waitFor<T>(
  label: string,
  timeoutMs: number,
  check: () => Promise<{ done: T } | { progress: string }>,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = "nothing yet";
  while (true) {
    const result = await check();
    if ("done" in result) return result.done;
    last = result.progress;
    if (Date.now() > deadline) {
      throw new BenchError(
        `timed out after ${seconds(timeoutMs)} s waiting for ${label}; last seen: ${last}`,
      );
    }
    await sleep(intervalMs);
  }
}

// ───────────────────────────── the hub, driven like a user ─────────────────────────────

class Hub {
  readonly created: string[] = [];
  private syncRouteMissing = false;

  // Plain fields, not parameter properties: Node runs this file with type stripping only.
  readonly targets: PipelineTargets;
  private readonly token: string;

  constructor(targets: PipelineTargets, token: string) {
    this.targets = targets;
    this.token = token;
  }

  static async signIn(targets: PipelineTargets): Promise<Hub> {
    const { body } = await http<Envelope<{ accessToken: string }>>(
      "POST",
      `${targets.url}/api/v1/auth/login`,
      {
        body: { tenant: "demo", email: "admin@demo.local", password: SEED_PASSWORD },
      },
    );
    return new Hub(targets, body.data.accessToken);
  }

  api<T>(method: string, path: string, body?: unknown, expect?: number[]) {
    return http<Envelope<T>>(method, `${this.targets.url}/api/v1${path}`, {
      token: this.token,
      ...(body === undefined ? {} : { body }),
      ...(expect === undefined ? {} : { expect }),
    });
  }

  /** Removes connections a crashed earlier run left behind (their streams would compete for the queue). */
  async removeLeftovers(): Promise<number> {
    const stale: Connection[] = [];
    for (let page = 1; ; page++) {
      const { body } = await this.api<Page<Connection>>("GET", `/connections?pageSize=200&page=${page}`);
      for (const c of body.data.items) if (c.displayName.startsWith(NAME_PREFIX)) stale.push(c);
      if (page >= body.data.totalPages) break;
    }
    // Channels first: an ERP connection that channels still push to cannot be deleted.
    stale.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "channel" ? -1 : 1));
    for (const c of stale) await this.api("DELETE", `/connections/${c.id}`, undefined, [200, 204, 404]);
    return stale.length;
  }

  async removeCreated(): Promise<void> {
    // Channels first: a channel points at its ERP.
    for (const id of [...this.created].reverse()) {
      await this.api("DELETE", `/connections/${id}`, undefined, [200, 204, 404]).catch((error: unknown) =>
        console.warn(`[pipeline] could not delete connection ${id}: ${String(error)}`),
      );
    }
    this.created.length = 0;
  }

  /** A fresh Lingxing app in the fake and its ERP connection. */
  async erp(
    label: string,
    settings: { batchSize: number; requestConcurrency: number },
  ): Promise<{
    id: string;
    appId: string;
  }> {
    // Lingxing app ids are 16 characters (the id is also the AES-128 key requests are signed with).
    const appId = `bn${hex(7)}`;
    const appSecret = `bench-secret-${hex(12)}`;
    await http("POST", `${this.targets.lingxingUrl}/__control/apps`, { body: { appId, appSecret } });
    const { body } = await this.api<Connection>("POST", "/connections", {
      provider: "lingxing",
      account: appId,
      displayName: `${NAME_PREFIX} ${label} ERP`,
      credentials: { appId, appSecret },
      settings: { ...settings, erpStoreId: "1001", shipmentPollMinutes: 1440 },
    });
    this.created.push(body.data.id);
    return { id: body.data.id, appId };
  }

  /** A fresh shop in the fake (with the given bucket) and its channel connection, pushing to `erpId`. */
  async channel(
    label: string,
    bucket: { maximumAvailable: number; restoreRate: number },
    erpId: string | null,
  ): Promise<{ id: string; shop: string }> {
    const shop = `bench-${hex(5)}.myshopify.com`;
    const accessToken = `shpat_${hex(16)}`;
    await http("POST", `${this.targets.shopifyUrl}/__control/shops`, {
      body: { shop, accessToken, ...bucket },
    });
    const { body } = await this.api<Connection>("POST", "/connections", {
      provider: "shopify",
      account: shop,
      displayName: `${NAME_PREFIX} ${label} shop`,
      credentials: { accessToken },
      // Pages are capped by Shopify's 1,000-point query ceiling anyway; the interval keeps cron away.
      settings: { resources: ["orders"], intervalMinutes: 1440, pageSize: 250 },
      erpConnectionId: erpId,
    });
    this.created.push(body.data.id);
    return { id: body.data.id, shop };
  }

  async seedOrders(shop: string, count: number): Promise<void> {
    // In slices: one control request builds every order synchronously in the fake.
    for (let done = 0; done < count; done += 250) {
      await http("POST", `${this.targets.shopifyUrl}/__control/orders`, {
        body: { shop, count: Math.min(250, count - done) },
      });
    }
  }

  /**
   * `POST /connections/{id}/sync`. Without that route (older builds) the streams still run through the
   * cron, which claims every due stream: the new connection's are due at once.
   */
  async triggerSync(connectionId: string, body: Record<string, unknown> = {}): Promise<{ jobIds: string[] }> {
    if (!this.syncRouteMissing) {
      const res = await this.api<{ jobs: { id: string }[] }>(
        "POST",
        `/connections/${connectionId}/sync`,
        body,
        [200, 201, 202, 404],
      );
      const jobs = res.body?.data?.jobs;
      if (res.status !== 404 && jobs) return { jobIds: jobs.map((j) => j.id) };
      this.syncRouteMissing = true;
    }
    if (body.since !== undefined) {
      throw new BenchError("POST /api/v1/connections/{id}/sync is not served: a backfill cannot be started");
    }
    await http("GET", `${this.targets.url}/__scheduled?cron=${encodeURIComponent("* * * * *")}`);
    return { jobIds: [] };
  }

  get usedCronFallback(): boolean {
    return this.syncRouteMissing;
  }

  async orderCount(connectionId: string, status?: string): Promise<number> {
    const q = `connectionId=${connectionId}&pageSize=1${status ? `&status=${status}` : ""}`;
    return (await this.api<Page<unknown>>("GET", `/orders?${q}`)).body.data.total;
  }

  async jobs(connectionId: string): Promise<SyncJob[]> {
    return (await this.api<Page<SyncJob>>("GET", `/sync/jobs?connectionId=${connectionId}&pageSize=200`)).body
      .data.items;
  }

  async job(id: string): Promise<SyncJob> {
    return (await this.api<SyncJob>("GET", `/sync/jobs/${id}`)).body.data;
  }

  async shopifyStats(shop: string): Promise<ShopifyStats> {
    return (await http<ShopifyStats>("GET", `${this.targets.shopifyUrl}/__control/stats?shop=${shop}`)).body;
  }

  async lingxingStats(appId: string): Promise<LingxingStats> {
    return (
      await http<LingxingStats>(
        "GET",
        `${this.targets.lingxingUrl}/__control/stats?appId=${encodeURIComponent(appId)}`,
      )
    ).body;
  }

  async lingxingOrderCount(appId: string): Promise<number> {
    const { body } = await http<{ orders: unknown[] }>(
      "GET",
      `${this.targets.lingxingUrl}/__control/orders?appId=${encodeURIComponent(appId)}`,
    );
    return body.orders.length;
  }
}

// ───────────────────────────── 1. throughput ─────────────────────────────

export interface ThroughputResult {
  orders: number;
  ordersPerSecond: number;
  firstOrderInErpSeconds: number;
  allInErpSeconds: number;
  allStoredSeconds: number;
  allSyncedInApiSeconds: number;
  shopifyRequests: number;
  erpCreateCalls: number;
  /** Measured actual query cost per order pulled (sizes the rate-limit run). */
  actualCostPerOrder: number;
  overLimit: { shopify: number; lingxing: number };
}

/** Runs N orders through one shop → ERP pair and times the stages as seen from outside. */
async function pushThrough(
  hub: Hub,
  input: {
    label: string;
    orders: number;
    erp: { batchSize: number; requestConcurrency: number };
    timeoutMs: number;
  },
) {
  const erp = await hub.erp(input.label, input.erp);
  const channel = await hub.channel(input.label, GENEROUS_BUCKET, erp.id);
  await hub.seedOrders(channel.shop, input.orders);
  const started = performance.now();
  await hub.triggerSync(channel.id);
  const at = () => performance.now() - started;
  let firstInErp: number | null = null;
  let allStored: number | null = null;
  const allInErp = await waitFor<number>(
    `${input.orders} orders in the ERP (${input.label})`,
    input.timeoutMs,
    async () => {
      const [lingxing, stored] = await Promise.all([
        hub.lingxingStats(erp.appId),
        allStored === null ? hub.orderCount(channel.id) : Promise.resolve(input.orders),
      ]);
      if (firstInErp === null && lingxing.ordersCreated > 0) firstInErp = at();
      if (allStored === null && stored >= input.orders) allStored = at();
      if (lingxing.ordersCreated >= input.orders) return { done: at() };
      const failures = lingxing.ordersRejected + lingxing.duplicatesRejected;
      return {
        progress: `${stored} stored by the hub, ${lingxing.ordersCreated} created in the ERP${failures > 0 ? `, ${failures} refused by the ERP` : ""}`,
      };
    },
    100,
  );
  const allSynced = await waitFor<number>(
    `${input.orders} orders synced in the API (${input.label})`,
    30_000,
    async () => {
      const synced = await hub.orderCount(channel.id, "synced");
      return synced >= input.orders ? { done: at() } : { progress: `${synced} synced` };
    },
  );
  // The fake's own list, as a cross-check of its counter.
  const inErp = await hub.lingxingOrderCount(erp.appId);
  if (inErp !== input.orders) {
    throw new BenchError(`the ERP holds ${inErp} orders, expected ${input.orders} (duplicates or losses)`);
  }
  const [shopify, lingxing] = await Promise.all([
    hub.shopifyStats(channel.shop),
    hub.lingxingStats(erp.appId),
  ]);
  return {
    allInErp,
    firstInErp: firstInErp ?? allInErp,
    allStored: allStored ?? allInErp,
    allSynced,
    shopify,
    lingxing,
  };
}

/** Plenty for the pipeline never to wait on Shopify's budget (one query still stays under 1,000 points). */
const GENEROUS_BUCKET = { maximumAvailable: 1_000_000, restoreRate: 1_000_000 };

async function measureThroughput(hub: Hub, options: PipelineOptions): Promise<ThroughputResult> {
  const n = options.orders;
  options.log(`throughput: ${n} orders, Shopify → hub → Lingxing (batch 50, concurrency 5)…`);
  const run = await pushThrough(hub, {
    label: "throughput",
    orders: n,
    erp: { batchSize: 50, requestConcurrency: 5 },
    timeoutMs: options.timeoutMs,
  });
  const result: ThroughputResult = {
    orders: n,
    ordersPerSecond: Number((n / (run.allInErp / 1000)).toFixed(1)),
    firstOrderInErpSeconds: seconds(run.firstInErp),
    allInErpSeconds: seconds(run.allInErp),
    allStoredSeconds: seconds(run.allStored),
    allSyncedInApiSeconds: seconds(run.allSynced),
    shopifyRequests: run.shopify.requests,
    erpCreateCalls: run.lingxing.requests[CREATE_ORDERS_PATH] ?? 0,
    actualCostPerOrder: Number((run.shopify.actualCost / n).toFixed(2)),
    overLimit: { shopify: run.shopify.overLimit, lingxing: run.lingxing.overLimit },
  };
  options.log(
    `throughput: ${result.ordersPerSecond} orders/s (${n} in ${result.allInErpSeconds} s), first in ERP after ${result.firstOrderInErpSeconds} s`,
  );
  return result;
}

// ───────────────────────────── 2. ERP calls per order vs batch size ─────────────────────────────

export interface BatchRow {
  batchSize: number;
  orders: number;
  createCalls: number;
  callsPerOrder: number;
  seconds: number;
}

async function measureBatchSizes(hub: Hub, options: PipelineOptions): Promise<BatchRow[]> {
  const n = options.batchOrders;
  options.log(`batch sizes ${options.batchSizes.join(", ")}: ${n} orders each, one ERP app per size…`);
  // One after the other: each run has the queues to itself, so its calls reflect only its batch size.
  const rows: BatchRow[] = [];
  for (const batchSize of options.batchSizes) {
    const run = await pushThrough(hub, {
      label: `batch-${batchSize}`,
      orders: n,
      erp: { batchSize, requestConcurrency: 5 },
      timeoutMs: options.timeoutMs,
    });
    const calls = run.lingxing.requests[CREATE_ORDERS_PATH] ?? 0;
    rows.push({
      batchSize,
      orders: n,
      createCalls: calls,
      callsPerOrder: Number((calls / n).toFixed(3)),
      seconds: seconds(run.allInErp),
    });
  }
  for (let i = 1; i < rows.length; i++) {
    const before = rows[i - 1];
    const row = rows[i];
    if (before && row && !(row.callsPerOrder < before.callsPerOrder)) {
      throw new BenchError(
        `ERP calls per order did not fall with the batch size: ${before.batchSize} → ${before.callsPerOrder}, ${row.batchSize} → ${row.callsPerOrder}`,
      );
    }
  }
  options.log(
    `calls/order: ${rows.map((r) => `batch ${r.batchSize} → ${r.callsPerOrder} (${r.createCalls} calls)`).join(", ")}`,
  );
  return rows;
}

// ───────────────────────────── 3. upstream utilisation under a rate limit ─────────────────────────────

export interface RateResult {
  orders: number;
  bucket: { maximumAvailable: number; restoreRate: number };
  paths: string[];
  finished: boolean;
  /** From the first Shopify request to the last path's end (or the cut-off). */
  windowSeconds: number;
  requests: number;
  requestsPerSecond: number;
  requestedPointsPerSecond: number;
  actualPointsPerSecond: number;
  /** Shopify's bucket (currentlyAvailable) when the window opened and closed. */
  bucketAtStart: number;
  bucketAtEnd: number;
  /**
   * (actual points − (bucket at start − bucket at end)) / (restoreRate × window): the share of the points
   * Shopify restored during the window that the paths used. The start burst counts neither way.
   */
  utilisationPercent: number;
  /** actual points/s ÷ restoreRate: flattered by the full bucket at the start. */
  grossUtilisationPercent: number;
  throttled: number;
  overLimit: number;
  http429: number;
  /**
   * Pages stored, in the order seen (sampled every 250 ms), and how often the path storing changed: 1
   * when the paths ran one after the other, about pages − 1 when they took turns.
   */
  interleaving: { pages: number; switches: number };
  jobs: { type: string; status: string; pages: number; items: number; seconds: number | null }[];
  /** The targets: at least 90% utilisation, nothing sent over the limit. */
  goals: { utilisationAtLeast90: boolean; zeroOverLimit: boolean };
}

async function measureRateLimit(
  hub: Hub,
  options: PipelineOptions,
  costPerOrder: number | null,
): Promise<RateResult> {
  const bucket = options.rateBucket;
  // Each path reads every order: size the set so the paths need about rateSeconds of restored budget.
  const perOrder = costPerOrder ?? DEFAULT_ACTUAL_COST_PER_ORDER;
  const orders =
    options.rateOrders > 0
      ? options.rateOrders
      : Math.max(
          14,
          Math.ceil(
            (bucket.restoreRate * options.rateSeconds + bucket.maximumAvailable) /
              (options.ratePaths * perOrder),
          ),
        );
  options.log(
    `rate limit: bucket ${bucket.maximumAvailable} points, ${bucket.restoreRate}/s; ${orders} orders (≈${perOrder} points each) read by the orders stream${options.ratePaths === 2 ? " AND a paged backfill" : " alone"}…`,
  );
  // No ERP: this measures the pull side only.
  const channel = await hub.channel("rate", bucket, null);
  // Its streams are cheap queue messages (a Lingxing poll, a backlog sweep) that never touch the shop.
  const filler = await hub.erp("rate-filler", { batchSize: 50, requestConcurrency: 1 });
  await hub.seedOrders(channel.shop, orders);
  const before = await hub.shopifyStats(channel.shop);
  const since = new Date(Date.now() - 2 * 24 * 3600 * 1000).toISOString();

  const triggered = performance.now();
  let polledAt = Date.now();
  const stream = await hub.triggerSync(channel.id);
  const paths = ["orders stream (stream.run)"];

  // The window opens at the first request Shopify sees (queue delivery before it is the local queue's
  // batching, not the governor's doing). Wall clock (the server's job timestamps use the same machine
  // clock); the previous poll's start is the earliest the first request can have arrived, so the window
  // is never understated.
  const firstRequestWall = await waitFor<number>(
    "the first Shopify request",
    30_000,
    async () => {
      const pollStart = Date.now();
      const s = await hub.shopifyStats(channel.shop);
      if (s.requests > before.requests) return { done: polledAt };
      polledAt = pollStart;
      return { progress: "no request yet" };
    },
    25,
  );

  let backfillJobs: string[] = [];
  if (options.ratePaths === 2 && !hub.usedCronFallback) {
    // wrangler dev's queue delivers one batch at a time per queue, and a consumer handles its batch's
    // messages one after the other: a backfill sent with the stream would only run after it. Production
    // runs batches in concurrent consumer invocations; locally a second batch is delivered while the
    // first runs only once a full batch (max_batch_size) is waiting, so the backfill goes with fillers.
    backfillJobs = (await hub.triggerSync(channel.id, { since, mode: "paged" })).jobIds;
    for (let sent = 1; sent < CHANNEL_PULL_MAX_BATCH; sent += 2) await hub.triggerSync(filler.id);
    paths.push("paged backfill (orders.backfill)");
  }
  const jobIds = [...stream.jobIds, ...backfillJobs];
  // Without job ids (cron fallback) the connection's jobs are listed; it has exactly the ones started here.
  const expectedJobs = paths.length;
  const firstRequest = performance.now();
  const startAvailable = before.throttleStatus.currentlyAvailable;
  // Past this the window closes even if the paths are not done: the rates over it are what counts.
  const cutOffMs = Math.max(20, options.rateSeconds * 1.5) * 1000;
  const previousPages = new Map<string, number>();
  let pagesSeen = 0;
  let switches = 0;
  let lastPath: string | null = null;
  let finished = false;
  let last: SyncJob[] = [];
  while (true) {
    await sleep(250);
    last =
      jobIds.length > 0 ? await Promise.all(jobIds.map((id) => hub.job(id))) : await hub.jobs(channel.id);
    const moved = last.filter((j) => j.pages > (previousPages.get(j.id) ?? 0));
    for (const j of last) previousPages.set(j.id, j.pages);
    for (const j of moved) {
      pagesSeen += 1;
      if (lastPath !== null && lastPath !== j.id) switches += 1;
      lastPath = j.id;
    }
    const failed = last.find((j) => j.status === "failed");
    if (failed) throw new BenchError(`the ${failed.type} job failed: ${failed.lastError ?? "no error text"}`);
    if (last.length >= expectedJobs && last.every((j) => j.status === "succeeded")) {
      finished = true;
      break;
    }
    if (performance.now() - firstRequest > cutOffMs) break;
    if (performance.now() - triggered > options.timeoutMs + cutOffMs) break;
  }
  const loopEnd = Date.now();
  const after = await hub.shopifyStats(channel.shop);
  const afterAt = Date.now();
  // The last page's request came just before its job finished: end the window at the last finish.
  const finishedAt = Math.max(...last.map((j) => (j.finishedAt ? Date.parse(j.finishedAt) : 0)));
  const endWall = finished && finishedAt > 0 ? finishedAt : loopEnd;
  const window = Math.max(1, endWall - firstRequestWall) / 1000;
  const requested = after.requestedCost - before.requestedCost;
  const actual = after.actualCost - before.actualCost;
  const requests = after.requests - before.requests;
  // The bucket at the window's end, from the later reading less what it restored since (a lower bound).
  const endAvailable = Math.max(
    0,
    after.throttleStatus.currentlyAvailable - (bucket.restoreRate * (afterAt - endWall)) / 1000,
  );
  // What the paths drew from the restore flow: points spent less what the bucket itself gave up.
  const fromRestore = actual - (startAvailable - endAvailable);
  const result: RateResult = {
    orders,
    bucket,
    paths,
    finished,
    windowSeconds: Number(window.toFixed(2)),
    requests,
    requestsPerSecond: Number((requests / window).toFixed(2)),
    requestedPointsPerSecond: Number((requested / window).toFixed(1)),
    actualPointsPerSecond: Number((actual / window).toFixed(1)),
    bucketAtStart: startAvailable,
    bucketAtEnd: Math.round(endAvailable),
    utilisationPercent: Number(((fromRestore / (bucket.restoreRate * window)) * 100).toFixed(1)),
    grossUtilisationPercent: Number(((actual / window / bucket.restoreRate) * 100).toFixed(1)),
    throttled: after.throttled - before.throttled,
    overLimit: after.overLimit - before.overLimit,
    http429: (after.injected["429"] ?? 0) - (before.injected["429"] ?? 0),
    interleaving: { pages: pagesSeen, switches },
    jobs: last.map((j) => ({
      type: j.type,
      status: j.status,
      pages: j.pages,
      items: j.itemsProcessed,
      seconds:
        j.startedAt && j.finishedAt ? seconds(Date.parse(j.finishedAt) - Date.parse(j.startedAt)) : null,
    })),
    goals: { utilisationAtLeast90: false, zeroOverLimit: false },
  };
  result.goals = {
    utilisationAtLeast90: result.utilisationPercent >= 90,
    zeroOverLimit: result.overLimit === 0 && result.throttled === 0 && result.http429 === 0,
  };
  options.log(
    `rate limit: ${result.actualPointsPerSecond} actual points/s against ${bucket.restoreRate} restored/s, utilisation ${result.utilisationPercent}% (gross ${result.grossUtilisationPercent}%), ${result.requestsPerSecond} requests/s, over limit ${result.overLimit}`,
  );
  return result;
}

/** `max_batch_size` of the channel-pull consumer (wrangler.toml); each filler trigger sends two messages. */
const CHANNEL_PULL_MAX_BATCH = 10;

/** Used when the throughput run did not measure it (the fake's seeded orders, inline lines included). */
const DEFAULT_ACTUAL_COST_PER_ORDER = 40;

// ───────────────────────────── report ─────────────────────────────

export interface PipelineReport {
  throughput?: ThroughputResult;
  batch?: BatchRow[];
  rate?: RateResult;
  notes: string[];
}

export function printPipelineReport(report: PipelineReport, log: (line: string) => void = console.log): void {
  log("");
  log("Integration hub pipeline (zero-latency fakes)");
  if (report.throughput) {
    const t = report.throughput;
    console.table([
      {
        orders: t.orders,
        "orders/s to ERP": t.ordersPerSecond,
        "first in ERP s": t.firstOrderInErpSeconds,
        "all stored s": t.allStoredSeconds,
        "all in ERP s": t.allInErpSeconds,
        "all synced (API) s": t.allSyncedInApiSeconds,
        "Shopify requests": t.shopifyRequests,
        "ERP create calls": t.erpCreateCalls,
        "over limit (Shopify/Lingxing)": `${t.overLimit.shopify}/${t.overLimit.lingxing}`,
      },
    ]);
  }
  if (report.batch) {
    console.table(
      report.batch.map((r) => ({
        "batch size": r.batchSize,
        orders: r.orders,
        "create calls": r.createCalls,
        "calls/order": r.callsPerOrder,
        "all in ERP s": r.seconds,
      })),
    );
  }
  if (report.rate) {
    const r = report.rate;
    console.table([
      {
        bucket: `${r.bucket.maximumAvailable} pts, ${r.bucket.restoreRate}/s`,
        orders: r.orders,
        "window s": r.windowSeconds,
        finished: r.finished,
        "req/s": r.requestsPerSecond,
        "requested pts/s": r.requestedPointsPerSecond,
        "actual pts/s": r.actualPointsPerSecond,
        "utilisation %": r.utilisationPercent,
        "gross %": r.grossUtilisationPercent,
        "bucket start→end": `${r.bucketAtStart}→${r.bucketAtEnd}`,
        throttled: r.throttled,
        "over limit": r.overLimit,
        "429s": r.http429,
      },
    ]);
    log(
      "Shopify meters the bucket by cost: each query is charged its requested cost on arrival and refunded down to its actual cost, " +
        "so what a client sustains is actual points/s ≤ restoreRate (each query still needs its requested cost in the bucket before it is sent). " +
        "utilisation = (actual points − bucket drawn down) / (restoreRate × window); gross = actual points/s ÷ restoreRate.",
    );
    log(
      `Paths took turns ${r.interleaving.switches} times over ${r.interleaving.pages} page samples (1 = one after the other); jobs: ${r.jobs
        .map(
          (j) =>
            `${j.type} ${j.status} ${j.pages} pages/${j.items} orders${j.seconds === null ? "" : ` in ${j.seconds} s`}`,
        )
        .join("; ")}`,
    );
  }
  if (report.rate) {
    const { goals } = report.rate;
    log(
      `goals: utilisation ≥ 90% ${goals.utilisationAtLeast90 ? "met" : "MISSED"}; zero over limit / throttled / 429 ${goals.zeroOverLimit ? "met" : "MISSED"}`,
    );
  }
  for (const note of report.notes) log(`note: ${note}`);
  log(`PIPELINE_BENCH ${JSON.stringify(report)}`);
}

export async function runPipelineBench(
  targets: PipelineTargets,
  options: PipelineOptions = pipelineOptionsFromEnv(),
): Promise<PipelineReport> {
  const report: PipelineReport = { notes: [] };
  const hub = await Hub.signIn(targets);
  // A zero-latency ERP: the bench measures the hub, not a simulated network.
  await http("POST", `${targets.lingxingUrl}/__control/config`, { body: { latencyMs: 0 } });
  const leftovers = await hub.removeLeftovers();
  if (leftovers > 0) options.log(`removed ${leftovers} connection(s) left by an earlier run`);
  try {
    if (options.parts.includes("throughput")) report.throughput = await measureThroughput(hub, options);
    if (options.parts.includes("batch")) report.batch = await measureBatchSizes(hub, options);
    if (options.parts.includes("rate")) {
      report.rate = await measureRateLimit(hub, options, report.throughput?.actualCostPerOrder ?? null);
    }
  } finally {
    // BENCH_KEEP_CONNECTIONS=1 leaves them for a look at their orders and jobs (the next run removes them).
    if (process.env.BENCH_KEEP_CONNECTIONS !== "1") await hub.removeCreated();
  }
  if (hub.usedCronFallback) {
    report.notes.push(
      "POST /connections/{id}/sync is not served: streams were started by ticking the cron, and the rate-limit run had no backfill path",
    );
  }
  return report;
}

/** The fakes of a stack started by `npm start` / bench/run.ts (fixed ports). */
export function fakeUrlsFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<PipelineTargets, "url"> {
  return {
    shopifyUrl: env.BENCH_SHOPIFY_URL ?? `http://127.0.0.1:${env.DEMO_SHOPIFY_PORT ?? 8791}`,
    lingxingUrl: env.BENCH_LINGXING_URL ?? `http://127.0.0.1:${env.DEMO_LINGXING_PORT ?? 8792}`,
  };
}

async function main() {
  const url = process.env.BENCH_URL;
  if (!url) {
    throw new BenchError(
      "set BENCH_URL to a running stack (npm start), or run `BENCH_FILTER=pipeline npm run bench` to start one",
    );
  }
  const started = performance.now();
  const report = await runPipelineBench({ url, ...fakeUrlsFromEnv() });
  printPipelineReport(report);
  console.log(`pipeline bench took ${seconds(performance.now() - started)} s`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    console.error(error instanceof BenchError ? `[pipeline] ${error.message}` : error);
    process.exit(1);
  });
}
