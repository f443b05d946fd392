// The integration hub end to end, against the real Postgres and Redis and the Shopify and Lingxing fakes:
// pull → map → store → push → shipment → fulfilment → invoiced, and the ways it must not break.
import { createExecutionContext, createScheduledController } from "cloudflare:test";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { tenantBatch } from "../../src/db/tenant";
import worker from "../../src/index";
import { bearer } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import { setUpHub as hub, lingxingFake, ordersOf, shopifyFake } from "../support/sync";

describe("integration hub: the full cycle", () => {
  it("pulls Shopify orders, pushes them to Lingxing, writes shipments back and ends invoiced", {
    timeout: 20_000,
  }, async () => {
    const h = await hub({ seed: 7, pageSize: 3 });
    await h.pullOrders();
    await h.queues.drain();

    const stored = await ordersOf(h.user.tenant.id);
    expect(stored.map((o) => o.external_id).sort()).toEqual(h.seeded.map((o) => o.id).sort());
    expect(stored.every((o) => o.status === "synced")).toBe(true);
    const inErp = (await lingxingFake.orders(h.appId)).orders;
    expect(inErp).toHaveLength(7);
    expect(new Set(inErp.map((o) => o.platformOrderNo)).size).toBe(7);

    // Lingxing ships two orders; the write-back poll finds them and fulfils them in Shopify.
    const ledger = (await ownerSql()`
      select order_id, reference from erp_push_ledger where tenant_id = ${h.user.tenant.id} order by reference`) as unknown as {
      order_id: string;
      reference: string;
    }[];
    const [first, second] = ledger;
    if (!first || !second) throw new Error("ledger rows missing");
    await lingxingFake.ship(h.appId, first.reference, "UPS", "1Z999AA10123456784");
    await lingxingFake.ship(h.appId, second.reference, "USPS", "9400111899223100000000");
    await h.pollShipments();
    await h.queues.drain();

    const fulfillments = (await shopifyFake.fulfillments(h.shop)).fulfillments;
    expect(fulfillments.map((f) => f.trackingInfo[0]?.number).sort()).toEqual(
      ["1Z999AA10123456784", "9400111899223100000000"].sort(),
    );
    const after = await ordersOf(h.user.tenant.id);
    expect(
      after
        .filter((o) => o.status === "shipped")
        .map((o) => o.id)
        .sort(),
    ).toEqual([first.order_id, second.order_id].sort());

    // A second poll changes nothing: no second fulfilment.
    await h.pollShipments();
    await h.queues.drain();
    expect((await shopifyFake.fulfillments(h.shop)).fulfillments).toHaveLength(2);

    // The order's history, through the API.
    const detail = await envelope<{
      status: string;
      transitions: { from: string | null; to: string }[];
      erpLedger: { status: string; reference: string } | null;
      shipments: { trackingNumbers: string[] }[];
    }>(await call(`/api/v1/orders/${first.order_id}`, bearer(h.user.token)));
    expect(detail.data?.status).toBe("shipped");
    expect(detail.data?.transitions.map((t) => t.to)).toEqual(["created", "synced", "shipped"]);
    expect(detail.data?.erpLedger?.status).toBe("created");
    expect(detail.data?.shipments[0]?.trackingNumbers).toEqual(["1Z999AA10123456784"]);

    // The accounting system records the invoice: shipped → invoiced.
    const invoice = (number: string) => ({
      number,
      currency: "USD",
      totalMinor: 4599,
      issuedAt: new Date().toISOString(),
    });
    const invoiced = await call(
      `/api/v1/orders/${first.order_id}/invoices`,
      bearer(h.user.token, { method: "POST", body: invoice("INV-1") }),
    );
    expect(invoiced.status).toBe(200);
    const done = await envelope<{ status: string; transitions: { to: string }[]; invoices: unknown[] }>(
      invoiced,
    );
    expect(done.data?.status).toBe("invoiced");
    expect(done.data?.transitions.map((t) => t.to)).toEqual(["created", "synced", "shipped", "invoiced"]);
    // The same invoice again changes nothing.
    const again = await envelope<{ invoices: unknown[] }>(
      await call(
        `/api/v1/orders/${first.order_id}/invoices`,
        bearer(h.user.token, { method: "POST", body: invoice("INV-1") }),
      ),
    );
    expect(again.data?.invoices).toHaveLength(1);

    // An invoice that arrives before the shipment waits for it: synced stays synced, then goes all the way.
    const third = ledger[2];
    if (!third) throw new Error("third ledger row missing");
    const early = await envelope<{ status: string }>(
      await call(
        `/api/v1/orders/${third.order_id}/invoices`,
        bearer(h.user.token, { method: "POST", body: invoice("INV-3") }),
      ),
    );
    expect(early.data?.status).toBe("synced");
    await lingxingFake.ship(h.appId, third.reference, "DHL", "JD014600006281230704");
    await h.pollShipments();
    await h.queues.drain();
    const final = await envelope<{ status: string; transitions: { to: string }[] }>(
      await call(`/api/v1/orders/${third.order_id}`, bearer(h.user.token)),
    );
    expect(final.data?.transitions.map((t) => t.to)).toEqual(["created", "synced", "shipped", "invoiced"]);
  });
});

describe("the scheduler", () => {
  it("a cron tick enqueues each due stream once; a second tick in the same interval enqueues nothing", async () => {
    const h = await hub({ seed: 2 });
    const tick = async () => {
      const controller = createScheduledController({ cron: "* * * * *", scheduledTime: Date.now() });
      await worker.scheduled(controller, h.queues.env, createExecutionContext());
    };
    await tick();
    const ours = () =>
      h.queues.log.filter((m) => (m.body as { tenantId?: string }).tenantId === h.user.tenant.id);
    expect(
      ours()
        .map((m) => (m.body as { resource: string }).resource)
        .sort(),
    ).toEqual(["orders", "push_backlog", "shipments"]);
    await tick();
    expect(ours()).toHaveLength(3);
    // No tenant's transaction may claim (and so silently skip) every tenant's streams.
    await expect(
      tenantBatch(testContext().db.http, h.user.tenant.id, (db) => [
        db.execute(sql`select * from claim_due_sync_streams(10)`),
      ]),
    ).rejects.toThrow(/runs for no tenant/);
    await h.queues.drain();
    // Every order was pulled; each one with something to ship reached the ERP (the fake's catalogue also
    // sells gift cards, which have no SKU: such an order is refused by us, with a sync failure).
    const stored = await ordersOf(h.user.tenant.id);
    expect(stored).toHaveLength(2);
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(
      stored.filter((o) => o.status === "synced").length,
    );
  });
});

describe("orders from the channel", () => {
  it("a backfill through Shopify's bulk export stores every order, and pushes them", async () => {
    const h = await hub({ seed: 9 });
    const response = await call(
      `/api/v1/connections/${h.channel.id}/sync`,
      bearer(h.user.token, {
        method: "POST",
        body: { since: new Date(Date.now() - 90 * 24 * 3600 * 1000).toISOString(), mode: "bulk" },
      }),
      h.queues.env,
    );
    expect(response.status).toBe(202);
    const job = (await envelope<{ jobs: { id: string; type: string }[] }>(response)).data?.jobs[0];
    expect(job?.type).toBe("backfill");
    await h.queues.drain({ maxRounds: 100 });

    expect((await ordersOf(h.user.tenant.id)).map((o) => o.external_id).sort()).toEqual(
      h.seeded.map((o) => o.id).sort(),
    );
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(9);
    const jobs =
      (await ownerSql()`select status, items_processed from sync_jobs where id = ${job?.id ?? ""}`) as unknown as {
        status: string;
        items_processed: number;
      }[];
    expect(jobs[0]).toEqual({ status: "succeeded", items_processed: 9 });
  });

  it("a newer update of an order wins, an older or repeated one changes nothing", async () => {
    const h = await hub({ seed: 1 });
    await h.pullOrders();
    await h.queues.drain();
    const [order] = h.seeded;
    if (!order) throw new Error("no order");
    const version = async () =>
      (
        (await ownerSql()`select version, data->>'note' as note from orders
                         where tenant_id = ${h.user.tenant.id} and external_id = ${order.id}`) as unknown as {
          version: number;
          note: string | null;
        }[]
      )[0];
    expect((await version())?.version).toBe(1);

    await shopifyFake.updateOrder(h.shop, order.id, { note: "leave at the door" });
    await h.pullOrders();
    await h.queues.drain();
    expect(await version()).toEqual({ version: 2, note: "leave at the door" });

    // Pulling again re-reads the overlap window: the same update arrives again and changes nothing.
    await h.pullOrders();
    await h.queues.drain();
    expect((await version())?.version).toBe(2);
    const transitions = (await ownerSql()`select count(*)::int as n from order_transitions
                           where tenant_id = ${h.user.tenant.id}`) as unknown as { n: number }[];
    expect(transitions[0]?.n).toBe(2);
  });
});
