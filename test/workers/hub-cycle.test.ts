// The integration hub end to end, against the real Postgres and Redis and the Shopify and Lingxing fakes:
// pull → map → store → push → shipment → fulfilment → invoiced, and the ways it must not break.
import { describe, expect, it } from "vitest";
import { bearer } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import { setUpHub as hub, lingxingFake, ordersOf, shopifyFake } from "../support/sync";

describe("integration hub: the full cycle", () => {
  it("pulls Shopify orders, pushes them to Lingxing, writes shipments back and ends invoiced", async () => {
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
  });
});
