import { describe, expect, it } from "vitest";
import { bearer, signedInUser } from "../support/auth";
import { call, createTenant, envelope, ownerSql, type TestTenant } from "../support/harness";

const ORDERS = "/api/v1/orders";
const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";
const ONE_DB_ROUND_TRIP = /(^|, )db;dur=[\d.]+;desc="1 rt"/;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

interface OrderSummary {
  id: string;
  channel: string;
  storeId: string;
  connectionId: string;
  externalId: string;
  externalNumber: string;
  status: string;
  currency: string;
  totalMinor: number;
  customer: { email: string | null; name: string | null };
  placedAt: string;
  channelUpdatedAt: string;
  updatedAt: string;
}

interface OrderDetail extends OrderSummary {
  version: number;
  data: Record<string, unknown>;
  transitions: {
    from: string | null;
    to: string;
    actor: Record<string, unknown>;
    reason: string;
    at: string;
  }[];
  erpLedger: Record<string, unknown> | null;
  shipments: Record<string, unknown>[];
  invoices: Record<string, unknown>[];
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

async function connection(
  tenant: TestTenant,
  options: { kind?: "channel" | "erp"; provider?: string; displayName?: string } = {},
): Promise<string> {
  const kind = options.kind ?? "channel";
  const provider = options.provider ?? (kind === "erp" ? "lingxing" : "shopify");
  const [row] = await ownerSql()`
    insert into connections (tenant_id, kind, provider, account, display_name, credentials_sealed)
    values (${tenant.id}, ${kind}, ${provider}, ${`acct-${crypto.randomUUID().slice(0, 8)}`},
            ${options.displayName ?? "Shop"}, 'sealed')
    returning id`;
  return String(row?.id);
}

interface OrderSeed {
  number?: string;
  status?: string;
  channel?: string;
  storeId?: string;
  email?: string | null;
  name?: string | null;
  phone?: string | null;
  placedAt?: string;
  totalMinor?: number;
}

/** An order as the engine stores it: columns plus the full commerce `Order` DTO in `data`. */
async function order(tenant: TestTenant, connectionId: string, seed: OrderSeed = {}): Promise<string> {
  const number = seed.number ?? `#${Math.floor(Math.random() * 1e6)}`;
  const channel = seed.channel ?? "shopify";
  const storeId = seed.storeId ?? "acme.myshopify.com";
  const placedAt = seed.placedAt ?? "2026-03-10T08:30:00.000Z";
  const email = seed.email === undefined ? "jane.doe@example.com" : seed.email;
  const name = seed.name === undefined ? "Jane Doe" : seed.name;
  const phone = seed.phone === undefined ? "+1 555-0100" : seed.phone;
  const externalId = `gid://shopify/Order/${crypto.randomUUID()}`;
  const data = {
    channel,
    storeId,
    externalId,
    externalNumber: number,
    currency: "USD",
    customer: { externalId: "gid://shopify/Customer/1", email, phone, name },
    shippingAddress: null,
    billingAddress: null,
    lines: [
      {
        externalLineId: "gid://shopify/LineItem/1",
        sku: "TEE-BLK-M",
        title: "Tee",
        variantTitle: "Black / M",
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
    totalMinor: seed.totalMinor ?? 2500,
    financialStatus: "PAID",
    fulfillmentStatus: "UNFULFILLED",
    cancelledAt: null,
    placedAt,
    updatedAt: placedAt,
    note: null,
    tags: [],
  };
  const searchText = [number, email, name, phone].filter(Boolean).join(" ").toLowerCase();
  const [row] = await ownerSql()`
    insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, status,
                        currency, total_minor, customer_email, customer_name, search_text, data, placed_at,
                        channel_updated_at)
    values (${tenant.id}, ${connectionId}, ${channel}, ${storeId}, ${externalId}, ${number},
            ${seed.status ?? "created"}, 'USD', ${seed.totalMinor ?? 2500}, ${email}, ${name}, ${searchText},
            ${JSON.stringify(data)}::jsonb, ${placedAt}, ${placedAt})
    returning id`;
  return String(row?.id);
}

async function list(token: string, query = "") {
  return json<Page<OrderSummary>>(await call(`${ORDERS}${query ? `?${query}` : ""}`, bearer(token)));
}

async function hold(token: string, id: string, body: unknown = { reason: "Check the address" }) {
  return json<OrderDetail>(await call(`${ORDERS}/${id}/hold`, bearer(token, { method: "POST", body })));
}

async function release(token: string, id: string, body?: unknown) {
  return json<OrderDetail>(await call(`${ORDERS}/${id}/release`, bearer(token, { method: "POST", body })));
}

describe("orders: authentication and authorization", () => {
  it("answers 401 without a token on every endpoint", async () => {
    const cases: [string, string][] = [
      ["GET", ORDERS],
      ["GET", `${ORDERS}/${MISSING_ID}`],
      ["POST", `${ORDERS}/${MISSING_ID}/hold`],
      ["POST", `${ORDERS}/${MISSING_ID}/release`],
    ];
    for (const [method, path] of cases) {
      const res = await call(path, {
        method,
        headers: { "content-type": "application/json" },
        ...(method === "GET" ? {} : { body: JSON.stringify({ reason: "x" }) }),
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect((await envelope(res)).error).toEqual({
        code: "UNAUTHORIZED",
        message: "Authentication required",
      });
    }
  });

  it("answers 403 without orders:read, and 403 on hold/release with only orders:read", async () => {
    const nobody = await signedInUser({ permissions: ["sync:read"] });
    let res = await call(ORDERS, bearer(nobody.token));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission orders:read",
      details: { permission: "orders:read" },
    });
    const reader = await signedInUser({ tenant: nobody.tenant, permissions: ["orders:read"] });
    const id = await order(reader.tenant, await connection(reader.tenant));
    expect((await call(`${ORDERS}/${id}`, bearer(reader.token))).status).toBe(200);
    for (const action of ["hold", "release"]) {
      res = await call(
        `${ORDERS}/${id}/${action}`,
        bearer(reader.token, { method: "POST", body: { reason: "x" } }),
      );
      expect(res.status, action).toBe(403);
      expect((await envelope(res)).error).toMatchObject({
        code: "FORBIDDEN",
        details: { permission: "orders:write" },
      });
    }
    const [row] = await ownerSql()`select status from orders where id = ${id}`;
    expect(row?.status).toBe("created");
  });

  it("answers 404 for another tenant's order on every endpoint and never lists it", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const other = await createTenant();
    const theirs = await order(other, await connection(other), {
      number: "#OUTSIDER",
      email: "zed@outsider.example",
    });
    for (const [method, path, body] of [
      ["GET", `${ORDERS}/${theirs}`, undefined],
      ["POST", `${ORDERS}/${theirs}/hold`, { reason: "x" }],
      ["POST", `${ORDERS}/${theirs}/release`, {}],
    ] as const) {
      const res = await call(path, bearer(writer.token, { method, body }));
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await envelope(res)).error).toEqual({ code: "NOT_FOUND", message: "Order not found" });
    }
    expect((await list(writer.token, "search=outsider")).data.total).toBe(0);
    const [row] = await ownerSql()`select status from orders where id = ${theirs}`;
    expect(row?.status).toBe("created");
  });

  it("answers 422 for a malformed id", async () => {
    const reader = await signedInUser({ permissions: ["orders:read"] });
    const res = await json(await call(`${ORDERS}/not-a-uuid`, bearer(reader.token)));
    expect(res.status).toBe(422);
    expect(res.error).toMatchObject({ code: "VALIDATION_ERROR", details: { id: expect.any(Array) } });
  });
});

describe("GET /orders", () => {
  async function population() {
    const reader = await signedInUser({ permissions: ["orders:read"] });
    const t = reader.tenant;
    const shop = await connection(t, { displayName: "Main shop" });
    const tiktok = await connection(t, { provider: "tiktok", displayName: "TikTok" });
    const ids = {
      march1: await order(t, shop, {
        number: "#1001",
        placedAt: "2026-03-01T10:00:00.000Z",
        email: "ana@example.com",
        name: "Ana Lima",
        phone: "+55 11 5555-0001",
      }),
      march15: await order(t, shop, {
        number: "#1002",
        placedAt: "2026-03-15T23:59:59.000Z",
        status: "synced",
        email: "bo@example.com",
        name: "Bo Chen",
      }),
      march31: await order(t, shop, {
        number: "#1003",
        placedAt: "2026-03-31T23:30:00.000Z",
        status: "on_hold",
        email: "100%_real@example.com",
        name: "Percent Person",
      }),
      april: await order(t, tiktok, {
        number: "5771",
        channel: "tiktok",
        storeId: "7495",
        placedAt: "2026-04-02T01:00:00.000Z",
        status: "shipped",
        email: null,
        name: "Dee Wu",
      }),
    };
    return { reader, shop, tiktok, ids };
  }

  it("lists the tenant's orders newest placed first with the documented item shape", async () => {
    const { reader, shop, ids } = await population();
    const res = await list(reader.token);
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ total: 4, page: 1, pageSize: 50, totalPages: 1 });
    expect(res.data.items.map((o) => o.id)).toEqual([ids.april, ids.march31, ids.march15, ids.march1]);
    const first = res.data.items.find((o) => o.id === ids.march1);
    expect(first).toEqual({
      id: ids.march1,
      channel: "shopify",
      storeId: "acme.myshopify.com",
      connectionId: shop,
      externalId: expect.stringMatching(/^gid:\/\/shopify\/Order\//),
      externalNumber: "#1001",
      status: "created",
      currency: "USD",
      totalMinor: 2500,
      customer: { email: "ana@example.com", name: "Ana Lima" },
      placedAt: "2026-03-01T10:00:00.000Z",
      channelUpdatedAt: "2026-03-01T10:00:00.000Z",
      updatedAt: expect.stringMatching(ISO),
    });
    expect(first).not.toHaveProperty("data");
  });

  it("filters by status (repeated or comma-separated), channel, connection, store and placed dates", async () => {
    const { reader, tiktok, ids } = await population();
    const idsOf = async (query: string) =>
      (await list(reader.token, query)).data.items.map((o) => o.id).sort();
    expect(await idsOf("status=created&status=synced")).toEqual([ids.march1, ids.march15].sort());
    expect(await idsOf("status=created,on_hold")).toEqual([ids.march1, ids.march31].sort());
    expect(await idsOf("channel=tiktok")).toEqual([ids.april]);
    expect(await idsOf(`connectionId=${tiktok.toUpperCase()}`)).toEqual([ids.april]);
    expect(await idsOf("storeId=7495")).toEqual([ids.april]);
    // A date is a whole UTC day, both ends inclusive.
    expect(await idsOf("placedFrom=2026-03-15&placedTo=2026-03-31")).toEqual(
      [ids.march15, ids.march31].sort(),
    );
    expect(await idsOf("placedFrom=2026-03-15T23:59:59Z&placedTo=2026-03-31T00:00:00Z")).toEqual([
      ids.march15,
    ]);
  });

  it("searches number, email, name and phone case-insensitively, with % and _ taken literally", async () => {
    const { reader, ids } = await population();
    const idsOf = async (search: string) =>
      (await list(reader.token, `search=${encodeURIComponent(search)}`)).data.items.map((o) => o.id);
    expect(await idsOf("#1002")).toEqual([ids.march15]);
    expect(await idsOf("ANA@EXAMPLE")).toEqual([ids.march1]);
    expect(await idsOf("dee w")).toEqual([ids.april]);
    expect(await idsOf("5555-0001")).toEqual([ids.march1]);
    expect(await idsOf("100%_")).toEqual([ids.march31]);
    expect(await idsOf("%")).toEqual([ids.march31]);
    expect(await idsOf("nobody")).toEqual([]);
  });

  it("pages and sorts by updatedAt", async () => {
    const { reader, ids } = await population();
    await ownerSql()`update orders set updated_at = now() + interval '1 hour' where id = ${ids.march1}`;
    const page2 = await list(reader.token, "page=2&pageSize=3");
    expect(page2.data).toMatchObject({ total: 4, page: 2, pageSize: 3, totalPages: 2 });
    expect(page2.data.items.map((o) => o.id)).toEqual([ids.march1]);
    const byUpdate = await list(reader.token, "sort=-updatedAt&pageSize=1");
    expect(byUpdate.data.items.map((o) => o.id)).toEqual([ids.march1]);
    const ascending = await list(reader.token, "sort=placedAt&pageSize=1");
    expect(ascending.data.items.map((o) => o.id)).toEqual([ids.march1]);
  });

  it("answers in one Postgres round trip once the caller's auth record is cached", async () => {
    const { reader } = await population();
    await call(ORDERS, bearer(reader.token));
    const res = await call(
      `${ORDERS}?search=a&status=created,synced&placedFrom=2026-01-01`,
      bearer(reader.token),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
  });

  it("answers 422 naming the field for bad filters", async () => {
    const reader = await signedInUser({ permissions: ["orders:read"] });
    for (const [query, field] of [
      ["status=lost", "status.0"],
      ["sort=total", "sort"],
      ["connectionId=nope", "connectionId"],
      ["placedFrom=yesterday", "placedFrom"],
      ["pageSize=201", "pageSize"],
      ["search=", "search"],
    ] as const) {
      const res = await list(reader.token, query);
      expect(res.status, query).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
      expect(Object.keys(res.error?.details ?? {}), query).toContain(field);
    }
  });
});

describe("GET /orders/{id}", () => {
  it("answers the order with data, transitions, ledger, shipments and invoices in one round trip", async () => {
    const reader = await signedInUser({ permissions: ["orders:read"] });
    const t = reader.tenant;
    const shop = await connection(t);
    const erp = await connection(t, { kind: "erp" });
    const id = await order(t, shop, { number: "#2001", status: "shipped", totalMinor: 12999 });
    const sql = ownerSql();
    await sql`insert into order_transitions (tenant_id, order_id, from_status, to_status, actor, reason, occurred_at) values
      (${t.id}, ${id}, 'synced', 'shipped', '{"type":"system","name":"sync"}', 'shipment reported', '2026-03-12T09:00:00Z'),
      (${t.id}, ${id}, 'created', 'synced', '{"type":"system","name":"sync"}', 'created in lingxing', '2026-03-10T09:00:00Z'),
      (${t.id}, ${id}, null, 'created', '{"type":"system","name":"sync"}', 'received from shopify', '2026-03-10T08:31:00Z')`;
    await sql`insert into erp_push_ledger (tenant_id, order_id, erp_connection_id, reference, status, erp_order_id,
                                           attempts, last_attempt_at, confirmed_at)
              values (${t.id}, ${id}, ${erp}, 'TW-2001', 'created', 'LX-88', 1, '2026-03-10T09:00:00Z', '2026-03-10T09:00:01Z')`;
    await sql`insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, carrier_code,
                                     tracking_numbers, shipped_at, writeback_status, channel_fulfillment_id)
              values (${t.id}, ${id}, ${erp}, 'PKG-1', 'UPS', 'UPS', ${["1Z999AA10123456784"]}, '2026-03-12T08:00:00Z',
                      'done', 'gid://shopify/Fulfillment/9')`;
    await sql`insert into invoices (tenant_id, order_id, source, external_id, number, currency, total_minor, issued_at)
              values (${t.id}, ${id}, 'lingxing', 'INV-1', 'F2026-001', 'USD', 12999, '2026-03-13T00:00:00Z')`;

    await call(`${ORDERS}/${id}`, bearer(reader.token));
    const res = await call(`${ORDERS}/${id}`, bearer(reader.token));
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    const detail = (await envelope<OrderDetail>(res)).data;
    expect(detail).toMatchObject({
      id,
      externalNumber: "#2001",
      status: "shipped",
      totalMinor: 12999,
      version: 1,
    });
    expect(detail?.data).toMatchObject({ externalNumber: "#2001", lines: [{ sku: "TEE-BLK-M" }] });
    expect(detail?.transitions).toEqual([
      {
        from: null,
        to: "created",
        actor: { type: "system", name: "sync" },
        reason: "received from shopify",
        at: "2026-03-10T08:31:00.000Z",
      },
      {
        from: "created",
        to: "synced",
        actor: { type: "system", name: "sync" },
        reason: "created in lingxing",
        at: "2026-03-10T09:00:00.000Z",
      },
      {
        from: "synced",
        to: "shipped",
        actor: { type: "system", name: "sync" },
        reason: "shipment reported",
        at: "2026-03-12T09:00:00.000Z",
      },
    ]);
    expect(detail?.erpLedger).toEqual({
      erpConnectionId: erp,
      reference: "TW-2001",
      status: "created",
      erpOrderId: "LX-88",
      attempts: 1,
      lastError: null,
      lastAttemptAt: "2026-03-10T09:00:00.000Z",
      confirmedAt: "2026-03-10T09:00:01.000Z",
    });
    expect(detail?.shipments).toEqual([
      {
        id: expect.any(String),
        externalId: "PKG-1",
        carrier: "UPS",
        carrierCode: "UPS",
        trackingNumbers: ["1Z999AA10123456784"],
        trackingUrl: null,
        lines: [],
        shippedAt: "2026-03-12T08:00:00.000Z",
        writebackStatus: "done",
        channelFulfillmentId: "gid://shopify/Fulfillment/9",
        writtenBackAt: null,
        lastError: null,
      },
    ]);
    expect(detail?.invoices).toEqual([
      {
        id: expect.any(String),
        source: "lingxing",
        externalId: "INV-1",
        number: "F2026-001",
        currency: "USD",
        totalMinor: 12999,
        issuedAt: "2026-03-13T00:00:00.000Z",
      },
    ]);
  });

  it("shows a fresh order with no ledger, shipments or invoices", async () => {
    const reader = await signedInUser({ permissions: ["orders:read"] });
    const id = await order(reader.tenant, await connection(reader.tenant));
    const res = await json<OrderDetail>(await call(`${ORDERS}/${id}`, bearer(reader.token)));
    expect(res.data).toMatchObject({ transitions: [], erpLedger: null, shipments: [], invoices: [] });
  });

  it("answers 404 for an unknown id", async () => {
    const reader = await signedInUser({ permissions: ["orders:read"] });
    const res = await json(await call(`${ORDERS}/${MISSING_ID}`, bearer(reader.token)));
    expect(res.status).toBe(404);
    expect(res.error).toEqual({ code: "NOT_FOUND", message: "Order not found" });
  });
});

describe("POST /orders/{id}/hold and /release", () => {
  it("holds a created order, recording who and why with the status change, in one round trip", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const id = await order(writer.tenant, await connection(writer.tenant));
    await call(`${ORDERS}/${MISSING_ID}`, bearer(writer.token));
    const res = await call(
      `${ORDERS}/${id}/hold`,
      bearer(writer.token, { method: "POST", body: { reason: "  Fraud check  " } }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    const held = (await envelope<OrderDetail>(res)).data;
    expect(held?.status).toBe("on_hold");
    expect(held?.transitions).toEqual([
      {
        from: "created",
        to: "on_hold",
        actor: { type: "user", userId: writer.id },
        reason: "Fraud check",
        at: expect.stringMatching(ISO),
      },
    ]);
    const rows = await ownerSql()`select status from orders where id = ${id}`;
    expect(rows[0]?.status).toBe("on_hold");
  });

  it("releases a held order to created when the ERP does not hold it yet", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const id = await order(writer.tenant, await connection(writer.tenant));
    expect((await hold(writer.token, id)).status).toBe(200);
    const released = await release(writer.token, id);
    expect(released.status).toBe(200);
    expect(released.data.status).toBe("created");
    expect(released.data.transitions.map((t) => [t.from, t.to, t.reason])).toEqual([
      ["created", "on_hold", "Check the address"],
      ["on_hold", "created", "released"],
    ]);
  });

  it("releases a held order to synced when its push ledger row is created", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const t = writer.tenant;
    const id = await order(t, await connection(t), { status: "synced" });
    await ownerSql()`insert into erp_push_ledger (tenant_id, order_id, erp_connection_id, reference, status)
                     values (${t.id}, ${id}, ${await connection(t, { kind: "erp" })}, 'TW-1', 'created')`;
    expect((await hold(writer.token, id)).data.status).toBe("on_hold");
    const released = await release(writer.token, id, { reason: "Customer confirmed" });
    expect(released.data.status).toBe("synced");
    expect(released.data.transitions.at(-1)).toMatchObject({
      from: "on_hold",
      to: "synced",
      reason: "Customer confirmed",
    });
  });

  it("answers 412 naming from and to for an illegal move, and changes nothing", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const id = await order(writer.tenant, await connection(writer.tenant), { status: "shipped" });
    const held = await hold(writer.token, id);
    expect(held.status).toBe(412);
    expect(held.error).toEqual({
      code: "PRECONDITION_FAILED",
      message: "An order in status shipped cannot move to on_hold",
      details: { from: "shipped", to: "on_hold", allowed: ["invoiced"] },
    });
    const released = await release(writer.token, id);
    expect(released.status).toBe(412);
    expect(released.error).toMatchObject({
      code: "PRECONDITION_FAILED",
      details: { from: "shipped", to: "created" },
    });
    const rows = await ownerSql()`select count(*)::int as n from order_transitions where order_id = ${id}`;
    expect(rows[0]?.n).toBe(0);
  });

  it("lets exactly one of two concurrent holds win; the other is a 412", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const id = await order(writer.tenant, await connection(writer.tenant));
    const results = await Promise.all([
      hold(writer.token, id, { reason: "first" }),
      hold(writer.token, id, { reason: "second" }),
    ]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 412]);
    const loser = results.find((r) => r.status === 412);
    expect(loser?.error).toMatchObject({
      code: "PRECONDITION_FAILED",
      details: { from: "on_hold", to: "on_hold" },
    });
    const rows =
      await ownerSql()`select from_status, to_status from order_transitions where order_id = ${id}`;
    expect(rows).toEqual([{ from_status: "created", to_status: "on_hold" }]);
  });

  it("records exactly one move when holds and releases race", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const id = await order(writer.tenant, await connection(writer.tenant));
    const holds = await Promise.all(
      Array.from({ length: 5 }, (_, i) => hold(writer.token, id, { reason: `hold ${i}` })),
    );
    expect(holds.filter((r) => r.status === 200)).toHaveLength(1);
    expect(holds.filter((r) => r.status === 412)).toHaveLength(4);
    const releases = await Promise.all(Array.from({ length: 5 }, () => release(writer.token, id)));
    expect(releases.filter((r) => r.status === 200)).toHaveLength(1);
    const rows = await ownerSql()`
      select from_status, to_status from order_transitions where order_id = ${id} order by from_status desc`;
    expect(rows).toEqual([
      { from_status: "on_hold", to_status: "created" },
      { from_status: "created", to_status: "on_hold" },
    ]);
    expect((await ownerSql()`select status from orders where id = ${id}`)[0]?.status).toBe("created");
  });

  it("validates the body strictly (422 naming the field)", async () => {
    const writer = await signedInUser({ permissions: ["orders:write"] });
    const id = await order(writer.tenant, await connection(writer.tenant));
    for (const [body, field] of [
      [{}, "reason"],
      [{ reason: "   " }, "reason"],
      [{ reason: "x".repeat(501) }, "reason"],
      [{ reason: "ok", status: "synced" }, "_root"],
    ] as const) {
      const res = await hold(writer.token, id, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
      expect(Object.keys(res.error?.details ?? {})).toContain(field);
    }
    const res = await release(writer.token, id, { note: "unknown field" });
    expect(res.status).toBe(422);
    const rows = await ownerSql()`select status from orders where id = ${id}`;
    expect(rows[0]?.status).toBe("created");
  });
});
