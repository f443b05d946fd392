import { describe, expect, it } from "vitest";
import { recordExhaustedSyncMessages } from "../../src/services/sync-failures/record-exhausted";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, createTenant, envelope, ownerSql, type TestTenant } from "../support/harness";

const FAILURES = "/api/v1/sync/failures";
const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";
const ONE_DB_ROUND_TRIP = /(^|, )db;dur=[\d.]+;desc="1 rt"/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface Failure {
  id: string;
  connectionId: string | null;
  operation: string;
  fingerprint: string;
  orderId: string | null;
  messageType: string | null;
  status: string;
  resolution: string | null;
  errorKind: string;
  lastError: string;
  occurrences: number;
  replayCount: number;
  lastReplayedAt: string | null;
  resolvedAt: string | null;
  resolvedBy: Record<string, unknown> | null;
  resolutionNote: string | null;
  createdAt: string;
  updatedAt: string;
  payload?: Record<string, unknown>;
  errors?: Record<string, unknown>[];
}

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

async function json<T>(response: Response) {
  const body = await envelope<T>(response);
  return { status: response.status, body, data: body.data as T, error: body.error };
}

interface Sent {
  queue: "erp-push" | "channel-pull";
  body: Record<string, unknown>;
}

/** Producer bindings that record what is sent (and how: one `send` or a `sendBatch` of n), or refuse it. */
function fakeQueues(options: { failing?: boolean } = {}) {
  const sent: Sent[] = [];
  const calls: { queue: Sent["queue"]; size: number }[] = [];
  const queue = (name: Sent["queue"]) =>
    ({
      async send(body: Record<string, unknown>) {
        if (options.failing) throw new Error("queue unavailable");
        calls.push({ queue: name, size: 1 });
        sent.push({ queue: name, body });
      },
      async sendBatch(messages: Iterable<{ body: Record<string, unknown> }>) {
        if (options.failing) throw new Error("queue unavailable");
        const list = [...messages];
        if (list.length > 100) throw new Error("sendBatch takes at most 100 messages");
        calls.push({ queue: name, size: list.length });
        for (const m of list) sent.push({ queue: name, body: m.body });
      },
    }) as unknown as Queue;
  return {
    sent,
    calls,
    overrides: {
      ERP_PUSH_QUEUE: queue("erp-push"),
      CHANNEL_PULL_QUEUE: queue("channel-pull"),
    } as Partial<Env>,
  };
}

async function connection(tenant: TestTenant, kind: "channel" | "erp" = "erp"): Promise<string> {
  const [row] = await ownerSql()`
    insert into connections (tenant_id, kind, provider, account, display_name, credentials_sealed)
    values (${tenant.id}, ${kind}, ${kind === "erp" ? "lingxing" : "shopify"}, ${`acct-${crypto.randomUUID().slice(0, 8)}`},
            ${kind === "erp" ? "Lingxing" : "Shop"}, 'sealed')
    returning id`;
  return String(row?.id);
}

function commerceOrder(number = "#1001") {
  return {
    channel: "shopify",
    storeId: "acme.myshopify.com",
    externalId: `gid://shopify/Order/${number.slice(1)}`,
    externalNumber: number,
    currency: "USD",
    customer: { externalId: null, email: "jane@example.com", phone: null, name: "Jane Doe" },
    shippingAddress: null,
    billingAddress: null,
    lines: [
      {
        externalLineId: "gid://shopify/LineItem/1",
        sku: "TEE-BLK-M",
        title: "Tee",
        variantTitle: null,
        productExternalId: null,
        variantExternalId: null,
        quantity: 1,
        unitPriceMinor: 2500,
        discountMinor: 0,
        taxMinor: 0,
      },
    ],
    shippingLines: [],
    taxLines: [],
    discountCodes: [],
    subtotalMinor: 2500,
    shippingMinor: 0,
    taxMinor: 0,
    discountMinor: 0,
    totalMinor: 2500,
    financialStatus: "PAID",
    fulfillmentStatus: null,
    cancelledAt: null,
    placedAt: "2026-03-10T08:30:00Z",
    updatedAt: "2026-03-10T08:30:00Z",
    note: null,
    tags: [],
  };
}

async function order(tenant: TestTenant, channelConnectionId: string): Promise<string> {
  const data = commerceOrder();
  const [row] = await ownerSql()`
    insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                        total_minor, search_text, data, placed_at, channel_updated_at)
    values (${tenant.id}, ${channelConnectionId}, 'shopify', 'acme.myshopify.com', ${crypto.randomUUID()}, '#1001',
            'USD', 2500, '#1001', ${JSON.stringify(data)}::jsonb, now(), now())
    returning id`;
  return String(row?.id);
}

interface FailureSeed {
  operation: "pull" | "push" | "writeback";
  payload: Record<string, unknown>;
  connectionId?: string | null;
  orderId?: string | null;
  fingerprint?: string;
  status?: "open" | "replaying" | "resolved";
  errorKind?: string;
  lastError?: string;
  createdAt?: string;
}

async function failure(tenant: TestTenant, seed: FailureSeed): Promise<string> {
  const error = seed.lastError ?? "Lingxing refused the order: SKU not found";
  const [row] = await ownerSql()`
    insert into sync_failures (tenant_id, connection_id, operation, fingerprint, order_id, payload, status, resolution,
                               error_kind, last_error, errors, created_at)
    values (${tenant.id}, ${seed.connectionId ?? null}, ${seed.operation}, ${seed.fingerprint ?? `x:${crypto.randomUUID()}`},
            ${seed.orderId ?? null}, ${JSON.stringify(seed.payload)}::jsonb, ${seed.status ?? "open"},
            ${seed.status === "resolved" ? "superseded" : null}, ${seed.errorKind ?? "permanent"}, ${error},
            ${JSON.stringify([{ at: "2026-03-10T09:00:00.000Z", kind: seed.errorKind ?? "permanent", error }])}::jsonb,
            ${seed.createdAt ?? new Date().toISOString()})
    returning id`;
  return String(row?.id);
}

/** A failed push of one order, as the engine records it. */
async function pushFailure(
  tenant: TestTenant,
  options: { status?: FailureSeed["status"]; erp?: string; orderId?: string } = {},
) {
  const erp = options.erp ?? (await connection(tenant, "erp"));
  const orderId = options.orderId ?? (await order(tenant, await connection(tenant, "channel")));
  const payload = {
    type: "orders.push",
    tenantId: tenant.id,
    erpConnectionId: erp,
    orderIds: [orderId],
    trigger: "cron",
  };
  const id = await failure(tenant, {
    operation: "push",
    payload,
    connectionId: erp,
    orderId,
    fingerprint: `push:${orderId}`,
    ...(options.status ? { status: options.status } : {}),
  });
  return { id, erp, orderId, payload };
}

async function pullFailure(
  tenant: TestTenant,
  options: { status?: FailureSeed["status"]; channel?: string; lastError?: string } = {},
) {
  const channel = options.channel ?? (await connection(tenant, "channel"));
  const payload = {
    type: "stream.run",
    tenantId: tenant.id,
    connectionId: channel,
    resource: "orders",
    trigger: "cron",
  };
  const id = await failure(tenant, {
    operation: "pull",
    payload,
    connectionId: channel,
    fingerprint: `pull:${channel}:orders`,
    errorKind: "auth",
    lastError: options.lastError ?? "Shopify answered 401: invalid API key or access token",
    ...(options.status ? { status: options.status } : {}),
  });
  return { id, channel, payload };
}

async function row(id: string) {
  const [r] = await ownerSql()`
    select status, replay_count, last_replayed_at, resolution, resolved_by, resolution_note, payload, errors
      from sync_failures where id = ${id}`;
  return r;
}

const admin = () => signedInUser({ permissions: ["sync:admin"] });

describe("sync failures: authentication and authorization", () => {
  it("answers 401 without a token on every endpoint", async () => {
    for (const [method, path] of [
      ["GET", FAILURES],
      ["GET", `${FAILURES}/${MISSING_ID}`],
      ["PATCH", `${FAILURES}/${MISSING_ID}`],
      ["POST", `${FAILURES}/${MISSING_ID}/replay`],
      ["POST", `${FAILURES}/replay`],
      ["POST", `${FAILURES}/${MISSING_ID}/resolve`],
    ] as const) {
      const res = await call(path, {
        method,
        headers: { "content-type": "application/json" },
        ...(method === "GET" ? {} : { body: "{}" }),
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect((await envelope(res)).error?.code).toBe("UNAUTHORIZED");
    }
  });

  it("answers 403 without sync:read, and 403 on every change with only sync:read", async () => {
    const nobody = await signedInUser({ permissions: ["orders:write"] });
    const res = await call(FAILURES, bearer(nobody.token));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission sync:read",
      details: { permission: "sync:read" },
    });
    const reader = await signedInUser({ tenant: nobody.tenant, permissions: ["sync:read"] });
    const { id, payload } = await pushFailure(reader.tenant);
    expect((await call(`${FAILURES}/${id}`, bearer(reader.token))).status).toBe(200);
    const queues = fakeQueues();
    for (const [method, path, body] of [
      ["PATCH", `${FAILURES}/${id}`, { payload }],
      ["POST", `${FAILURES}/${id}/replay`, undefined],
      ["POST", `${FAILURES}/replay`, {}],
      ["POST", `${FAILURES}/${id}/resolve`, {}],
    ] as const) {
      const denied = await call(path, bearer(reader.token, { method, body }), queues.overrides);
      expect(denied.status, `${method} ${path}`).toBe(403);
      expect((await envelope(denied)).error).toMatchObject({
        code: "FORBIDDEN",
        details: { permission: "sync:admin" },
      });
    }
    expect(queues.sent).toEqual([]);
    expect(await row(id)).toMatchObject({ status: "open", replay_count: 0 });
  });

  it("answers 404 for another tenant's failure on every endpoint and never lists it", async () => {
    const me = await admin();
    const other = await createTenant();
    const theirs = await pushFailure(other);
    const queues = fakeQueues();
    for (const [method, path, body] of [
      ["GET", `${FAILURES}/${theirs.id}`, undefined],
      ["PATCH", `${FAILURES}/${theirs.id}`, { payload: theirs.payload }],
      ["POST", `${FAILURES}/${theirs.id}/replay`, undefined],
      ["POST", `${FAILURES}/${theirs.id}/resolve`, {}],
    ] as const) {
      const res = await call(path, bearer(me.token, { method, body }), queues.overrides);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await envelope(res)).error).toEqual({ code: "NOT_FOUND", message: "Sync failure not found" });
    }
    // Naming it in a bulk replay does not reach it either.
    const bulk = await json<{ replayed: number; skipped: number }>(
      await call(
        `${FAILURES}/replay`,
        bearer(me.token, { method: "POST", body: { ids: [theirs.id] } }),
        queues.overrides,
      ),
    );
    expect(bulk.data).toEqual({ replayed: 0, skipped: 1 });
    expect(queues.sent).toEqual([]);
    const list = await json<Page<Failure>>(
      await call(`${FAILURES}?status=open,replaying,resolved`, bearer(me.token)),
    );
    expect(list.data.total).toBe(0);
    expect(await row(theirs.id)).toMatchObject({ status: "open", replay_count: 0 });
  });
});

describe("GET /sync/failures", () => {
  it("lists unresolved failures newest first without payload or history, in one round trip", async () => {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const t = reader.tenant;
    const older = await pushFailure(t);
    await ownerSql()`update sync_failures set created_at = now() - interval '1 hour' where id = ${older.id}`;
    const newer = await pullFailure(t, { status: "replaying" });
    await pushFailure(t, { status: "resolved" });

    await call(FAILURES, bearer(reader.token));
    const res = await call(FAILURES, bearer(reader.token));
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    const page = (await envelope<Page<Failure>>(res)).data;
    expect(page).toMatchObject({ total: 2, page: 1, pageSize: 50, totalPages: 1 });
    expect(page?.items.map((f) => f.id)).toEqual([newer.id, older.id]);
    expect(page?.items[1]).toEqual({
      id: older.id,
      connectionId: older.erp,
      operation: "push",
      fingerprint: `push:${older.orderId}`,
      orderId: older.orderId,
      messageType: "orders.push",
      status: "open",
      resolution: null,
      errorKind: "permanent",
      lastError: "Lingxing refused the order: SKU not found",
      occurrences: 1,
      replayCount: 0,
      lastReplayedAt: null,
      resolvedAt: null,
      resolvedBy: null,
      resolutionNote: null,
      createdAt: expect.stringMatching(ISO),
      updatedAt: expect.stringMatching(ISO),
    });
  });

  it("filters by status, operation, connection, error kind, dates and error text", async () => {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const t = reader.tenant;
    const push = await pushFailure(t);
    const pull = await pullFailure(t, { lastError: "Rate limited: 100% of the 40_point bucket used" });
    const resolved = await pushFailure(t, { status: "resolved" });
    await ownerSql()`update sync_failures set created_at = '2026-02-01T12:00:00Z' where id = ${resolved.id}`;
    const idsOf = async (query: string) => {
      const res = await json<Page<Failure>>(await call(`${FAILURES}?${query}`, bearer(reader.token)));
      expect(res.status, query).toBe(200);
      return res.data.items.map((f) => f.id).sort();
    };
    expect(await idsOf("status=resolved")).toEqual([resolved.id]);
    expect(await idsOf("status=open&status=resolved")).toEqual([push.id, pull.id, resolved.id].sort());
    expect(await idsOf("operation=pull")).toEqual([pull.id]);
    expect(await idsOf(`connectionId=${push.erp}`)).toEqual([push.id]);
    expect(await idsOf("errorKind=auth")).toEqual([pull.id]);
    expect(await idsOf("status=resolved&from=2026-02-01&to=2026-02-01")).toEqual([resolved.id]);
    expect(await idsOf("status=resolved&from=2026-02-02")).toEqual([]);
    expect(await idsOf("search=sku NOT")).toEqual([push.id]);
    expect(await idsOf(`search=${encodeURIComponent("100%")}`)).toEqual([pull.id]);
    expect(await idsOf("search=40_point")).toEqual([pull.id]);
    expect(await idsOf("search=0%25 of")).toEqual([pull.id]);
    expect(await idsOf("search=_point_")).toEqual([]);
    const paged = await json<Page<Failure>>(
      await call(`${FAILURES}?pageSize=1&page=2`, bearer(reader.token)),
    );
    expect(paged.data).toMatchObject({ total: 2, page: 2, pageSize: 1, totalPages: 2 });
    for (const bad of ["status=lost", "operation=sync", "errorKind=boom", "from=soon", "connectionId=1"]) {
      const res = await call(`${FAILURES}?${bad}`, bearer(reader.token));
      expect(res.status, bad).toBe(422);
    }
  });
});

describe("GET /sync/failures/{id}", () => {
  it("answers the failure with its payload and error history", async () => {
    const reader = await signedInUser({ permissions: ["sync:read"] });
    const { id, payload } = await pushFailure(reader.tenant);
    const res = await json<Failure>(await call(`${FAILURES}/${id}`, bearer(reader.token)));
    expect(res.status).toBe(200);
    expect(res.data.payload).toEqual(payload);
    expect(res.data.errors).toEqual([
      {
        at: "2026-03-10T09:00:00.000Z",
        kind: "permanent",
        error: "Lingxing refused the order: SKU not found",
      },
    ]);
    const missing = await json(await call(`${FAILURES}/${MISSING_ID}`, bearer(reader.token)));
    expect(missing.status).toBe(404);
    expect(missing.error).toEqual({ code: "NOT_FOUND", message: "Sync failure not found" });
  });
});

describe("PATCH /sync/failures/{id}", () => {
  function editedPush(base: { tenantId: string; erpConnectionId: string; orderId: string }) {
    return {
      type: "order.push_edited",
      tenantId: base.tenantId,
      erpConnectionId: base.erpConnectionId,
      orderId: base.orderId,
      trigger: "manual",
      input: {
        reference: "TW-1001",
        order: commerceOrder(),
        lines: [
          {
            externalLineId: "gid://shopify/LineItem/1",
            erpSku: "LX-TEE-BLK-M",
            quantity: 1,
            unitPriceMinor: 2500,
          },
        ],
        warehouseCode: "WH-SZ",
        logisticsChannelCode: null,
        erpStoreId: null,
      },
    };
  }

  it("replaces a push's payload with a hand-fixed ERP order and records the edit in the history", async () => {
    const me = await admin();
    const f = await pushFailure(me.tenant);
    const payload = editedPush({ tenantId: me.tenant.id, erpConnectionId: f.erp, orderId: f.orderId });
    const res = await json<Failure>(
      await call(`${FAILURES}/${f.id}`, bearer(me.token, { method: "PATCH", body: { payload } })),
    );
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ id: f.id, status: "open", messageType: "order.push_edited", payload });
    expect(res.data.errors).toEqual([
      expect.objectContaining({ kind: "permanent" }),
      { at: expect.stringMatching(ISO), kind: "edited", by: { type: "user", userId: me.id } },
    ]);
    expect((await row(f.id))?.payload).toEqual(payload);
  });

  it("refuses a payload aimed at another tenant, order or ERP connection (422 naming the field)", async () => {
    const me = await admin();
    const f = await pushFailure(me.tenant);
    const other = await createTenant();
    const otherOrder = await order(me.tenant, await connection(me.tenant, "channel"));
    const otherErp = await connection(me.tenant, "erp");
    const cases: [Record<string, unknown>, string][] = [
      [{ ...f.payload, tenantId: other.id }, "payload.tenantId"],
      [{ ...f.payload, orderIds: [otherOrder] }, "payload.orderIds"],
      [{ ...f.payload, orderIds: [f.orderId, otherOrder] }, "payload.orderIds"],
      [{ ...f.payload, erpConnectionId: otherErp }, "payload.erpConnectionId"],
      [
        editedPush({ tenantId: me.tenant.id, erpConnectionId: f.erp, orderId: otherOrder }),
        "payload.orderId",
      ],
      [{ ...f.payload, orderIds: [] }, "payload.orderIds"],
      [{ ...f.payload, tenantId: "not-a-uuid" }, "payload.tenantId"],
      [
        {
          type: "stream.run",
          tenantId: me.tenant.id,
          connectionId: f.erp,
          resource: "orders",
          trigger: "manual",
        },
        "payload.type",
      ],
    ];
    for (const [payload, field] of cases) {
      const res = await json(
        await call(`${FAILURES}/${f.id}`, bearer(me.token, { method: "PATCH", body: { payload } })),
      );
      expect(res.status, JSON.stringify(payload)).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
      expect(Object.keys(res.error?.details ?? {}), JSON.stringify(payload)).toContain(field);
    }
    const wrongTenant = await json(
      await call(
        `${FAILURES}/${f.id}`,
        bearer(me.token, { method: "PATCH", body: { payload: { ...f.payload, tenantId: other.id } } }),
      ),
    );
    expect(wrongTenant.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "The payload must stay about the same work",
      details: { "payload.tenantId": [`Must stay ${me.tenant.id}: a replay cannot target another tenant`] },
    });
    expect((await row(f.id))?.payload).toEqual(f.payload);
  });

  it("keeps a pull failure on its connection", async () => {
    const me = await admin();
    const f = await pullFailure(me.tenant);
    const elsewhere = await connection(me.tenant, "channel");
    const moved = await json(
      await call(
        `${FAILURES}/${f.id}`,
        bearer(me.token, { method: "PATCH", body: { payload: { ...f.payload, connectionId: elsewhere } } }),
      ),
    );
    expect(moved.status).toBe(422);
    expect(moved.error?.details).toHaveProperty(["payload.connectionId"]);
    const ok = await json<Failure>(
      await call(
        `${FAILURES}/${f.id}`,
        bearer(me.token, { method: "PATCH", body: { payload: { ...f.payload, resource: "inventory" } } }),
      ),
    );
    expect(ok.status).toBe(200);
    expect(ok.data.payload).toMatchObject({ resource: "inventory" });
  });

  it("answers 409 for a resolved failure, 404 for an unknown one, 422 for a body that is not { payload }", async () => {
    const me = await admin();
    const f = await pushFailure(me.tenant, { status: "resolved" });
    const resolved = await json(
      await call(`${FAILURES}/${f.id}`, bearer(me.token, { method: "PATCH", body: { payload: f.payload } })),
    );
    expect(resolved.status).toBe(409);
    expect(resolved.error).toEqual({
      code: "CONFLICT",
      message: "This failure is resolved; its payload can no longer change",
    });
    const missing = await call(
      `${FAILURES}/${MISSING_ID}`,
      bearer(me.token, { method: "PATCH", body: { payload: f.payload } }),
    );
    expect(missing.status).toBe(404);
    for (const body of [{}, { payload: f.payload, status: "open" }, { payload: "orders.push" }]) {
      const res = await json(await call(`${FAILURES}/${f.id}`, bearer(me.token, { method: "PATCH", body })));
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
  });
});

describe("POST /sync/failures/{id}/replay", () => {
  it("marks the failure replaying, then sends its payload to erp-push with trigger replay", async () => {
    const me = await admin();
    const f = await pushFailure(me.tenant);
    const queues = fakeQueues();
    const res = await json<Failure>(
      await call(`${FAILURES}/${f.id}/replay`, bearer(me.token, { method: "POST" }), queues.overrides),
    );
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      status: "replaying",
      replayCount: 1,
      lastReplayedAt: expect.stringMatching(ISO),
    });
    expect(queues.sent).toEqual([{ queue: "erp-push", body: { ...f.payload, trigger: "replay" } }]);
    expect(await row(f.id)).toMatchObject({
      status: "replaying",
      replay_count: 1,
      last_replayed_at: expect.anything(),
    });
    // A failure being replayed can be replayed again (the first attempt may have been lost).
    const again = await json<Failure>(
      await call(`${FAILURES}/${f.id}/replay`, bearer(me.token, { method: "POST" }), queues.overrides),
    );
    expect(again.data.replayCount).toBe(2);
    expect(queues.sent).toHaveLength(2);
  });

  it("sends write-back and pull failures to channel-pull", async () => {
    const me = await admin();
    const t = me.tenant;
    const shipmentId = crypto.randomUUID();
    const writeback = await failure(t, {
      operation: "writeback",
      payload: { type: "shipment.fulfil", tenantId: t.id, shipmentId, trigger: "cron" },
      fingerprint: `writeback:${shipmentId}`,
    });
    const pull = await pullFailure(t);
    const queues = fakeQueues();
    for (const id of [writeback, pull.id]) {
      expect(
        (await call(`${FAILURES}/${id}/replay`, bearer(me.token, { method: "POST" }), queues.overrides))
          .status,
      ).toBe(200);
    }
    expect(queues.sent).toEqual([
      {
        queue: "channel-pull",
        body: { type: "shipment.fulfil", tenantId: t.id, shipmentId, trigger: "replay" },
      },
      { queue: "channel-pull", body: { ...pull.payload, trigger: "replay" } },
    ]);
  });

  it("answers 503 and leaves the failure as it was when the queue refuses the message", async () => {
    const me = await admin();
    const f = await pushFailure(me.tenant);
    const res = await json(
      await call(
        `${FAILURES}/${f.id}/replay`,
        bearer(me.token, { method: "POST" }),
        fakeQueues({ failing: true }).overrides,
      ),
    );
    expect(res.status).toBe(503);
    expect(res.error).toEqual({ code: "SERVICE_UNAVAILABLE", message: "Service temporarily unavailable" });
    expect(await row(f.id)).toMatchObject({ status: "open", replay_count: 0, last_replayed_at: null });
  });

  it("answers 409 for a resolved failure and 422 for a payload that needs editing, sending nothing", async () => {
    const me = await admin();
    const queues = fakeQueues();
    const resolved = await pushFailure(me.tenant, { status: "resolved" });
    const res = await json(
      await call(`${FAILURES}/${resolved.id}/replay`, bearer(me.token, { method: "POST" }), queues.overrides),
    );
    expect(res.status).toBe(409);
    expect(res.error).toEqual({
      code: "CONFLICT",
      message: "This failure is resolved; there is nothing to replay",
    });
    const broken = await failure(me.tenant, {
      operation: "push",
      payload: { type: "orders.push", tenantId: me.tenant.id },
    });
    const invalid = await json(
      await call(`${FAILURES}/${broken}/replay`, bearer(me.token, { method: "POST" }), queues.overrides),
    );
    expect(invalid.status).toBe(422);
    expect(invalid.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "The failure's payload is not a valid message; edit it before replaying",
      details: { payload: ["Not a valid push message"] },
    });
    expect(await row(broken)).toMatchObject({ status: "open", replay_count: 0 });
    expect(queues.sent).toEqual([]);
  });
});

describe("POST /sync/failures/replay (bulk)", () => {
  it("replays every open failure of the filter, batching sends per queue", async () => {
    const me = await admin();
    const t = me.tenant;
    const erp = await connection(t, "erp");
    const pushes = [
      await pushFailure(t, { erp }),
      await pushFailure(t, { erp }),
      await pushFailure(t, { erp }),
    ];
    const pull = await pullFailure(t);
    const stuck = await pushFailure(t, { status: "replaying", erp });
    const done = await pushFailure(t, { status: "resolved", erp });
    const queues = fakeQueues();
    const res = await json<{ replayed: number; skipped: number }>(
      await call(`${FAILURES}/replay`, bearer(me.token, { method: "POST", body: {} }), queues.overrides),
    );
    expect(res.status).toBe(200);
    expect(res.data).toEqual({ replayed: 4, skipped: 0 });
    expect(queues.calls.sort((a, b) => a.queue.localeCompare(b.queue))).toEqual([
      { queue: "channel-pull", size: 1 },
      { queue: "erp-push", size: 3 },
    ]);
    expect(queues.sent.every((m) => m.body.trigger === "replay")).toBe(true);
    for (const f of [...pushes, pull])
      expect(await row(f.id)).toMatchObject({ status: "replaying", replay_count: 1 });
    expect(await row(stuck.id)).toMatchObject({ status: "replaying", replay_count: 0 });
    expect(await row(done.id)).toMatchObject({ status: "resolved", replay_count: 0 });

    // Stuck replays are replayed only when asked for by status.
    const stuckOnly = await json<{ replayed: number }>(
      await call(
        `${FAILURES}/replay`,
        bearer(me.token, { method: "POST", body: { status: "replaying", ids: [stuck.id] } }),
        queues.overrides,
      ),
    );
    expect(stuckOnly.data).toEqual({ replayed: 1, skipped: 0 });
  });

  it("counts ids that are not open failures of the filter as skipped", async () => {
    const me = await admin();
    const t = me.tenant;
    const push = await pushFailure(t);
    const pull = await pullFailure(t);
    const done = await pushFailure(t, { status: "resolved" });
    const queues = fakeQueues();
    const res = await json<{ replayed: number; skipped: number }>(
      await call(
        `${FAILURES}/replay`,
        bearer(me.token, {
          method: "POST",
          body: { operation: "push", ids: [push.id, pull.id, done.id, MISSING_ID] },
        }),
        queues.overrides,
      ),
    );
    expect(res.data).toEqual({ replayed: 1, skipped: 3 });
    expect(queues.sent.map((m) => m.body.orderIds)).toEqual([[push.orderId]]);
    expect(await row(pull.id)).toMatchObject({ status: "open", replay_count: 0 });
  });

  it("sends at most 100 messages per sendBatch call", async () => {
    const me = await admin();
    const t = me.tenant;
    const erp = await connection(t, "erp");
    const orderId = await order(t, await connection(t, "channel"));
    // 150 open push failures of the same order shape, inserted in one statement.
    await ownerSql()`
      insert into sync_failures (tenant_id, connection_id, operation, fingerprint, order_id, payload, error_kind, last_error)
      select ${t.id}, ${erp}, 'push', 'push:bulk-' || n, ${orderId},
             ${JSON.stringify({ type: "orders.push", tenantId: t.id, erpConnectionId: erp, orderIds: [orderId], trigger: "cron" })}::jsonb,
             'exhausted', 'timeout'
        from generate_series(1, 150) n`;
    const queues = fakeQueues();
    const res = await json<{ replayed: number; skipped: number }>(
      await call(
        `${FAILURES}/replay`,
        bearer(me.token, { method: "POST", body: { errorKind: "exhausted" } }),
        queues.overrides,
      ),
    );
    expect(res.data).toEqual({ replayed: 150, skipped: 0 });
    expect(queues.calls.map((c) => c.size).sort((a, b) => a - b)).toEqual([50, 100]);
  });

  it("answers 503 and undoes every mark when the queue refuses everything", async () => {
    const me = await admin();
    const push = await pushFailure(me.tenant);
    const res = await json(
      await call(
        `${FAILURES}/replay`,
        bearer(me.token, { method: "POST", body: {} }),
        fakeQueues({ failing: true }).overrides,
      ),
    );
    expect(res.status).toBe(503);
    expect(res.error?.code).toBe("SERVICE_UNAVAILABLE");
    expect(await row(push.id)).toMatchObject({ status: "open", replay_count: 0, last_replayed_at: null });
  });

  it("validates the body strictly", async () => {
    const me = await admin();
    for (const body of [
      { status: "resolved" },
      { ids: Array.from({ length: 501 }, () => crypto.randomUUID()) },
      { ids: [] },
      { operation: "sync" },
      { everything: true },
    ]) {
      const res = await call(`${FAILURES}/replay`, bearer(me.token, { method: "POST", body }));
      expect(res.status, JSON.stringify(body).slice(0, 60)).toBe(422);
      expect((await envelope(res)).error?.code).toBe("VALIDATION_ERROR");
    }
  });
});

describe("POST /sync/failures/{id}/resolve", () => {
  it("resolves by hand with who, when and a note; a second resolve is a 409", async () => {
    const me = await admin();
    const f = await pushFailure(me.tenant);
    const res = await json<Failure>(
      await call(
        `${FAILURES}/${f.id}/resolve`,
        bearer(me.token, { method: "POST", body: { note: "Created in Lingxing by hand" } }),
      ),
    );
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      status: "resolved",
      resolution: "manual",
      resolvedAt: expect.stringMatching(ISO),
      resolvedBy: { type: "user", userId: me.id },
      resolutionNote: "Created in Lingxing by hand",
    });
    const again = await json(await call(`${FAILURES}/${f.id}/resolve`, bearer(me.token, { method: "POST" })));
    expect(again.status).toBe(409);
    expect(again.error).toEqual({ code: "CONFLICT", message: "This failure is already resolved" });
    expect(await row(f.id)).toMatchObject({ resolution_note: "Created in Lingxing by hand" });
  });

  it("resolves without a note, and answers 404 for an unknown failure", async () => {
    const me = await admin();
    const f = await pullFailure(me.tenant, { status: "replaying" });
    const res = await json<Failure>(
      await call(`${FAILURES}/${f.id}/resolve`, bearer(me.token, { method: "POST" })),
    );
    expect(res.data).toMatchObject({ status: "resolved", resolution: "manual", resolutionNote: null });
    const missing = await call(`${FAILURES}/${MISSING_ID}/resolve`, bearer(me.token, { method: "POST" }));
    expect(missing.status).toBe(404);
  });
});

describe("recordExhaustedSyncMessages", () => {
  it("records one failure per fingerprint, narrowing a multi-order push to each order", async () => {
    const t = await createTenant();
    const erp = await connection(t, "erp");
    const channel = await connection(t, "channel");
    const [o1, o2] = [await order(t, channel), await order(t, channel)];
    const [ship] = await ownerSql()`
      insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, tracking_numbers, shipped_at)
      values (${t.id}, ${o1}, ${erp}, 'PKG-1', 'UPS', ${["1Z1"]}, now()) returning id`;
    const shipmentId = String(ship?.id);
    const jobId = crypto.randomUUID();
    const ctx = testContext();
    const push = {
      type: "orders.push",
      tenantId: t.id,
      erpConnectionId: erp,
      orderIds: [o1, o2],
      trigger: "cron",
    };
    const erpResult = await recordExhaustedSyncMessages({
      ctx,
      input: {
        queue: "erp-push-dlq",
        messages: [
          { id: "m1", body: push, attempts: 9 },
          { id: "m2", body: { type: "order.push", orderNo: "SO-1" }, attempts: 9 },
        ],
      },
    });
    expect(erpResult.recorded).toBe(2);
    expect(erpResult.notRecorded).toEqual([
      {
        id: "m2",
        body: { type: "order.push", orderNo: "SO-1" },
        attempts: 9,
        reason: "not a erp-push message",
      },
    ]);
    const pullResult = await recordExhaustedSyncMessages({
      ctx,
      input: {
        queue: "channel-pull-dlq",
        messages: [
          {
            id: "p1",
            body: {
              type: "stream.run",
              tenantId: t.id,
              connectionId: channel,
              resource: "orders",
              trigger: "cron",
            },
            attempts: 6,
          },
          {
            id: "p2",
            body: {
              type: "orders.backfill",
              tenantId: t.id,
              connectionId: channel,
              jobId,
              since: "2026-01-01T00:00:00Z",
              mode: "paged",
            },
            attempts: 6,
          },
          {
            id: "p3",
            body: { type: "shipment.fulfil", tenantId: t.id, shipmentId, trigger: "cron" },
            attempts: 6,
          },
          { id: "p4", body: push, attempts: 6 },
        ],
      },
    });
    expect(pullResult.recorded).toBe(3);
    expect(pullResult.notRecorded.map((m) => m.id)).toEqual(["p4"]);

    const rows = await ownerSql()`
      select fingerprint, operation, connection_id, order_id, payload, error_kind, last_error, occurrences
        from sync_failures where tenant_id = ${t.id} order by fingerprint`;
    expect(rows).toEqual(
      [
        {
          fingerprint: `backfill:${jobId}`,
          operation: "pull",
          connection_id: channel,
          order_id: null,
          payload: expect.objectContaining({ type: "orders.backfill", jobId }),
          error_kind: "exhausted",
          last_error: "Retries exhausted after 6 attempts",
          occurrences: 1,
        },
        {
          fingerprint: `pull:${channel}:orders`,
          operation: "pull",
          connection_id: channel,
          order_id: null,
          payload: expect.objectContaining({ type: "stream.run" }),
          error_kind: "exhausted",
          last_error: "Retries exhausted after 6 attempts",
          occurrences: 1,
        },
        ...[o1, o2].map((orderId) => ({
          fingerprint: `push:${orderId}`,
          operation: "push",
          connection_id: erp,
          order_id: orderId,
          payload: { ...push, orderIds: [orderId] },
          error_kind: "exhausted",
          last_error: "Retries exhausted after 9 attempts",
          occurrences: 1,
        })),
        {
          fingerprint: `writeback:${shipmentId}`,
          operation: "writeback",
          connection_id: channel,
          order_id: o1,
          payload: { type: "shipment.fulfil", tenantId: t.id, shipmentId, trigger: "cron" },
          error_kind: "exhausted",
          last_error: "Retries exhausted after 6 attempts",
          occurrences: 1,
        },
      ].sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : 1)),
    );

    // The same work exhausting again adds to the open failure instead of a duplicate.
    await recordExhaustedSyncMessages({
      ctx,
      input: {
        queue: "erp-push-dlq",
        messages: [{ id: "m3", body: { ...push, orderIds: [o1] }, attempts: 9 }],
      },
    });
    const [again] = await ownerSql()`
      select occurrences, jsonb_array_length(errors) as n from sync_failures where tenant_id = ${t.id} and fingerprint = ${`push:${o1}`}`;
    expect(again).toEqual({ occurrences: 2, n: 2 });
  });

  it("hands back the messages of a tenant that no longer exists", async () => {
    const ghost = crypto.randomUUID();
    const body = {
      type: "stream.run",
      tenantId: ghost,
      connectionId: crypto.randomUUID(),
      resource: "orders",
      trigger: "cron",
    };
    const result = await recordExhaustedSyncMessages({
      ctx: testContext(),
      input: { queue: "channel-pull-dlq", messages: [{ id: "g1", body, attempts: 6 }] },
    });
    expect(result).toEqual({
      recorded: 0,
      notRecorded: [{ id: "g1", body, attempts: 6, reason: "tenant or connection no longer exists" }],
    });
  });
});
