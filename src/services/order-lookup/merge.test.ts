import { describe, expect, it } from "vitest";
import type { Order } from "../../domain/commerce";
import { isPartial, mergeLookups, type StoredMatch } from "./merge";

const SHOP_A = "11111111-1111-4111-8111-111111111111";
const TIKTOK = "33333333-3333-4333-8333-333333333333";

function order(externalId: string, overrides: Partial<Order> = {}): Order {
  return {
    channel: "shopify",
    storeId: "acme.myshopify.com",
    externalId,
    externalNumber: `#${externalId.slice(-4)}`,
    currency: "USD",
    customer: { externalId: null, email: "ava@example.com", phone: null, name: "Ava" },
    shippingAddress: null,
    billingAddress: null,
    lines: [],
    shippingLines: [],
    taxLines: [],
    discountCodes: [],
    subtotalMinor: 1000,
    shippingMinor: 0,
    taxMinor: 0,
    discountMinor: 0,
    totalMinor: 1000,
    financialStatus: "PAID",
    fulfillmentStatus: "UNFULFILLED",
    cancelledAt: null,
    placedAt: "2026-03-01T10:00:00Z",
    updatedAt: "2026-03-01T10:00:00Z",
    note: null,
    tags: [],
    ...overrides,
  };
}

function stored(o: Order, extra: Partial<StoredMatch> = {}): StoredMatch {
  return {
    orderId: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
    connectionId: SHOP_A,
    storeName: "Acme US",
    status: "shipped",
    order: o,
    shipments: [],
    ...extra,
  };
}

describe("merging store answers with stored orders", () => {
  it("shows the fresher copy and keeps Tradewind's id, state and shipments either way", () => {
    const older = order("gid://shopify/Order/1001", { updatedAt: "2026-03-01T10:00:00Z", note: "old" });
    const newer = order("gid://shopify/Order/1001", { updatedAt: "2026-03-02T10:00:00Z", note: "new" });
    const shipments = [
      {
        carrier: "UPS",
        carrierCode: "UPS",
        trackingNumbers: ["1Z1"],
        trackingUrl: null,
        shippedAt: "2026-03-02T09:00:00.000Z",
      },
      {
        carrier: "USPS",
        carrierCode: null,
        trackingNumbers: ["9400", "1Z1"],
        trackingUrl: null,
        shippedAt: "2026-03-03T09:00:00.000Z",
      },
    ];
    const [fromChannel] = mergeLookups(
      [{ connectionId: SHOP_A, storeName: "Acme US", order: newer }],
      [stored(older, { shipments })],
      10,
    );
    expect(fromChannel).toMatchObject({
      orderId: "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa",
      status: "shipped",
      source: "channel",
      order: { note: "new" },
      latestShipment: { carrier: "USPS" },
      trackingNumbers: ["9400", "1Z1"],
    });
    // The stored copy is newer (a webhook arrived after the store's search index was read): it stays.
    const [fromStore] = mergeLookups(
      [{ connectionId: SHOP_A, storeName: "Acme US", order: older }],
      [stored(newer)],
      10,
    );
    expect(fromStore).toMatchObject({ source: "stored", order: { note: "new" } });
    // A tie goes to the store's answer: it was just read.
    const [tie] = mergeLookups(
      [{ connectionId: SHOP_A, storeName: "Acme US", order: older }],
      [stored(older)],
      10,
    );
    expect(tie?.source).toBe("channel");
  });

  it("the same external id in two stores is two orders; stored orders a store did not return stay; newest placed first; capped", () => {
    const merged = mergeLookups(
      [
        {
          connectionId: SHOP_A,
          storeName: "Acme US",
          order: order("X-1", { placedAt: "2026-03-01T00:00:00Z" }),
        },
        {
          connectionId: TIKTOK,
          storeName: "Acme TikTok",
          order: order("X-1", { channel: "tiktok", placedAt: "2026-03-03T00:00:00Z" }),
        },
      ],
      [stored(order("X-2", { placedAt: "2026-03-02T00:00:00Z" }))],
      10,
    );
    expect(merged.map((m) => [m.connectionId, m.order.externalId, m.source, m.orderId])).toEqual([
      [TIKTOK, "X-1", "channel", null],
      [SHOP_A, "X-2", "stored", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"],
      [SHOP_A, "X-1", "channel", null],
    ]);
    expect(merged[0]).toMatchObject({ status: null, latestShipment: null, trackingNumbers: [] });
    expect(mergeLookups([], [stored(order("A")), stored(order("B"))], 1)).toHaveLength(1);
  });

  it("partial means a store failed or timed out, not that one was skipped", () => {
    const base = { connectionId: SHOP_A, storeName: "s", provider: "shopify", found: 0, truncated: false };
    expect(
      isPartial([
        { ...base, status: "ok" },
        { ...base, status: "skipped" },
      ]),
    ).toBe(false);
    expect(
      isPartial([
        { ...base, status: "ok" },
        { ...base, status: "timeout" },
      ]),
    ).toBe(true);
    expect(isPartial([{ ...base, status: "failed" }])).toBe(true);
  });
});
