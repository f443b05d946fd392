// Parcel registration with 17track end to end: numbers queued through the API (or taken from the tenant's
// shipments), claimed by the every-minute cron across tenants, sent in requests of at most 40 with the
// tenant id as tag, every outcome written back; then 17track's pushes (built and signed by the fake) reach
// the tenant and GET /tracking/{number} shows the events.
//
// Each test uses its own 17track account (security key) at the fake, so an injected failure or the
// per-second window of one test never meets another's. Only this file's cron runs register (the test env
// has no TRACK17_API_KEY, so other files' cron ticks claim nothing), but a run is cross-tenant: other
// files' queued numbers may share its requests, so assertions are by tenant (the tag).
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, inject, it } from "vitest";
import { tenantBatch } from "../../src/db/tenant";
import worker from "../../src/index";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import { createChannelConnection, createErpConnection } from "../support/hub";
import { simulatedQueues } from "../support/sync";
import { send17TrackPush } from "../support/webhooks";

const TRACKING = "/api/v1/tracking";

interface FakeCall {
  operation: string;
  httpStatus: number;
  items: { number: string; carrier?: number; tag?: string }[];
}

async function control<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${inject("track17FakeUrl")}/__control/${path}`, {
    method: body === undefined ? "GET" : "POST",
    headers: { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`17track fake ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

const track17 = {
  async newAccount(): Promise<string> {
    const key = Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0"))
      .join("")
      .toUpperCase();
    await control("accounts", { key });
    return key;
  },
  /** `tag`: only a request carrying one of that tenant's numbers fails (a run may carry others' too). */
  failNext(
    key: string,
    failure: number | string,
    extra: { retryAfterSeconds?: number; operation?: string; tag?: string } = {},
  ) {
    return control<void>("fail-next", { key, failure, ...extra });
  },
  /** Requests of the test's key carrying a number tagged for `tag`. */
  async calls(tag: string, key: string): Promise<FakeCall[]> {
    return (await control<{ calls: FakeCall[] }>(`calls?key=${key}&tag=${encodeURIComponent(tag)}`)).calls;
  },
  /** Every request of the test's key. */
  async allCalls(key: string): Promise<FakeCall[]> {
    return (await control<{ calls: FakeCall[] }>(`calls?key=${key}`)).calls;
  },
  async registrations(tag: string, key: string) {
    const answer = await control<{
      registrations: { number: string; carrier: number; tag: string | null }[];
    }>(`registrations?key=${key}&tag=${encodeURIComponent(tag)}`);
    return answer.registrations;
  },
  stats(key: string) {
    return control<{ rateLimited: number; maxPerSecond: number; requests: Record<string, number> }>(
      `stats?key=${key}`,
    );
  },
  /** The fake advances the parcel and hands back the push 17track would send, with its `sign`. */
  push(key: string, input: Record<string, unknown>) {
    return control<{ body: string; sign: string }>("push", { key, ...input });
  },
};

/** A tenant with its own 17track account; its env routes the Worker's 17track calls and push checks there. */
async function trackingTenant() {
  const key = await track17.newAccount();
  const user = await signedInUser({ superuser: true });
  const queues = simulatedQueues(user.tenant.id, { TRACK17_API_KEY: key, TRACK17_SECURITY_KEYS: key });
  const register = async (body: Record<string, unknown>) => {
    const response = await call(TRACKING, bearer(user.token, { method: "POST", body }));
    expect(response.status).toBe(202);
    return envelope<{ items: { trackingNumber: string; created: boolean }[] }>(response);
  };
  const get = async (number: string) => {
    const response = await call(`${TRACKING}/${encodeURIComponent(number)}`, bearer(user.token));
    return { status: response.status, body: await envelope<Parcel>(response) };
  };
  return { key, user, queues, register, get, tenantId: user.tenant.id };
}

interface Parcel {
  trackingNumber: string;
  status: string;
  subStatus: string | null;
  carrierCode: number | null;
  latestEvent: { description: string; timeUtc: string | null } | null;
  events: { description: string; timeUtc: string | null; location: string | null }[];
  lastEventAt: string | null;
  registration: {
    status: string;
    attempts: number;
    carrierCode: number | null;
    orderId: string | null;
    shipmentId: string | null;
    lastError: { kind: string; track17Code: number | null; message: string } | null;
  } | null;
}

/** The every-minute cron, run as the runtime does; its 17track work (waitUntil) is awaited too. */
async function runCron(env: Env) {
  const ctx = createExecutionContext();
  await worker.scheduled(
    createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() }),
    env,
    ctx,
  );
  await waitOnExecutionContext(ctx);
}

interface RegistrationRow {
  tracking_number: string;
  status: string;
  attempts: number;
  carrier_code: number | null;
  last_error: { kind: string; track17Code: number | null } | null;
  order_id: string | null;
  shipment_id: string | null;
  registered_at: string | null;
  /** Seconds from now until it is due. */
  due_in: number;
}

async function registrationsOf(tenantId: string): Promise<RegistrationRow[]> {
  return (await ownerSql()`
    select tracking_number, status, attempts, carrier_code, last_error, order_id, shipment_id, registered_at,
           extract(epoch from next_attempt_at - now())::float8 as due_in
      from parcel_registrations where tenant_id = ${tenantId} order by tracking_number`) as unknown as RegistrationRow[];
}

/**
 * A cron run spaces its 17track requests 400 ms apart (the governor) and may carry other files' queued
 * numbers too: a test with a few runs needs more than the default 5 s on a busy machine.
 */
const CRON_TEST_TIMEOUT_MS = 20_000;

const numbers = (count: number) => {
  const base = 100_000_000 + Math.floor(Math.random() * 800_000_000);
  return Array.from({ length: count }, (_, i) => `RR${base + i}CN`);
};

describe("registration through the API and the cron", { timeout: CRON_TEST_TIMEOUT_MS }, () => {
  it("85 numbers take 3 requests of at most 40, tagged with the tenant; all end registered", async () => {
    const t = await trackingTenant();
    const wanted = numbers(85);
    const queued = await t.register({ trackingNumbers: wanted });
    expect(queued.data?.items).toHaveLength(85);
    expect(queued.data?.items.every((i) => i.created)).toBe(true);

    await runCron(t.queues.env);
    const rows = await registrationsOf(t.tenantId);
    expect(rows).toHaveLength(85);
    for (const row of rows) {
      expect(row).toMatchObject({ status: "registered", attempts: 1, carrier_code: 3011, last_error: null });
      expect(row.registered_at).not.toBeNull();
    }
    const calls = (await track17.calls(t.tenantId, t.key)).filter((c) => c.operation === "register");
    expect(calls.every((c) => c.httpStatus === 200)).toBe(true);
    // Other tenants' numbers may share the last request; this tenant's 85 take exactly three.
    expect(calls).toHaveLength(3);
    const mine = calls.map((c) => c.items.filter((i) => i.tag === t.tenantId).length).sort((a, b) => b - a);
    expect(mine).toEqual([40, 40, 5]);
    expect(calls.every((c) => c.items.length <= 40)).toBe(true);
    expect((await track17.registrations(t.tenantId, t.key)).map((r) => r.number).sort()).toEqual(
      [...wanted].sort(),
    );
    // The governor spaced the requests: 17track's per-second limit was never hit.
    expect((await track17.stats(t.key)).rateLimited).toBe(0);

    const parcel = await t.get(wanted[0] ?? "");
    expect(parcel.status).toBe(200);
    expect(parcel.body.data).toMatchObject({
      trackingNumber: wanted[0],
      status: "Pending",
      carrierCode: 3011,
      events: [],
      registration: { status: "registered", attempts: 1, carrierCode: 3011, lastError: null },
    });
    // Registered rows are not claimed again.
    await runCron(t.queues.env);
    expect((await track17.calls(t.tenantId, t.key)).filter((c) => c.operation === "register")).toHaveLength(
      3,
    );
  });

  it("numbers 17track refuses are rejected with its error; queued again with a carrier code, one registers", async () => {
    const t = await trackingTenant();
    const undetectable = `ZZ${numbers(1)[0]?.slice(2, 9)}TW7`;
    await t.register({ trackingNumbers: [undetectable, "000000000"] });
    await runCron(t.queues.env);
    const rows = await registrationsOf(t.tenantId);
    expect(
      rows.map((r) => [r.tracking_number, r.status, r.last_error?.kind, r.last_error?.track17Code]),
    ).toEqual([
      ["000000000", "rejected", "rejected", -18010012],
      [undetectable, "rejected", "rejected", -18019903],
    ]);
    const refused = await t.get(undetectable);
    expect(refused.body.data).toMatchObject({
      status: "Rejected",
      registration: {
        status: "rejected",
        attempts: 1,
        lastError: {
          kind: "rejected",
          track17Code: -18019903,
          message: "Carrier cannot be detected. Visit carrier info for carrier code and send as a parameter.",
        },
      },
    });

    const again = await t.register({ trackingNumber: undetectable, carrierCode: 3011 });
    expect(again.data?.items[0]).toMatchObject({
      created: false,
      parcel: { status: "Pending", registration: { status: "pending", attempts: 0, lastError: null } },
    });
    await runCron(t.queues.env);
    const after = await registrationsOf(t.tenantId);
    expect(after.find((r) => r.tracking_number === undetectable)).toMatchObject({
      status: "registered",
      carrier_code: 3011,
      attempts: 1,
      last_error: null,
    });
    expect(after.find((r) => r.tracking_number === "000000000")?.status).toBe("rejected");
  });

  it("a 429 leaves the numbers pending with backoff; once due again, the next run registers them", async () => {
    const t = await trackingTenant();
    const wanted = numbers(3);
    await t.register({ trackingNumbers: wanted });
    await track17.failNext(t.key, 429, { retryAfterSeconds: 1, tag: t.tenantId });
    await runCron(t.queues.env);
    const waiting = await registrationsOf(t.tenantId);
    for (const row of waiting) {
      expect(row).toMatchObject({ status: "pending", attempts: 1, last_error: { kind: "rate_limited" } });
      // Backoff: a minute for the first retry (17track's Retry-After is a floor, never the whole wait).
      expect(row.due_in).toBeGreaterThan(50);
    }
    const limited = await t.get(wanted[0] ?? "");
    expect(limited.body.data?.registration).toMatchObject({
      status: "pending",
      attempts: 1,
      lastError: {
        kind: "rate_limited",
        track17Code: null,
        message: "17track register is rate limited (HTTP 429)",
      },
    });
    // Not due yet: a run now leaves them alone.
    await runCron(t.queues.env);
    expect((await registrationsOf(t.tenantId)).every((r) => r.status === "pending")).toBe(true);

    await ownerSql()`update parcel_registrations set next_attempt_at = now() where tenant_id = ${t.tenantId}`;
    await runCron(t.queues.env);
    const done = await registrationsOf(t.tenantId);
    expect(done.map((r) => [r.status, r.attempts])).toEqual(wanted.map(() => ["registered", 2]));
    const calls = (await track17.calls(t.tenantId, t.key)).filter((c) => c.operation === "register");
    expect(calls.map((c) => c.httpStatus)).toEqual([429, 200]);
  });

  it("a refused key stops the run: nothing is spent, every number waits for the key to be fixed", async () => {
    const t = await trackingTenant();
    await t.register({ trackingNumbers: numbers(45) });
    await track17.failNext(t.key, -18010002, { tag: t.tenantId });
    await runCron(t.queues.env);
    const rows = await registrationsOf(t.tenantId);
    expect(rows).toHaveLength(45);
    for (const row of rows) {
      expect(row).toMatchObject({
        status: "pending",
        attempts: 0,
        last_error: { kind: "auth", track17Code: -18010002 },
      });
      expect(row.due_in).toBeGreaterThan(600);
    }
    // One request carried the tenant's numbers, and was refused; after it, nothing more was sent this run
    // (requests before it may have carried other files' queued numbers).
    const calls = await track17.calls(t.tenantId, t.key);
    expect(calls.map((c) => [c.operation, c.httpStatus])).toEqual([["register", 401]]);
    expect((await track17.allCalls(t.key)).at(-1)).toEqual(calls[0]);
  });

  it("numbers of the tenant's new shipments are registered without being asked; a non-number is recorded rejected", async () => {
    const t = await trackingTenant();
    const erp = await createErpConnection(t.user.token);
    const shop = await createChannelConnection(t.user.token, { erpConnectionId: erp.id });
    const sql = ownerSql();
    const [order] = await sql`
      insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                          total_minor, customer_name, search_text, data, placed_at, channel_updated_at, status)
      values (${t.tenantId}, ${shop.id}, 'shopify', ${shop.account}, ${`gid://shopify/Order/${Date.now()}`},
              '#1001', 'USD', 4480, 'Jane Buyer', '#1001 jane buyer', '{}', now(), now(), 'shipped')
      returning id`;
    const [number] = numbers(1);
    const spaced = `${number?.slice(0, 2).toLowerCase()} ${number?.slice(2, 7)}-${number?.slice(7)}`;
    const [shipment] = await sql`
      insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, carrier_code,
                             tracking_numbers, shipped_at)
      values (${t.tenantId}, ${String(order?.id)}, ${erp.id}, ${`WO${Date.now()}`}, 'China Post', 'china-post',
              ${[spaced, "N/A"]}, now())
      returning id`;

    await runCron(t.queues.env);
    const rows = await registrationsOf(t.tenantId);
    expect(rows).toEqual([
      expect.objectContaining({
        tracking_number: "N/A",
        status: "rejected",
        attempts: 0,
        last_error: expect.objectContaining({ kind: "rejected", track17Code: null }),
      }),
      expect.objectContaining({
        tracking_number: number,
        status: "registered",
        order_id: String(order?.id),
        shipment_id: String(shipment?.id),
      }),
    ]);
    expect((await track17.registrations(t.tenantId, t.key)).map((r) => r.number)).toEqual([number]);
  });
});

describe("the claim", { timeout: CRON_TEST_TIMEOUT_MS }, () => {
  it("without TRACK17_API_KEY the cron claims nothing: no statement, no shipment turned into a registration", async () => {
    // What every other test file's cron tick does: it must neither take nor delay anyone's registrations.
    const t = await trackingTenant();
    const [queued = "", shippedNumber = ""] = numbers(2);
    await t.register({ trackingNumber: queued });
    const order = await ownerOrder(t);
    const erp = await createErpConnection(t.user.token);
    await ownerSql()`
      insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, carrier_code,
                             tracking_numbers, shipped_at)
      values (${t.tenantId}, ${order}, ${erp.id}, ${`WO${crypto.randomUUID()}`}, 'China Post', 'china-post',
              ${[shippedNumber]}, now())`;

    // The test env other files run their cron with (vitest.config.ts) has no key.
    const otherFiles = simulatedQueues(t.tenantId).env;
    expect(otherFiles.TRACK17_API_KEY).toBeUndefined();
    await runCron(otherFiles);

    const rows = await registrationsOf(t.tenantId);
    expect(rows.map((r) => [r.tracking_number, r.status, r.attempts])).toEqual([[queued, "pending", 0]]);
    // Not leased: due at once for the first run that has a key.
    expect(rows[0]?.due_in).toBeLessThanOrEqual(0);
    expect(await track17.allCalls(t.key)).toEqual([]);
  });

  it("runs for no tenant: inside a tenant's transaction it refuses rather than claim every tenant's rows", async () => {
    const t = await trackingTenant();
    await expect(
      tenantBatch(testContext().db.http, t.tenantId, (db) => [
        db.execute(sql`select * from claim_parcel_registrations(10, 60, 1)`),
      ]),
    ).rejects.toThrow(/runs for no tenant/);
  });
});

describe("registration, then 17track's pushes", { timeout: CRON_TEST_TIMEOUT_MS }, () => {
  it("a push after registration reaches the tenant by its tag; GET shows status, events and registration", async () => {
    const t = await trackingTenant();
    const [number = ""] = numbers(1);
    const order = await ownerOrder(t);
    await t.register({ trackingNumber: number, orderId: order });
    await runCron(t.queues.env);
    await registrationsOf(t.tenantId);

    const push = await track17.push(t.key, {
      number,
      status: "InTransit",
      subStatus: "InTransit_Other",
      events: [
        {
          at: "2026-11-18T03:20:00Z",
          description: "Acceptance — 收寄",
          location: "Shenzhen",
          stage: "PickedUp",
        },
        {
          at: "2026-11-20T01:10:00Z",
          description: "Departed from the international exchange office",
          location: "Guangzhou",
          stage: "Departure",
          subStatus: "InTransit_Other",
        },
      ],
    });
    const received = await send17TrackPush(push.body, { sign: push.sign }, t.queues.env);
    expect(received.response.status).toBe(200);
    expect(received.body.data?.eventIds).toHaveLength(1);
    await t.queues.drain();

    const parcel = await t.get(number.toLowerCase());
    expect(parcel.status).toBe(200);
    expect(parcel.body.data).toMatchObject({
      trackingNumber: number,
      status: "InTransit",
      subStatus: "InTransit_Other",
      carrierCode: 3011,
      latestEvent: {
        description: "Departed from the international exchange office",
        timeUtc: "2026-11-20T01:10:00.000Z",
      },
      lastEventAt: "2026-11-20T01:10:00.000Z",
      registration: { status: "registered", orderId: order },
    });
    expect(parcel.body.data?.events.map((e) => [e.timeUtc, e.description, e.location])).toEqual([
      ["2026-11-20T01:10:00.000Z", "Departed from the international exchange office", "Guangzhou"],
      ["2026-11-18T03:20:00.000Z", "Acceptance — 收寄", "Shenzhen"],
    ]);
  });

  it("one parcel, two tenants: the second is told 'already registered', reads the state, and gets later pushes too", async () => {
    const a = await trackingTenant();
    // B uses A's 17track account: one platform account serves every tenant.
    const bUser = await signedInUser({ superuser: true });
    const b = {
      user: bUser,
      tenantId: bUser.tenant.id,
      queues: simulatedQueues(bUser.tenant.id, { TRACK17_API_KEY: a.key, TRACK17_SECURITY_KEYS: a.key }),
    };
    const [number = ""] = numbers(1);
    await a.register({ trackingNumber: number });
    await runCron(a.queues.env);
    await registrationsOf(a.tenantId);
    const first = await track17.push(a.key, {
      number,
      status: "InTransit",
      subStatus: "InTransit_PickedUp",
      events: [{ at: "2026-11-18T03:20:00Z", description: "Acceptance — 收寄", location: "Shenzhen" }],
    });
    await send17TrackPush(first.body, { sign: first.sign }, a.queues.env);
    await a.queues.drain();

    const bOrder = await ownerOrder({ tenantId: b.tenantId, user: b.user });
    const queued = await call(
      TRACKING,
      bearer(b.user.token, { method: "POST", body: { trackingNumber: number, orderId: bOrder } }),
    );
    expect(queued.status).toBe(202);
    await runCron(b.queues.env);
    const [bRow] = await registrationsOf(b.tenantId);
    expect(bRow).toMatchObject({ status: "registered", attempts: 1, last_error: null });
    // A's registration, B's ("already registered"), then B's read of the state: all for this number.
    const callsForNumber = (await track17.allCalls(a.key)).filter((c) =>
      c.items.some((i) => i.number === number),
    );
    expect(
      callsForNumber.map((c) => [c.operation, c.items.find((i) => i.number === number)?.tag ?? null]),
    ).toEqual([
      ["register", a.tenantId],
      ["register", b.tenantId],
      ["gettrackinfo", null],
    ]);
    // 17track keeps the first registration: A's tag.
    expect((await track17.registrations(a.tenantId, a.key)).map((r) => r.number)).toEqual([number]);
    expect(await track17.registrations(b.tenantId, a.key)).toEqual([]);

    const bGet = async () => envelope<Parcel>(await call(`${TRACKING}/${number}`, bearer(b.user.token)));
    expect((await bGet()).data).toMatchObject({
      status: "InTransit",
      subStatus: "InTransit_PickedUp",
      latestEvent: { description: "Acceptance — 收寄" },
      registration: { status: "registered", orderId: bOrder },
    });

    // The next push names A's tag only; B tracks the number too, so it gets its own copy.
    const second = await track17.push(a.key, {
      number,
      status: "Delivered",
      subStatus: "Delivered_Other",
      events: [
        { at: "2026-11-26T05:42:00Z", description: "Delivered, left at front door", location: "Sydney NSW" },
      ],
    });
    const delivered = await send17TrackPush(second.body, { sign: second.sign }, a.queues.env);
    expect(delivered.body.data?.eventIds).toHaveLength(2);
    await a.queues.drain();
    for (const message of a.queues.log) {
      if ((message.body as { tenantId: string }).tenantId === b.tenantId)
        await b.queues.send("webhooks", message.body);
    }
    await b.queues.drain();
    const aView = (await a.get(number)).body.data;
    const bView = (await bGet()).data;
    for (const view of [aView, bView]) {
      expect(view).toMatchObject({
        status: "Delivered",
        latestEvent: { description: "Delivered, left at front door" },
      });
      expect(view?.events).toHaveLength(2);
    }
    // Each sees its own registration only.
    expect(aView?.registration?.orderId).toBeNull();
    expect(bView?.registration?.orderId).toBe(bOrder);
  });
});

/** An order of the tenant, as the hub would have stored it. */
async function ownerOrder(t: { tenantId: string; user: { token: string } }): Promise<string> {
  const erp = await createErpConnection(t.user.token);
  const shop = await createChannelConnection(t.user.token, { erpConnectionId: erp.id });
  const [order] = await ownerSql()`
    insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                        total_minor, customer_name, search_text, data, placed_at, channel_updated_at, status)
    values (${t.tenantId}, ${shop.id}, 'shopify', ${shop.account}, ${`gid://shopify/Order/${crypto.randomUUID()}`},
            '#2001', 'USD', 1990, 'Sam Buyer', '#2001 sam buyer', '{}', now(), now(), 'shipped')
    returning id`;
  return String(order?.id);
}
