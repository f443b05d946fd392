// The webhook events API (the log of what was received, its dead letters and their replay) and the
// receivers' edge limits: per-source rate limits and per-provider body limits, each refusal in the envelope.
import { describe, expect, it } from "vitest";
import { bearer, signedInUser } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import { createErpConnection } from "../support/hub";
import { setUpHub, simulatedQueues } from "../support/sync";
import {
  restOrder,
  send17TrackPush,
  sendShopifyWebhook,
  sendStandardWebhook,
  track17Push,
  webhookEventsOf,
} from "../support/webhooks";

const EVENTS = "/api/v1/webhooks/events";
const ENDPOINTS = "/api/v1/webhooks/endpoints";

interface EventSummary {
  id: string;
  source: string;
  connectionId: string | null;
  endpointId: string | null;
  providerEventId: string;
  topic: string;
  status: string;
  receivedAt: string;
  triggeredAt: string | null;
  processedAt: string | null;
  attempts: number;
  replayCount: number;
  bodyBytes: number;
  lastError: Record<string, unknown> | null;
  outcome: Record<string, unknown> | null;
}

interface EventDetail extends EventSummary {
  headers: Record<string, string>;
  body: string;
  bodyEncoding: "utf8" | "base64";
  bodySha256: string;
  verification: Record<string, unknown>;
}

interface Page {
  items: EventSummary[];
  nextCursor: string | null;
}

async function endpointFor(token: string, body: Record<string, unknown>) {
  const response = await call(ENDPOINTS, bearer(token, { method: "POST", body }));
  const created = await envelope<{ id: string; secret: string }>(response);
  if (response.status !== 201 || !created.data) throw new Error(`endpoint: ${response.status}`);
  return created.data;
}

/** A tenant with a generic endpoint; `send` delivers a Standard Webhooks payload (or raw text) to it. */
async function tenantWithEndpoint(options: { connectionId?: string } = {}) {
  const user = await signedInUser({ superuser: true });
  const queues = simulatedQueues(user.tenant.id);
  const endpoint = await endpointFor(user.token, { name: "Partner", ...options });
  const send = async (payload: unknown, to = endpoint) => {
    const { response, body } = await sendStandardWebhook(
      {
        endpointId: to.id,
        secrets: [to.secret],
        body:
          typeof payload === "string" || payload instanceof Uint8Array ? payload : JSON.stringify(payload),
      },
      queues.env,
    );
    if (response.status !== 200)
      throw new Error(`delivery: ${response.status} ${JSON.stringify(body.error)}`);
    return body.data?.eventIds[0] ?? "";
  };
  return { user, queues, endpoint, send };
}

const typed = (type: string, data: Record<string, unknown> = { ref: crypto.randomUUID() }) => ({
  type,
  timestamp: new Date().toISOString(),
  data,
});

async function list(token: string, query = "") {
  const response = await call(`${EVENTS}${query}`, bearer(token));
  return { response, body: await envelope<Page>(response) };
}

async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(bytes)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, "0")).join("");
}

describe("GET /api/v1/webhooks/events: filters", () => {
  it("filters by source, topic, status (one, repeated, comma-separated), connection, endpoint and time", async () => {
    const user = await signedInUser({ superuser: true });
    const queues = simulatedQueues(user.tenant.id);
    const erp = await createErpConnection(user.token);
    const linked = await endpointFor(user.token, { name: "ERP callbacks", connectionId: erp.id });
    const loose = await endpointFor(user.token, { name: "Partner" });
    const send = async (to: { id: string; secret: string }, payload: unknown) => {
      const { body } = await sendStandardWebhook(
        {
          endpointId: to.id,
          secrets: [to.secret],
          body: typeof payload === "string" ? payload : JSON.stringify(payload),
        },
        queues.env,
      );
      return body.data?.eventIds[0] ?? "";
    };
    const shippedA = await send(linked, typed("shipment.created"));
    const shippedB = await send(linked, typed("shipment.created"));
    const stock = await send(linked, typed("stock.changed"));
    await queues.drain(); // the three above are processed
    const broken = await send(loose, "not json at all"); // failed at once
    const waiting = await send(loose, typed("shipment.created")); // left received
    const parcel = await send17TrackPush(
      track17Push({ event: "TRACKING_UPDATED", number: "RR900000001CN", tag: user.tenant.id, events: [] }),
      {},
      queues.env,
    );
    const parcelEvent = parcel.body.data?.eventIds[0] ?? "";
    // One event received on a known past day, for the time filters.
    await ownerSql()`update webhook_events set received_at = '2026-01-15T10:00:00Z' where id = ${stock}`;

    const ids = async (query: string) => {
      const { response, body } = await list(user.token, query);
      expect(response.status, query).toBe(200);
      return (body.data?.items ?? []).map((i) => i.id).sort();
    };
    const sorted = (...values: string[]) => [...values].sort();
    expect(await ids("")).toEqual(sorted(shippedA, shippedB, stock, broken, waiting, parcelEvent));
    expect(await ids("?source=17track")).toEqual([parcelEvent]);
    expect(await ids("?source=generic")).toEqual(sorted(shippedA, shippedB, stock, broken, waiting));
    expect(await ids("?topic=shipment.created")).toEqual(sorted(shippedA, shippedB, waiting));
    expect(await ids("?status=processed")).toEqual(sorted(shippedA, shippedB, stock));
    expect(await ids("?status=failed")).toEqual([broken]);
    expect(await ids("?status=failed,received")).toEqual(sorted(broken, waiting, parcelEvent));
    expect(await ids("?status=failed&status=received")).toEqual(sorted(broken, waiting, parcelEvent));
    expect(await ids(`?connectionId=${erp.id}`)).toEqual(sorted(shippedA, shippedB, stock));
    expect(await ids(`?endpointId=${loose.id}`)).toEqual(sorted(broken, waiting));
    expect(await ids("?from=2026-01-15&to=2026-01-15")).toEqual([stock]);
    expect(await ids("?to=2026-01-15T10:00:00Z")).toEqual([stock]);
    expect(await ids("?from=2026-01-15T10:00:00.001Z&source=generic&status=processed")).toEqual(
      sorted(shippedA, shippedB),
    );

    const summary = (await list(user.token, `?endpointId=${loose.id}&status=failed`)).body.data?.items[0];
    expect(summary).toMatchObject({
      id: broken,
      source: "generic",
      connectionId: null,
      endpointId: loose.id,
      topic: "unknown",
      status: "failed",
      attempts: 0,
      replayCount: 0,
      bodyBytes: "not json at all".length,
      lastError: { code: "MALFORMED_PAYLOAD", message: "Body is not a JSON object" },
      outcome: null,
    });
    expect(summary).not.toHaveProperty("body");
    expect(summary).not.toHaveProperty("headers");

    for (const bad of [
      "?source=amazon",
      "?status=done",
      "?status=",
      "?connectionId=nope",
      "?limit=0",
      "?limit=201",
      "?from=yesterday",
    ]) {
      const { response, body } = await list(user.token, bad);
      expect(response.status, bad).toBe(422);
      expect(body.error?.code, bad).toBe("VALIDATION_ERROR");
    }
  });
});

describe("GET /api/v1/webhooks/events: cursor paging", () => {
  it("walks every page newest first with no duplicates and no gaps", async () => {
    const t = await tenantWithEndpoint();
    for (let i = 0; i < 7; i++) await t.send(typed("shipment.created", { n: i }));
    const expected = (
      await ownerSql()`select id from webhook_events where tenant_id = ${t.user.tenant.id}
                        order by received_at desc, id desc`
    ).map((r) => String(r.id));
    expect(expected).toHaveLength(7);

    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const { response, body } = await list(t.user.token, query);
      expect(response.status).toBe(200);
      sizes.push(body.data?.items.length ?? 0);
      seen.push(...(body.data?.items ?? []).map((i) => i.id));
      cursor = body.data?.nextCursor ?? null;
    } while (cursor !== null);
    expect(sizes).toEqual([3, 3, 1]);
    expect(seen).toEqual(expected);
  });

  it("pages events received within the same millisecond without skipping any (microsecond positions)", async () => {
    const user = await signedInUser({ superuser: true });
    const sql = ownerSql();
    // Postgres keeps microseconds: a burst of deliveries can share a millisecond.
    const instants = [
      "2026-03-01T08:00:00.123900Z",
      "2026-03-01T08:00:00.123700Z",
      "2026-03-01T08:00:00.123500Z",
      "2026-03-01T08:00:00.123300Z",
      "2026-03-01T08:00:00.123100Z",
      "2026-03-01T08:00:00.122000Z",
    ];
    for (const [i, at] of instants.entries()) {
      await sql`
        insert into webhook_events (tenant_id, source, dedupe_key, provider_event_id, topic, status, body,
                                    body_bytes, body_sha256, verification, received_at)
        values (${user.tenant.id}, 'generic', ${`generic:burst:${i}`}, ${`burst-${i}`}, 'shipment.created',
                'processed', '{}', 2, ${"0".repeat(64)}, '{"scheme":"standard-webhooks-v1","secret":"current"}',
                ${at}::timestamptz)`;
    }
    const expected = (
      await sql`select id from webhook_events where tenant_id = ${user.tenant.id} order by received_at desc, id desc`
    ).map((r) => String(r.id));
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const query: string = `?limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const { body } = await list(user.token, query);
      seen.push(...(body.data?.items ?? []).map((i) => i.id));
      cursor = body.data?.nextCursor ?? null;
    } while (cursor !== null && seen.length < 20);
    expect(seen).toEqual(expected);
  });

  it.each([
    ["not base64", "%%%not-a-cursor%%%"],
    ["base64 of nonsense", btoa("hello world")],
    ["a time Postgres cannot read", btoa("1|3f2b1c4e-8d7a-4b6c-9e5f-0a1b2c3d4e5f").replace(/=+$/, "")],
    ["an id that is not a UUID", btoa(`2026-03-01T08:00:00.000Z|${"-".repeat(36)}`).replace(/=+$/, "")],
  ])("422 VALIDATION_ERROR for a garbage cursor (%s)", async (_, cursor) => {
    const user = await signedInUser({ superuser: true });
    const { response, body } = await list(user.token, `?cursor=${encodeURIComponent(cursor)}`);
    expect(response.status).toBe(422);
    expect(body.success).toBe(false);
    expect(body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid cursor",
      details: { cursor: ["Use the nextCursor of a previous page"] },
    });
  });
});

describe("GET /api/v1/webhooks/events/{id}", () => {
  it("returns the raw body byte for byte and the kept headers, never the signature", async () => {
    const t = await tenantWithEndpoint();
    // Odd spacing, escapes, non-ASCII and a trailing newline: a re-serialised parse would change every one.
    const raw = '{ "type":"shipment.created",\n  "data":{"note":"Grüße — 谢谢 \\u00e9","n":1.50}}\n';
    const id = await t.send(raw);
    const response = await call(`${EVENTS}/${id}`, bearer(t.user.token));
    expect(response.status).toBe(200);
    const event = (await envelope<EventDetail>(response)).data;
    expect(event?.body).toBe(raw);
    expect(event?.bodyEncoding).toBe("utf8");
    const bytes = new TextEncoder().encode(raw);
    expect(event?.bodyBytes).toBe(bytes.byteLength);
    expect(event?.bodySha256).toBe(await sha256Hex(bytes));
    expect(Object.keys(event?.headers ?? {}).sort()).toEqual([
      "content-type",
      "webhook-id",
      "webhook-timestamp",
    ]);
    expect(event?.verification).toEqual({ scheme: "standard-webhooks-v1", secret: "current" });
  });

  it("keeps a body that is not UTF-8 as base64 of the exact bytes", async () => {
    const t = await tenantWithEndpoint();
    const bytes = new Uint8Array([0x7b, 0xff, 0xfe, 0x00, 0x80, 0x22, 0x7d]);
    const { response: sent, body: receipt } = await sendStandardWebhook(
      { endpointId: t.endpoint.id, secrets: [t.endpoint.secret], body: bytes },
      t.queues.env,
    );
    expect(sent.status).toBe(200);
    const id = receipt.data?.eventIds[0] ?? "";
    const event = (await envelope<EventDetail>(await call(`${EVENTS}/${id}`, bearer(t.user.token)))).data;
    expect(event?.bodyEncoding).toBe("base64");
    expect(Uint8Array.from(atob(event?.body ?? ""), (c) => c.charCodeAt(0))).toEqual(bytes);
  });

  it("404 in the envelope for an unknown id, 422 for an id that is not a UUID", async () => {
    const user = await signedInUser({ superuser: true });
    const missing = await call(`${EVENTS}/${crypto.randomUUID()}`, bearer(user.token));
    expect(missing.status).toBe(404);
    expect((await envelope(missing)).error).toEqual({
      code: "NOT_FOUND",
      message: "Webhook event not found",
    });
    const malformed = await call(`${EVENTS}/not-a-uuid`, bearer(user.token));
    expect(malformed.status).toBe(422);
    expect((await envelope(malformed)).error?.code).toBe("VALIDATION_ERROR");
  });
});

describe("POST /api/v1/webhooks/events/{id}/replay", () => {
  it("puts a failed event back to received, enqueues it and counts the replay", async () => {
    const t = await tenantWithEndpoint();
    const id = await t.send({ data: { order_no: "TW-1" } }); // no `type`: fails in processing
    await t.queues.drain();
    expect((await webhookEventsOf(t.user.tenant.id))[0]?.status).toBe("failed");
    const sentBefore = t.queues.log.length;

    const response = await call(
      `${EVENTS}/${id}/replay`,
      bearer(t.user.token, { method: "POST" }),
      t.queues.env,
    );
    expect(response.status).toBe(200);
    const replayed = (await envelope<EventSummary>(response)).data;
    expect(replayed).toMatchObject({
      id,
      status: "received",
      replayCount: 1,
      processedAt: null,
      outcome: null,
    });
    expect(t.queues.log.slice(sentBefore).map((m) => [m.queue, m.body])).toEqual([
      ["webhooks", { type: "webhook.process", tenantId: t.user.tenant.id, eventId: id, replayCount: 1 }],
    ]);
    const [row] = await webhookEventsOf(t.user.tenant.id);
    expect(row).toMatchObject({ status: "received", replay_count: 1 });

    // Its cause is still there: processed again, it fails again (a second attempt, still one replay).
    await t.queues.drain();
    const [again] = await webhookEventsOf(t.user.tenant.id);
    expect(again).toMatchObject({ status: "failed", attempts: 2, replay_count: 1 });
  });

  it("404 for an unknown event", async () => {
    const user = await signedInUser({ superuser: true });
    const response = await call(
      `${EVENTS}/${crypto.randomUUID()}/replay`,
      bearer(user.token, { method: "POST" }),
    );
    expect(response.status).toBe(404);
    expect((await envelope(response)).error).toEqual({
      code: "NOT_FOUND",
      message: "Webhook event not found",
    });
  });
});

describe("webhook API permissions", () => {
  it("webhooks:read lists and reads but cannot replay or manage endpoints; no permission → 403; no token → 401", async () => {
    const owner = await tenantWithEndpoint();
    const id = await owner.send(typed("shipment.created"));
    const reader = await signedInUser({ tenant: owner.user.tenant, permissions: ["webhooks:read"] });
    const stranger = await signedInUser({ tenant: owner.user.tenant, permissions: ["orders:read"] });

    expect((await call(EVENTS, bearer(reader.token))).status).toBe(200);
    expect((await call(`${EVENTS}/${id}`, bearer(reader.token))).status).toBe(200);
    expect((await call(ENDPOINTS, bearer(reader.token))).status).toBe(200);

    const forbidden = [
      [reader.token, "POST", `${EVENTS}/${id}/replay`, undefined],
      [reader.token, "POST", ENDPOINTS, { name: "Nope" }],
      [reader.token, "PATCH", `${ENDPOINTS}/${owner.endpoint.id}`, { enabled: false }],
      [reader.token, "POST", `${ENDPOINTS}/${owner.endpoint.id}/rotate-secret`, {}],
      [reader.token, "DELETE", `${ENDPOINTS}/${owner.endpoint.id}`, undefined],
      [stranger.token, "GET", EVENTS, undefined],
      [stranger.token, "GET", `${EVENTS}/${id}`, undefined],
      [stranger.token, "GET", ENDPOINTS, undefined],
    ] as const;
    for (const [token, method, path, body] of forbidden) {
      const response = await call(path, bearer(token, { method, ...(body === undefined ? {} : { body }) }));
      expect(response.status, `${method} ${path}`).toBe(403);
      expect((await envelope(response)).error?.code).toBe("FORBIDDEN");
    }
    const anonymous = await call(EVENTS);
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error?.code).toBe("UNAUTHORIZED");
    // Nothing changed: the event was not replayed, the endpoint still verifies.
    expect((await webhookEventsOf(owner.user.tenant.id))[0]?.replay_count).toBe(0);
  });

  it("another tenant's events never appear in the list", async () => {
    const a = await tenantWithEndpoint();
    const b = await tenantWithEndpoint();
    const bEvent = await b.send(typed("shipment.created"));
    const { body } = await list(a.user.token);
    expect(body.data?.items).toEqual([]);
    const text = await (await call(`${ENDPOINTS}`, bearer(a.user.token))).text();
    expect(text).not.toContain(b.endpoint.id);
    expect(text).not.toContain(bEvent);
  });
});

describe("receiver limits", () => {
  it("the 4th delivery to one source within the window is 429 with Retry-After; another source still passes", async () => {
    const user = await signedInUser({ superuser: true });
    const queues = simulatedQueues(user.tenant.id);
    const first = await endpointFor(user.token, { name: "Busy partner" });
    const second = await endpointFor(user.token, { name: "Quiet partner" });
    const limited = { ...queues.env, RATE_LIMITS: '{"webhook":{"limit":3,"windowSeconds":60}}' };
    const deliver = (to: { id: string; secret: string }) =>
      sendStandardWebhook(
        { endpointId: to.id, secrets: [to.secret], body: JSON.stringify(typed("x.y")) },
        limited,
      );
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await deliver(first)).response.status);
    expect(statuses).toEqual([200, 200, 200]);
    const fourth = await deliver(first);
    expect(fourth.response.status).toBe(429);
    expect(fourth.body.success).toBe(false);
    expect(fourth.body.error?.code).toBe("RATE_LIMITED");
    const retryAfter = Number(fourth.response.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThan(0);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await deliver(second)).response.status).toBe(200);
    expect(await webhookEventsOf(user.tenant.id)).toHaveLength(4);
  });

  it("accepts a 3 MiB signed Shopify delivery and stores every byte", async () => {
    const secret = "shpss_limit_test_client_secret_000000";
    const h = await setUpHub({ clientSecret: secret });
    const order = restOrder({ note: "x".repeat(3 * 1024 * 1024) });
    const body = JSON.stringify(order);
    expect(body.length).toBeGreaterThan(3 * 1024 * 1024);
    const { response } = await sendShopifyWebhook(
      { connectionId: h.channel.id, shop: h.shop, topic: "orders/create", body, secret },
      h.queues.env,
    );
    expect(response.status).toBe(200);
    const [stored] = await ownerSql()`
      select body_bytes, length(body) as chars from webhook_events where tenant_id = ${h.user.tenant.id}`;
    expect(Number(stored?.body_bytes)).toBe(body.length);
    expect(Number(stored?.chars)).toBe(body.length);
  });

  it("413 PAYLOAD_TOO_LARGE in the envelope for a 1.5 MiB generic delivery (its limit is 1 MiB)", async () => {
    const t = await tenantWithEndpoint();
    const big = JSON.stringify(typed("bulk.export", { blob: "y".repeat(1.5 * 1024 * 1024) }));
    const { response, body } = await sendStandardWebhook(
      { endpointId: t.endpoint.id, secrets: [t.endpoint.secret], body: big },
      t.queues.env,
    );
    expect(response.status).toBe(413);
    expect(body.success).toBe(false);
    expect(body.error).toEqual({
      code: "PAYLOAD_TOO_LARGE",
      message: `Request body exceeds ${1024 * 1024} bytes`,
      details: { maxBytes: 1024 * 1024 },
    });
    expect(await webhookEventsOf(t.user.tenant.id)).toHaveLength(0);
  });
});
