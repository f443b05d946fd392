// 17track pushes end to end: one platform-wide receiver signed with the platform's security key(s); each
// push names a parcel, routed to the tenant that registered it (tag) or shipped it (tracking number), and
// applied to that tenant's parcel tracking so that an older push never moves a parcel back.
import { describe, expect, it } from "vitest";
import { signedInUser } from "../support/auth";
import { ownerSql } from "../support/harness";
import { createChannelConnection, createErpConnection } from "../support/hub";
import { simulatedQueues } from "../support/sync";
import { type ParcelEventSeed, send17TrackPush, track17Push, webhookEventsOf } from "../support/webhooks";

const PREVIOUS_KEY = "test-17track-key-previous";

function randomTrackingNumber(): string {
  const digits = Array.from(crypto.getRandomValues(new Uint8Array(9)), (b) => String(b % 10)).join("");
  return `RR${digits}CN`;
}

/** A tenant and its simulated queues; `ship` records a shipment of `number` as the hub's shipment poll would. */
async function tenantWithQueues() {
  const user = await signedInUser({ superuser: true });
  const queues = simulatedQueues(user.tenant.id);
  const ship = async (number: string) => {
    const erp = await createErpConnection(user.token);
    const shop = await createChannelConnection(user.token, { erpConnectionId: erp.id });
    const sql = ownerSql();
    const [order] = await sql`
      insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                          total_minor, customer_name, search_text, data, placed_at, channel_updated_at, status)
      values (${user.tenant.id}, ${shop.id}, 'shopify', ${shop.account}, ${`gid://shopify/Order/${Date.now()}`},
              '#1001', 'USD', 4480, 'Jane Buyer', '#1001 jane buyer', '{}', now(), now(), 'shipped')
      returning id`;
    await sql`
      insert into shipments (tenant_id, order_id, source_connection_id, external_id, carrier, carrier_code,
                             tracking_numbers, shipped_at)
      values (${user.tenant.id}, ${String(order?.id)}, ${erp.id}, ${`WO${Date.now()}`}, 'China Post', 'china-post',
              ${[number]}, now())`;
  };
  return { user, queues, ship };
}

async function parcelsOf(tenantId: string) {
  return (await ownerSql()`
    select tracking_number, carrier_code, status, sub_status, latest_event, events, stopped, source_updated_at
      from parcel_trackings where tenant_id = ${tenantId} order by tracking_number`) as unknown as {
    tracking_number: string;
    carrier_code: number | null;
    status: string;
    sub_status: string | null;
    latest_event: Record<string, unknown> | null;
    events: Record<string, unknown>[];
    stopped: boolean;
    source_updated_at: string;
  }[];
}

const ACCEPTED: ParcelEventSeed[] = [
  {
    at: "2026-11-18T03:20:00Z",
    description: "Acceptance — 收寄",
    location: "Shenzhen",
    stage: "PickedUp",
    subStatus: "InTransit_PickedUp",
  },
];
const IN_TRANSIT: ParcelEventSeed[] = [
  ...ACCEPTED,
  {
    at: "2026-11-20T01:10:00Z",
    description: "Departed from the international exchange office",
    location: "Guangzhou",
    stage: "Departure",
    subStatus: "InTransit_Other",
  },
];
const DELIVERED: ParcelEventSeed[] = [
  ...IN_TRANSIT,
  {
    at: "2026-11-26T05:42:00Z",
    description: "Delivered, left at front door",
    location: "Sydney NSW",
    stage: "Delivered",
    subStatus: "Delivered_Other",
  },
];

describe("17track pushes: routed, applied, never regressed", () => {
  it("routes by tag (the tenant id) and stores status, sub-status, latest event and events", async () => {
    const t = await tenantWithQueues();
    const number = randomTrackingNumber();
    const push = track17Push({
      event: "TRACKING_UPDATED",
      number,
      tag: t.user.tenant.id,
      status: "InTransit",
      subStatus: "InTransit_Other",
      events: IN_TRANSIT,
    });
    const { response, body } = await send17TrackPush(push, {}, t.queues.env);
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("accepted");
    expect(body.data?.eventIds).toHaveLength(1);
    const [event] = await webhookEventsOf(t.user.tenant.id);
    expect(event).toMatchObject({
      source: "17track",
      status: "received",
      topic: "TRACKING_UPDATED",
      verification: { scheme: "17track-sha256", secret: "current" },
    });
    expect(event?.headers).not.toHaveProperty("sign");
    expect(event?.body).toBe(push);

    await t.queues.drain();
    const [parcel] = await parcelsOf(t.user.tenant.id);
    expect(parcel).toMatchObject({
      tracking_number: number,
      carrier_code: 3011,
      status: "InTransit",
      sub_status: "InTransit_Other",
      stopped: false,
    });
    expect(parcel?.latest_event).toEqual({
      timeUtc: "2026-11-20T01:10:00.000Z",
      description: "Departed from the international exchange office",
      location: "Guangzhou",
      stage: "Departure",
      subStatus: "InTransit_Other",
    });
    expect(parcel?.events.map((e) => e.description)).toEqual([
      "Departed from the international exchange office",
      "Acceptance — 收寄",
    ]);
    expect(new Date(parcel?.source_updated_at ?? "").toISOString()).toBe("2026-11-20T01:10:00.000Z");
    const [processed] = await webhookEventsOf(t.user.tenant.id);
    expect(processed?.status).toBe("processed");
    expect(processed?.outcome).toEqual({ trackingNumber: number, status: "InTransit", stopped: false });
  });

  it("routes an untagged push by the tracking number of a tenant's shipment (each shipper gets its copy)", async () => {
    const a = await tenantWithQueues();
    const b = await tenantWithQueues();
    const bystander = await tenantWithQueues();
    const number = randomTrackingNumber();
    await a.ship(number);
    await b.ship(number);
    const push = track17Push({
      event: "TRACKING_UPDATED",
      number,
      status: "Delivered",
      subStatus: "Delivered_Other",
      events: DELIVERED,
    });
    const { response, body } = await send17TrackPush(push, {}, a.queues.env);
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("accepted");
    expect(body.data?.eventIds).toHaveLength(2);
    expect(await webhookEventsOf(bystander.user.tenant.id)).toHaveLength(0);

    await a.queues.drain();
    // b's copy was queued through a's recorder: b's own drain delivers it (messages are per tenant).
    for (const message of a.queues.log) {
      if ((message.body as { tenantId: string }).tenantId === b.user.tenant.id)
        await b.queues.send("webhooks", message.body);
    }
    await b.queues.drain();
    for (const tenant of [a, b]) {
      const [parcel] = await parcelsOf(tenant.user.tenant.id);
      expect(parcel).toMatchObject({
        tracking_number: number,
        status: "Delivered",
        sub_status: "Delivered_Other",
      });
    }
    expect(await parcelsOf(bystander.user.tenant.id)).toHaveLength(0);
  });

  it("an older push after a newer one does not move the parcel back", async () => {
    const t = await tenantWithQueues();
    const number = randomTrackingNumber();
    const tag = t.user.tenant.id;
    await send17TrackPush(
      track17Push({
        event: "TRACKING_UPDATED",
        number,
        tag,
        status: "Delivered",
        subStatus: "Delivered_Other",
        events: DELIVERED,
      }),
      {},
      t.queues.env,
    );
    await t.queues.drain();
    // 17track's retry of an earlier state arrives late.
    const late = await send17TrackPush(
      track17Push({
        event: "TRACKING_UPDATED",
        number,
        tag,
        status: "InTransit",
        subStatus: "InTransit_PickedUp",
        events: ACCEPTED,
      }),
      {},
      t.queues.env,
    );
    expect(late.response.status).toBe(200);
    await t.queues.drain();
    const [parcel] = await parcelsOf(t.user.tenant.id);
    expect(parcel?.status).toBe("Delivered");
    expect(parcel?.sub_status).toBe("Delivered_Other");
    expect(parcel?.latest_event?.description).toBe("Delivered, left at front door");
    expect(parcel?.events).toHaveLength(3);
    expect(new Date(parcel?.source_updated_at ?? "").toISOString()).toBe("2026-11-26T05:42:00.000Z");
    expect((await webhookEventsOf(t.user.tenant.id)).map((e) => e.status)).toEqual([
      "processed",
      "processed",
    ]);
  });

  it("a push with carrier events wins over an earlier push that had none (registration's NotFound)", async () => {
    const t = await tenantWithQueues();
    const number = randomTrackingNumber();
    const tag = t.user.tenant.id;
    // 17track's first push after registration often knows no event yet…
    await send17TrackPush(
      track17Push({
        event: "TRACKING_UPDATED",
        number,
        tag,
        status: "NotFound",
        subStatus: "NotFound_Other",
        events: [],
      }),
      {},
      t.queues.env,
    );
    await t.queues.drain();
    expect((await parcelsOf(t.user.tenant.id))[0]?.status).toBe("NotFound");
    // …then the carrier's scan, made two hours before that first push, is synced.
    const scannedAt = new Date(Date.now() - 2 * 3600_000).toISOString();
    await send17TrackPush(
      track17Push({
        event: "TRACKING_UPDATED",
        number,
        tag,
        status: "InfoReceived",
        subStatus: "InfoReceived",
        events: [{ at: scannedAt, description: "Shipment information received", location: "Shenzhen" }],
      }),
      {},
      t.queues.env,
    );
    await t.queues.drain();
    const [parcel] = await parcelsOf(t.user.tenant.id);
    expect(parcel?.status).toBe("InfoReceived");
    expect(parcel?.latest_event?.description).toBe("Shipment information received");
    expect(parcel?.events).toHaveLength(1);
  });

  it("TRACKING_STOPPED marks the parcel stopped and keeps its status and events", async () => {
    const t = await tenantWithQueues();
    const number = randomTrackingNumber();
    const tag = t.user.tenant.id;
    await send17TrackPush(
      track17Push({ event: "TRACKING_UPDATED", number, tag, status: "InTransit", events: IN_TRANSIT }),
      {},
      t.queues.env,
    );
    await send17TrackPush(track17Push({ event: "TRACKING_STOPPED", number, tag }), {}, t.queues.env);
    await t.queues.drain();
    const [parcel] = await parcelsOf(t.user.tenant.id);
    expect(parcel).toMatchObject({ status: "InTransit", sub_status: "InTransit_Other", stopped: true });
    expect(parcel?.latest_event?.description).toBe("Departed from the international exchange office");
    expect(parcel?.events).toHaveLength(2);
    const events = await webhookEventsOf(t.user.tenant.id);
    expect(events.map((e) => [e.topic, e.status])).toEqual([
      ["TRACKING_UPDATED", "processed"],
      ["TRACKING_STOPPED", "processed"],
    ]);
  });

  it("accepts a push signed with the previous security key and records it", async () => {
    const t = await tenantWithQueues();
    const push = track17Push({
      event: "TRACKING_UPDATED",
      number: randomTrackingNumber(),
      tag: t.user.tenant.id,
      events: ACCEPTED,
    });
    const { response } = await send17TrackPush(push, { key: PREVIOUS_KEY }, t.queues.env);
    expect(response.status).toBe(200);
    const [event] = await webhookEventsOf(t.user.tenant.id);
    expect(event?.verification).toEqual({ scheme: "17track-sha256", secret: "previous" });
  });

  it("the same push delivered twice is stored and applied once", async () => {
    const t = await tenantWithQueues();
    const push = track17Push({
      event: "TRACKING_UPDATED",
      number: randomTrackingNumber(),
      tag: t.user.tenant.id,
      events: ACCEPTED,
    });
    const first = await send17TrackPush(push, {}, t.queues.env);
    const again = await send17TrackPush(push, {}, t.queues.env);
    expect(again.response.status).toBe(200);
    expect(again.body.data?.status).toBe("duplicate");
    expect(again.body.data?.eventIds).toEqual(first.body.data?.eventIds);
    expect(await webhookEventsOf(t.user.tenant.id)).toHaveLength(1);
  });
});

describe("17track pushes: refused or unrouted", () => {
  it.each([
    ["a sign made with an unknown key", { key: "not-our-17track-key" }],
    ["a missing sign", { sign: "" }],
    ["a sign that is not hex", { sign: "sha256-xyz" }],
  ])("401 for %s, nothing stored", async (_, options) => {
    const t = await tenantWithQueues();
    const push = track17Push({
      event: "TRACKING_UPDATED",
      number: randomTrackingNumber(),
      tag: t.user.tenant.id,
      events: ACCEPTED,
    });
    const { response, body } = await send17TrackPush(push, options, t.queues.env);
    expect(response.status).toBe(401);
    expect(body).toMatchObject({
      success: false,
      error: {
        code: "WEBHOOK_REJECTED",
        message: "Webhook signature verification failed",
        details: { reason: "signature" },
      },
    });
    expect(await webhookEventsOf(t.user.tenant.id)).toHaveLength(0);
  });

  it("a push for a parcel no tenant ships or tracks is answered 200 `unrouted` and stored nowhere", async () => {
    const number = randomTrackingNumber();
    const push = track17Push({ event: "TRACKING_UPDATED", number, events: ACCEPTED });
    const { response, body } = await send17TrackPush(push);
    expect(response.status).toBe(200);
    expect(body.data).toEqual({ status: "unrouted", eventIds: [] });
    const stored =
      await ownerSql()`select count(*)::int as n from webhook_events where body like ${`%${number}%`}`;
    expect(stored[0]?.n).toBe(0);
    const parcels =
      await ownerSql()`select count(*)::int as n from parcel_trackings where tracking_number = ${number}`;
    expect(parcels[0]?.n).toBe(0);
  });

  it("a tag that is not an active tenant falls back to the tracking number (here: nobody)", async () => {
    const { response, body } = await send17TrackPush(
      track17Push({
        event: "TRACKING_UPDATED",
        number: randomTrackingNumber(),
        tag: crypto.randomUUID(),
        events: ACCEPTED,
      }),
    );
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("unrouted");
  });

  it("answers 404 in the envelope when no 17track key is configured", async () => {
    const push = track17Push({ event: "TRACKING_UPDATED", number: randomTrackingNumber(), events: ACCEPTED });
    const { response, body } = await send17TrackPush(push, {}, { TRACK17_SECURITY_KEYS: "" });
    expect(response.status).toBe(404);
    expect(body.success).toBe(false);
    expect(body.error).toEqual({ code: "NOT_FOUND", message: "The 17track receiver is not enabled" });
    expect(body.meta.requestId).toMatch(/^req_/);
  });
});
