import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ForbiddenError, NotFoundError, PreconditionFailedError } from "../../src/lib/errors";
import { loadConnectionForSync } from "../../src/services/connections/load-connection";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, type envelope, ownerSql } from "../support/harness";
import {
  CONNECTIONS,
  type Connection,
  lingxingCredentials,
  randomShopDomain,
  shopifyCredentials,
} from "../support/hub";

const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";
const DAY_MS = 24 * 60 * 60 * 1000;

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

/*
 * Every credential value this file sends is remembered, and every response body and log line of its calls
 * is kept; the last test proves no secret ever came back or reached a log. Calls run at LOG_LEVEL=debug so
 * the log lines that would be written in production are all produced.
 */
const secrets = new Set<string>();
const responses: string[] = [];
const logLines: string[] = [];

/** Remembers the secret values of a credentials object (a Lingxing app id is public: it is the account). */
function secret<T extends Record<string, unknown>>(credentials: T): T {
  for (const [key, value] of Object.entries(credentials)) {
    if (typeof value === "string" && key !== "appId") secrets.add(value);
  }
  return credentials;
}

beforeAll(() => {
  for (const level of ["log", "info", "warn", "error", "debug"] as const) {
    vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      logLines.push(args.map(String).join(" "));
    });
  }
});

afterAll(() => {
  vi.restoreAllMocks();
});

async function send<T = Connection>(
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  overrides: Partial<Env> = {},
) {
  const init = token ? bearer(token, { method, body }) : { method };
  const response = await call(path, init, { LOG_LEVEL: "debug", ...overrides });
  const text = await response.text();
  responses.push(text);
  const parsed = JSON.parse(text) as Awaited<ReturnType<typeof envelope<T>>>;
  return { status: response.status, headers: response.headers, data: parsed.data as T, error: parsed.error };
}

function shopifyBody(overrides: Record<string, unknown> = {}) {
  return {
    provider: "shopify",
    account: randomShopDomain(),
    displayName: "Acme US",
    credentials: secret(shopifyCredentials()),
    ...overrides,
  };
}

function lingxingBody(overrides: Record<string, unknown> = {}) {
  const credentials = secret(lingxingCredentials());
  return {
    provider: "lingxing",
    account: credentials.appId,
    displayName: "Lingxing",
    credentials,
    ...overrides,
  };
}

async function admin() {
  return signedInUser({ permissions: ["sync:admin"] });
}

async function streamRows(connectionId: string) {
  return ownerSql()`
    select resource, interval_seconds, checkpoint, next_due_at from sync_streams
     where connection_id = ${connectionId} order by resource`;
}

describe("connections: authentication and authorization", () => {
  it("answers 401 without a token on every route", async () => {
    for (const [method, path] of [
      ["GET", CONNECTIONS],
      ["POST", CONNECTIONS],
      ["GET", `${CONNECTIONS}/${MISSING_ID}`],
      ["PATCH", `${CONNECTIONS}/${MISSING_ID}`],
      ["DELETE", `${CONNECTIONS}/${MISSING_ID}`],
    ] as const) {
      const res = await send(undefined, method, path);
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(res.error).toEqual({ code: "UNAUTHORIZED", message: "Authentication required" });
    }
  });

  it("reads need sync:read and writes sync:admin (403 naming the permission)", async () => {
    const outsider = await signedInUser({ permissions: ["orders:read"] });
    let res = await send(outsider.token, "GET", CONNECTIONS);
    expect(res.status).toBe(403);
    expect(res.error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission sync:read",
      details: { permission: "sync:read" },
    });

    const reader = await signedInUser({ tenant: outsider.tenant, permissions: ["sync:read"] });
    expect((await send(reader.token, "GET", CONNECTIONS)).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", CONNECTIONS, shopifyBody()],
      ["PATCH", `${CONNECTIONS}/${MISSING_ID}`, { enabled: false }],
      ["DELETE", `${CONNECTIONS}/${MISSING_ID}`, undefined],
    ] as const) {
      res = await send(reader.token, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.error).toEqual({
        code: "FORBIDDEN",
        message: "Missing permission sync:admin",
        details: { permission: "sync:admin" },
      });
    }
    const count =
      await ownerSql()`select count(*)::int as n from connections where tenant_id = ${outsider.tenant.id}`;
    expect(count[0]?.n).toBe(0);
  });
});

describe("connections: create", () => {
  it("connects a Shopify shop with default settings and an orders stream due now, from 30 days back", async () => {
    const user = await admin();
    const domain = randomShopDomain();
    const credentials = secret(shopifyCredentials());
    const before = Date.now();
    const res = await send(user.token, "POST", CONNECTIONS, {
      provider: "shopify",
      account: ` ${domain.toUpperCase()} `,
      displayName: "  Acme US  ",
      credentials,
    });
    expect(res.status).toBe(201);
    expect(res.data).toMatchObject({
      kind: "channel",
      provider: "shopify",
      account: domain,
      displayName: "Acme US",
      enabled: true,
      erpConnectionId: null,
      settings: { resources: ["orders"], intervalMinutes: 5, backfillFrom: null, pageSize: 100 },
      credentials: { set: true, keyId: "test1" },
    });
    expect(Object.keys(res.data.credentials).sort()).toEqual(["keyId", "set"]);
    expect(res.data.streams).toHaveLength(1);
    const [orders] = res.data.streams;
    expect(orders).toMatchObject({
      resource: "orders",
      intervalSeconds: 300,
      lastRunAt: null,
      lastSuccessAt: null,
      lastError: null,
      consecutiveFailures: 0,
      leased: false,
    });
    expect(Math.abs(Date.parse(orders?.nextDueAt ?? "") - before)).toBeLessThan(60_000);

    const [row] = await streamRows(res.data.id);
    const checkpoint = row?.checkpoint as { updatedSince?: string } | undefined;
    const since = Date.parse(String(checkpoint?.updatedSince));
    expect(Math.abs(since - (before - 30 * DAY_MS))).toBeLessThan(60_000);
  });

  it("creates one stream per resource with the interval asked, orders starting at backfillFrom", async () => {
    const user = await admin();
    const res = await send(
      user.token,
      "POST",
      CONNECTIONS,
      shopifyBody({
        settings: {
          resources: ["inventory", "orders"],
          intervalMinutes: 15,
          backfillFrom: "2026-01-01T08:00:00+08:00",
        },
      }),
    );
    expect(res.status).toBe(201);
    expect(res.data.streams.map((s) => [s.resource, s.intervalSeconds])).toEqual([
      ["orders", 900],
      ["inventory", 900],
    ]);
    const rows = await streamRows(res.data.id);
    expect(rows.map((r) => [r.resource, r.checkpoint])).toEqual([
      ["inventory", {}],
      ["orders", { updatedSince: "2026-01-01T00:00:00.000Z" }],
    ]);
  });

  it("connects an ERP (shipments and push backlog streams) and a channel that pushes to it", async () => {
    const user = await admin();
    const erp = await send(
      user.token,
      "POST",
      CONNECTIONS,
      lingxingBody({ settings: { shipmentPollMinutes: 10, erpStoreId: "sid-1" } }),
    );
    expect(erp.status).toBe(201);
    expect(erp.data).toMatchObject({
      kind: "erp",
      provider: "lingxing",
      settings: { batchSize: 50, shipmentPollMinutes: 10, erpStoreId: "sid-1", requireSkuMapping: false },
    });
    expect(erp.data.streams.map((s) => [s.resource, s.intervalSeconds])).toEqual([
      ["shipments", 600],
      ["push_backlog", 300],
    ]);
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody({ erpConnectionId: erp.data.id }));
    expect(shop.status).toBe(201);
    expect(shop.data.erpConnectionId).toBe(erp.data.id);
  });

  it("refuses the same account of a provider twice in a tenant (409), not across tenants", async () => {
    const user = await admin();
    const domain = randomShopDomain();
    expect((await send(user.token, "POST", CONNECTIONS, shopifyBody({ account: domain }))).status).toBe(201);
    const res = await send(user.token, "POST", CONNECTIONS, shopifyBody({ account: domain.toUpperCase() }));
    expect(res.status).toBe(409);
    expect(res.error).toEqual({
      code: "CONFLICT",
      message: "A connection to this account of this provider already exists",
      details: { field: "account" },
    });
    const elsewhere = await admin();
    expect((await send(elsewhere.token, "POST", CONNECTIONS, shopifyBody({ account: domain }))).status).toBe(
      201,
    );
  });

  it("answers 422 naming every wrong field, and writes nothing", async () => {
    const user = await admin();
    const cases: [string, Record<string, unknown>, { message: string; details: Record<string, unknown> }][] =
      [
        [
          "unknown provider",
          shopifyBody({ provider: "ebay" }),
          {
            message: "Invalid request body",
            details: {
              provider: ['Invalid option: expected one of "shopify"|"tiktok"|"lingxing"|"coze"|"smtp"'],
            },
          },
        ],
        [
          "credentials of the wrong shape",
          shopifyBody({ credentials: secret({ token: "shpat_wrongfieldname0001", extra: "not-a-field" }) }),
          {
            message: "Invalid connection",
            details: {
              "credentials.accessToken": ["Invalid input: expected string, received undefined"],
              credentials: ['Unrecognized keys: "token", "extra"'],
            },
          },
        ],
        [
          "a token too short",
          shopifyBody({ credentials: secret({ accessToken: "shpat" }) }),
          {
            message: "Invalid connection",
            details: { "credentials.accessToken": ["Too small: expected string to have >=10 characters"] },
          },
        ],
        [
          "bad settings",
          shopifyBody({ settings: { intervalMinutes: 0, resources: ["orders", "refunds"], colour: "red" } }),
          {
            message: "Invalid connection",
            details: {
              "settings.intervalMinutes": ["Too small: expected number to be >=1"],
              "settings.resources.1": ['Invalid option: expected one of "orders"|"inventory"'],
              settings: ['Unrecognized key: "colour"'],
            },
          },
        ],
        [
          "a shop that is not a permanent myshopify domain",
          shopifyBody({ account: "acme.com" }),
          {
            message: "Invalid connection",
            details: { account: ["Use the shop's permanent domain, e.g. acme.myshopify.com"] },
          },
        ],
        [
          "ERP settings on a channel and an ERP link on an ERP",
          lingxingBody({ erpConnectionId: MISSING_ID, settings: { resources: ["orders"] } }),
          {
            message: "Invalid connection",
            details: {
              settings: ['Unrecognized key: "resources"'],
              erpConnectionId: ["Only a sales channel connection pushes its orders to an ERP connection"],
            },
          },
        ],
        [
          "an unknown field",
          shopifyBody({ webhookSecret: "x" }),
          { message: "Invalid request body", details: { _root: ['Unrecognized key: "webhookSecret"'] } },
        ],
      ];
    for (const [why, body, expected] of cases) {
      const res = await send(user.token, "POST", CONNECTIONS, body);
      expect(res.status, why).toBe(422);
      expect(res.error, why).toEqual({ code: "VALIDATION_ERROR", ...expected });
    }
    const count =
      await ownerSql()`select count(*)::int as n from connections where tenant_id = ${user.tenant.id}`;
    expect(count[0]?.n).toBe(0);
  });

  it("answers 422 for an erpConnectionId that is a channel, unknown, or another tenant's ERP", async () => {
    const user = await admin();
    const other = await admin();
    const theirErp = await send(other.token, "POST", CONNECTIONS, lingxingBody());
    const ourShop = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    for (const [erpConnectionId, message] of [
      [ourShop.data.id, "This connection is a sales channel; orders can only be pushed to an ERP connection"],
      [theirErp.data.id, "No ERP connection with this id in this tenant"],
      [MISSING_ID, "No ERP connection with this id in this tenant"],
    ] as const) {
      const res = await send(user.token, "POST", CONNECTIONS, shopifyBody({ erpConnectionId }));
      expect(res.status).toBe(422);
      expect(res.error).toEqual({
        code: "VALIDATION_ERROR",
        message: "Invalid erpConnectionId",
        details: { erpConnectionId: [message] },
      });
    }
    const count =
      await ownerSql()`select count(*)::int as n from connections where tenant_id = ${user.tenant.id}`;
    expect(count[0]?.n).toBe(1);
  });

  it("answers 503 and stores nothing when credential storage is not configured", async () => {
    const user = await admin();
    const res = await send(user.token, "POST", CONNECTIONS, shopifyBody(), { CREDENTIALS_KEYS: "" });
    expect(res.status).toBe(503);
    expect(res.error).toEqual({ code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" });
    const count =
      await ownerSql()`select count(*)::int as n from connections where tenant_id = ${user.tenant.id}`;
    expect(count[0]?.n).toBe(0);
  });
});

describe("connections: read", () => {
  it("lists with filters and pages, with streams, in one Postgres round trip", async () => {
    const user = await admin();
    const erp = await send(user.token, "POST", CONNECTIONS, lingxingBody({ displayName: "ERP" }));
    await send(user.token, "POST", CONNECTIONS, shopifyBody({ displayName: "B shop" }));
    await send(user.token, "POST", CONNECTIONS, shopifyBody({ displayName: "a shop", enabled: false }));

    let res = await send<Page<Connection>>(user.token, "GET", CONNECTIONS);
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ total: 3, page: 1, pageSize: 50, totalPages: 1 });
    expect(res.data.items.map((c) => c.displayName)).toEqual(["ERP", "a shop", "B shop"]);
    expect(res.data.items[0]?.streams.map((s) => s.resource)).toEqual(["shipments", "push_backlog"]);
    expect(res.headers.get("server-timing")).toMatch(/(^|, )db;dur=[\d.]+;desc="1 rt"/);

    res = await send<Page<Connection>>(user.token, "GET", `${CONNECTIONS}?kind=channel&pageSize=1&page=2`);
    expect(res.data).toMatchObject({ total: 2, page: 2, pageSize: 1, totalPages: 2 });
    expect(res.data.items.map((c) => c.displayName)).toEqual(["B shop"]);
    res = await send<Page<Connection>>(user.token, "GET", `${CONNECTIONS}?provider=lingxing`);
    expect(res.data.items.map((c) => c.id)).toEqual([erp.data.id]);
    res = await send<Page<Connection>>(user.token, "GET", `${CONNECTIONS}?enabled=false`);
    expect(res.data.items.map((c) => c.displayName)).toEqual(["a shop"]);
    res = await send<Page<Connection>>(user.token, "GET", `${CONNECTIONS}?provider=ebay`);
    expect(res.status).toBe(422);
    expect(res.error?.details).toHaveProperty("provider");

    const got = await send(user.token, "GET", `${CONNECTIONS}/${erp.data.id}`);
    expect(got.status).toBe(200);
    expect(got.data).toEqual(erp.data);
  });

  it("shows a running stream as leased, with its last run and error", async () => {
    const user = await admin();
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    await ownerSql()`
      update sync_streams set lease_owner = 'consumer-1', lease_until = now() + interval '1 minute',
             last_run_at = now(), last_error = 'Shopify answered 503', consecutive_failures = 2
       where connection_id = ${shop.data.id}`;
    const res = await send(user.token, "GET", `${CONNECTIONS}/${shop.data.id}`);
    expect(res.data.streams[0]).toMatchObject({
      leased: true,
      lastError: "Shopify answered 503",
      consecutiveFailures: 2,
    });
    expect(res.data.streams[0]?.lastRunAt).toMatch(/Z$/);
  });

  it("answers 404 for another tenant's connection or an unknown id, 422 for a malformed id", async () => {
    const user = await admin();
    const other = await admin();
    const theirs = await send(other.token, "POST", CONNECTIONS, shopifyBody({ displayName: "Theirs" }));
    for (const id of [theirs.data.id, MISSING_ID]) {
      const res = await send(user.token, "GET", `${CONNECTIONS}/${id}`);
      expect(res.status).toBe(404);
      expect(res.error).toEqual({ code: "NOT_FOUND", message: "Connection not found" });
    }
    const list = await send<Page<Connection>>(user.token, "GET", CONNECTIONS);
    expect(list.data.total).toBe(0);
    const bad = await send(user.token, "GET", `${CONNECTIONS}/not-a-uuid`);
    expect(bad.status).toBe(422);
    expect(bad.error?.code).toBe("VALIDATION_ERROR");
  });
});

describe("connections: update", () => {
  it("renames, disables and merges settings, moving the streams in the same transaction", async () => {
    const user = await admin();
    const shop = await send(
      user.token,
      "POST",
      CONNECTIONS,
      shopifyBody({ settings: { intervalMinutes: 60, backfillFrom: "2026-02-01T00:00:00Z" } }),
    );
    const id = shop.data.id;
    const [ordersBefore] = await streamRows(id);

    let res = await send(user.token, "PATCH", `${CONNECTIONS}/${id}`, {
      displayName: " Renamed ",
      enabled: false,
    });
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ displayName: "Renamed", enabled: false });

    // A shorter interval applies from now: the next run is no later than one new interval away.
    const before = Date.now();
    res = await send(user.token, "PATCH", `${CONNECTIONS}/${id}`, {
      settings: { intervalMinutes: 2, resources: ["orders", "inventory"] },
    });
    expect(res.status).toBe(200);
    expect(res.data.settings).toEqual({
      resources: ["orders", "inventory"],
      intervalMinutes: 2,
      backfillFrom: "2026-02-01T00:00:00Z",
      pageSize: 100,
    });
    expect(res.data.streams.map((s) => [s.resource, s.intervalSeconds])).toEqual([
      ["orders", 120],
      ["inventory", 120],
    ]);
    for (const stream of res.data.streams) {
      expect(Date.parse(stream.nextDueAt)).toBeLessThanOrEqual(before + 120_000 + 5_000);
    }
    let rows = await streamRows(id);
    // The orders stream kept its checkpoint; the new inventory stream starts from nothing.
    expect(rows.map((r) => [r.resource, r.checkpoint])).toEqual([
      ["inventory", {}],
      ["orders", ordersBefore?.checkpoint],
    ]);

    res = await send(user.token, "PATCH", `${CONNECTIONS}/${id}`, { settings: { resources: ["inventory"] } });
    expect(res.status).toBe(200);
    expect(res.data.streams.map((s) => s.resource)).toEqual(["inventory"]);
    rows = await streamRows(id);
    expect(rows.map((r) => r.resource)).toEqual(["inventory"]);

    res = await send(user.token, "PATCH", `${CONNECTIONS}/${id}`, { settings: { pageSize: 500 } });
    expect(res.status).toBe(422);
    expect(res.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid connection",
      details: { "settings.pageSize": ["Too big: expected number to be <=250"] },
    });
  });

  it("replaces credentials whole and seals them afresh", async () => {
    const user = await admin();
    const first = secret(shopifyCredentials());
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody({ credentials: first }));
    const id = shop.data.id;
    const [sealedBefore] = await ownerSql()`select credentials_sealed from connections where id = ${id}`;

    const second = secret(shopifyCredentials());
    const res = await send(user.token, "PATCH", `${CONNECTIONS}/${id}`, { credentials: second });
    expect(res.status).toBe(200);
    expect(res.data.credentials).toEqual({ set: true, keyId: "test1" });
    const [sealedAfter] = await ownerSql()`select credentials_sealed from connections where id = ${id}`;
    expect(sealedAfter?.credentials_sealed).not.toBe(sealedBefore?.credentials_sealed);
    expect(String(sealedAfter?.credentials_sealed)).toMatch(/^v1\.test1\.[\w-]+\.[\w-]+$/);

    const loaded = await loadConnectionForSync({
      ctx: testContext(),
      input: { tenantId: user.tenant.id, connectionId: id },
    });
    expect(loaded.credentials).toEqual(second);

    const wrong = await send(user.token, "PATCH", `${CONNECTIONS}/${id}`, {
      credentials: secret({ appId: "ak_1", appSecret: "lingxing-secret-on-a-shop" }),
    });
    expect(wrong.status).toBe(422);
    expect(wrong.error?.details).toEqual({
      "credentials.accessToken": ["Invalid input: expected string, received undefined"],
      credentials: ['Unrecognized keys: "appId", "appSecret"'],
    });
    const [unchanged] = await ownerSql()`select credentials_sealed from connections where id = ${id}`;
    expect(unchanged?.credentials_sealed).toBe(sealedAfter?.credentials_sealed);
  });

  it("links and unlinks a channel's ERP, refusing what is not an ERP of the tenant", async () => {
    const user = await admin();
    const other = await admin();
    const erp = await send(user.token, "POST", CONNECTIONS, lingxingBody());
    const theirErp = await send(other.token, "POST", CONNECTIONS, lingxingBody());
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    const path = `${CONNECTIONS}/${shop.data.id}`;

    let res = await send(user.token, "PATCH", path, { erpConnectionId: erp.data.id });
    expect(res.status).toBe(200);
    expect(res.data.erpConnectionId).toBe(erp.data.id);
    for (const erpConnectionId of [theirErp.data.id, shop.data.id]) {
      res = await send(user.token, "PATCH", path, { erpConnectionId });
      expect(res.status).toBe(422);
      expect(res.error?.message).toBe("Invalid erpConnectionId");
    }
    res = await send(user.token, "PATCH", `${CONNECTIONS}/${erp.data.id}`, { erpConnectionId: erp.data.id });
    expect(res.status).toBe(422);
    expect(res.error?.details).toEqual({
      erpConnectionId: ["Only a sales channel connection pushes its orders to an ERP connection"],
    });
    res = await send(user.token, "PATCH", path, { erpConnectionId: null });
    expect(res.status).toBe(200);
    expect(res.data.erpConnectionId).toBeNull();
  });

  it("concurrent edits of different settings both survive (settings are merged, never overwritten stale)", async () => {
    const user = await admin();
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    const path = `${CONNECTIONS}/${shop.data.id}`;
    const results = await Promise.all([
      send(user.token, "PATCH", path, { settings: { intervalMinutes: 7 } }),
      send(user.token, "PATCH", path, { settings: { pageSize: 50 } }),
      send(user.token, "PATCH", path, { settings: { resources: ["orders", "inventory"] } }),
    ]);
    expect(results.map((r) => r.status)).toEqual([200, 200, 200]);
    const res = await send(user.token, "GET", path);
    expect(res.data.settings).toMatchObject({
      intervalMinutes: 7,
      pageSize: 50,
      resources: ["orders", "inventory"],
    });
    expect(res.data.streams.map((s) => [s.resource, s.intervalSeconds])).toEqual([
      ["orders", 420],
      ["inventory", 420],
    ]);
  });

  it("answers 422 for an empty patch and 404 for another tenant's connection, changing nothing", async () => {
    const user = await admin();
    const other = await admin();
    const theirs = await send(other.token, "POST", CONNECTIONS, shopifyBody({ displayName: "Theirs" }));
    const empty = await send(user.token, "PATCH", `${CONNECTIONS}/${theirs.data.id}`, {});
    expect(empty.status).toBe(422);
    expect(empty.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid request body",
      details: { _root: ["Give at least one field to change"] },
    });
    for (const body of [{ displayName: "pwned" }, { credentials: secret(shopifyCredentials()) }]) {
      const res = await send(user.token, "PATCH", `${CONNECTIONS}/${theirs.data.id}`, body);
      expect(res.status).toBe(404);
      expect(res.error).toEqual({ code: "NOT_FOUND", message: "Connection not found" });
    }
    const still = await send(other.token, "GET", `${CONNECTIONS}/${theirs.data.id}`);
    expect(still.data).toEqual(theirs.data);
  });
});

describe("connections: delete", () => {
  it("deletes a channel with its streams", async () => {
    const user = await admin();
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    const res = await send(user.token, "DELETE", `${CONNECTIONS}/${shop.data.id}`);
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ deleted: true });
    expect(await streamRows(shop.data.id)).toHaveLength(0);
    const again = await send(user.token, "DELETE", `${CONNECTIONS}/${shop.data.id}`);
    expect(again.status).toBe(404);
    expect(again.error).toEqual({ code: "NOT_FOUND", message: "Connection not found" });
  });

  it("refuses to delete an ERP that channels push to (409 naming them), then deletes it and its mappings", async () => {
    const user = await admin();
    const erp = await send(user.token, "POST", CONNECTIONS, lingxingBody());
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody({ erpConnectionId: erp.data.id }));
    const mapped = await send(user.token, "POST", `${CONNECTIONS}/${erp.data.id}/mappings`, {
      kind: "sku",
      source: "SKU-1",
      target: "LX-1",
    });
    expect(mapped.status).toBe(201);

    let res = await send(user.token, "DELETE", `${CONNECTIONS}/${erp.data.id}`);
    expect(res.status).toBe(409);
    expect(res.error).toEqual({
      code: "CONFLICT",
      message: "Sales channels still push their orders to this ERP connection; point them elsewhere first",
      details: { channelConnectionIds: [shop.data.id] },
    });
    expect((await send(user.token, "GET", `${CONNECTIONS}/${erp.data.id}`)).status).toBe(200);

    await send(user.token, "PATCH", `${CONNECTIONS}/${shop.data.id}`, { erpConnectionId: null });
    res = await send(user.token, "DELETE", `${CONNECTIONS}/${erp.data.id}`);
    expect(res.status).toBe(200);
    expect(await streamRows(erp.data.id)).toHaveLength(0);
    const mappings =
      await ownerSql()`select count(*)::int as n from erp_mappings where erp_connection_id = ${erp.data.id}`;
    expect(mappings[0]?.n).toBe(0);
  });

  it("answers 404 for another tenant's connection and leaves it alone", async () => {
    const user = await admin();
    const other = await admin();
    const theirs = await send(other.token, "POST", CONNECTIONS, shopifyBody());
    const res = await send(user.token, "DELETE", `${CONNECTIONS}/${theirs.data.id}`);
    expect(res.status).toBe(404);
    expect((await send(other.token, "GET", `${CONNECTIONS}/${theirs.data.id}`)).status).toBe(200);
  });
});

describe("loadConnectionForSync (queue consumers: no principal)", () => {
  it("returns the connection with parsed settings and opened credentials", async () => {
    const user = await admin();
    const erp = await send(user.token, "POST", CONNECTIONS, lingxingBody());
    const credentials = secret(shopifyCredentials());
    const shop = await send(
      user.token,
      "POST",
      CONNECTIONS,
      shopifyBody({
        credentials,
        erpConnectionId: erp.data.id,
        settings: { resources: ["inventory", "orders"] },
      }),
    );
    const loaded = await loadConnectionForSync({
      ctx: testContext(),
      input: { tenantId: user.tenant.id, connectionId: shop.data.id },
    });
    expect(loaded).toEqual({
      id: shop.data.id,
      tenantId: user.tenant.id,
      kind: "channel",
      provider: "shopify",
      account: shop.data.account,
      displayName: "Acme US",
      enabled: true,
      settings: { resources: ["inventory", "orders"], intervalMinutes: 5, backfillFrom: null, pageSize: 100 },
      erpConnectionId: erp.data.id,
      credentials,
    });
    if (loaded.provider === "shopify") expect(loaded.credentials.accessToken).toBe(credentials.accessToken);
  });

  it("throws NotFoundError for another tenant's connection or an unknown id", async () => {
    const user = await admin();
    const other = await admin();
    const theirs = await send(other.token, "POST", CONNECTIONS, shopifyBody());
    for (const connectionId of [theirs.data.id, MISSING_ID]) {
      await expect(
        loadConnectionForSync({ ctx: testContext(), input: { tenantId: user.tenant.id, connectionId } }),
      ).rejects.toBeInstanceOf(NotFoundError);
    }
  });

  it("refuses a request context of another tenant", async () => {
    const user = await admin();
    const shop = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    const ctx = testContext();
    ctx.tenantId = MISSING_ID;
    await expect(
      loadConnectionForSync({ ctx, input: { tenantId: user.tenant.id, connectionId: shop.data.id } }),
    ).rejects.toBeInstanceOf(ForbiddenError);
  });

  it("refuses sealed credentials copied from another connection (bound to their row)", async () => {
    const user = await admin();
    const a = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    const b = await send(user.token, "POST", CONNECTIONS, shopifyBody());
    await ownerSql()`
      update connections set credentials_sealed = (select credentials_sealed from connections where id = ${a.data.id})
       where id = ${b.data.id}`;
    const attempt = loadConnectionForSync({
      ctx: testContext(),
      input: { tenantId: user.tenant.id, connectionId: b.data.id },
    });
    await expect(attempt).rejects.toBeInstanceOf(PreconditionFailedError);
    await expect(attempt).rejects.toThrow("cannot be opened");
  });
});

describe("connections: credentials never leave the server", () => {
  it("stores a v1 sealed value, never the plaintext", async () => {
    const user = await admin();
    const credentials = secret(lingxingCredentials());
    const erp = await send(
      user.token,
      "POST",
      CONNECTIONS,
      lingxingBody({ credentials, account: credentials.appId }),
    );
    const [row] =
      await ownerSql()`select credentials_sealed, settings::text as settings from connections where id = ${erp.data.id}`;
    const sealed = String(row?.credentials_sealed);
    expect(sealed).toMatch(/^v1\.test1\.[\w-]{16}\.[\w-]+$/);
    expect(sealed).not.toContain(credentials.appSecret);
    expect(String(row?.settings)).not.toContain(credentials.appSecret);
  });

  it("no response body or log line of this file's calls contains a secret sent", () => {
    expect(secrets.size).toBeGreaterThan(20);
    expect(responses.length).toBeGreaterThan(50);
    // The capture works: the request log line of every call was produced at debug level.
    expect(logLines.some((line) => line.includes('"msg":"connection created"'))).toBe(true);
    for (const value of secrets) {
      for (const text of responses) expect(text.includes(value), `response leaks ${value}`).toBe(false);
      for (const line of logLines) expect(line.includes(value), `log leaks ${value}`).toBe(false);
    }
  });
});
