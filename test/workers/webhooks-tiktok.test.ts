// TikTok Shop webhooks end to end: the receiver verifies TikTok's Authorization signature over the raw body,
// stores the notification and queues it; the consumer reads the order from TikTok (the notification only
// names it) and stores it exactly as a pull would, then pushes it to the ERP. Every refusal is exact.
import { describe, expect, it } from "vitest";
import { ownerSql } from "../support/harness";
import { createChannelConnection, createErpConnection } from "../support/hub";
import { lingxingFake, ordersOf } from "../support/sync";
import {
  sendTikTokWebhook,
  setUpTikTokHub,
  tiktokFake,
  tiktokNotification,
  webhookEventsOf,
} from "../support/webhooks";

const ORDER_STATUS_CHANGE = 1;
const PACKAGE_UPDATE = 4;
const PRODUCT_STATUS_CHANGE = 5;

const orderStatusChange = (
  shopId: string,
  orderId: string,
  extra: { timestamp?: number; notificationId?: string } = {},
) =>
  tiktokNotification({
    type: ORDER_STATUS_CHANGE,
    shopId,
    data: {
      order_id: orderId,
      order_status: "AWAITING_SHIPMENT",
      is_on_hold_order: false,
      update_time: Math.floor(Date.now() / 1000),
    },
    ...extra,
  });

async function storedOrders(tenantId: string) {
  return (await ownerSql()`
    select external_id, channel, store_id, status, currency, total_minor, version, channel_updated_at
      from orders where tenant_id = ${tenantId} order by external_id`) as unknown as {
    external_id: string;
    channel: string;
    store_id: string;
    status: string;
    currency: string;
    total_minor: number;
    version: number;
    channel_updated_at: string;
  }[];
}

async function transitionsOf(tenantId: string) {
  const rows = await ownerSql()`
    select o.external_id, t.to_status from order_transitions t join orders o on o.id = t.order_id
     where t.tenant_id = ${tenantId} order by t.occurred_at, t.id`;
  return rows.map((r) => `${String(r.external_id)}:${String(r.to_status)}`);
}

const rejected = (reason: "signature" | "stale") => ({
  success: false,
  error: {
    code: "WEBHOOK_REJECTED",
    message:
      reason === "stale"
        ? "Webhook timestamp is outside the accepted window"
        : "Webhook signature verification failed",
    details: { reason },
  },
});

describe("TikTok webhooks: accepted, applied once, pushed", () => {
  it("ORDER_STATUS_CHANGE: 200 at once, then the order is read from TikTok, stored like a pull and pushed", async () => {
    const h = await setUpTikTokHub({
      seeds: [{ status: "AWAITING_SHIPMENT" }, { status: "AWAITING_SHIPMENT" }],
    });
    const [viaWebhook, viaPull] = h.seeded;
    if (!viaWebhook || !viaPull) throw new Error("seed failed");

    const { response, body } = await h.deliver(orderStatusChange(h.shopId, viaWebhook.id));
    expect(response.status).toBe(200);
    expect(body.success).toBe(true);
    expect(body.data?.status).toBe("accepted");
    expect(body.data?.eventIds).toHaveLength(1);
    const [received] = await webhookEventsOf(h.user.tenant.id);
    expect(received).toMatchObject({
      source: "tiktok",
      status: "received",
      topic: `type:${ORDER_STATUS_CHANGE}`,
      verification: { scheme: "tiktok-hmac-sha256", secret: "current" },
    });
    expect(received?.headers).not.toHaveProperty("authorization");
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(0);

    await h.queues.drain();
    const afterWebhook = await storedOrders(h.user.tenant.id);
    expect(afterWebhook.map((o) => [o.external_id, o.channel, o.store_id, o.status])).toEqual([
      [viaWebhook.id, "tiktok", h.shopId, "synced"],
    ]);
    const inErp = (await lingxingFake.orders(h.appId)).orders;
    expect(inErp).toHaveLength(1);
    expect(inErp[0]?.items).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ sku: "MUG-12-SAGE", quantity: 2 }),
        expect.objectContaining({ sku: "COAST-BAM-4", quantity: 1 }),
      ]),
    );
    const [processed] = await webhookEventsOf(h.user.tenant.id);
    expect(processed?.status).toBe("processed");
    expect(processed?.outcome).toEqual({
      orders: [viaWebhook.id],
      changed: [viaWebhook.id],
      notificationType: ORDER_STATUS_CHANGE,
    });

    // A pull of the same shop afterwards finds the webhook's order already current (same key, same channel
    // time: nothing to change) and stores the other one with the same shape.
    const versionBefore = afterWebhook[0]?.version;
    await h.pullOrders();
    await h.queues.drain();
    const afterPull = await storedOrders(h.user.tenant.id);
    expect(afterPull).toHaveLength(2);
    const webhookRow = afterPull.find((o) => o.external_id === viaWebhook.id);
    const pullRow = afterPull.find((o) => o.external_id === viaPull.id);
    expect(webhookRow?.version).toBe(versionBefore);
    expect(webhookRow?.channel_updated_at).toEqual(afterWebhook[0]?.channel_updated_at);
    const shape = (o: (typeof afterPull)[number] | undefined) => ({
      channel: o?.channel,
      store_id: o?.store_id,
      status: o?.status,
      currency: o?.currency,
      total_minor: o?.total_minor,
    });
    expect(shape(webhookRow)).toEqual(shape(pullRow));
    expect(await transitionsOf(h.user.tenant.id)).toEqual(
      expect.arrayContaining([
        `${viaWebhook.id}:created`,
        `${viaWebhook.id}:synced`,
        `${viaPull.id}:created`,
        `${viaPull.id}:synced`,
      ]),
    );
    expect(await transitionsOf(h.user.tenant.id)).toHaveLength(4);
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(2);
  });

  it("PACKAGE_UPDATE: the order is read again and stored (a newer TikTok update moves it on)", async () => {
    const h = await setUpTikTokHub({ seeds: [{ status: "AWAITING_SHIPMENT" }] });
    const [order] = h.seeded;
    if (!order) throw new Error("seed failed");
    await h.deliver(orderStatusChange(h.shopId, order.id));
    await h.queues.drain();
    const first = (await storedOrders(h.user.tenant.id))[0];

    const updated = await tiktokFake.updateOrder(h.shopId, order.id, {
      buyer_message: "Please split the parcel",
    });
    const { response, body } = await h.deliver(
      tiktokNotification({
        type: PACKAGE_UPDATE,
        shopId: h.shopId,
        data: {
          order_id: order.id,
          package_id: "1152921508181199999",
          sc_type: "SPLIT",
          role_type: "SELLER",
          update_time: updated.order.update_time,
        },
      }),
    );
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("accepted");
    await h.queues.drain();
    const events = await webhookEventsOf(h.user.tenant.id);
    expect(events.map((e) => [e.topic, e.status])).toEqual([
      [`type:${ORDER_STATUS_CHANGE}`, "processed"],
      [`type:${PACKAGE_UPDATE}`, "processed"],
    ]);
    expect(events[1]?.outcome).toEqual({
      orders: [order.id],
      changed: [order.id],
      notificationType: PACKAGE_UPDATE,
    });
    const second = (await storedOrders(h.user.tenant.id))[0];
    expect(second?.version).toBeGreaterThan(first?.version ?? Number.POSITIVE_INFINITY);
    expect(Date.parse(second?.channel_updated_at ?? "")).toBe(updated.order.update_time * 1000);
  });

  it("an unhandled notification type is stored and settled `ignored`, TikTok never called", async () => {
    const h = await setUpTikTokHub();
    const { response } = await h.deliver(
      tiktokNotification({
        type: PRODUCT_STATUS_CHANGE,
        shopId: h.shopId,
        data: {
          product_id: "1729382476852855024",
          status: "ACTIVATE",
          update_time: Math.floor(Date.now() / 1000),
        },
      }),
    );
    expect(response.status).toBe(200);
    await h.queues.drain();
    const [event] = await webhookEventsOf(h.user.tenant.id);
    expect(event?.status).toBe("ignored");
    expect(event?.outcome).toEqual({ reason: `notification type ${PRODUCT_STATUS_CHANGE} is not handled` });
    expect((await tiktokFake.stats(h.shopId)).requests).toEqual({});
  });

  it("processes a redelivered notification (same tts_notification_id) once", async () => {
    const h = await setUpTikTokHub({ seeds: [{}] });
    const [order] = h.seeded;
    if (!order) throw new Error("seed failed");
    const notificationId = "7327112393057371999";
    const first = await h.deliver(orderStatusChange(h.shopId, order.id, { notificationId }));
    // TikTok resends the same notification (a fresh timestamp, the same id).
    const again = await h.deliver(
      orderStatusChange(h.shopId, order.id, { notificationId, timestamp: Math.floor(Date.now() / 1000) + 1 }),
    );
    expect(first.response.status).toBe(200);
    expect(again.response.status).toBe(200);
    expect(again.body.data?.status).toBe("duplicate");
    expect(again.body.data?.eventIds).toEqual(first.body.data?.eventIds);
    await h.queues.drain();
    expect(await webhookEventsOf(h.user.tenant.id)).toHaveLength(1);
    expect(await transitionsOf(h.user.tenant.id)).toEqual([`${order.id}:created`, `${order.id}:synced`]);
    expect((await tiktokFake.stats(h.shopId)).requests["/order/202309/orders"]).toBe(1);
  });

  it("verifies with the app secret being rotated out, and records which one matched", async () => {
    const previous = "previous0app0secret0f0r0rotation0123456";
    const h = await setUpTikTokHub({ seeds: [{}], previousAppSecret: previous });
    const [order] = h.seeded;
    if (!order) throw new Error("seed failed");
    const withCurrent = await h.deliver(orderStatusChange(h.shopId, order.id));
    const withPrevious = await h.deliver(orderStatusChange(h.shopId, order.id), { appSecret: previous });
    expect(withCurrent.response.status).toBe(200);
    expect(withPrevious.response.status).toBe(200);
    expect(withPrevious.body.data?.status).toBe("accepted");
    const events = await webhookEventsOf(h.user.tenant.id);
    expect(events.map((e) => e.verification.secret).sort()).toEqual(["current", "previous"]);
  });

  it("a notification for another shop is stored as a failed dead letter (200) and never applied", async () => {
    const h = await setUpTikTokHub({ seeds: [{}] });
    const [order] = h.seeded;
    if (!order) throw new Error("seed failed");
    const otherShop = "7495000000000000001";
    const { response, body } = await h.deliver(orderStatusChange(otherShop, order.id));
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("accepted");
    expect(h.queues.pending).toHaveLength(0);
    await h.queues.drain();
    const [event] = await webhookEventsOf(h.user.tenant.id);
    expect(event?.status).toBe("failed");
    expect(event?.last_error).toMatchObject({
      code: "MALFORMED_PAYLOAD",
      message: `Notification is for shop ${otherShop}, not ${h.shopId}`,
    });
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(0);
    expect((await tiktokFake.stats(h.shopId)).requests).toEqual({});
  });

  it("a notification naming no order is a dead letter; one for a disabled connection is ignored", async () => {
    const h = await setUpTikTokHub({ seeds: [{}] });
    await h.deliver(
      tiktokNotification({
        type: ORDER_STATUS_CHANGE,
        shopId: h.shopId,
        data: { order_status: "AWAITING_SHIPMENT", update_time: Math.floor(Date.now() / 1000) },
      }),
    );
    await h.queues.drain();
    const [noOrder] = await webhookEventsOf(h.user.tenant.id);
    expect(noOrder?.status).toBe("failed");
    expect(noOrder?.last_error).toMatchObject({
      code: "PROCESSING_FAILED",
      message: "WebhookPayloadError: Notification names no order (`data.order_id`)",
    });

    await ownerSql()`update connections set enabled = false where id = ${h.channel.id}`;
    await h.deliver(orderStatusChange(h.shopId, h.seeded[0]?.id ?? ""));
    await h.queues.drain();
    const [, disabled] = await webhookEventsOf(h.user.tenant.id);
    expect(disabled?.status).toBe("ignored");
    expect(disabled?.outcome).toEqual({ reason: "connection disabled" });
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(0);
  });

  it("TikTok answering 5xx and 429 while processing: the event is retried through the queue, then processed", async () => {
    const h = await setUpTikTokHub({ seeds: [{}] });
    const [order] = h.seeded;
    if (!order) throw new Error("seed failed");
    // Four failures outlast the client's own retries of one read, so the queue has to retry the event.
    for (const failure of [503, 500, 429, 503]) await tiktokFake.failNext(h.shopId, failure);
    await h.deliver(orderStatusChange(h.shopId, order.id));

    const stats = await h.queues.drain({ maxAttempts: 5 });
    expect(stats.retried).toBe(1);
    expect(stats.gaveUp).toHaveLength(0);
    const [event] = await webhookEventsOf(h.user.tenant.id);
    expect(event?.status).toBe("processed");
    expect(event?.attempts).toBe(2);
    expect(event?.last_error?.code).toBe("UPSTREAM_ERROR");
    expect((await storedOrders(h.user.tenant.id)).map((o) => [o.external_id, o.status])).toEqual([
      [order.id, "synced"],
    ]);
    expect((await tiktokFake.stats(h.shopId)).injected).toEqual({ "503": 2, "500": 1, "429": 1 });
  });
});

describe("TikTok webhooks: refused", () => {
  it.each([
    ["a wrong app secret", { appSecret: "not-the-app-secret" }],
    ["a forged body (signature of another body)", { signedBody: JSON.stringify({ type: 1 }) }],
    ["a missing Authorization", { authorization: "" }],
    ["an Authorization that is not hex", { authorization: "sha256=zz" }],
  ])("401 for %s, nothing stored", async (_, extra) => {
    const h = await setUpTikTokHub({ seeds: [{}] });
    const { response, body } = await h.deliver(orderStatusChange(h.shopId, h.seeded[0]?.id ?? ""), extra);
    expect(response.status).toBe(401);
    expect(body).toMatchObject(rejected("signature"));
    expect(body.data).toBeUndefined();
    expect(Object.keys(body.error ?? {}).sort()).toEqual(["code", "details", "message"]);
    expect(await webhookEventsOf(h.user.tenant.id)).toHaveLength(0);
  });

  it("401 for a truncated or re-encoded body signed as TikTok sent it", async () => {
    const h = await setUpTikTokHub({ seeds: [{}] });
    const original = orderStatusChange(h.shopId, h.seeded[0]?.id ?? "");
    for (const tampered of [original.slice(0, -1), JSON.stringify(JSON.parse(original), null, 2)]) {
      const { response, body } = await h.deliver(tampered, { signedBody: original });
      expect(response.status).toBe(401);
      expect(body).toMatchObject(rejected("signature"));
    }
    expect(await webhookEventsOf(h.user.tenant.id)).toHaveLength(0);
  });

  it("401 in the same words for an unknown connection and for a connection of another provider", async () => {
    const h = await setUpTikTokHub();
    const shopify = await createChannelConnection(h.user.token, {
      erpConnectionId: (await createErpConnection(h.user.token)).id,
    });
    for (const connectionId of [crypto.randomUUID(), shopify.id]) {
      const { response, body } = await sendTikTokWebhook({
        connectionId,
        appKey: h.credentials.appKey,
        appSecret: h.credentials.appSecret,
        body: orderStatusChange(h.shopId, "576461413038785752"),
      });
      expect(response.status).toBe(401);
      expect(body).toMatchObject(rejected("signature"));
    }
  });

  it("401 stale for a valid notification whose timestamp is 10 minutes old", async () => {
    const h = await setUpTikTokHub({ seeds: [{}] });
    const { response, body } = await h.deliver(
      orderStatusChange(h.shopId, h.seeded[0]?.id ?? "", { timestamp: Math.floor(Date.now() / 1000) - 600 }),
    );
    expect(response.status).toBe(401);
    expect(body).toMatchObject(rejected("stale"));
    expect(await webhookEventsOf(h.user.tenant.id)).toHaveLength(0);
  });
});
