// Webhooks that must never lose or corrupt an order: out-of-order deliveries, an ERP outage while events
// arrive, a webhook Shopify never managed to deliver (recovered by the cron pull), an event stored but
// not queued (recovered by the cron sweep), and the subscriptions Tradewind registers at Shopify.
import {
  createExecutionContext,
  createMessageBatch,
  createScheduledController,
  getQueueResult,
  waitOnExecutionContext,
} from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { bearer } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import type { Connection } from "../support/hub";
import { lingxingFake, ordersOf, setUpHub, shopifyFake } from "../support/sync";
import { postWebhook, restOrder, sendShopifyWebhook } from "../support/webhooks";

const SECRET = "shpss_reliability_client_secret_42";

async function hub() {
  const h = await setUpHub({ clientSecret: SECRET });
  const deliver = (topic: string, order: Record<string, unknown>, envOverrides: Partial<Env> = {}) =>
    sendShopifyWebhook(
      { connectionId: h.channel.id, shop: h.shop, topic, body: JSON.stringify(order), secret: SECRET },
      { ...h.queues.env, ...envOverrides },
    );
  return { ...h, deliver };
}

async function runCron(env: Env, cron = "* * * * *") {
  const ctx = createExecutionContext();
  await worker.scheduled(createScheduledController({ cron, scheduledTime: Date.now() }), env, ctx);
  await waitOnExecutionContext(ctx);
}

describe("webhooks never move an order back", () => {
  it("an older update delivered after a newer one changes nothing", async () => {
    const h = await hub();
    const placed = new Date(Date.now() - 600_000).toISOString();
    const base = restOrder({ createdAt: placed });
    const newer = {
      ...base,
      note: "newer: gift wrap",
      updated_at: new Date(Date.now() - 60_000).toISOString(),
    };
    const older = {
      ...base,
      note: "older: no note",
      updated_at: new Date(Date.now() - 300_000).toISOString(),
    };
    expect((await h.deliver("orders/updated", newer)).response.status).toBe(200);
    await h.queues.drain();
    expect((await h.deliver("orders/updated", older)).response.status).toBe(200);
    await h.queues.drain();

    const [order] = await ordersOf(h.user.tenant.id);
    const stored = (await ownerSql()`
      select data->>'note' as note, channel_updated_at, version from orders where id = ${order?.id ?? ""}`) as unknown as {
      note: string;
      channel_updated_at: Date;
      version: number;
    }[];
    expect(stored[0]?.note).toBe("newer: gift wrap");
    expect(new Date(stored[0]?.channel_updated_at ?? 0).toISOString()).toBe(
      new Date(newer.updated_at).toISOString(),
    );
    const events = (await ownerSql()`
      select status, outcome from webhook_events where tenant_id = ${h.user.tenant.id} order by received_at`) as unknown as {
      status: string;
      outcome: { changed: string[] };
    }[];
    expect(events.map((e) => e.status)).toEqual(["processed", "processed"]);
    expect(events[1]?.outcome.changed).toEqual([]);
    // One `created`, and no second transition from the stale delivery.
    const transitions = await ownerSql()`
      select to_status from order_transitions where tenant_id = ${h.user.tenant.id} order by occurred_at`;
    expect(transitions.map((t) => t.to_status)).toEqual(["created", "synced"]);
  });

  it("a cancellation that arrives before the creation still ends cancelled", async () => {
    const h = await hub();
    const base = restOrder({ createdAt: new Date(Date.now() - 600_000).toISOString() });
    const cancelledAt = new Date(Date.now() - 30_000).toISOString();
    const cancelled = {
      ...base,
      cancelled_at: cancelledAt,
      cancel_reason: "customer",
      updated_at: cancelledAt,
    };
    await h.deliver("orders/cancelled", cancelled);
    await h.deliver("orders/create", base);
    await h.queues.drain();
    const [order] = await ordersOf(h.user.tenant.id);
    expect(order?.status).toBe("cancelled");
    expect(await lingxingFake.orders(h.appId)).toEqual({ orders: [] });
  });
});

describe("webhooks during an ERP outage", () => {
  it("an order that arrives while Lingxing fails is pushed once it recovers", async () => {
    const h = await hub();
    // Lingxing fails the create (its outcome unknown), and the push message runs out of attempts.
    await lingxingFake.failNext(h.appId, "http500");
    const order = restOrder();
    expect((await h.deliver("orders/create", order)).response.status).toBe(200);
    const during = await h.queues.drain({ maxAttempts: 2 });
    expect(during.gaveUp.map((m) => (m.body as { type: string }).type)).toEqual(["orders.push"]);
    const [waiting] = await ordersOf(h.user.tenant.id);
    expect(waiting?.status).toBe("created");
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(0);

    // Time passes (the unanswered post's claim expires), Lingxing is back, and the ERP connection's
    // push-backlog stream comes due: the every-minute cron sweeps the order into a push.
    await ownerSql()`update erp_push_ledger set last_attempt_at = now() - interval '1 hour'
                      where tenant_id = ${h.user.tenant.id}`;
    await ownerSql()`update orders set updated_at = now() - interval '1 hour' where tenant_id = ${h.user.tenant.id}`;
    await ownerSql()`update sync_streams set next_due_at = now() where tenant_id = ${h.user.tenant.id}`;
    await runCron(h.queues.env);
    const after = await h.queues.drain();
    expect(after.gaveUp).toEqual([]);
    const [stored] = await ordersOf(h.user.tenant.id);
    expect(stored?.status).toBe("synced");
    // Exactly one order in the ERP: the retry looked the first post up before posting again.
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(1);
  });
});

describe("nothing accepted is lost", () => {
  it("an order whose webhook Shopify never delivered is picked up by the cron pull", async () => {
    const h = await hub();
    // The shop knows its secret and our subscriptions, but deliveries are lost (paused) from here on.
    await shopifyFake.control("shops", {
      body: {
        shop: h.shop,
        accessToken: String(h.channel.sentCredentials.accessToken),
        clientSecret: SECRET,
      },
    });
    await h.queues.send("channel-pull", {
      type: "webhooks.sync",
      tenantId: h.user.tenant.id,
      connectionId: h.channel.id,
    });
    await h.queues.drain(); // registers the connection's subscriptions at the shop
    await shopifyFake.control("webhooks/deliveries/pause", { body: { shop: h.shop } });
    const [delivered, lost] = (await shopifyFake.seedOrders(h.shop, 2)).orders;

    // The fake kept the signed requests it would have sent: one reaches Tradewind, the other never does.
    const { deliveries } = await shopifyFake.control<{
      deliveries: {
        topic: string;
        status: string;
        request: { headers: Record<string, string>; body: string };
      }[];
    }>(`webhooks/deliveries?shop=${encodeURIComponent(h.shop)}`);
    const creates = deliveries.filter((d) => d.topic === "orders/create");
    expect(creates).toHaveLength(2);
    const first = creates.find((d) => JSON.parse(d.request.body).admin_graphql_api_id === delivered?.id);
    expect(first).toBeDefined();
    const sent = await postWebhook(
      `/webhooks/shopify/${h.channel.id}`,
      first?.request.body ?? "",
      first?.request.headers ?? {},
      h.queues.env,
    );
    expect(sent.response.status).toBe(200);
    await h.queues.drain();
    expect((await ordersOf(h.user.tenant.id)).map((o) => o.external_id)).toEqual([delivered?.id]);

    // The every-minute cron finds the orders stream due and pulls: the lost order arrives too.
    await runCron(h.queues.env);
    await h.queues.drain();
    const orders = await ordersOf(h.user.tenant.id);
    expect(orders.map((o) => o.external_id).sort()).toEqual([delivered?.id, lost?.id].sort());
    expect(orders.every((o) => o.status === "synced")).toBe(true);
    // Each order once in the ERP: the pull re-read the delivered one without pushing it again.
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(2);
  });

  it("an event stored while the queue refused it is enqueued by the cron sweep", async () => {
    const h = await hub();
    const refusing = {
      WEBHOOKS_QUEUE: {
        send: async () => {
          throw new Error("queue unavailable");
        },
        sendBatch: async () => {
          throw new Error("queue unavailable");
        },
      } as unknown as Queue,
    };
    const { response, body } = await h.deliver("orders/create", restOrder(), refusing);
    // Stored is acknowledged: the event is safe in Postgres even though the queue refused it.
    expect(response.status).toBe(200);
    expect(body.data?.status).toBe("accepted");
    await h.queues.drain();
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(0);

    // Not stranded yet (handed over just now); once it is older than the threshold, the sweep takes it.
    await runCron(h.queues.env);
    // (The sweep runs across tenants: other tests' stranded events may be enqueued too; only ours count.)
    const ours = () =>
      h.queues.log.filter(
        (m) => m.queue === "webhooks" && (m.body as { tenantId?: string }).tenantId === h.user.tenant.id,
      );
    expect(ours()).toHaveLength(0);
    await ownerSql()`
      update webhook_events set enqueued_at = now() - interval '10 minutes' where tenant_id = ${h.user.tenant.id}`;
    await runCron(h.queues.env);
    expect(ours()).toHaveLength(1);
    await h.queues.drain();
    const [order] = await ordersOf(h.user.tenant.id);
    expect(order?.status).toBe("synced");
    const [event] = (await ownerSql()`
      select status from webhook_events where tenant_id = ${h.user.tenant.id}`) as unknown as {
      status: string;
    }[];
    expect(event?.status).toBe("processed");
  });
});

describe("webhook retries that run out", () => {
  it("settle the event as a dead letter, unless a person replayed it meanwhile", async () => {
    const h = await hub();
    const { body } = await h.deliver("orders/create", restOrder());
    const eventId = body.data?.eventIds[0] ?? "";
    const exhausted = async (replayCount: number) => {
      const batch = createMessageBatch("webhooks-dlq", [
        {
          id: `dlq-${crypto.randomUUID()}`,
          timestamp: new Date(),
          attempts: 11,
          body: { type: "webhook.process", tenantId: h.user.tenant.id, eventId, replayCount },
        },
      ]);
      const ctx = createExecutionContext();
      await worker.queue(batch, h.queues.env, ctx);
      expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);
    };
    const statusOf = async () =>
      (
        (await ownerSql()`select status from webhook_events where id = ${eventId}`) as unknown as {
          status: string;
        }[]
      )[0]?.status;

    // The original message (replayCount 0) gives up after the event was replayed: the replay's message owns it.
    const replay = await call(
      `/api/v1/webhooks/events/${eventId}/replay`,
      bearer(h.user.token, { method: "POST" }),
      h.queues.env,
    );
    expect(replay.status).toBe(200);
    await exhausted(0);
    expect(await statusOf()).toBe("received");
    // The replay's own message gives up: now it is a dead letter.
    await exhausted(1);
    expect(await statusOf()).toBe("failed");
  });
});

describe("webhook log retention", () => {
  it("the five-minute cron deletes old settled events and dead letters, never unprocessed ones", async () => {
    const h = await hub();
    for (let i = 0; i < 4; i++) await h.deliver("orders/create", restOrder());
    await h.queues.drain();
    const ids = (
      await ownerSql()`
      select id from webhook_events where tenant_id = ${h.user.tenant.id} order by received_at`
    ).map((r) => r.id);
    // 40 days old: processed (gone), failed (kept: dead letters live 90 days), received (kept); one recent.
    await ownerSql()`update webhook_events set received_at = now() - interval '40 days'
                      where id = any(${ids.slice(0, 3)}::uuid[])`;
    await ownerSql()`update webhook_events set status = 'failed' where id = ${ids[1]}`;
    await ownerSql()`update webhook_events set status = 'received' where id = ${ids[2]}`;
    await runCron(h.queues.env, "*/5 * * * *");
    const left = (
      await ownerSql()`
      select id from webhook_events where tenant_id = ${h.user.tenant.id} order by received_at`
    ).map((r) => r.id);
    expect(left.sort()).toEqual([ids[1], ids[2], ids[3]].sort());
  });
});

describe("Shopify webhook subscriptions", () => {
  type Subscription = { topic: string; uri: string };
  const subscriptionsOf = async (shop: string) =>
    (
      await shopifyFake.control<{ subscriptions: Subscription[] }>(
        `webhooks?shop=${encodeURIComponent(shop)}`,
      )
    ).subscriptions;

  it("are registered when the connection is created, once on re-save, and removed on disable and delete", async () => {
    const h = await hub();
    // The hub's connection was created outside the simulated queues: create it again the way a user does,
    // with the producer recorded, and see that creating it asked for the subscriptions.
    await call(
      `/api/v1/connections/${h.channel.id}`,
      bearer(h.user.token, { method: "DELETE" }),
      h.queues.env,
    );
    const created = await envelope<Connection>(
      await call(
        "/api/v1/connections",
        bearer(h.user.token, {
          method: "POST",
          body: {
            provider: "shopify",
            account: h.shop,
            displayName: "Webhook shop",
            credentials: h.channel.sentCredentials,
            erpConnectionId: h.erp.id,
          },
        }),
        h.queues.env,
      ),
    );
    const channelId = created.data?.id ?? "";
    expect(h.queues.log.map((m) => m.body)).toContainEqual({
      type: "webhooks.sync",
      tenantId: h.user.tenant.id,
      connectionId: channelId,
    });
    await h.queues.drain();
    const uri = `https://tradewind.test/webhooks/shopify/${channelId}`;
    // The Admin API names topics by enum (ORDERS_CREATE for orders/create).
    const topics = [
      "APP_UNINSTALLED",
      "INVENTORY_LEVELS_UPDATE",
      "ORDERS_CANCELLED",
      "ORDERS_CREATE",
      "ORDERS_FULFILLED",
      "ORDERS_UPDATED",
      "REFUNDS_CREATE",
    ];
    const registered = await subscriptionsOf(h.shop);
    expect(registered.map((s) => s.topic).sort()).toEqual(topics);
    expect(registered.every((s) => s.uri === uri)).toBe(true);
    const view = async () =>
      (
        await envelope<Connection & { webhooks: { state: { status: string } } }>(
          await call(`/api/v1/connections/${channelId}`, bearer(h.user.token)),
        )
      ).data;
    expect((await view())?.webhooks.state.status).toBe("registered");

    // Saving the credentials again syncs again: nothing is duplicated.
    const patch = (body: Record<string, unknown>) =>
      call(`/api/v1/connections/${channelId}`, bearer(h.user.token, { method: "PATCH", body }), h.queues.env);
    expect((await patch({ credentials: { ...h.channel.sentCredentials } })).status).toBe(200);
    await h.queues.drain();
    expect((await subscriptionsOf(h.shop)).length).toBe(topics.length);

    // Disabled: the channel stops delivering.
    expect((await patch({ enabled: false })).status).toBe(200);
    await h.queues.drain();
    expect(await subscriptionsOf(h.shop)).toEqual([]);
    expect((await view())?.webhooks.state.status).toBe("not_registered");

    // Enabled again, then deleted: the subscriptions go with the connection.
    expect((await patch({ enabled: true })).status).toBe(200);
    await h.queues.drain();
    expect((await subscriptionsOf(h.shop)).length).toBe(topics.length);
    const deleted = await call(
      `/api/v1/connections/${channelId}`,
      bearer(h.user.token, { method: "DELETE" }),
      h.queues.env,
    );
    expect(deleted.status).toBe(200);
    expect(await subscriptionsOf(h.shop)).toEqual([]);
  });

  it("app/uninstalled disables the connection and opens a failure a person must act on", async () => {
    const h = await hub();
    const { response } = await sendShopifyWebhook(
      {
        connectionId: h.channel.id,
        shop: h.shop,
        topic: "app/uninstalled",
        body: JSON.stringify({ id: 548380009, name: "Test shop", domain: h.shop, myshopify_domain: h.shop }),
        secret: SECRET,
      },
      h.queues.env,
    );
    expect(response.status).toBe(200);
    await h.queues.drain();
    const [connection] = (await ownerSql()`
      select enabled, webhook_state from connections where id = ${h.channel.id}`) as unknown as {
      enabled: boolean;
      webhook_state: { status: string };
    }[];
    expect(connection?.enabled).toBe(false);
    expect(connection?.webhook_state.status).toBe("uninstalled");
    const failures = await ownerSql()`
      select status, error_kind from sync_failures where tenant_id = ${h.user.tenant.id} and connection_id = ${h.channel.id}`;
    expect(failures).toEqual([{ status: "open", error_kind: "auth" }]);
  });
});
