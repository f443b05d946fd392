// Generic (Standard Webhooks) receivers end to end: endpoints made through the API (the secret shown once),
// deliveries signed per standardwebhooks.com verified over the raw body, the timestamp window, rotation
// with a grace period, disabling, deduplication by webhook-id, and every refusal in the envelope.
import { describe, expect, it } from "vitest";
import { bearer, signedInUser } from "../support/auth";
import { call, envelope } from "../support/harness";
import { createErpConnection } from "../support/hub";
import { simulatedQueues } from "../support/sync";
import { sendStandardWebhook, signStandard, webhookEventsOf } from "../support/webhooks";

const ENDPOINTS = "/api/v1/webhooks/endpoints";

interface Endpoint {
  id: string;
  name: string;
  description: string | null;
  connectionId: string | null;
  enabled: boolean;
  url: string | null;
  path: string;
  rotation: { previousSecretExpiresAt: string } | null;
  createdAt: string;
  updatedAt: string;
  secret?: string;
}

async function tenantWithEndpoint(body: Record<string, unknown> = { name: "Lingxing callbacks" }) {
  const user = await signedInUser({ superuser: true });
  const queues = simulatedQueues(user.tenant.id);
  const response = await call(ENDPOINTS, bearer(user.token, { method: "POST", body }));
  const created = await envelope<Endpoint>(response);
  if (response.status !== 201 || !created.data?.secret) {
    throw new Error(`create endpoint failed: ${response.status} ${JSON.stringify(created.error)}`);
  }
  const endpoint = created.data;
  const secret = created.data.secret;
  const deliver = (
    payload: unknown,
    extra: Partial<Omit<Parameters<typeof sendStandardWebhook>[0], "endpointId" | "body">> = {},
  ) =>
    sendStandardWebhook(
      {
        endpointId: endpoint.id,
        secrets: [secret],
        body: typeof payload === "string" ? payload : JSON.stringify(payload),
        ...extra,
      },
      queues.env,
    );
  return { user, queues, endpoint, secret, deliver };
}

/** A Standard Webhooks payload as partners send it: `type`, `timestamp`, `data`. */
const shipmentCreated = (orderNo = "TW-1001") => ({
  type: "shipment.created",
  timestamp: new Date().toISOString(),
  data: {
    order_no: orderNo,
    carrier: "DHL eCommerce",
    tracking_number: "GM605112270084510000",
    shipped_at: new Date().toISOString(),
  },
});

const rejected = (reason: "signature" | "stale") => ({
  code: "WEBHOOK_REJECTED",
  message:
    reason === "stale"
      ? "Webhook timestamp is outside the accepted window"
      : "Webhook signature verification failed",
  details: { reason },
});

describe("generic endpoints: created through the API", () => {
  it("returns the secret once on creation; the list never shows it", async () => {
    const t = await tenantWithEndpoint({ name: "  ECCANG callbacks ", description: "Shipment notices" });
    expect(t.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(t.endpoint).toMatchObject({
      name: "ECCANG callbacks",
      description: "Shipment notices",
      connectionId: null,
      enabled: true,
      url: `https://tradewind.test/webhooks/generic/${t.endpoint.id}`,
      path: `/webhooks/generic/${t.endpoint.id}`,
      rotation: null,
    });
    const list = await call(ENDPOINTS, bearer(t.user.token));
    const text = await list.text();
    expect(list.status).toBe(200);
    expect(text).not.toContain(t.secret);
    expect(text).not.toContain(t.secret.slice(6));
    const items = (JSON.parse(text) as { data: { items: Endpoint[] } }).data.items;
    expect(items.map((i) => i.id)).toEqual([t.endpoint.id]);
    expect(items[0]).not.toHaveProperty("secret");
  });

  it("takes a bring-your-own whsec_ secret, and refuses anything else with 422", async () => {
    const own = `whsec_${btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))))}`;
    const t = await tenantWithEndpoint({ name: "Own secret", secret: own });
    expect(t.secret).toBe(own);
    const { response } = await t.deliver(shipmentCreated());
    expect(response.status).toBe(200);

    for (const secret of ["this-is-not-a-whsec-secret", "whsec_tooShort0123", `whsec_${"A".repeat(100)}`]) {
      const refused = await call(
        ENDPOINTS,
        bearer(t.user.token, { method: "POST", body: { name: "Bad secret", secret } }),
      );
      expect(refused.status).toBe(422);
      const body = await envelope(refused);
      expect(body.success).toBe(false);
      expect(body.error?.code).toBe("VALIDATION_ERROR");
      expect(Object.keys(body.error?.details ?? {})).toEqual(["secret"]);
    }
  });
});

describe("generic endpoints: linked to a connection", () => {
  it("links an endpoint to the tenant's connection; another tenant's connection is 422, not a 500", async () => {
    const t = await tenantWithEndpoint();
    const erp = await createErpConnection(t.user.token);
    const linked = await call(
      ENDPOINTS,
      bearer(t.user.token, { method: "POST", body: { name: "ERP", connectionId: erp.id } }),
    );
    expect(linked.status).toBe(201);
    expect((await envelope<Endpoint>(linked)).data?.connectionId).toBe(erp.id);

    const other = await signedInUser({ superuser: true });
    const foreign = await createErpConnection(other.token);
    for (const connectionId of [foreign.id, crypto.randomUUID()]) {
      const refused = await call(
        ENDPOINTS,
        bearer(t.user.token, { method: "POST", body: { name: "Not mine", connectionId } }),
      );
      expect(refused.status).toBe(422);
      expect((await envelope(refused)).error).toEqual({
        code: "VALIDATION_ERROR",
        message: "Unknown connection",
        details: { connectionId: ["No such connection in this tenant"] },
      });
    }
  });
});

describe("generic endpoints: deliveries accepted", () => {
  it("a signed delivery is acknowledged, stored and processed", async () => {
    const t = await tenantWithEndpoint();
    const payload = shipmentCreated();
    const { response, body } = await t.deliver(payload, { id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W" });
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("accepted");
    const [stored] = await webhookEventsOf(t.user.tenant.id);
    expect(stored).toMatchObject({
      source: "generic",
      status: "received",
      topic: "shipment.created",
      provider_event_id: "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
      verification: { scheme: "standard-webhooks-v1", secret: "current" },
    });
    expect(stored?.headers).not.toHaveProperty("webhook-signature");
    await t.queues.drain();
    const [processed] = await webhookEventsOf(t.user.tenant.id);
    expect(processed?.status).toBe("processed");
    expect(processed?.outcome).toEqual({ type: "shipment.created", recorded: true });
  });

  it("accepts a header with several signatures when any one matches (other versions ignored)", async () => {
    const t = await tenantWithEndpoint();
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const body = JSON.stringify(shipmentCreated());
    const good = await signStandard(t.secret, id, String(timestamp), body);
    const stranger = await signStandard(
      "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA=",
      id,
      String(timestamp),
      body,
    );
    const signature = `${stranger} v1a,${good.slice(3)} ${good}`;
    const { response } = await t.deliver(body, { id, timestamp, signature });
    expect(response.status).toBe(200);
  });

  it("a body without `type` or `data` is stored, then settled `failed` with the reason", async () => {
    const t = await tenantWithEndpoint();
    await t.deliver({ data: { order_no: "TW-1" } });
    await t.deliver({ type: "shipment.created", timestamp: new Date().toISOString() });
    const received = await webhookEventsOf(t.user.tenant.id);
    expect(received.map((e) => [e.topic, e.status])).toEqual([
      ["unknown", "received"],
      ["shipment.created", "received"],
    ]);
    await t.queues.drain();
    const settled = await webhookEventsOf(t.user.tenant.id);
    expect(settled.map((e) => e.status)).toEqual(["failed", "failed"]);
    expect(settled.map((e) => e.last_error?.message)).toEqual([
      "WebhookPayloadError: Standard Webhooks payload has no `type`",
      "WebhookPayloadError: Standard Webhooks payload has no `data` object",
    ]);
    expect(settled.map((e) => e.last_error?.code)).toEqual(["PROCESSING_FAILED", "PROCESSING_FAILED"]);
  });

  it("a body that is not JSON is stored straight as a dead letter (200, never queued)", async () => {
    const t = await tenantWithEndpoint();
    const { response } = await t.deliver("order_no=TW-1&carrier=DHL");
    expect(response.status).toBe(200);
    expect(t.queues.pending).toHaveLength(0);
    const [event] = await webhookEventsOf(t.user.tenant.id);
    expect(event?.status).toBe("failed");
    expect(event?.last_error).toMatchObject({
      code: "MALFORMED_PAYLOAD",
      message: "Body is not a JSON object",
    });
  });

  it("processes a redelivery (same webhook-id) once", async () => {
    const t = await tenantWithEndpoint();
    const id = `msg_${crypto.randomUUID()}`;
    const first = await t.deliver(shipmentCreated(), { id });
    const again = await t.deliver(shipmentCreated(), { id, timestamp: Math.floor(Date.now() / 1000) + 2 });
    expect(again.response.status).toBe(200);
    expect(again.body.data).toEqual({ status: "duplicate", eventIds: first.body.data?.eventIds });
    const stats = await t.queues.drain();
    expect(stats.delivered).toBe(1);
    expect(await webhookEventsOf(t.user.tenant.id)).toHaveLength(1);
  });
});

describe("generic endpoints: refused", () => {
  it("401 signature for a wrong secret, a tampered body and a malformed signature; nothing stored", async () => {
    const t = await tenantWithEndpoint();
    const body = JSON.stringify(shipmentCreated());
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    const cases = [
      { secrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwAAAAAAAAAAA="] },
      { signature: await signStandard(t.secret, id, String(timestamp), `${body} `) },
      { signature: await signStandard(t.secret, `${id}x`, String(timestamp), body) },
      { signature: "v1,not base64!" },
      { signature: (await signStandard(t.secret, id, String(timestamp), body)).replace("v1,", "v2,") },
    ];
    for (const extra of cases) {
      const { response, body: answer } = await sendStandardWebhook(
        { endpointId: t.endpoint.id, secrets: [t.secret], body, id, timestamp, ...extra },
        t.queues.env,
      );
      expect(response.status).toBe(401);
      expect(answer.success).toBe(false);
      expect(answer.error).toEqual(rejected("signature"));
    }
    expect(await webhookEventsOf(t.user.tenant.id)).toHaveLength(0);
  });

  it.each([["webhook-id"], ["webhook-timestamp"], ["webhook-signature"]] as const)(
    "401 signature when %s is missing",
    async (header) => {
      const t = await tenantWithEndpoint();
      const { response, body } = await t.deliver(shipmentCreated(), { omit: [header] });
      expect(response.status).toBe(401);
      expect(body.error).toEqual(rejected("signature"));
      expect(await webhookEventsOf(t.user.tenant.id)).toHaveLength(0);
    },
  );

  it.each([
    ["6 minutes old", -360],
    ["6 minutes ahead", 360],
  ])("401 stale for a correctly signed delivery %s", async (_, offsetSeconds) => {
    const t = await tenantWithEndpoint();
    const { response, body } = await t.deliver(shipmentCreated(), {
      timestamp: Math.floor(Date.now() / 1000) + offsetSeconds,
    });
    expect(response.status).toBe(401);
    expect(body.error).toEqual(rejected("stale"));
    expect(await webhookEventsOf(t.user.tenant.id)).toHaveLength(0);
  });

  it("401 for an unknown endpoint, in the same words", async () => {
    const t = await tenantWithEndpoint();
    const { response, body } = await sendStandardWebhook({
      endpointId: crypto.randomUUID(),
      secrets: [t.secret],
      body: JSON.stringify(shipmentCreated()),
    });
    expect(response.status).toBe(401);
    expect(body.error).toEqual(rejected("signature"));
  });

  it("a disabled endpoint refuses deliveries (401) until it is enabled again", async () => {
    const t = await tenantWithEndpoint();
    const patch = (enabled: boolean) =>
      call(`${ENDPOINTS}/${t.endpoint.id}`, bearer(t.user.token, { method: "PATCH", body: { enabled } }));
    const disabled = await patch(false);
    expect(disabled.status).toBe(200);
    expect((await envelope<Endpoint>(disabled)).data?.enabled).toBe(false);
    const refused = await t.deliver(shipmentCreated());
    expect(refused.response.status).toBe(401);
    expect(refused.body.error).toEqual(rejected("signature"));
    expect((await patch(true)).status).toBe(200);
    expect((await t.deliver(shipmentCreated())).response.status).toBe(200);
  });
});

describe("generic endpoints: secret rotation", () => {
  const rotate = (token: string, id: string, body?: unknown) =>
    call(
      `${ENDPOINTS}/${id}/rotate-secret`,
      bearer(token, { method: "POST", ...(body === undefined ? {} : { body }) }),
    );

  it("with a grace period, the old and the new secret both verify, and each is recorded", async () => {
    const t = await tenantWithEndpoint();
    const response = await rotate(t.user.token, t.endpoint.id, { graceHours: 2 });
    expect(response.status).toBe(200);
    const rotated = (await envelope<Endpoint>(response)).data;
    expect(rotated?.secret).toMatch(/^whsec_/);
    expect(rotated?.secret).not.toBe(t.secret);
    const expires = Date.parse(rotated?.rotation?.previousSecretExpiresAt ?? "");
    expect(Math.abs(expires - (Date.now() + 2 * 3600_000))).toBeLessThan(60_000);

    const withOld = await t.deliver(shipmentCreated());
    const withNew = await t.deliver(shipmentCreated(), { secrets: [rotated?.secret ?? ""] });
    const withBoth = await t.deliver(shipmentCreated(), { secrets: [t.secret, rotated?.secret ?? ""] });
    expect([withOld, withNew, withBoth].map((d) => d.response.status)).toEqual([200, 200, 200]);
    const events = await webhookEventsOf(t.user.tenant.id);
    expect(events.map((e) => e.verification.secret)).toEqual(["previous", "current", "current"]);
    const list = await call(ENDPOINTS, bearer(t.user.token));
    expect(await list.text()).not.toContain(rotated?.secret ?? "never");
  });

  it("with graceHours 0, the old secret is refused at once", async () => {
    const t = await tenantWithEndpoint();
    const response = await rotate(t.user.token, t.endpoint.id, { graceHours: 0 });
    const rotated = (await envelope<Endpoint>(response)).data;
    expect(response.status).toBe(200);
    expect(rotated?.rotation).toBeNull();
    const withOld = await t.deliver(shipmentCreated());
    expect(withOld.response.status).toBe(401);
    expect(withOld.body.error).toEqual(rejected("signature"));
    const withNew = await t.deliver(shipmentCreated(), { secrets: [rotated?.secret ?? ""] });
    expect(withNew.response.status).toBe(200);
  });

  it("rotating without a body uses the default grace (24 h); a bring-your-own secret must be whsec_", async () => {
    const t = await tenantWithEndpoint();
    const response = await rotate(t.user.token, t.endpoint.id);
    expect(response.status).toBe(200);
    const rotated = (await envelope<Endpoint>(response)).data;
    const expires = Date.parse(rotated?.rotation?.previousSecretExpiresAt ?? "");
    expect(Math.abs(expires - (Date.now() + 24 * 3600_000))).toBeLessThan(60_000);
    const refused = await rotate(t.user.token, t.endpoint.id, { secret: "plain-text-secret-value" });
    expect(refused.status).toBe(422);
    expect((await envelope(refused)).error?.code).toBe("VALIDATION_ERROR");
  });
});
