// Webhook senders for workers tests: bodies shaped like the providers' documented payloads, signed the way
// each provider signs (WebCrypto here; the signature schemes themselves are pinned by openssl vectors in
// test/unit/webhook-signatures.test.ts), delivered through the Worker's real fetch handler.
import { call, envelope } from "./harness";

const encoder = new TextEncoder();

async function hmac(key: Uint8Array | string, message: Uint8Array): Promise<Uint8Array> {
  const raw = typeof key === "string" ? encoder.encode(key) : key;
  const imported = await crypto.subtle.importKey(
    "raw",
    new Uint8Array(raw),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  return new Uint8Array(await crypto.subtle.sign("HMAC", imported, new Uint8Array(message)));
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const concat = (a: Uint8Array, b: Uint8Array) => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};

export const signShopify = async (secret: string, body: string) =>
  base64(await hmac(secret, encoder.encode(body)));

export const signTikTok = async (appKey: string, appSecret: string, body: string) =>
  hex(await hmac(appSecret, concat(encoder.encode(appKey), encoder.encode(body))));

export const sign17Track = async (key: string, body: string) =>
  hex(new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(`${body}/${key}`))));

export async function signStandard(
  secret: string,
  id: string,
  timestamp: string,
  body: string,
): Promise<string> {
  const key = secret.startsWith("whsec_")
    ? Uint8Array.from(atob(secret.slice(6)), (c) => c.charCodeAt(0))
    : encoder.encode(secret);
  return `v1,${base64(await hmac(key, encoder.encode(`${id}.${timestamp}.${body}`)))}`;
}

export interface WebhookReceipt {
  status: "accepted" | "duplicate" | "unrouted";
  eventIds: string[];
}

export async function postWebhook(
  path: string,
  body: string | Uint8Array,
  headers: Record<string, string>,
  envOverrides: Partial<Env> = {},
) {
  const response = await call(
    path,
    { method: "POST", headers: { "content-type": "application/json", ...headers }, body },
    envOverrides,
  );
  return { response, body: await envelope<WebhookReceipt>(response) };
}

export interface ShopifyDelivery {
  connectionId: string;
  shop: string;
  topic: string;
  body: string;
  secret: string;
  webhookId?: string;
  triggeredAt?: string;
  /** Sign a different body than the one sent (forgery / tampering tests). */
  signedBody?: string;
  hmacHeader?: string;
}

/** A Shopify delivery with the headers Shopify sends. */
export async function sendShopifyWebhook(d: ShopifyDelivery, envOverrides: Partial<Env> = {}) {
  const signature = d.hmacHeader ?? (await signShopify(d.secret, d.signedBody ?? d.body));
  return postWebhook(
    `/webhooks/shopify/${d.connectionId}`,
    d.body,
    {
      "x-shopify-topic": d.topic,
      "x-shopify-hmac-sha256": signature,
      "x-shopify-shop-domain": d.shop,
      "x-shopify-webhook-id": d.webhookId ?? crypto.randomUUID(),
      "x-shopify-event-id": crypto.randomUUID(),
      "x-shopify-triggered-at": d.triggeredAt ?? new Date().toISOString(),
      "x-shopify-api-version": "2026-10",
    },
    envOverrides,
  );
}

let orderSerial = 5_100_000_000_000;

export interface RestOrderOptions {
  id?: number;
  name?: string;
  createdAt?: string;
  updatedAt?: string;
  currency?: string;
  lines?: { sku: string; title?: string; quantity: number; price: string; discount?: string }[];
  note?: string | null;
  cancelledAt?: string | null;
  email?: string;
}

/**
 * An order as Shopify's REST webhooks send it (orders/create, orders/updated, …): snake_case, numeric ids
 * beside `admin_graphql_api_id`, money as decimal strings in shop and presentment currency.
 */
export function restOrder(o: RestOrderOptions = {}): Record<string, unknown> {
  orderSerial += 1;
  const id = o.id ?? orderSerial;
  const currency = o.currency ?? "USD";
  const lines = o.lines ?? [{ sku: "TW-TEE-BLK-M", title: "Tradewind tee", quantity: 2, price: "19.90" }];
  const createdAt = o.createdAt ?? new Date(Date.now() - 60_000).toISOString();
  const money = (amount: string) => ({
    shop_money: { amount, currency_code: currency },
    presentment_money: { amount, currency_code: currency },
  });
  const subtotalCents = lines.reduce(
    (n, l) =>
      n + Math.round(Number(l.price) * 100) * l.quantity - Math.round(Number(l.discount ?? "0") * 100),
    0,
  );
  const shippingCents = 500;
  const total = ((subtotalCents + shippingCents) / 100).toFixed(2);
  const subtotal = (subtotalCents / 100).toFixed(2);
  return {
    id,
    admin_graphql_api_id: `gid://shopify/Order/${id}`,
    name: o.name ?? `#${1000 + (id % 100000)}`,
    order_number: 1000 + (id % 100000),
    email: o.email ?? "jane.buyer@example.com",
    contact_email: o.email ?? "jane.buyer@example.com",
    phone: null,
    created_at: createdAt,
    updated_at: o.updatedAt ?? createdAt,
    processed_at: createdAt,
    cancelled_at: o.cancelledAt ?? null,
    cancel_reason: o.cancelledAt ? "customer" : null,
    closed_at: null,
    currency,
    presentment_currency: currency,
    financial_status: "paid",
    fulfillment_status: null,
    confirmed: true,
    test: false,
    note: o.note ?? null,
    tags: "wholesale, vip",
    source_name: "web",
    taxes_included: false,
    total_price: total,
    subtotal_price: subtotal,
    total_tax: "0.00",
    total_discounts: "0.00",
    total_line_items_price: subtotal,
    current_total_price: total,
    current_subtotal_price: subtotal,
    current_total_tax: "0.00",
    current_total_discounts: "0.00",
    total_price_set: money(total),
    subtotal_price_set: money(subtotal),
    total_tax_set: money("0.00"),
    total_discounts_set: money("0.00"),
    total_shipping_price_set: money((shippingCents / 100).toFixed(2)),
    current_total_price_set: money(total),
    current_subtotal_price_set: money(subtotal),
    current_total_tax_set: money("0.00"),
    current_total_discounts_set: money("0.00"),
    current_shipping_price_set: money((shippingCents / 100).toFixed(2)),
    discount_codes: [],
    discount_applications: [],
    tax_lines: [],
    customer: {
      id: 7_200_000_000 + (id % 1000),
      admin_graphql_api_id: `gid://shopify/Customer/${7_200_000_000 + (id % 1000)}`,
      email: o.email ?? "jane.buyer@example.com",
      first_name: "Jane",
      last_name: "Buyer",
      phone: null,
    },
    shipping_address: {
      first_name: "Jane",
      last_name: "Buyer",
      name: "Jane Buyer",
      company: null,
      address1: "1 Harbour Street",
      address2: null,
      city: "Sydney",
      province: "New South Wales",
      province_code: "NSW",
      zip: "2000",
      country: "Australia",
      country_code: "AU",
      phone: "+61 2 5550 1234",
    },
    billing_address: null,
    line_items: lines.map((l, i) => ({
      id: id * 10 + i,
      admin_graphql_api_id: `gid://shopify/LineItem/${id * 10 + i}`,
      sku: l.sku,
      title: l.title ?? "Tradewind tee",
      name: l.title ?? "Tradewind tee",
      variant_title: null,
      product_id: 9_100_000 + i,
      variant_id: 9_200_000 + i,
      quantity: l.quantity,
      current_quantity: l.quantity,
      fulfillable_quantity: l.quantity,
      price: l.price,
      price_set: money(l.price),
      total_discount: l.discount ?? "0.00",
      total_discount_set: money(l.discount ?? "0.00"),
      discount_allocations: l.discount
        ? [{ amount: l.discount, amount_set: money(l.discount), discount_application_index: 0 }]
        : [],
      tax_lines: [],
      taxable: true,
      requires_shipping: true,
      fulfillment_status: null,
      gift_card: false,
    })),
    shipping_lines: [
      {
        id: id * 7,
        title: "Standard",
        code: "STANDARD",
        price: (shippingCents / 100).toFixed(2),
        price_set: money((shippingCents / 100).toFixed(2)),
        discounted_price: (shippingCents / 100).toFixed(2),
        tax_lines: [],
      },
    ],
    fulfillments: [],
    refunds: [],
  };
}
