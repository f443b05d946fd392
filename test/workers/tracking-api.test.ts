// /api/v1/tracking: queue numbers for 17track, read one parcel (one Postgres round trip) and list the
// tenant's parcels; every error path with its exact body; 401/403; tenant isolation (a tracking number is
// per tenant); and getTracking as the chat bot calls it (a system actor of the tenant).
//
// These tests never run the registration cron, but another file's cron tick is cross-tenant and may
// register their queued numbers meanwhile: a queued number's registration is "pending" or "registered",
// its parcel status "Pending" either way (17track has told nothing yet).
import { describe, expect, it } from "vitest";
import { getTracking } from "../../src/services/tracking/get-tracking";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import { createChannelConnection, createErpConnection } from "../support/hub";
import { simulatedQueues } from "../support/sync";
import { send17TrackPush, track17Push } from "../support/webhooks";

const TRACKING = "/api/v1/tracking";

interface ParcelSummary {
  trackingNumber: string;
  status: string;
  subStatus: string | null;
  carrierCode: number | null;
  stopped: boolean;
  latestEvent: { description: string } | null;
  lastEventAt: string | null;
  updatedAt: string;
  registration: {
    status: string;
    carrierCode: number | null;
    orderId: string | null;
    shipmentId: string | null;
    attempts: number;
    lastError: unknown;
    nextAttemptAt: string | null;
    registeredAt: string | null;
    createdAt: string;
  } | null;
}
interface Parcel extends ParcelSummary {
  events: { description: string; timeUtc: string | null }[];
}
interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

const randomNumber = () => `RR${100_000_000 + Math.floor(Math.random() * 800_000_000)}CN`;

async function post(token: string, body: unknown) {
  const response = await call(TRACKING, bearer(token, { method: "POST", body }));
  return {
    status: response.status,
    body: await envelope<{ items: { trackingNumber: string; created: boolean; parcel: ParcelSummary }[] }>(
      response,
    ),
  };
}

async function get(token: string, number: string) {
  const response = await call(`${TRACKING}/${encodeURIComponent(number)}`, bearer(token));
  return { status: response.status, body: await envelope<Parcel>(response) };
}

async function list(token: string, query = "") {
  const response = await call(`${TRACKING}${query}`, bearer(token));
  return { status: response.status, body: await envelope<Page<ParcelSummary>>(response) };
}

/** An order of the tenant, as the hub would have stored it. */
async function orderOf(user: { token: string; tenant: { id: string } }): Promise<string> {
  const erp = await createErpConnection(user.token);
  const shop = await createChannelConnection(user.token, { erpConnectionId: erp.id });
  const [order] = await ownerSql()`
    insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                        total_minor, customer_name, search_text, data, placed_at, channel_updated_at, status)
    values (${user.tenant.id}, ${shop.id}, 'shopify', ${shop.account}, ${`gid://shopify/Order/${crypto.randomUUID()}`},
            '#3001', 'USD', 2590, 'Lee Buyer', '#3001 lee buyer', '{}', now(), now(), 'shipped')
    returning id`;
  return String(order?.id);
}

/**
 * Marks the tenant's queued numbers registered, as the cron would: arranged here so that no cron tick of
 * another test file changes them while a test compares them.
 */
async function registeredByCron(tenantId: string) {
  await ownerSql()`
    update parcel_registrations set status = 'registered', attempts = 1, registered_at = now()
     where tenant_id = ${tenantId} and status = 'pending'`;
}

/** 17track pushes the parcel to the tenant (by its tag), and the webhook consumer applies it. */
async function pushed(
  tenantId: string,
  number: string,
  status: string,
  events: { at: string; description: string }[],
) {
  const queues = simulatedQueues(tenantId);
  const body = track17Push({
    event: "TRACKING_UPDATED",
    number,
    tag: tenantId,
    status,
    subStatus: `${status}_Other`,
    events,
  });
  const { response } = await send17TrackPush(body, {}, queues.env);
  expect(response.status).toBe(200);
  await queues.drain();
}

describe("POST /tracking queues numbers for 17track", () => {
  it("normalizes, queues pending, and answers each parcel as it stands; a second POST changes nothing", async () => {
    const user = await signedInUser({ permissions: ["tracking:write"] });
    const order = await orderOf(await signedInUser({ tenant: user.tenant, superuser: true }));
    const number = randomNumber();
    const spaced = `${number.slice(0, 2).toLowerCase()} ${number.slice(2, 6)}-${number.slice(6)}`;
    const first = await post(user.token, { trackingNumber: spaced, carrierCode: 3011, orderId: order });
    expect(first.status).toBe(202);
    expect(first.body.data?.items).toEqual([
      {
        trackingNumber: number,
        created: true,
        parcel: {
          trackingNumber: number,
          status: "Pending",
          subStatus: null,
          carrierCode: 3011,
          stopped: false,
          latestEvent: null,
          lastEventAt: null,
          updatedAt: expect.any(String),
          registration: {
            status: "pending",
            carrierCode: 3011,
            orderId: order,
            shipmentId: null,
            attempts: 0,
            lastError: null,
            nextAttemptAt: expect.any(String),
            registeredAt: null,
            createdAt: expect.any(String),
          },
        },
      },
    ]);
    const again = await post(user.token, { trackingNumbers: [number, number.toLowerCase()] });
    expect(again.status).toBe(202);
    expect(again.body.data?.items).toHaveLength(1);
    expect(again.body.data?.items[0]).toMatchObject({
      trackingNumber: number,
      created: false,
      parcel: { status: "Pending", registration: { carrierCode: 3011, orderId: order } },
    });
    const rows = await ownerSql()`
      select tracking_number, status from parcel_registrations where tenant_id = ${user.tenant.id}`;
    expect(rows).toHaveLength(1);
  });

  it("refuses what could never be registered, with the field that is wrong", async () => {
    const user = await signedInUser({ permissions: ["tracking:write"] });
    const other = await signedInUser({ superuser: true });
    const foreignOrder = await orderOf(other);
    const cases: [unknown, Record<string, string[]>][] = [
      [
        { trackingNumbers: [randomNumber(), "AB1", "RR 12/34 CN"] },
        {
          "trackingNumbers.1": ["Must be 5 to 50 letters and digits"],
          "trackingNumbers.2": ["Must be 5 to 50 letters and digits"],
        },
      ],
      [
        { trackingNumber: randomNumber(), orderId: foreignOrder },
        { orderId: ["No such order in this tenant"] },
      ],
      [
        { trackingNumber: randomNumber(), orderId: crypto.randomUUID() },
        { orderId: ["No such order in this tenant"] },
      ],
    ];
    for (const [body, details] of cases) {
      const response = await post(user.token, body);
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(response.body.error?.code).toBe("VALIDATION_ERROR");
      expect(response.body.error?.details).toEqual(details);
    }
    for (const body of [
      {},
      { trackingNumber: randomNumber(), trackingNumbers: [randomNumber()] },
      { trackingNumbers: [] },
      { trackingNumbers: Array.from({ length: 101 }, randomNumber) },
      { trackingNumber: randomNumber(), carrierCode: -1 },
      { trackingNumber: randomNumber(), extra: true },
    ]) {
      const response = await post(user.token, body);
      expect(response.status, JSON.stringify(body).slice(0, 80)).toBe(422);
      expect(response.body.error?.code).toBe("VALIDATION_ERROR");
    }
    expect(
      await ownerSql()`select 1 from parcel_registrations where tenant_id = ${user.tenant.id}`,
    ).toHaveLength(0);
    expect(
      await ownerSql()`select 1 from parcel_registrations where tenant_id = ${other.tenant.id}`,
    ).toHaveLength(0);
  });
});

describe("GET /tracking/{number}", () => {
  it("registered, no news yet: Pending; after 17track's push: status, latest event and the timeline", async () => {
    const user = await signedInUser({ permissions: ["tracking:write"] });
    const number = randomNumber();
    await post(user.token, { trackingNumber: number });
    const pending = await get(user.token, number);
    expect(pending.status).toBe(200);
    expect(pending.body.data).toMatchObject({
      trackingNumber: number,
      status: "Pending",
      events: [],
      latestEvent: null,
    });
    expect(["pending", "registered"]).toContain(pending.body.data?.registration?.status);

    await pushed(user.tenant.id, number, "InTransit", [
      { at: "2026-11-18T03:20:00Z", description: "Acceptance — 收寄" },
      { at: "2026-11-20T01:10:00Z", description: "Departed from the international exchange office" },
    ]);
    const moving = await get(user.token, ` ${number.toLowerCase()} `);
    expect(moving.status).toBe(200);
    expect(moving.body.data).toMatchObject({
      trackingNumber: number,
      status: "InTransit",
      subStatus: "InTransit_Other",
      carrierCode: 3011,
      latestEvent: { description: "Departed from the international exchange office" },
      lastEventAt: "2026-11-20T01:10:00.000Z",
    });
    expect(moving.body.data?.events.map((e) => e.timeUtc)).toEqual([
      "2026-11-20T01:10:00.000Z",
      "2026-11-18T03:20:00.000Z",
    ]);
  });

  it("a parcel 17track pushed without a registration of this tenant shows with registration null", async () => {
    const user = await signedInUser({ permissions: ["tracking:read"] });
    const number = randomNumber();
    await pushed(user.tenant.id, number, "Delivered", [
      { at: "2026-11-26T05:42:00Z", description: "Delivered" },
    ]);
    const parcel = await get(user.token, number);
    expect(parcel.status).toBe(200);
    expect(parcel.body.data).toMatchObject({ status: "Delivered", registration: null });
  });

  it("a number this tenant never tracked is a 404; one that cannot be a number is a 422", async () => {
    const user = await signedInUser({ permissions: ["tracking:read"] });
    const unknown = await get(user.token, randomNumber());
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({
      success: false,
      error: { code: "NOT_FOUND", message: "This tracking number is not tracked by this tenant" },
    });
    const malformed = await get(user.token, "AB!1");
    expect(malformed.status).toBe(422);
    expect(malformed.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid tracking number",
      details: { trackingNumber: ["Must be 5 to 50 letters and digits (spaces and dashes are ignored)"] },
    });
    // Reading never registers.
    expect(
      await ownerSql()`select 1 from parcel_registrations where tenant_id = ${user.tenant.id}`,
    ).toHaveLength(0);
  });
});

describe("GET /tracking lists the tenant's parcels", () => {
  it("pages, filters by status and by order, newest change first", async () => {
    const admin = await signedInUser({ superuser: true });
    const order = await orderOf(admin);
    const [a, b, c] = [randomNumber(), randomNumber(), randomNumber()];
    await post(admin.token, { trackingNumbers: [a, b], orderId: order });
    await post(admin.token, { trackingNumber: c });
    await registeredByCron(admin.tenant.id);
    await pushed(admin.tenant.id, b, "Delivered", [{ at: "2026-11-26T05:42:00Z", description: "Delivered" }]);
    const unregistered = randomNumber();
    await pushed(admin.tenant.id, unregistered, "Exception", [
      { at: "2026-11-21T05:42:00Z", description: "Held" },
    ]);

    const all = await list(admin.token, "?pageSize=2");
    expect(all.status).toBe(200);
    expect(all.body.data).toMatchObject({ total: 4, page: 1, pageSize: 2, totalPages: 2 });
    expect(all.body.data?.items.map((i) => i.trackingNumber)).toEqual([unregistered, b]);
    const second = await list(admin.token, "?pageSize=2&page=2");
    expect(second.body.data?.items.map((i) => i.trackingNumber).sort()).toEqual([a, c].sort());
    expect(second.body.data?.items[0]).not.toHaveProperty("events");

    const delivered = await list(admin.token, "?status=Delivered,Exception");
    expect(delivered.body.data?.items.map((i) => [i.trackingNumber, i.status]).sort()).toEqual(
      [
        [b, "Delivered"],
        [unregistered, "Exception"],
      ].sort(),
    );
    const pending = await list(admin.token, "?status=Pending");
    expect(pending.body.data?.items.map((i) => i.trackingNumber).sort()).toEqual([a, c].sort());
    const ofOrder = await list(admin.token, `?orderId=${order}`);
    expect(ofOrder.body.data?.items.map((i) => i.trackingNumber).sort()).toEqual([a, b].sort());
    const beyond = await list(admin.token, "?page=9");
    expect(beyond.body.data).toMatchObject({ items: [], total: 4, page: 9 });

    const badStatus = await list(admin.token, "?status=Lost");
    expect(badStatus.status).toBe(422);
    expect(badStatus.body.error?.code).toBe("VALIDATION_ERROR");
  });
});

describe("access", () => {
  it("401 without a token; 403 without tracking:read, and without tracking:write to register", async () => {
    const number = randomNumber();
    for (const [method, path] of [
      ["GET", TRACKING],
      ["POST", TRACKING],
      ["GET", `${TRACKING}/${number}`],
    ] as const) {
      const response = await call(path, {
        method,
        headers: { "content-type": "application/json" },
        body: method === "POST" ? JSON.stringify({ trackingNumber: number }) : null,
      });
      expect(response.status, `${method} ${path}`).toBe(401);
      expect((await envelope(response)).error?.code).toBe("UNAUTHORIZED");
    }
    const outsider = await signedInUser({ permissions: ["orders:read"] });
    for (const response of [await list(outsider.token), await get(outsider.token, number)]) {
      expect(response.status).toBe(403);
      expect(response.body.error).toMatchObject({
        code: "FORBIDDEN",
        message: "Missing permission tracking:read",
      });
    }
    const reader = await signedInUser({ permissions: ["tracking:read"] });
    const refused = await post(reader.token, { trackingNumber: number });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      code: "FORBIDDEN",
      message: "Missing permission tracking:write",
    });
    expect((await list(reader.token)).status).toBe(200);
  });

  it("an API key scoped tracking:write registers and reads", async () => {
    const admin = await signedInUser({ superuser: true });
    const created = await envelope<{ key: string }>(
      await call(
        "/api/v1/api-keys",
        bearer(admin.token, { method: "POST", body: { name: "warehouse", scopes: ["tracking:write"] } }),
      ),
    );
    const key = created.data?.key ?? "";
    const number = randomNumber();
    expect((await post(key, { trackingNumber: number })).status).toBe(202);
    expect((await get(key, number)).body.data?.trackingNumber).toBe(number);
  });
});

describe("tenant isolation", () => {
  it("B never sees A's parcel; one number tracked by both, each sees its own registration", async () => {
    const a = await signedInUser({ superuser: true });
    const b = await signedInUser({ superuser: true });
    const aOrder = await orderOf(a);
    const number = randomNumber();
    await post(a.token, { trackingNumber: number, orderId: aOrder, carrierCode: 3011 });
    await registeredByCron(a.tenant.id);
    await pushed(a.tenant.id, number, "InTransit", [{ at: "2026-11-20T01:10:00Z", description: "A's scan" }]);

    const bView = await get(b.token, number);
    expect(bView.status).toBe(404);
    expect(JSON.stringify(bView.body)).not.toContain(aOrder);
    expect((await list(b.token)).body.data).toMatchObject({ items: [], total: 0 });

    // B registers the same number: its own row; A's stays as it was.
    const before = await ownerSql()`
      select * from parcel_registrations where tenant_id = ${a.tenant.id} and tracking_number = ${number}`;
    const bPost = await post(b.token, { trackingNumber: number });
    expect(bPost.body.data?.items[0]).toMatchObject({
      created: true,
      parcel: { status: "Pending", latestEvent: null, registration: { orderId: null, carrierCode: null } },
    });
    expect(
      await ownerSql()`select * from parcel_registrations where tenant_id = ${a.tenant.id} and tracking_number = ${number}`,
    ).toEqual(before);
    expect((await get(a.token, number)).body.data).toMatchObject({
      status: "InTransit",
      registration: { orderId: aOrder },
    });
    // A's order id is no order of B's.
    const foreign = await post(b.token, { trackingNumber: randomNumber(), orderId: aOrder });
    expect(foreign.status).toBe(422);
    expect((await list(b.token)).body.data?.items.map((i) => i.trackingNumber)).toEqual([number]);
  });
});

describe("17track pushes reach every tenant of the number", () => {
  it("an untagged push reaches each shipper, whether or not its number was turned into a registration yet", async () => {
    // A registered the number already (as the cron does for a shipment's numbers); B only shipped it.
    const a = await signedInUser({ superuser: true });
    const b = await signedInUser({ superuser: true });
    const bystander = await signedInUser({ superuser: true });
    const number = randomNumber();
    await post(a.token, { trackingNumber: number });
    await shipped(b, number);

    const aQueues = simulatedQueues(a.tenant.id);
    const bQueues = simulatedQueues(b.tenant.id);
    const body = track17Push({
      event: "TRACKING_UPDATED",
      number,
      status: "InTransit",
      subStatus: "InTransit_Other",
      events: [{ at: "2026-11-20T01:10:00Z", description: "Departed" }],
    });
    const received = await send17TrackPush(body, {}, aQueues.env);
    expect(received.response.status).toBe(200);
    expect(received.body.data?.eventIds).toHaveLength(2);
    await aQueues.drain();
    // B's copy was queued through A's recorder: B's own drain applies it (messages are per tenant).
    for (const message of aQueues.log) {
      if ((message.body as { tenantId: string }).tenantId === b.tenant.id)
        await bQueues.send("webhooks", message.body);
    }
    await bQueues.drain();
    for (const user of [a, b]) {
      expect((await get(user.token, number)).body.data).toMatchObject({
        status: "InTransit",
        latestEvent: { description: "Departed" },
      });
    }
    expect((await get(bystander.token, number)).status).toBe(404);
  });
});

/** The tenant shipped `number` (an ERP shipment of one of its orders), without registering it. */
async function shipped(user: { token: string; tenant: { id: string } }, number: string) {
  const erp = await createErpConnection(user.token);
  const order = await orderOf(user);
  await ownerSql()`
    insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, carrier_code,
                           tracking_numbers, shipped_at)
    values (${user.tenant.id}, ${order}, ${erp.id}, ${`WO${crypto.randomUUID()}`}, 'China Post', 'china-post',
            ${[number]}, now())`;
}

describe("getTracking for the chat bot", () => {
  it("a system actor of the tenant reads its parcels; a context without a tenant or caller is refused", async () => {
    const admin = await signedInUser({ superuser: true });
    const number = randomNumber();
    await post(admin.token, { trackingNumber: number });
    const ctx = testContext();
    ctx.tenantId = admin.tenant.id;
    ctx.actor = { type: "system", name: "chat" };
    const parcel = await getTracking({ ctx, input: { trackingNumber: number.toLowerCase() } });
    expect(parcel).toMatchObject({ trackingNumber: number, status: "Pending", events: [] });

    const other = testContext();
    other.tenantId = (await signedInUser({ superuser: true })).tenant.id;
    other.actor = { type: "system", name: "chat" };
    await expect(getTracking({ ctx: other, input: { trackingNumber: number } })).rejects.toMatchObject({
      code: "NOT_FOUND",
    });
    await expect(
      getTracking({ ctx: testContext(), input: { trackingNumber: number } }),
    ).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });
});
