import { describe, expect, it } from "vitest";
import type { Order } from "../../domain/commerce";
import {
  givenCriteria,
  matchesOrderSearch,
  normaliseCriteria,
  normaliseOrderNumber,
  phoneDigits,
  phonesMatch,
} from "./order-search";

function order(overrides: Partial<Order> = {}): Order {
  return {
    channel: "shopify",
    storeId: "acme.myshopify.com",
    externalId: "gid://shopify/Order/5820005000001",
    externalNumber: "#1001",
    currency: "USD",
    customer: { externalId: null, email: "Ava.Thompson@example.com", phone: null, name: "Ava Thompson" },
    shippingAddress: {
      name: "Ava Thompson",
      company: null,
      line1: "1600 Amphitheatre Pkwy",
      line2: null,
      city: "Mountain View",
      province: "California",
      provinceCode: "CA",
      postalCode: "94043",
      countryCode: "US",
      phone: "+1 650-555-0101",
    },
    billingAddress: null,
    lines: [],
    shippingLines: [],
    taxLines: [],
    discountCodes: [],
    subtotalMinor: 0,
    shippingMinor: 0,
    taxMinor: 0,
    discountMinor: 0,
    totalMinor: 0,
    financialStatus: "PAID",
    fulfillmentStatus: "UNFULFILLED",
    cancelledAt: null,
    placedAt: "2026-03-01T10:00:00Z",
    updatedAt: "2026-03-01T10:05:00Z",
    note: null,
    tags: [],
    ...overrides,
  };
}

describe("order search criteria", () => {
  it("normalises what customers type", () => {
    expect(normaliseOrderNumber("  #W1001 ")).toBe("w1001");
    expect(normaliseCriteria({ orderNumber: " #1001", email: " Ava@Example.COM ", phone: " " })).toEqual({
      orderNumber: "1001",
      email: "ava@example.com",
    });
    expect(normaliseCriteria({ orderNumber: "#", email: "" })).toEqual({});
    expect(givenCriteria({ email: "a@b.example", phone: "+1 650" })).toEqual(["email", "phone"]);
    expect(phoneDigits("+44 (0)7700 900123")).toBe("4407700900123");
    expect(phoneDigits("07700 900123")).toBe("7700900123");
  });

  it("phone numbers match by digits, with or without the country code, never when too short", () => {
    expect(phonesMatch("+1 (650) 555-0101", "16505550101")).toBe(true);
    expect(phonesMatch("650-555-0101", "+16505550101")).toBe(true);
    expect(phonesMatch("07700 900123", "+44 7700 900123")).toBe(true);
    expect(phonesMatch("555-0101", "+16505550101")).toBe(false);
    expect(phonesMatch("+16505550101", "+16505550102")).toBe(false);
    expect(phonesMatch(null, "+16505550101")).toBe(false);
    // TikTok masks numbers: a masked one never matches.
    expect(phonesMatch("(+1)213*****68", "+12135550168")).toBe(false);
  });

  it("an order matches when every given criterion does", () => {
    const ava = order();
    expect(matchesOrderSearch(ava, { orderNumber: "1001" })).toBe(true);
    expect(matchesOrderSearch(ava, { orderNumber: "#1001" })).toBe(true);
    expect(matchesOrderSearch(ava, { orderNumber: "10011" })).toBe(false);
    expect(matchesOrderSearch(ava, { email: "ava.thompson@EXAMPLE.com" })).toBe(true);
    expect(matchesOrderSearch(ava, { phone: "6505550101" })).toBe(true);
    expect(matchesOrderSearch(ava, { orderNumber: "1001", email: "noah@example.com" })).toBe(false);
    expect(matchesOrderSearch(ava, {})).toBe(false);
    // TikTok orders are known by their id.
    const tiktok = order({
      channel: "tiktok",
      externalId: "576461413038785752",
      externalNumber: "576461413038785752",
    });
    expect(matchesOrderSearch(tiktok, { orderNumber: "576461413038785752" })).toBe(true);
    // An order without an email never matches an email.
    expect(
      matchesOrderSearch(order({ customer: { externalId: null, email: null, phone: null, name: null } }), {
        email: "ava.thompson@example.com",
      }),
    ).toBe(false);
  });
});
