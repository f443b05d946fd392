// Webhook senders for workers tests: bodies shaped like the providers' documented payloads, signed the way
// each provider signs (WebCrypto here; the signature schemes themselves are pinned by openssl vectors in
// test/unit/webhook-signatures.test.ts), delivered through the Worker's real fetch handler.
import { inject } from "vitest";
import { bearer, signedInUser } from "./auth";
import { call, envelope, ownerSql } from "./harness";
import { CONNECTIONS, type Connection, createErpConnection } from "./hub";
import { lingxingFake, simulatedQueues } from "./sync";

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

// ─────────────────────────── TikTok Shop, 17track, Standard Webhooks ───────────────────────────

/** Every stored event of a tenant, oldest first, as the owner sees it. */
export interface StoredWebhookEvent {
  id: string;
  source: string;
  status: string;
  topic: string;
  provider_event_id: string;
  attempts: number;
  replay_count: number;
  verification: { scheme: string; secret: string };
  last_error: { code: string; message: string } | null;
  outcome: Record<string, unknown> | null;
  headers: Record<string, string>;
  body: string;
}

export async function webhookEventsOf(tenantId: string): Promise<StoredWebhookEvent[]> {
  return (await ownerSql()`
    select id, source, status, topic, provider_event_id, attempts, replay_count, verification, last_error,
           outcome, headers, body
      from webhook_events where tenant_id = ${tenantId} order by received_at, id`) as unknown as StoredWebhookEvent[];
}

/** TikTok Shop's webhook body: `{type, tts_notification_id, shop_id, timestamp, data}` (202309 event types). */
export function tiktokNotification(input: {
  type: number;
  shopId: string;
  data: Record<string, unknown>;
  /** Epoch seconds; default now. */
  timestamp?: number;
  notificationId?: string;
}): string {
  const serial = crypto.getRandomValues(new Uint32Array(1))[0] ?? 0;
  return JSON.stringify({
    type: input.type,
    tts_notification_id: input.notificationId ?? String(7327112393057371910n + BigInt(serial)),
    shop_id: input.shopId,
    timestamp: input.timestamp ?? Math.floor(Date.now() / 1000),
    data: input.data,
  });
}

/** A TikTok delivery: `Authorization` = hex HMAC-SHA256(app secret, app key + raw body). */
export async function sendTikTokWebhook(
  d: {
    connectionId: string;
    appKey: string;
    appSecret: string;
    body: string;
    /** Sign a different body than the one sent (forgery / tampering tests). */
    signedBody?: string;
    authorization?: string;
  },
  envOverrides: Partial<Env> = {},
) {
  const authorization = d.authorization ?? (await signTikTok(d.appKey, d.appSecret, d.signedBody ?? d.body));
  return postWebhook(`/webhooks/tiktok/${d.connectionId}`, d.body, { authorization }, envOverrides);
}

/** The TikTok fake's `/__control/` API (it runs in Node; workerd reaches it over HTTP). */
export const tiktokFake = {
  async control<T>(path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${inject("tiktokFakeUrl")}/__control/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`tiktok fake ${path}: ${response.status} ${await response.text()}`);
    return (response.status === 204 ? undefined : await response.json()) as T;
  },
  registerShop(shop: {
    shopId: string;
    appKey: string;
    appSecret: string;
    accessToken: string;
    cipher: string;
  }) {
    return tiktokFake.control<{ shopId: string; cipher: string }>("shops", shop);
  },
  /** Orders built by the fake (`buildTikTokOrder` seeds: id, status, lines, …). */
  seedOrders(shopId: string, seeds: Record<string, unknown>[]) {
    return tiktokFake.control<{ orders: { id: string; status: string; update_time: number }[] }>("orders", {
      shopId,
      seeds,
    });
  },
  updateOrder(shopId: string, id: string, patch: Record<string, unknown>) {
    return tiktokFake.control<{ order: { id: string; status: string; update_time: number } }>(
      "orders/update",
      { shopId, id, patch },
    );
  },
  failNext(shopId: string, failure: number | string, retryAfterSeconds?: number) {
    return tiktokFake.control<void>("fail-next", {
      shopId,
      failure,
      ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
    });
  },
  stats(shopId: string) {
    return tiktokFake.control<{ requests: Record<string, number>; injected: Record<string, number> }>(
      `stats?shopId=${encodeURIComponent(shopId)}`,
    );
  },
};

/** A TikTok Shop id: digits, unique per call (the fake partitions its state by it). */
export function randomTikTokShopId(): string {
  const digits = Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => String(b % 10)).join("");
  return `7${digits.padEnd(18, "0")}`;
}

/** 17track's push: `sign` = hex SHA-256 of the raw body + "/" + the security key. */
export async function send17TrackPush(
  body: string,
  options: { key?: string; sign?: string } = {},
  envOverrides: Partial<Env> = {},
) {
  const sign = options.sign ?? (await sign17Track(options.key ?? "test-17track-key-current", body));
  return postWebhook("/webhooks/17track", body, { sign }, envOverrides);
}

export interface ParcelEventSeed {
  /** ISO time in UTC. */
  at: string;
  description: string;
  location?: string;
  stage?: string;
  subStatus?: string;
}

/**
 * A 17track API v2.2 push as documented: `event`, and `data` with `number`, `carrier`, `param`, `tag` and,
 * for TRACKING_UPDATED, `track_info` (latest_status, latest_event, milestone, tracking.providers[].events,
 * newest first).
 */
export function track17Push(input: {
  event: "TRACKING_UPDATED" | "TRACKING_STOPPED";
  number: string;
  carrier?: number;
  tag?: string | null;
  status?: string;
  subStatus?: string;
  events?: ParcelEventSeed[];
}): string {
  const carrier = input.carrier ?? 3011;
  const base = { number: input.number, carrier, param: null, tag: input.tag ?? null };
  if (input.event === "TRACKING_STOPPED") return JSON.stringify({ event: input.event, data: base });
  const events = [...(input.events ?? [])]
    .sort((a, b) => b.at.localeCompare(a.at))
    .map((e) => {
      const utc = new Date(e.at);
      const local = new Date(utc.getTime() + 8 * 3600_000).toISOString().slice(0, 19);
      return {
        time_iso: `${local}+08:00`,
        time_utc: utc.toISOString().replace(".000Z", "Z"),
        time_raw: { date: local.slice(0, 10), time: local.slice(11), timezone: "+08:00" },
        description: e.description,
        description_translation: null,
        location: e.location ?? null,
        stage: e.stage ?? null,
        sub_status: e.subStatus ?? null,
        address: { country: "CN", state: null, city: e.location ?? null, street: null, postal_code: null },
      };
    });
  return JSON.stringify({
    event: input.event,
    data: {
      ...base,
      track_info: {
        shipping_info: {
          shipper_address: {
            country: "CN",
            state: "Guangdong",
            city: "Shenzhen",
            street: null,
            postal_code: null,
          },
          recipient_address: {
            country: "AU",
            state: "NSW",
            city: "Sydney",
            street: null,
            postal_code: "2000",
          },
        },
        latest_status: {
          status: input.status ?? "InTransit",
          sub_status: input.subStatus ?? "InTransit_Other",
          sub_status_descr: null,
        },
        latest_event: events[0] ?? null,
        time_metrics: {
          days_after_order: 3,
          days_of_transit: 2,
          days_of_transit_done: 2,
          days_after_last_update: 0,
        },
        milestone: [],
        misc_info: { risk_factor: 0, service_type: "Registered Mail", weight_raw: "0.25 kg", pieces: "1" },
        tracking: {
          providers_hash: 1_843_920_177,
          providers: [
            {
              provider: {
                key: carrier,
                name: "China Post",
                alias: "China Post",
                tel: "11183",
                homepage: "http://yjcx.ems.com.cn/",
                country: "CN",
              },
              service_type: "Registered Mail",
              latest_sync_status: "Success",
              latest_sync_time: new Date().toISOString(),
              events_hash: 604_118_293,
              events,
            },
          ],
        },
      },
    },
  });
}

/** `signStandard` over raw bytes (bodies that are not UTF-8 text are signed as sent). */
export async function signStandardBytes(
  secret: string,
  id: string,
  timestamp: string,
  body: Uint8Array,
): Promise<string> {
  const key = secret.startsWith("whsec_")
    ? Uint8Array.from(atob(secret.slice(6)), (c) => c.charCodeAt(0))
    : encoder.encode(secret);
  return `v1,${base64(await hmac(key, concat(encoder.encode(`${id}.${timestamp}.`), body)))}`;
}

/** A Standard Webhooks delivery (standardwebhooks.com): webhook-id, webhook-timestamp, webhook-signature. */
export async function sendStandardWebhook(
  d: {
    endpointId: string;
    /** Every secret listed signs (a sender mid-rotation sends one `v1,` entry per secret). */
    secrets: string[];
    body: string | Uint8Array;
    id?: string;
    /** Epoch seconds; default now. */
    timestamp?: number;
    signature?: string;
    /** Headers to leave out (missing-header tests). */
    omit?: ("webhook-id" | "webhook-timestamp" | "webhook-signature")[];
  },
  envOverrides: Partial<Env> = {},
) {
  const id = d.id ?? `msg_${crypto.randomUUID().replace(/-/g, "")}`;
  const timestamp = String(d.timestamp ?? Math.floor(Date.now() / 1000));
  const bytes = typeof d.body === "string" ? encoder.encode(d.body) : d.body;
  const signature =
    d.signature ??
    (await Promise.all(d.secrets.map((s) => signStandardBytes(s, id, timestamp, bytes)))).join(" ");
  const headers: Record<string, string> = {
    "webhook-id": id,
    "webhook-timestamp": timestamp,
    "webhook-signature": signature,
  };
  for (const name of d.omit ?? []) delete headers[name];
  return postWebhook(`/webhooks/generic/${d.endpointId}`, d.body, headers, envOverrides);
}

/**
 * A tenant with a Lingxing ERP connection and a TikTok Shop connection pushing to it (created through the
 * API, like setUpHub's Shopify shop), the shop registered with the TikTok fake and its orders seeded there.
 */
export async function setUpTikTokHub(
  options: { seeds?: Record<string, unknown>[]; previousAppSecret?: string } = {},
) {
  const user = await signedInUser({ superuser: true });
  const erp = await createErpConnection(user.token, {
    account: `ak_${crypto.randomUUID().replace(/-/g, "").slice(0, 13)}`,
    settings: { batchSize: 10, erpStoreId: "1001" },
  });
  const appId = String(erp.sentCredentials.appId);
  await lingxingFake.registerApp(appId, String(erp.sentCredentials.appSecret));
  const shopId = randomTikTokShopId();
  const hex = (n: number) =>
    Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, "0")).join("");
  const credentials = {
    appKey: `6a${hex(6)}`,
    appSecret: hex(20),
    accessToken: `TTP_${hex(24)}`,
    shopCipher: `ROW_${hex(16)}`,
    ...(options.previousAppSecret ? { previousAppSecret: options.previousAppSecret } : {}),
  };
  const response = await call(
    CONNECTIONS,
    bearer(user.token, {
      method: "POST",
      body: {
        provider: "tiktok",
        account: shopId,
        displayName: "Test TikTok shop",
        credentials,
        erpConnectionId: erp.id,
        settings: { pageSize: 20, backfillFrom: new Date(Date.now() - 3600_000).toISOString() },
      },
    }),
  );
  const created = await envelope<Connection>(response);
  if (response.status !== 201 || !created.data) {
    throw new Error(`create TikTok connection failed: ${response.status} ${JSON.stringify(created.error)}`);
  }
  const channel = created.data;
  await tiktokFake.registerShop({
    shopId,
    appKey: credentials.appKey,
    appSecret: credentials.appSecret,
    accessToken: credentials.accessToken,
    cipher: credentials.shopCipher,
  });
  const seeded = options.seeds ? (await tiktokFake.seedOrders(shopId, options.seeds)).orders : [];
  const queues = simulatedQueues(user.tenant.id);
  const deliver = (
    body: string,
    extra: { appSecret?: string; signedBody?: string; authorization?: string } = {},
    envOverrides: Partial<Env> = {},
  ) =>
    sendTikTokWebhook(
      {
        connectionId: channel.id,
        appKey: credentials.appKey,
        appSecret: extra.appSecret ?? credentials.appSecret,
        body,
        ...(extra.signedBody === undefined ? {} : { signedBody: extra.signedBody }),
        ...(extra.authorization === undefined ? {} : { authorization: extra.authorization }),
      },
      { ...queues.env, ...envOverrides },
    );
  const pullOrders = () =>
    queues.send("channel-pull", {
      type: "stream.run",
      tenantId: user.tenant.id,
      connectionId: channel.id,
      resource: "orders",
      trigger: "manual",
    });
  return { user, erp, appId, channel, shopId, credentials, seeded, queues, deliver, pullOrders };
}
