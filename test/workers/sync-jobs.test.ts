import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { governorGate } from "../../src/services/upstream/governor-gate";
import { bearer, signedInUser } from "../support/auth";
import { call, createTenant, envelope, ownerSql, type TestTenant } from "../support/harness";

const JOBS = "/api/v1/sync/jobs";
const STATUS = "/api/v1/sync/status";
const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";
const ONE_DB_ROUND_TRIP = /(^|, )db;dur=[\d.]+;desc="1 rt"/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Job {
  id: string;
  connectionId: string;
  connection: { provider: string; kind: string; displayName: string };
  type: string;
  resource: string;
  trigger: string;
  status: string;
  attempts: number;
  itemsProcessed: number;
  pages: number;
  params: Record<string, unknown>;
  cursor: Record<string, unknown> | null;
  lastError: string | null;
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  createdAt: string;
  updatedAt: string;
}

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

interface ConnectionStatus {
  connectionId: string;
  provider: string;
  kind: string;
  displayName: string;
  enabled: boolean;
  streams: {
    resource: string;
    lastSuccessAt: string | null;
    lastRunAt: string | null;
    lagSeconds: number | null;
    nextDueAt: string;
    leased: boolean;
    consecutiveFailures: number;
    lastError: string | null;
  }[];
  backlog: { pendingPushes: number; pendingWritebacks: number };
  openFailures: { pull: number; push: number; writeback: number };
  lastJob: { id: string; type: string; status: string; finishedAt: string | null } | null;
  breakers:
    | { endpoint: string; state: string; consecutiveFailures: number; openUntil: string | null }[]
    | null;
}

async function json<T>(response: Response) {
  const body = await envelope<T>(response);
  return { status: response.status, body, data: body.data as T, error: body.error };
}

async function connection(
  tenant: TestTenant,
  kind: "channel" | "erp",
  options: { displayName?: string; erpConnectionId?: string; enabled?: boolean } = {},
) {
  const provider = kind === "erp" ? "lingxing" : "shopify";
  const account =
    kind === "erp"
      ? `ak_${crypto.randomUUID().slice(0, 8)}`
      : `shop-${crypto.randomUUID().slice(0, 8)}.myshopify.com`;
  const [row] = await ownerSql()`
    insert into connections (tenant_id, kind, provider, account, display_name, credentials_sealed, erp_connection_id, enabled)
    values (${tenant.id}, ${kind}, ${provider}, ${account}, ${options.displayName ?? (kind === "erp" ? "Lingxing" : "Shop")},
            'sealed', ${options.erpConnectionId ?? null}, ${options.enabled ?? true})
    returning id`;
  return { id: String(row?.id), provider, account };
}

interface JobSeed {
  type?: string;
  resource?: string;
  trigger?: string;
  status?: string;
  createdAt?: string;
  startedAt?: string | null;
  finishedAt?: string | null;
  lastError?: string | null;
}

async function job(tenant: TestTenant, connectionId: string, seed: JobSeed = {}): Promise<string> {
  const [row] = await ownerSql()`
    insert into sync_jobs (tenant_id, connection_id, type, resource, trigger, status, attempts, items_processed, pages,
                           params, cursor, last_error, started_at, finished_at, created_at)
    values (${tenant.id}, ${connectionId}, ${seed.type ?? "pull"}, ${seed.resource ?? "orders"}, ${seed.trigger ?? "cron"},
            ${seed.status ?? "succeeded"}, 1, 42, 2, '{"since":"2026-03-01T00:00:00Z"}', '{"after":"eyJsYXN0X2lkIjo0Mn0"}',
            ${seed.lastError ?? null}, ${seed.startedAt === undefined ? "2026-03-10T09:00:00Z" : seed.startedAt},
            ${seed.finishedAt === undefined ? "2026-03-10T09:00:02.5Z" : seed.finishedAt},
            ${seed.createdAt ?? new Date().toISOString()})
    returning id`;
  return String(row?.id);
}

async function order(tenant: TestTenant, channelId: string): Promise<string> {
  const [row] = await ownerSql()`
    insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                        total_minor, search_text, data, placed_at, channel_updated_at)
    values (${tenant.id}, ${channelId}, 'shopify', 'shop', ${crypto.randomUUID()}, '#1', 'USD', 100, '#1', '{}', now(), now())
    returning id`;
  return String(row?.id);
}

describe("sync jobs: authentication and authorization", () => {
  it("answers 401 without a token and 403 without sync:read", async () => {
    for (const path of [JOBS, `${JOBS}/${MISSING_ID}`, STATUS]) {
      const res = await call(path);
      expect(res.status, path).toBe(401);
      expect((await envelope(res)).error?.code).toBe("UNAUTHORIZED");
    }
    const nobody = await signedInUser({ permissions: ["orders:read"] });
    for (const path of [JOBS, `${JOBS}/${MISSING_ID}`, STATUS]) {
      const res = await call(path, bearer(nobody.token));
      expect(res.status, path).toBe(403);
      expect((await envelope(res)).error).toEqual({
        code: "FORBIDDEN",
        message: "Missing permission sync:read",
        details: { permission: "sync:read" },
      });
    }
  });

  it("answers 404 for another tenant's job and never lists it", async () => {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const other = await createTenant();
    const theirs = await job(other, (await connection(other, "channel")).id);
    const res = await json(await call(`${JOBS}/${theirs}`, bearer(reader.token)));
    expect(res.status).toBe(404);
    expect(res.error).toEqual({ code: "NOT_FOUND", message: "Sync job not found" });
    expect((await json<Page<Job>>(await call(JOBS, bearer(reader.token)))).data.total).toBe(0);
  });
});

describe("GET /sync/jobs", () => {
  it("lists jobs newest first with their connection, in one round trip", async () => {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const t = reader.tenant;
    const shop = await connection(t, "channel", { displayName: "Main shop" });
    const older = await job(t, shop.id, { createdAt: "2026-03-10T09:00:00Z" });
    const newer = await job(t, shop.id, {
      type: "backfill",
      trigger: "manual",
      status: "running",
      finishedAt: null,
      createdAt: "2026-03-11T09:00:00Z",
    });
    await call(JOBS, bearer(reader.token));
    const res = await call(JOBS, bearer(reader.token));
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    const page = (await envelope<Page<Job>>(res)).data;
    expect(page).toMatchObject({ total: 2, page: 1, pageSize: 50, totalPages: 1 });
    expect(page?.items.map((j) => j.id)).toEqual([newer, older]);
    expect(page?.items[1]).toEqual({
      id: older,
      connectionId: shop.id,
      connection: { provider: "shopify", kind: "channel", displayName: "Main shop" },
      type: "pull",
      resource: "orders",
      trigger: "cron",
      status: "succeeded",
      attempts: 1,
      itemsProcessed: 42,
      pages: 2,
      params: { since: "2026-03-01T00:00:00Z" },
      cursor: { after: "eyJsYXN0X2lkIjo0Mn0" },
      lastError: null,
      startedAt: "2026-03-10T09:00:00.000Z",
      finishedAt: "2026-03-10T09:00:02.500Z",
      durationMs: 2500,
      createdAt: "2026-03-10T09:00:00.000Z",
      updatedAt: expect.stringMatching(ISO),
    });
    expect(page?.items[0]).toMatchObject({ status: "running", finishedAt: null, durationMs: null });
  });

  it("filters by connection, type, status, trigger and creation dates, and pages", async () => {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const t = reader.tenant;
    const shop = await connection(t, "channel");
    const erp = await connection(t, "erp");
    const pull = await job(t, shop.id, { createdAt: "2026-03-01T10:00:00Z" });
    const push = await job(t, erp.id, {
      type: "push",
      resource: "orders",
      trigger: "event",
      status: "failed",
      lastError: "timeout",
      createdAt: "2026-03-05T10:00:00Z",
    });
    const replay = await job(t, erp.id, {
      type: "writeback",
      resource: "shipments",
      trigger: "replay",
      createdAt: "2026-03-09T23:59:59Z",
    });
    const idsOf = async (query: string) => {
      const res = await json<Page<Job>>(await call(`${JOBS}?${query}`, bearer(reader.token)));
      expect(res.status, query).toBe(200);
      return res.data.items.map((j) => j.id).sort();
    };
    expect(await idsOf(`connectionId=${erp.id}`)).toEqual([push, replay].sort());
    expect(await idsOf("type=push")).toEqual([push]);
    expect(await idsOf("status=failed")).toEqual([push]);
    expect(await idsOf("trigger=replay")).toEqual([replay]);
    expect(await idsOf("from=2026-03-05&to=2026-03-09")).toEqual([push, replay].sort());
    expect(await idsOf("to=2026-03-01T10:00:00Z")).toEqual([pull]);
    const second = await json<Page<Job>>(await call(`${JOBS}?pageSize=2&page=2`, bearer(reader.token)));
    expect(second.data).toMatchObject({ total: 3, totalPages: 2 });
    expect(second.data.items.map((j) => j.id)).toEqual([pull]);
    for (const bad of [
      "type=sync",
      "status=done",
      "trigger=timer",
      "connectionId=x",
      "from=03/01/2026",
      "page=0",
    ]) {
      const res = await json(await call(`${JOBS}?${bad}`, bearer(reader.token)));
      expect(res.status, bad).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
    }
  });
});

describe("GET /sync/jobs/{id}", () => {
  it("answers one job, 404 for an unknown id and 422 for a malformed one", async () => {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const shop = await connection(reader.tenant, "channel");
    const id = await job(reader.tenant, shop.id, { status: "failed", lastError: "Shopify answered 401" });
    const res = await json<Job>(await call(`${JOBS}/${id.toUpperCase()}`, bearer(reader.token)));
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      id,
      status: "failed",
      lastError: "Shopify answered 401",
      connectionId: shop.id,
    });
    expect((await call(`${JOBS}/${MISSING_ID}`, bearer(reader.token))).status).toBe(404);
    const malformed = await json(await call(`${JOBS}/123`, bearer(reader.token)));
    expect(malformed.status).toBe(422);
    expect(malformed.error?.details).toHaveProperty("id");
  });
});

describe("GET /sync/status", () => {
  async function population() {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const t = reader.tenant;
    const erp = await connection(t, "erp", { displayName: "Lingxing" });
    const shop = await connection(t, "channel", { displayName: "Acme shop", erpConnectionId: erp.id });
    const quiet = await connection(t, "channel", { displayName: "Zed shop (paused)", enabled: false });
    const sql = ownerSql();
    await sql`insert into sync_streams (tenant_id, connection_id, resource, interval_seconds, next_due_at, last_run_at,
                                        last_success_at, lease_owner, lease_until, consecutive_failures, last_error) values
      (${t.id}, ${shop.id}, 'orders', 300, now() + interval '4 minutes', now() - interval '1 minute',
       now() - interval '10 minutes', 'consumer-1', now() + interval '1 minute', 2, 'Shopify answered 503'),
      (${t.id}, ${shop.id}, 'inventory', 900, now() + interval '10 minutes', null, null, null, null, 0, null),
      (${t.id}, ${erp.id}, 'shipments', 300, now(), now() - interval '2 minutes', now() - interval '2 minutes',
       'consumer-2', now() - interval '1 minute', 0, null)`;
    const orders = [
      await order(t, shop.id),
      await order(t, shop.id),
      await order(t, shop.id),
      await order(t, shop.id),
    ];
    const statuses = ["pending", "pending", "in_flight", "created"];
    for (const [i, orderId] of orders.entries()) {
      await sql`insert into erp_push_ledger (tenant_id, order_id, erp_connection_id, reference, status)
                values (${t.id}, ${orderId}, ${erp.id}, ${`TW-${i}`}, ${statuses[i] ?? "pending"})`;
    }
    await sql`insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, tracking_numbers,
                                     shipped_at, writeback_status) values
      (${t.id}, ${orders[3] ?? ""}, ${erp.id}, 'PKG-1', 'UPS', ${["1Z1"]}, now(), 'pending'),
      (${t.id}, ${orders[3] ?? ""}, ${erp.id}, 'PKG-2', 'UPS', ${["1Z2"]}, now(), 'done')`;
    await sql`insert into sync_failures (tenant_id, connection_id, operation, fingerprint, payload, status, error_kind, last_error) values
      (${t.id}, ${erp.id}, 'push', 'push:a', '{}', 'open', 'permanent', 'x'),
      (${t.id}, ${erp.id}, 'push', 'push:b', '{}', 'replaying', 'permanent', 'x'),
      (${t.id}, ${erp.id}, 'push', 'push:c', '{}', 'resolved', 'permanent', 'x'),
      (${t.id}, ${shop.id}, 'pull', 'pull:s', '{}', 'open', 'auth', 'x')`;
    await job(t, shop.id, { createdAt: "2026-03-10T09:00:00Z" });
    const lastShopJob = await job(t, shop.id, {
      status: "failed",
      createdAt: "2026-03-11T09:00:00Z",
      finishedAt: "2026-03-11T09:00:05Z",
    });
    return { reader, t, erp, shop, quiet, lastShopJob };
  }

  it("reports streams, backlog, failures, last job and breakers per connection, Postgres in one round trip", async () => {
    const { reader, erp, shop, quiet, lastShopJob } = await population();
    // Open the ERP's breaker on one endpoint through its real rate governor.
    const gate = governorGate(
      env.RATE_GOVERNORS,
      `lingxing:${erp.account}`,
      { kind: "concurrency", permits: 2, leaseMs: 60_000 },
      {
        breaker: { failureThreshold: 1 },
      },
    );
    const permit = await gate.acquire({ endpoint: "/erp/sc/routing/order/Order/create", cost: 1 });
    await permit.release({ ok: false, failure: "retryable" });

    await call(STATUS, bearer(reader.token));
    const res = await call(STATUS, bearer(reader.token));
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    const status = (await envelope<{ generatedAt: string; connections: ConnectionStatus[] }>(res)).data;
    expect(status?.generatedAt).toMatch(ISO);
    expect(status?.connections.map((c) => c.displayName)).toEqual([
      "Acme shop",
      "Zed shop (paused)",
      "Lingxing",
    ]);
    const [shopStatus, quietStatus, erpStatus] = status?.connections ?? [];

    expect(shopStatus).toMatchObject({
      connectionId: shop.id,
      provider: "shopify",
      kind: "channel",
      enabled: true,
      backlog: { pendingPushes: 3, pendingWritebacks: 1 },
      openFailures: { pull: 1, push: 0, writeback: 0 },
      lastJob: { id: lastShopJob, type: "pull", status: "failed", finishedAt: "2026-03-11T09:00:05.000Z" },
      breakers: [],
    });
    expect(shopStatus?.streams).toEqual([
      {
        resource: "inventory",
        lastSuccessAt: null,
        lastRunAt: null,
        lagSeconds: null,
        nextDueAt: expect.stringMatching(ISO),
        leased: false,
        consecutiveFailures: 0,
        lastError: null,
      },
      {
        resource: "orders",
        lastSuccessAt: expect.stringMatching(ISO),
        lastRunAt: expect.stringMatching(ISO),
        lagSeconds: expect.any(Number),
        nextDueAt: expect.stringMatching(ISO),
        leased: true,
        consecutiveFailures: 2,
        lastError: "Shopify answered 503",
      },
    ]);
    const lag = shopStatus?.streams[1]?.lagSeconds ?? 0;
    expect(lag).toBeGreaterThanOrEqual(600);
    expect(lag).toBeLessThan(700);

    expect(quietStatus).toMatchObject({
      connectionId: quiet.id,
      enabled: false,
      streams: [],
      backlog: { pendingPushes: 0, pendingWritebacks: 0 },
      openFailures: { pull: 0, push: 0, writeback: 0 },
      lastJob: null,
    });

    expect(erpStatus).toMatchObject({
      connectionId: erp.id,
      provider: "lingxing",
      kind: "erp",
      backlog: { pendingPushes: 3, pendingWritebacks: 1 },
      openFailures: { pull: 0, push: 2, writeback: 0 },
      lastJob: null,
      streams: [{ resource: "shipments", leased: false, lagSeconds: expect.any(Number) }],
    });
    expect(erpStatus?.breakers).toEqual([
      {
        endpoint: "/erp/sc/routing/order/Order/create",
        state: "open",
        consecutiveFailures: 1,
        openUntil: expect.stringMatching(ISO),
      },
    ]);
  });

  it("still answers, with breakers null, when the rate governors cannot be reached", async () => {
    const { reader } = await population();
    const unreachable = {
      idFromName: () => {
        throw new Error("namespace down");
      },
      get: () => {
        throw new Error("namespace down");
      },
    } as unknown as Env["RATE_GOVERNORS"];
    const res = await json<{ connections: ConnectionStatus[] }>(
      await call(STATUS, bearer(reader.token), { RATE_GOVERNORS: unreachable }),
    );
    expect(res.status).toBe(200);
    expect(res.data.connections).toHaveLength(3);
    expect(res.data.connections.every((c) => c.breakers === null)).toBe(true);
    expect(res.data.connections[0]?.backlog.pendingPushes).toBe(3);
  });

  it("shows only the caller's tenant, and nothing for a tenant without connections", async () => {
    await population();
    const lonely = await signedInUser({ permissions: ["sync:read"] });
    const res = await json<{ connections: ConnectionStatus[] }>(await call(STATUS, bearer(lonely.token)));
    expect(res.status).toBe(200);
    expect(res.data.connections).toEqual([]);
  });
});
