import { createHmac, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { currencyExponent, fromMinorUnits, toMinorUnits } from "../../src/domain/money.ts";

/**
 * A faithful fake of the Shopify Admin GraphQL API, for tests and the local demo.
 *
 * `POST /shops/{shop}/admin/api/{version}/graphql.json` with `{ query, variables }` (use
 * `${url}/shops/{shop}` as the adapter's `apiBase`). Like Shopify:
 * - unknown shop → 404 `{"errors":"Not Found"}`; missing or wrong `X-Shopify-Access-Token` → 401
 *   `{"errors":"[API] Invalid API key or access token (unrecognized login or wrong password)"}`;
 * - not a GraphQL engine, but a small parser of the documents (fields, aliases, arguments, variables,
 *   inline fragments) and a projection of Shopify-shaped objects: any selection of the supported objects
 *   works, an unknown field is a GraphQL error (`undefinedField`), and so is an unknown root field;
 * - every answer carries `extensions.cost { requestedQueryCost, actualQueryCost, throttleStatus }`. The
 *   requested cost is computed from the document by Shopify's documented rules (scalars 0, objects 1,
 *   connections and lists with `first`: 2 + first × (1 + element), mutations 10); the actual cost by the same
 *   rules over what was returned, so it never exceeds the requested one. Above 1,000 points →
 *   MAX_COST_EXCEEDED. A leaky bucket per shop (default Standard plan: 2,000 points, 100 restored per second)
 *   is charged the requested cost and refunded the difference; when it cannot cover the requested cost the
 *   answer is HTTP 200 THROTTLED (`actualQueryCost: null`), counted in `throttled` and `overLimit`.
 *
 * Root fields: `orders(first, after, query, sortKey, reverse)` (search terms `updated_at`, `created_at`,
 * `processed_at` with `:`, `:>`, `:>=`, `:<`, `:<=`; `name` (case-insensitive, `#` optional); `email`
 * (case-insensitive); `status:open|closed|cancelled`; plain terms, Shopify's default search, matched against
 * the order's number, email and names, and — for terms of 7 digits or more — the digits of its phone
 * numbers (order, customer, shipping and billing address); other documented order fields are accepted and
 * not evaluated; a `field:` Shopify does not document for orders is left out of the search and reported in
 * `extensions.search[].warnings` ("Invalid search field for this query."), as Shopify does), `order(id)`,
 * `node(id)`, `nodes(ids)` (≤ 250 ids, null for unknown ones, costed per id asked), `bulkOperation(id)`,
 * `currentBulkOperation`, `shop`, `products(first, after, sortKey: ID|UPDATED_AT, reverse)` (keyset cursors)
 * and `product(id)` — products carry `featuredMedia`, `media` (MediaImage and Video nodes; an image is
 * `image { url altText width height }` on cdn.shopify.com) and `variants` (each with `sku`, `title`,
 * `updatedAt` and its own `media`) as connections with `first`/`after`; every shop starts with one product
 * per catalogue product (the tee's two variants each have their own picture; the gift wrapping has none;
 * the hoodie also has a video) — `inventoryItems(first, after, query, reverse)` (search terms `sku`,
 * `updated_at`, `created_at`; id order; keyset cursors), `inventoryItem(id)`, `webhookSubscriptions(first,
 * after, topics, uri, format, reverse)` and `webhookSubscription(id)`; mutations
 * `bulkOperationRunQuery(query, groupObjects)`, `fulfillmentCreate(fulfillment, message)` (validated like
 * Shopify: userErrors for unknown or closed fulfillment orders, mixed locations, too large quantities) and
 * `webhookSubscriptionCreate(topic, webhookSubscription)` / `webhookSubscriptionUpdate(id, …)` /
 * `webhookSubscriptionDelete(id)` in the 2025-04+ form (`uri`, no `callbackUrl`; userErrors for a blank or
 * invalid address, "Address for this topic has already been taken", unknown ids).
 *
 * Webhooks: a shop created with a `clientSecret` delivers, for each subscription with an http(s) `uri` to
 * the event's topic, a POST of the REST-shaped body (`restOrderPayload` for order topics) with Shopify's
 * headers: X-Shopify-Topic, X-Shopify-Hmac-Sha256 (`signShopifyWebhook`), X-Shopify-Shop-Domain,
 * X-Shopify-Webhook-Id (kept across retries), X-Shopify-Event-Id, X-Shopify-Triggered-At,
 * X-Shopify-API-Version (the version the subscription was created with). Non-2xx answers, timeouts and
 * refused connections are retried after `webhookRetryDelaysMs`, then abandoned. Events: orders/create (+
 * orders/paid when paid, orders/cancelled when seeded cancelled) for seeded and auto orders;
 * orders/updated (+ cancelled, paid, fulfilled as the patch says) for control updates; orders/updated +
 * orders/fulfilled or orders/partially_fulfilled for fulfilments; inventory_levels/update when `available`
 * moves. Shopify itself only delivers to HTTPS; the fake also accepts plain HTTP on loopback (tests).
 *
 * Inventory: every shop starts with one inventory item per catalogue variant (the same SKUs its orders
 * sell; gift wrapping has no SKU and is not tracked), stocked at two locations ("Main Warehouse", the
 * location fulfillment orders are assigned to, and "East Coast 3PL"; the socks at the main one only).
 * A level answers `quantities(names: [...])` for Shopify's quantity names (available, committed, on_hand,
 * incoming, reserved, damaged, safety_stock, quality_control; on_hand is the sum of the states it holds);
 * `inventoryLevels` is a connection with `first`/`after`. Placing an order moves its quantities from
 * available to committed at the main location. Every change moves the level's `updatedAt` on (whole
 * seconds, strictly later than the shop's previous inventory change); the item's own `updatedAt` does
 * not move, as in Shopify.
 *
 * Bulk exports complete `bulkDelayMs` after they start; their JSONL (one record per line, nested
 * connections as records with `__parentId`: after all orders, or with `groupObjects: true` directly after
 * their order) is served at `GET /bulk-results/{shop}/{n}.jsonl`, without authentication, like Shopify's
 * signed Cloud Storage URLs, and like Cloud Storage it honours a single `Range: bytes=start-[end]` (or
 * `bytes=-suffix`): 206 with `Content-Range`, 416 when the range starts at or past the end.
 *
 * `failNext` failures queue per shop and answer the next GraphQL request (after the shop and token checks):
 * 429 (with `Retry-After`), 500, 502, 503, "hang" (never answers; the client must time out), "throttled"
 * (another consumer just emptied the bucket: THROTTLED, bucket left at 0).
 *
 * Tests in workerd cannot call this module's functions, so the same controls are served over HTTP under
 * `/__control/` (JSON in, JSON out; never counted in stats):
 * | request                                                                      | answer |
 * |------------------------------------------------------------------------------|--------|
 * | POST /__control/shops        { shop, accessToken, maximumAvailable?, restoreRate?, currency?, clientSecret? } | 204 |
 * | POST /__control/orders       { shop, count } or { shop, orders: FakeOrderSeed[] }            | 200 { orders: FakeOrderSummary[] } |
 * | POST /__control/orders/update { shop, id, patch: FakeOrderPatch }                             | 200 { order: FakeOrderSummary }, 404 unknown |
 * | GET  /__control/orders?shop=&id=                                                              | 200 { order } (the stored Shopify object) |
 * | POST /__control/fail-next    { shop, failure, retryAfterSeconds?, after? }                     | 204 (failure: 429, 500, 502, 503, "hang", "throttled") |
 * | POST /__control/limits       { shop, maximumAvailable?, restoreRate?, currentlyAvailable? }    | 204 |
 * | POST /__control/spend        { shop, points }  (another consumer of the same bucket)           | 204 |
 * | GET  /__control/stats?shop=                                                                   | 200 ShopifyFakeStats |
 * | GET  /__control/fulfillments?shop=                                                            | 200 { fulfillments: FakeFulfillmentRecord[] } |
 * | POST /__control/auto-orders  { shop, everyMs, perTick }                                        | 204 |
 * | DELETE /__control/auto-orders?shop=                                                           | 204 |
 * | POST /__control/inventory    { shop, sku, locationId?, available } (default: the main location; an unknown location GID is created and the item activated there) | 200 { level: FakeInventoryLevelSummary }, 404 unknown SKU, 400 invalid |
 * | GET  /__control/inventory?shop=                                                               | 200 { levels: FakeInventoryLevelSummary[] } |
 * | GET  /__control/webhooks?shop=                                                                | 200 { subscriptions: FakeWebhookSubscription[] } |
 * | GET  /__control/webhooks/deliveries?shop=                                                     | 200 { deliveries: FakeWebhookDelivery[] } |
 * | POST /__control/webhooks/deliveries/pause  { shop }  (events are dropped: lost webhooks; each  | 204 |
 * |   dropped delivery still lists its signed `request`, for tests that replay it themselves)       |     |
 * | POST /__control/webhooks/deliveries/resume { shop }                                           | 204 |
 * | POST /__control/products     { shop, products: FakeProductSeed[] }                            | 200 { products: FakeProductSummary[] } |
 * | POST /__control/products/update { shop, id, patch: FakeProductPatch }                          | 200 { product: FakeProductSummary }, 404 unknown |
 * | GET  /__control/products?shop=                                                                | 200 { products: FakeProductSummary[] } |
 */

export type ShopifyFakeFailure = 429 | 500 | 502 | 503 | "hang" | "throttled";
const FAILURES: readonly ShopifyFakeFailure[] = [429, 500, 502, 503, "hang", "throttled"];

export interface ShopifyFakeStats {
  /** GraphQL requests received for the shop (all of them, refused ones included). */
  requests: number;
  /** THROTTLED answers: bucket too low, or injected. */
  throttled: number;
  /** Requests that arrived when the bucket could not cover their requested cost. Must stay 0 behind a governor. */
  overLimit: number;
  maxCostExceeded: number;
  unauthorized: number;
  injected: Record<string, number>;
  /** Sums over answered requests. */
  requestedCost: number;
  actualCost: number;
  /** Requested cost of each request that reached cost calculation, in arrival order. */
  requestedCosts: number[];
  bulkDownloads: number;
  /** Result file requests that named a byte range (answered 206 or 416). */
  bulkRangeRequests: number;
  webhooks: {
    /** Deliveries (one per event and subscription) answered 2xx, after retries or not. */
    delivered: number;
    /** Attempts answered non-2xx, timed out or refused. */
    failedAttempts: number;
    /** Deliveries given up after the last retry. */
    abandoned: number;
    /** Deliveries dropped while deliveries were paused (lost webhooks). */
    dropped: number;
    /** Events with subscribers that were not sent because the shop has no client secret to sign with. */
    unsigned: number;
  };
  throttleStatus: { maximumAvailable: number; currentlyAvailable: number; restoreRate: number };
}

/** One webhook delivery (an event to one subscription), as tests see it. */
export interface FakeWebhookDelivery {
  webhookId: string;
  eventId: string;
  topic: string;
  uri: string;
  triggeredAt: string;
  attempts: number;
  status: "pending" | "delivered" | "abandoned" | "dropped";
  /** HTTP status of the last attempt; null when it got no answer (or none was made). */
  lastStatus: number | null;
  /**
   * The signed request as sent (or, when dropped, as it would have been): tests that cannot be reached over
   * HTTP (the Worker under vitest-pool-workers) pause deliveries and replay these themselves.
   */
  request: { headers: Record<string, string>; body: string };
}

/** A webhook subscription as tests see it. */
export interface FakeWebhookSubscription {
  id: string;
  topic: string;
  uri: string;
  format: string;
  filter: string | null;
  includeFields: string[];
  apiVersion: string;
  createdAt: string;
  updatedAt: string;
}

export interface FakeOrderSeed {
  lines?: {
    sku?: string | null;
    title?: string;
    variantTitle?: string | null;
    quantity?: number;
    unitPrice?: string;
  }[];
  discountCode?: string | null;
  /** null: no shipping address (e.g. a digital order). */
  shippingAddress?: null;
  /** null: no customer (e.g. a POS sale). */
  customer?: null;
  cancelled?: boolean;
  note?: string | null;
  tags?: string[];
  financialStatus?: string;
  createdAt?: string;
  /** The order's contact email (default: the picked customer's); null: none. */
  email?: string | null;
  /** The order's contact phone (default none), e.g. "+16505550199". */
  phone?: string | null;
}

/** A picture of a seeded product; the URL defaults to one on cdn.shopify.com. */
export interface FakeProductImageSeed {
  url?: string;
  alt?: string | null;
  width?: number;
  height?: number;
}

export interface FakeProductSeed {
  title: string;
  images?: FakeProductImageSeed[];
  /** A video among the product's media (not a picture: clients must skip it). */
  video?: boolean;
  /** Default: one variant ("Default Title") without a SKU. `image`: index into `images` for its own picture. */
  variants?: { sku?: string | null; title?: string; image?: number }[];
}

export interface FakeProductPatch {
  title?: string;
  /** Replaces the product's pictures. */
  images?: FakeProductImageSeed[];
  /** Variant GID → index into the product's pictures (its own picture), or null for none. */
  variantImages?: Record<string, number | null>;
}

export interface FakeProductSummary {
  id: string;
  title: string;
  updatedAt: string;
  variants: { id: string; sku: string | null; title: string; imageUrl: string | null; updatedAt: string }[];
  imageUrls: string[];
}

export interface FakeOrderPatch {
  note?: string | null;
  tags?: string[];
  email?: string | null;
  phone?: string | null;
  displayFinancialStatus?: string;
  displayFulfillmentStatus?: string;
  /** Cancels the order now (closes its fulfillment orders). */
  cancel?: boolean;
  /**
   * Order fields set exactly as given, unchecked: for testing how clients cope with a shape or an amount
   * they did not expect (e.g. `{ name: 42 }`, a total in another currency).
   */
  raw?: Record<string, unknown>;
}

export interface FakeOrderSummary {
  id: string;
  name: string;
  updatedAt: string;
  lineItemIds: string[];
}

export interface FakeFulfillmentRecord {
  id: string;
  orderId: string;
  status: string;
  notifyCustomer: boolean;
  trackingInfo: { company: string | null; number: string | null; url: string | null }[];
  lineItems: { fulfillmentOrderLineItemId: string; lineItemId: string; quantity: number }[];
  createdAt: string;
}

/** One inventory level as tests see it. */
export interface FakeInventoryLevelSummary {
  inventoryItemId: string;
  /** Null for items sold without a SKU. */
  sku: string | null;
  tracked: boolean;
  locationId: string;
  available: number;
  updatedAt: string;
}

export interface ShopifyFakeOptions {
  /** TCP port on 127.0.0.1; default 0 (any free port). The local demo uses fixed ones. */
  port?: number;
  /** Time from bulkOperationRunQuery to COMPLETED. Default 50 ms. */
  bulkDelayMs?: number;
  /** Default bucket of new shops (Shopify Standard plan). */
  maximumAvailable?: number;
  restoreRate?: number;
  /** Waits between a webhook delivery's attempts; the attempts are one more. Default 100, 500, 2000 ms. */
  webhookRetryDelaysMs?: number[];
  /** Per delivery attempt (Shopify allows 5 s). */
  webhookTimeoutMs?: number;
}

export interface ShopifyFake {
  /** `${url}/shops/{shop}` is the adapter's `apiBase`. */
  url: string;
  close(): Promise<void>;
  createShop(input: {
    shop: string;
    accessToken: string;
    maximumAvailable?: number;
    restoreRate?: number;
    currency?: string;
    /** The app's client secret, which signs webhooks; without it no webhook is sent. */
    clientSecret?: string;
  }): void;
  seedOrders(shop: string, seed: number | FakeOrderSeed[]): FakeOrderSummary[];
  updateOrder(shop: string, id: string, patch: FakeOrderPatch): FakeOrderSummary;
  /** The stored order, shaped like Shopify's Order object. */
  getOrder(shop: string, id: string): Record<string, unknown> | undefined;
  /** `after`: let this many requests through first (default 0). */
  failNext(
    shop: string,
    failure: ShopifyFakeFailure,
    options?: { retryAfterSeconds?: number; after?: number },
  ): void;
  setLimits(
    shop: string,
    limits: { maximumAvailable?: number; restoreRate?: number; currentlyAvailable?: number },
  ): void;
  /** Another consumer of the same bucket spends `points`. */
  spend(shop: string, points: number): void;
  stats(shop: string): ShopifyFakeStats;
  listFulfillments(shop: string): FakeFulfillmentRecord[];
  startAutoOrders(shop: string, input: { everyMs: number; perTick: number }): void;
  stopAutoOrders(shop: string): void;
  /** Sets `available` of a SKU at a location (default: the main one), activating the item there if needed. */
  setInventory(
    shop: string,
    input: { sku: string; locationId?: string; available: number },
  ): FakeInventoryLevelSummary;
  /** Every level of every inventory item, in item id order. */
  listInventory(shop: string): FakeInventoryLevelSummary[];
  listWebhookSubscriptions(shop: string): FakeWebhookSubscription[];
  /** The shop's recent webhook deliveries, oldest first. */
  listWebhookDeliveries(shop: string): FakeWebhookDelivery[];
  /** While paused, events are dropped instead of delivered (webhooks lost on the way). */
  pauseWebhookDeliveries(shop: string): void;
  resumeWebhookDeliveries(shop: string): void;
  /** Resolves when every delivery under way (retries included) has finished. */
  webhooksSettled(): Promise<void>;
  seedProducts(shop: string, products: FakeProductSeed[]): FakeProductSummary[];
  updateProduct(shop: string, id: string, patch: FakeProductPatch): FakeProductSummary;
  listProducts(shop: string): FakeProductSummary[];
}

// ───────────────────────────── GraphQL documents ─────────────────────────────

// Plain fields, not parameter properties: `npm start` loads this file with Node's type stripping.
class GraphqlError extends Error {
  readonly code: string;
  readonly extra: Record<string, unknown>;
  constructor(message: string, code: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.code = code;
    this.extra = extra;
  }
}

type ValueNode =
  | { kind: "variable"; name: string }
  | { kind: "literal"; value: unknown }
  | { kind: "list"; items: ValueNode[] }
  | { kind: "object"; fields: Record<string, ValueNode> };

interface FieldNode {
  kind: "field";
  alias: string;
  name: string;
  args: Record<string, ValueNode>;
  selection: SelectionNode[] | null;
}
interface FragmentNode {
  kind: "fragment";
  on: string | null;
  selection: SelectionNode[];
}
type SelectionNode = FieldNode | FragmentNode;

interface OperationNode {
  type: "query" | "mutation";
  variables: { name: string; defaultValue: ValueNode | null }[];
  selection: SelectionNode[];
}

interface Token {
  kind: "punct" | "name" | "number" | "string" | "spread";
  value: string;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source.charAt(i);
    if (c === "#") {
      while (i < source.length && source.charAt(i) !== "\n") i++;
      continue;
    }
    if (/[\s,\uFEFF]/.test(c)) {
      i++;
      continue;
    }
    if (source.startsWith("...", i)) {
      tokens.push({ kind: "spread", value: "..." });
      i += 3;
      continue;
    }
    if ("{}()[]:$!=@".includes(c)) {
      tokens.push({ kind: "punct", value: c });
      i++;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(source.slice(i));
    if (name) {
      tokens.push({ kind: "name", value: name[0] });
      i += name[0].length;
      continue;
    }
    const number = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(source.slice(i));
    if (number) {
      tokens.push({ kind: "number", value: number[0] });
      i += number[0].length;
      continue;
    }
    if (source.startsWith('"""', i)) {
      const end = source.indexOf('"""', i + 3);
      if (end < 0) throw new GraphqlError("Parse error: unterminated block string", "parseError");
      tokens.push({ kind: "string", value: source.slice(i + 3, end) });
      i = end + 3;
      continue;
    }
    if (c === '"') {
      let j = i + 1;
      let value = "";
      for (;;) {
        if (j >= source.length) throw new GraphqlError("Parse error: unterminated string", "parseError");
        const d = source.charAt(j);
        if (d === '"') break;
        if (d === "\\") {
          const e = source.charAt(j + 1);
          const simple: Record<string, string> = {
            '"': '"',
            "\\": "\\",
            "/": "/",
            b: "\b",
            f: "\f",
            n: "\n",
            r: "\r",
            t: "\t",
          };
          if (e === "u") {
            value += String.fromCharCode(Number.parseInt(source.slice(j + 2, j + 6), 16));
            j += 6;
          } else {
            value += simple[e] ?? e;
            j += 2;
          }
          continue;
        }
        value += d;
        j++;
      }
      tokens.push({ kind: "string", value });
      i = j + 1;
      continue;
    }
    throw new GraphqlError(`Parse error on "${c}"`, "parseError");
  }
  return tokens;
}

function parseOperation(source: string): OperationNode {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const next = () => {
    const token = tokens[pos++];
    if (token === undefined) throw new GraphqlError("Parse error: unexpected end of document", "parseError");
    return token;
  };
  const expect = (value: string) => {
    const token = next();
    if (token.value !== value)
      throw new GraphqlError(`Parse error on "${token.value}", expected "${value}"`, "parseError");
  };
  const isPunct = (value: string) => peek()?.kind === "punct" && peek()?.value === value;

  const parseValue = (): ValueNode => {
    const token = next();
    if (token.kind === "punct" && token.value === "$") return { kind: "variable", name: next().value };
    if (token.kind === "number") return { kind: "literal", value: Number(token.value) };
    if (token.kind === "string") return { kind: "literal", value: token.value };
    if (token.kind === "punct" && token.value === "[") {
      const items: ValueNode[] = [];
      while (!isPunct("]")) items.push(parseValue());
      expect("]");
      return { kind: "list", items };
    }
    if (token.kind === "punct" && token.value === "{") {
      const fields: Record<string, ValueNode> = {};
      while (!isPunct("}")) {
        const key = next().value;
        expect(":");
        fields[key] = parseValue();
      }
      expect("}");
      return { kind: "object", fields };
    }
    if (token.kind === "name") {
      if (token.value === "true") return { kind: "literal", value: true };
      if (token.value === "false") return { kind: "literal", value: false };
      if (token.value === "null") return { kind: "literal", value: null };
      return { kind: "literal", value: token.value };
    }
    throw new GraphqlError(`Parse error on "${token.value}"`, "parseError");
  };

  const parseSelection = (): SelectionNode[] => {
    expect("{");
    const selection: SelectionNode[] = [];
    while (!isPunct("}")) {
      if (peek()?.kind === "spread") {
        next();
        if (peek()?.value !== "on")
          throw new GraphqlError("Named fragments are not supported by this fake", "parseError");
        next();
        const on = next().value;
        selection.push({ kind: "fragment", on, selection: parseSelection() });
        continue;
      }
      const first = next();
      if (first.kind !== "name") throw new GraphqlError(`Parse error on "${first.value}"`, "parseError");
      let alias = first.value;
      let name = first.value;
      if (isPunct(":")) {
        next();
        name = next().value;
      }
      const args: Record<string, ValueNode> = {};
      if (isPunct("(")) {
        next();
        while (!isPunct(")")) {
          const key = next().value;
          expect(":");
          args[key] = parseValue();
        }
        expect(")");
      }
      if (isPunct("@")) throw new GraphqlError("Directives are not supported by this fake", "parseError");
      selection.push({ kind: "field", alias, name, args, selection: isPunct("{") ? parseSelection() : null });
      alias = "";
    }
    expect("}");
    return selection;
  };

  const skipType = () => {
    if (isPunct("[")) {
      next();
      skipType();
      expect("]");
    } else next();
    if (isPunct("!")) next();
  };

  let type: OperationNode["type"] = "query";
  const variables: OperationNode["variables"] = [];
  if (!isPunct("{")) {
    const keyword = next().value;
    if (keyword !== "query" && keyword !== "mutation") {
      throw new GraphqlError(`Parse error on "${keyword}"`, "parseError");
    }
    type = keyword;
    if (peek()?.kind === "name") next();
    if (isPunct("(")) {
      next();
      while (!isPunct(")")) {
        expect("$");
        const name = next().value;
        expect(":");
        skipType();
        let defaultValue: ValueNode | null = null;
        if (isPunct("=")) {
          next();
          defaultValue = parseValue();
        }
        variables.push({ name, defaultValue });
      }
      expect(")");
    }
  }
  const selection = parseSelection();
  if (pos < tokens.length)
    throw new GraphqlError("This fake accepts one operation per document", "parseError");
  return { type, variables, selection };
}

type Variables = Record<string, unknown>;

function resolveValue(node: ValueNode, variables: Variables): unknown {
  switch (node.kind) {
    case "variable":
      return variables[node.name] ?? null;
    case "literal":
      return node.value;
    case "list":
      return node.items.map((item) => resolveValue(item, variables));
    case "object":
      return Object.fromEntries(Object.entries(node.fields).map(([k, v]) => [k, resolveValue(v, variables)]));
  }
}

function arg(field: FieldNode, name: string, variables: Variables): unknown {
  const node = field.args[name];
  return node === undefined ? undefined : resolveValue(node, variables);
}

const childFields = (selection: SelectionNode[] | null): FieldNode[] =>
  (selection ?? []).filter((s): s is FieldNode => s.kind === "field");
const child = (field: FieldNode, name: string) => childFields(field.selection).find((f) => f.name === name);
const isConnectionSelection = (field: FieldNode) =>
  childFields(field.selection).some((f) => f.name === "nodes" || f.name === "edges" || f.name === "pageInfo");

function pageSizeOf(field: FieldNode, variables: Variables): number | undefined {
  const first = arg(field, "first", variables) ?? arg(field, "last", variables);
  return typeof first === "number" ? first : undefined;
}

// ───────────────────────────── Calculated query cost ─────────────────────────────

const MAX_QUERY_COST = 1000;
const MUTATION_COST = 10;

/** Cost of one element of a paged field: its node (1) plus the node's selection. */
function elementCost(field: FieldNode, variables: Variables): number {
  const nodes = child(field, "nodes");
  const edges = child(field, "edges");
  if (nodes === undefined && edges === undefined) return 1 + selectionCost(field.selection, variables);
  let cost = 0;
  if (nodes !== undefined) cost += 1 + selectionCost(nodes.selection, variables);
  const node = edges === undefined ? undefined : child(edges, "node");
  if (node !== undefined) cost += 1 + selectionCost(node.selection, variables);
  return cost;
}

/** `nodes(ids:)`: Shopify costs it by the ids asked, each one object of the selection. */
function nodesIds(field: FieldNode, variables: Variables): unknown[] | undefined {
  if (field.name !== "nodes") return undefined;
  const ids = arg(field, "ids", variables);
  return Array.isArray(ids) ? ids : undefined;
}

function fieldCost(field: FieldNode, variables: Variables): number {
  if (field.selection === null) return 0;
  const ids = nodesIds(field, variables);
  if (ids !== undefined) return ids.length * (1 + selectionCost(field.selection, variables));
  const size = pageSizeOf(field, variables);
  if (size !== undefined) return 2 + Math.max(0, size) * elementCost(field, variables);
  return 1 + selectionCost(field.selection, variables);
}

/** Fields add up; inline fragments are alternatives (an interface costs its most expensive possibility). */
function selectionCost(selection: SelectionNode[] | null, variables: Variables): number {
  let fields = 0;
  let fragments = 0;
  for (const node of selection ?? []) {
    if (node.kind === "field") fields += fieldCost(node, variables);
    else fragments = Math.max(fragments, selectionCost(node.selection, variables));
  }
  return fields + fragments;
}

function requestedQueryCost(operation: OperationNode, variables: Variables): number {
  if (operation.type === "mutation") return MUTATION_COST * childFields(operation.selection).length;
  return selectionCost(operation.selection, variables);
}

function actualFieldCost(field: FieldNode, value: unknown, variables: Variables): number {
  if (field.selection === null || value === null || value === undefined) return 0;
  if (nodesIds(field, variables) !== undefined && Array.isArray(value)) {
    // Ids not found cost nothing.
    return value.reduce<number>(
      (sum, item) => sum + (item === null ? 0 : 1 + actualSelectionCost(field.selection, item, variables)),
      0,
    );
  }
  if (pageSizeOf(field, variables) !== undefined) {
    if (Array.isArray(value)) {
      return (
        2 +
        value.reduce<number>(
          (sum, item) => sum + 1 + actualSelectionCost(field.selection, item, variables),
          0,
        )
      );
    }
    const connection = value as Record<string, unknown>;
    let cost = 2;
    const nodes = child(field, "nodes");
    if (nodes !== undefined) {
      for (const item of (connection[nodes.alias] as unknown[] | undefined) ?? []) {
        cost += 1 + actualSelectionCost(nodes.selection, item, variables);
      }
    }
    const edges = child(field, "edges");
    const node = edges === undefined ? undefined : child(edges, "node");
    if (edges !== undefined && node !== undefined) {
      for (const edge of (connection[edges.alias] as Record<string, unknown>[] | undefined) ?? []) {
        cost += 1 + actualSelectionCost(node.selection, edge[node.alias], variables);
      }
    }
    return cost;
  }
  if (Array.isArray(value)) {
    return (
      1 +
      value.reduce<number>(
        (max, item) => Math.max(max, actualSelectionCost(field.selection, item, variables)),
        0,
      )
    );
  }
  return 1 + actualSelectionCost(field.selection, value, variables);
}

function actualSelectionCost(
  selection: SelectionNode[] | null,
  value: unknown,
  variables: Variables,
): number {
  if (value === null || typeof value !== "object") return 0;
  const record = value as Record<string, unknown>;
  let fields = 0;
  let fragments = 0;
  for (const node of selection ?? []) {
    if (node.kind === "field") fields += actualFieldCost(node, record[node.alias], variables);
    else fragments = Math.max(fragments, actualSelectionCost(node.selection, value, variables));
  }
  return fields + fragments;
}

// ───────────────────────────── Projection ─────────────────────────────

type Obj = Record<string, unknown>;

const encodeCursor = (value: unknown) => Buffer.from(JSON.stringify(value)).toString("base64url");
function decodeCursor(cursor: unknown): Obj {
  if (typeof cursor !== "string")
    throw new GraphqlError("Invalid cursor for current pagination sort.", "INVALID_CURSOR");
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (typeof value === "object" && value !== null) return value as Obj;
  } catch {
    // fall through
  }
  throw new GraphqlError("Invalid cursor for current pagination sort.", "INVALID_CURSOR");
}

function checkPageSize(field: FieldNode, variables: Variables): number {
  const size = pageSizeOf(field, variables);
  if (size === undefined) {
    throw new GraphqlError(
      `you must provide one of first or last (field '${field.name}')`,
      "argumentLiteralsIncompatible",
    );
  }
  if (!Number.isInteger(size) || size < 0 || size > 250) {
    throw new GraphqlError(
      `The page size of '${field.name}' must be between 0 and 250 (got ${size})`,
      "argumentLiteralsIncompatible",
    );
  }
  return size;
}

function project(selection: SelectionNode[], source: Obj, variables: Variables): Obj {
  const typename = String(source.__typename ?? "Unknown");
  const out: Obj = {};
  for (const node of selection) {
    if (node.kind === "fragment") {
      if (node.on === null || node.on === typename || node.on === "Node") {
        Object.assign(out, project(node.selection, source, variables));
      }
      continue;
    }
    if (node.name === "__typename") {
      out[node.alias] = typename;
      continue;
    }
    if (!(node.name in source) || node.name.startsWith("_")) {
      throw new GraphqlError(`Field '${node.name}' doesn't exist on type '${typename}'`, "undefinedField", {
        typeName: typename,
        fieldName: node.name,
      });
    }
    out[node.alias] = projectValue(node, source[node.name], variables);
  }
  return out;
}

/** A field whose value depends on its arguments (e.g. `quantities(names:)`): computed at projection time. */
type FieldResolver = (field: FieldNode, variables: Variables) => unknown;

function projectValue(field: FieldNode, resolved: unknown, variables: Variables): unknown {
  const raw = typeof resolved === "function" ? (resolved as FieldResolver)(field, variables) : resolved;
  if (field.selection === null) {
    if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
      throw new GraphqlError(
        `Field must have selections (field '${field.name}' returns an object)`,
        "selectionMismatch",
      );
    }
    return raw ?? null;
  }
  if (raw === null || raw === undefined) return null;
  if (Array.isArray(raw)) {
    const paged =
      field.args.first !== undefined || field.args.last !== undefined || isConnectionSelection(field);
    if (!paged) return raw.map((item) => project(field.selection ?? [], item as Obj, variables));
    const size = checkPageSize(field, variables);
    const after = arg(field, "after", variables);
    const start = after === undefined || after === null ? 0 : Number(decodeCursor(after).i) + 1;
    const items = raw.slice(start, start + size) as Obj[];
    const hasNextPage = start + size < raw.length;
    if (!isConnectionSelection(field))
      return items.map((item) => project(field.selection ?? [], item, variables));
    return projectConnection(
      field,
      items,
      { start, hasNextPage, cursorOf: (_item, index) => encodeCursor({ i: start + index }) },
      variables,
    );
  }
  if (typeof raw !== "object") {
    throw new GraphqlError(
      `Selections can't be made on scalars (field '${field.name}')`,
      "selectionMismatch",
    );
  }
  return project(field.selection, raw as Obj, variables);
}

function projectConnection(
  field: FieldNode,
  items: Obj[],
  page: { start: number; hasNextPage: boolean; cursorOf: (item: Obj, index: number) => string },
  variables: Variables,
): Obj {
  const out: Obj = {};
  const cursors = items.map((item, index) => page.cursorOf(item, index));
  for (const part of childFields(field.selection)) {
    if (part.name === "nodes") {
      out[part.alias] = items.map((item) => project(part.selection ?? [], item, variables));
    } else if (part.name === "edges") {
      out[part.alias] = items.map((item, index) => {
        const edge: Obj = {};
        for (const edgePart of childFields(part.selection)) {
          if (edgePart.name === "cursor") edge[edgePart.alias] = cursors[index];
          else if (edgePart.name === "node")
            edge[edgePart.alias] = project(edgePart.selection ?? [], item, variables);
          else
            throw new GraphqlError(`Field '${edgePart.name}' doesn't exist on type 'Edge'`, "undefinedField");
        }
        return edge;
      });
    } else if (part.name === "pageInfo") {
      const info: Obj = {
        __typename: "PageInfo",
        hasNextPage: page.hasNextPage,
        hasPreviousPage: page.start > 0,
        startCursor: cursors[0] ?? null,
        endCursor: cursors[cursors.length - 1] ?? null,
      };
      out[part.alias] = project(part.selection ?? [], info, variables);
    } else if (part.name === "__typename") {
      out[part.alias] = "Connection";
    } else {
      throw new GraphqlError(`Field '${part.name}' doesn't exist on type 'Connection'`, "undefinedField");
    }
  }
  return out;
}

// ───────────────────────────── Realistic orders ─────────────────────────────

interface CatalogItem {
  sku: string | null;
  title: string;
  variantTitle: string | null;
  /** US cents. */
  usd: number;
  productId: number;
  variantId: number;
}

const CATALOG: CatalogItem[] = [
  {
    sku: "TW-TEE-BLK-M",
    title: "Organic Cotton Tee",
    variantTitle: "Black / M",
    usd: 2400,
    productId: 8801,
    variantId: 45001,
  },
  {
    sku: "TW-TEE-WHT-L",
    title: "Organic Cotton Tee",
    variantTitle: "White / L",
    usd: 2400,
    productId: 8801,
    variantId: 45002,
  },
  {
    sku: "TW-HOOD-NVY-M",
    title: "Fleece Hoodie",
    variantTitle: "Navy / M",
    usd: 5800,
    productId: 8802,
    variantId: 45011,
  },
  {
    sku: "TW-CAP-OLV",
    title: "Canvas Cap",
    variantTitle: "Olive",
    usd: 1900,
    productId: 8803,
    variantId: 45021,
  },
  {
    sku: "TW-MUG-350",
    title: "Enamel Mug",
    variantTitle: "350 ml",
    usd: 1450,
    productId: 8804,
    variantId: 45031,
  },
  {
    sku: "TW-TOTE-NAT",
    title: "Market Tote",
    variantTitle: null,
    usd: 2200,
    productId: 8805,
    variantId: 45041,
  },
  {
    sku: "TW-SOCK-3PK",
    title: "Merino Socks",
    variantTitle: "3-pack",
    usd: 1650,
    productId: 8806,
    variantId: 45051,
  },
  // Merchants sell things without a SKU: the mapping must cope.
  { sku: null, title: "Gift wrapping", variantTitle: null, usd: 500, productId: 8807, variantId: 45061 },
];

/** Units of the currency per US dollar, and the market a shop in that currency sells to. */
const MARKETS: Record<
  string,
  {
    perUsd: number;
    taxTitle: string;
    taxRate: number;
    shippingUsd: number;
    addresses: Obj[];
    /** The shop's time zone offset (standard time): webhook bodies carry local times, like the REST API. */
    utcOffsetMinutes: number;
  }
> = {
  USD: {
    utcOffsetMinutes: -480,
    perUsd: 1,
    taxTitle: "CA State Tax",
    taxRate: 0.0725,
    shippingUsd: 595,
    addresses: [
      address(
        "Ava Thompson",
        null,
        "1600 Amphitheatre Pkwy",
        "Apt 4",
        "Mountain View",
        "California",
        "CA",
        "94043",
        "US",
        "+16505550101",
      ),
      address(
        "Noah Garcia",
        "Garcia Design LLC",
        "500 Terry A Francois Blvd",
        null,
        "San Francisco",
        "California",
        "CA",
        "94158",
        "US",
        null,
      ),
    ],
  },
  JPY: {
    utcOffsetMinutes: 540,
    perUsd: 150,
    taxTitle: "消費税",
    taxRate: 0.1,
    shippingUsd: 700,
    addresses: [
      address(
        "山田 花子",
        null,
        "渋谷2-21-1",
        "渋谷ヒカリエ 11F",
        "渋谷区",
        "Tokyo",
        "JP-13",
        "150-8510",
        "JP",
        "+81355550123",
      ),
      address(
        "佐藤 健",
        "株式会社サトウ",
        "梅田3-1-3",
        null,
        "大阪市北区",
        "Osaka",
        "JP-27",
        "530-0001",
        "JP",
        null,
      ),
    ],
  },
  GBP: {
    utcOffsetMinutes: 0,
    perUsd: 0.79,
    taxTitle: "GB VAT",
    taxRate: 0.2,
    shippingUsd: 495,
    addresses: [
      address(
        "Oliver Smith",
        null,
        "221B Baker Street",
        null,
        "London",
        "England",
        "ENG",
        "NW1 6XE",
        "GB",
        "+442075550199",
      ),
    ],
  },
  EUR: {
    utcOffsetMinutes: 60,
    perUsd: 0.92,
    taxTitle: "DE MwSt",
    taxRate: 0.19,
    shippingUsd: 495,
    addresses: [
      address(
        "Lena Müller",
        null,
        "Friedrichstraße 43",
        null,
        "Berlin",
        "Berlin",
        "BE",
        "10117",
        "DE",
        "+49305550111",
      ),
    ],
  },
};

function address(
  name: string,
  company: string | null,
  address1: string,
  address2: string | null,
  city: string,
  province: string,
  provinceCode: string,
  zip: string,
  countryCodeV2: string,
  phone: string | null,
): Obj {
  const [firstName, ...rest] = name.split(" ");
  return {
    __typename: "MailingAddress",
    name,
    firstName: firstName ?? null,
    lastName: rest.join(" ") || null,
    company,
    address1,
    address2,
    city,
    province,
    provinceCode,
    zip,
    country: countryCodeV2,
    countryCodeV2,
    phone,
  };
}

// ───────────────────────────── Inventory ─────────────────────────────

const MAIN_LOCATION = { id: "gid://shopify/Location/76543210", name: "Main Warehouse" };
const LOCATIONS = [MAIN_LOCATION, { id: "gid://shopify/Location/76543211", name: "East Coast 3PL" }];
/** SKUs stocked at the main location only. */
const MAIN_LOCATION_ONLY = new Set(["TW-SOCK-3PK"]);
/** Shopify's quantity names; `on_hand` is computed from the others. */
const QUANTITY_NAMES = [
  "available",
  "committed",
  "damaged",
  "incoming",
  "on_hand",
  "quality_control",
  "reserved",
  "safety_stock",
] as const;
type QuantityName = (typeof QUANTITY_NAMES)[number];
const ON_HAND_PARTS: Exclude<QuantityName, "on_hand" | "incoming">[] = [
  "available",
  "committed",
  "damaged",
  "quality_control",
  "reserved",
  "safety_stock",
];

/** A level's quantities and when each last changed (null: never), kept off the projected fields. */
interface LevelState {
  quantities: Record<Exclude<QuantityName, "on_hand">, number>;
  changedAt: Partial<Record<QuantityName, string>>;
}

const inventoryItemId = (variantId: number) => `gid://shopify/InventoryItem/${47_000_000_000 + variantId}`;

/** Starting stock: varied per variant and location, the same in every run. */
const startingStock = (variantId: number, locationIndex: number) =>
  5 + ((variantId * 7 + locationIndex * 13) % 40);

const CUSTOMERS = [
  { first: "Ava", last: "Thompson", email: "ava.thompson@example.com" },
  { first: "Noah", last: "Garcia", email: "noah@garcia-design.example" },
  { first: "Mia", last: "Chen", email: "mia.chen@example.org" },
  { first: "Lucas", last: "Martin", email: "lucas.martin@example.net" },
];

/** Shopify serialises Decimal like "24.0", "12.5", "1500.0". */
function decimal(minor: number, currency: string): string {
  const text = fromMinorUnits(minor, currency);
  if (!text.includes(".")) return `${text}.0`;
  return text.replace(/0+$/, "").replace(/\.$/, ".0");
}

function moneyBag(minor: number, currency: string): Obj {
  const money = { __typename: "MoneyV2", amount: decimal(minor, currency), currencyCode: currency };
  return { __typename: "MoneyBag", shopMoney: money, presentmentMoney: { ...money } };
}

const shopifyTime = (ms: number) =>
  new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");

// ───────────────────────────── Webhook bodies ─────────────────────────────

/** Shopify's webhook signature: base64 HMAC-SHA256 of the exact raw body, keyed with the app's client secret. */
export function signShopifyWebhook(secret: string, rawBody: string | Uint8Array): string {
  return createHmac("sha256", secret).update(rawBody).digest("base64");
}

const COUNTRY_NAMES: Record<string, string> = {
  US: "United States",
  JP: "Japan",
  GB: "United Kingdom",
  DE: "Germany",
};

/** "2026-11-20T10:15:30Z" at −480 min → "2026-11-20T02:15:30-08:00", as REST (and webhooks) write times. */
function shopLocalTime(value: unknown, offsetMinutes: number): unknown {
  if (typeof value !== "string") return value ?? null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) return value;
  const local = new Date(ms + offsetMinutes * 60_000).toISOString().slice(0, 19);
  const sign = offsetMinutes < 0 ? "-" : "+";
  const abs = Math.abs(offsetMinutes);
  return `${local}${sign}${String(Math.floor(abs / 60)).padStart(2, "0")}:${String(abs % 60).padStart(2, "0")}`;
}

/** REST writes money with the currency's decimals ("24.00", JPY "3600"); odd (patched) values pass as they are. */
function restAmount(amount: unknown, currency: unknown): unknown {
  if (typeof amount !== "string" || typeof currency !== "string") return amount;
  try {
    return fromMinorUnits(toMinorUnits(amount, currency), currency);
  } catch {
    return amount;
  }
}

function restMoneyBag(bag: unknown): Obj | null {
  if (bag === null || typeof bag !== "object") return null;
  const money = (value: unknown) => {
    const m = (value ?? {}) as Obj;
    return { amount: restAmount(m.amount, m.currencyCode), currency_code: m.currencyCode ?? null };
  };
  const { shopMoney, presentmentMoney } = bag as Obj;
  return { shop_money: money(shopMoney), presentment_money: money(presentmentMoney ?? shopMoney) };
}

const restPrice = (bag: unknown) => {
  const shop = ((bag ?? {}) as Obj).shopMoney as Obj | undefined;
  return restAmount(shop?.amount, shop?.currencyCode);
};

const restId = (gid: unknown) => {
  const id = numericId(gid);
  return Number.isFinite(id) ? id : null;
};

function restTaxLines(lines: unknown): Obj[] {
  return (Array.isArray(lines) ? (lines as Obj[]) : []).map((line) => ({
    channel_liable: false,
    price: restPrice(line.priceSet),
    price_set: restMoneyBag(line.priceSet),
    rate: line.rate ?? null,
    title: line.title ?? null,
  }));
}

function restAddress(address: unknown): Obj | null {
  if (address === null || typeof address !== "object") return null;
  const a = address as Obj;
  const code = typeof a.countryCodeV2 === "string" ? a.countryCodeV2 : null;
  return {
    first_name: a.firstName ?? null,
    address1: a.address1 ?? null,
    phone: a.phone ?? null,
    city: a.city ?? null,
    zip: a.zip ?? null,
    province: a.province ?? null,
    country: code === null ? null : (COUNTRY_NAMES[code] ?? code),
    last_name: a.lastName ?? null,
    address2: a.address2 ?? null,
    company: a.company ?? null,
    latitude: null,
    longitude: null,
    name: a.name ?? null,
    country_code: code,
    province_code: a.provinceCode ?? null,
  };
}

const FULFILLMENT_STATUS_REST: Record<string, string | null> = {
  UNFULFILLED: null,
  PARTIALLY_FULFILLED: "partial",
  FULFILLED: "fulfilled",
  RESTOCKED: "restocked",
};

/**
 * The fake's stored order (GraphQL-shaped) as Shopify's order webhooks carry it: the REST Admin API shape
 * (snake_case, numeric ids beside `admin_graphql_api_id`, money as decimal strings with `*_set` bags, the
 * shop's local times, tags as one comma-separated string, lowercase statuses). The delivery of order topics
 * sends exactly this.
 */
export function restOrderPayload(order: Record<string, unknown>): Record<string, unknown> {
  const o = order as Obj;
  const currency = typeof o.currencyCode === "string" ? o.currencyCode : "USD";
  const offset = MARKETS[currency]?.utcOffsetMinutes ?? 0;
  const time = (value: unknown) => shopLocalTime(value, offset);
  const lines = Array.isArray(o.lineItems) ? (o.lineItems as Obj[]) : [];
  const customer = o.customer as Obj | null | undefined;
  const status = typeof o.displayFinancialStatus === "string" ? o.displayFinancialStatus.toLowerCase() : null;
  const fulfillment =
    typeof o.displayFulfillmentStatus === "string"
      ? (FULFILLMENT_STATUS_REST[o.displayFulfillmentStatus] ?? null)
      : null;
  const totalLines = lines.reduce((sum, line) => {
    const gross = ((line.originalTotalSet as Obj | undefined)?.shopMoney as Obj | undefined)?.amount;
    return typeof gross === "string" ? sum + toMinorUnits(gross, currency) : sum;
  }, 0);
  const lineTotalBag = {
    shopMoney: { amount: fromMinorUnits(totalLines, currency), currencyCode: currency },
  };
  const name = o.name;
  return {
    id: restId(o.id),
    admin_graphql_api_id: o.id ?? null,
    app_id: 580111,
    browser_ip: null,
    buyer_accepts_marketing: false,
    cancel_reason: typeof o.cancelReason === "string" ? o.cancelReason.toLowerCase() : null,
    cancelled_at: time(o.cancelledAt),
    cart_token: null,
    checkout_token: null,
    client_details: null,
    closed_at: time(o.closedAt),
    confirmation_number: null,
    confirmed: true,
    contact_email: o.email ?? null,
    created_at: time(o.createdAt),
    currency,
    current_shipping_price_set: restMoneyBag(o.currentShippingPriceSet),
    current_subtotal_price: restPrice(o.currentSubtotalPriceSet),
    current_subtotal_price_set: restMoneyBag(o.currentSubtotalPriceSet),
    current_total_additional_fees_set: null,
    current_total_discounts: restPrice(o.currentTotalDiscountsSet),
    current_total_discounts_set: restMoneyBag(o.currentTotalDiscountsSet),
    current_total_duties_set: null,
    current_total_price: restPrice(o.currentTotalPriceSet),
    current_total_price_set: restMoneyBag(o.currentTotalPriceSet),
    current_total_tax: restPrice(o.currentTotalTaxSet),
    current_total_tax_set: restMoneyBag(o.currentTotalTaxSet),
    customer_locale: "en",
    discount_codes: (Array.isArray(o.discountCodes) ? (o.discountCodes as unknown[]) : []).map((code) => ({
      code,
      amount: restPrice(o.totalDiscountsSet),
      type: "percentage",
    })),
    email: o.email ?? null,
    estimated_taxes: false,
    financial_status: status,
    fulfillment_status: fulfillment,
    name,
    note: o.note ?? null,
    note_attributes: [],
    number: typeof name === "string" ? Number(name.replace("#", "")) - 1000 : null,
    order_number: typeof name === "string" ? Number(name.replace("#", "")) : null,
    payment_gateway_names: ["shopify_payments"],
    phone: o.phone ?? null,
    presentment_currency: o.presentmentCurrencyCode ?? currency,
    processed_at: time(o.processedAt),
    source_name: "web",
    subtotal_price: restPrice(o.subtotalPriceSet),
    subtotal_price_set: restMoneyBag(o.subtotalPriceSet),
    tags: Array.isArray(o.tags) ? (o.tags as unknown[]).join(", ") : (o.tags ?? ""),
    tax_exempt: false,
    tax_lines: restTaxLines(o.taxLines),
    taxes_included: o.taxesIncluded ?? false,
    test: false,
    total_discounts: restPrice(o.totalDiscountsSet),
    total_discounts_set: restMoneyBag(o.totalDiscountsSet),
    total_line_items_price: restPrice(lineTotalBag),
    total_line_items_price_set: restMoneyBag(lineTotalBag),
    total_price: restPrice(o.totalPriceSet),
    total_price_set: restMoneyBag(o.totalPriceSet),
    total_shipping_price_set: restMoneyBag(o.totalShippingPriceSet),
    total_tax: restPrice(o.totalTaxSet),
    total_tax_set: restMoneyBag(o.totalTaxSet),
    updated_at: time(o.updatedAt),
    user_id: null,
    billing_address: restAddress(o.billingAddress),
    customer:
      customer === null || customer === undefined
        ? null
        : {
            id: restId(customer.id),
            email: o.email ?? null,
            first_name: customer.firstName ?? null,
            last_name: customer.lastName ?? null,
            state: "enabled",
            verified_email: true,
            tax_exempt: false,
            phone: null,
            currency,
            admin_graphql_api_id: customer.id ?? null,
          },
    discount_applications: [],
    fulfillments: (Array.isArray(o.fulfillments) ? (o.fulfillments as Obj[]) : []).map((f) => {
      const tracking = Array.isArray(f.trackingInfo) ? (f.trackingInfo as Obj[]) : [];
      return {
        id: restId(f.id),
        admin_graphql_api_id: f.id ?? null,
        created_at: time(f.createdAt),
        name: f.name ?? null,
        order_id: restId(o.id),
        status: typeof f.status === "string" ? f.status.toLowerCase() : null,
        tracking_company: tracking[0]?.company ?? null,
        tracking_number: tracking[0]?.number ?? null,
        tracking_numbers: tracking.map((t) => t.number).filter((n) => n !== null),
        tracking_url: tracking[0]?.url ?? null,
        updated_at: time(f.updatedAt),
      };
    }),
    line_items: lines.map((line) => {
      const quantity = line.quantity;
      const unfulfilled = typeof line.unfulfilledQuantity === "number" ? line.unfulfilledQuantity : quantity;
      return {
        id: restId(line.id),
        admin_graphql_api_id: line.id ?? null,
        attributed_staffs: [],
        current_quantity: line.currentQuantity ?? quantity,
        fulfillable_quantity: unfulfilled,
        fulfillment_service: "manual",
        fulfillment_status: unfulfilled === 0 ? "fulfilled" : unfulfilled === quantity ? null : "partial",
        gift_card: false,
        grams: 250,
        name: line.name ?? line.title ?? null,
        price: restPrice(line.originalUnitPriceSet),
        price_set: restMoneyBag(line.originalUnitPriceSet),
        product_exists: line.product !== null,
        product_id: line.product === null ? null : restId((line.product as Obj | undefined)?.id),
        properties: [],
        quantity,
        requires_shipping: line.requiresShipping ?? true,
        sku: line.sku ?? null,
        taxable: true,
        title: line.title ?? null,
        total_discount: restPrice(line.totalDiscountSet),
        total_discount_set: restMoneyBag(line.totalDiscountSet),
        variant_id: line.variant === null ? null : restId((line.variant as Obj | undefined)?.id),
        variant_inventory_management: line.variant === null ? null : "shopify",
        variant_title: line.variantTitle ?? null,
        vendor: line.vendor ?? null,
        tax_lines: restTaxLines(line.taxLines),
        duties: [],
        discount_allocations: (Array.isArray(line.discountAllocations)
          ? (line.discountAllocations as Obj[])
          : []
        ).map((allocation) => ({
          amount: restPrice(allocation.allocatedAmountSet),
          amount_set: restMoneyBag(allocation.allocatedAmountSet),
          discount_application_index: 0,
        })),
      };
    }),
    payment_terms: null,
    refunds: [],
    shipping_address: restAddress(o.shippingAddress),
    shipping_lines: (Array.isArray(o.shippingLines) ? (o.shippingLines as Obj[]) : []).map((line) => ({
      id: restId(line.id),
      carrier_identifier: null,
      code: line.code ?? null,
      discounted_price: restPrice(line.discountedPriceSet ?? line.originalPriceSet),
      discounted_price_set: restMoneyBag(line.discountedPriceSet ?? line.originalPriceSet),
      is_removed: false,
      phone: null,
      price: restPrice(line.originalPriceSet),
      price_set: restMoneyBag(line.originalPriceSet),
      requested_fulfillment_service_id: null,
      source: line.source ?? "shopify",
      title: line.title ?? null,
      tax_lines: [],
      discount_allocations: [],
    })),
    returns: [],
    line_item_groups: [],
  };
}

/** An inventory level as `inventory_levels/update` carries it. */
function restInventoryLevelPayload(item: Obj, level: Obj, available: number, offsetMinutes: number): Obj {
  return {
    inventory_item_id: restId(item.id),
    location_id: restId((level.location as Obj).id),
    available: item.tracked === true ? available : null,
    updated_at: shopLocalTime(level.updatedAt, offsetMinutes),
    admin_graphql_api_id: level.id,
  };
}

/** REST topic name → `WebhookSubscriptionTopic` value. */
const topicEnum = (topic: string) => topic.replace("/", "_").toUpperCase();

/** The topics this fake accepts subscriptions for (the enum is much longer on Shopify). */
const WEBHOOK_TOPICS = new Set(
  [
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/fulfilled",
    "orders/paid",
    "orders/partially_fulfilled",
    "orders/edited",
    "orders/delete",
    "refunds/create",
    "inventory_levels/update",
    "inventory_levels/connect",
    "inventory_levels/disconnect",
    "inventory_items/create",
    "inventory_items/update",
    "inventory_items/delete",
    "fulfillments/create",
    "fulfillments/update",
    "products/create",
    "products/update",
    "products/delete",
    "app/uninstalled",
    "app/scopes_update",
    "shop/update",
  ].map(topicEnum),
);

// ───────────────────────────── Shops ─────────────────────────────

/**
 * A single-range `Range: bytes=…` header as Cloud Storage reads it: `start-`, `start-end` (end clamped to
 * the file) or `-suffix`. Null = serve the whole file (no header, or one this fake does not understand,
 * which HTTP allows a server to ignore); "unsatisfiable" = the range starts at or past the end (416).
 */
function byteRange(
  header: string | undefined,
  size: number,
): { start: number; end: number } | "unsatisfiable" | null {
  const match = header === undefined ? null : /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) return null;
  const [, from = "", to = ""] = match;
  if (from === "" && to === "") return null;
  if (from === "") {
    const suffix = Number(to);
    if (suffix === 0 || size === 0) return "unsatisfiable";
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(from);
  const end = to === "" ? size - 1 : Math.min(Number(to), size - 1);
  if (to !== "" && Number(to) < start) return null;
  if (start >= size) return "unsatisfiable";
  return { start, end };
}

interface Bucket {
  maximumAvailable: number;
  restoreRate: number;
  available: number;
  at: number;
}

interface BulkOperationRecord {
  id: string;
  n: number;
  query: string;
  createdAtMs: number;
  readyAtMs: number;
  jsonl: string;
  objectCount: number;
  rootObjectCount: number;
}

interface WebhookState {
  subscriptions: Map<string, Obj>;
  paused: boolean;
  deliveries: FakeWebhookDelivery[];
}

interface Shop {
  domain: string;
  accessToken: string;
  clientSecret: string | null;
  webhooks: WebhookState;
  currency: string;
  bucket: Bucket;
  orders: Map<string, Obj>;
  fulfillmentOrders: Map<string, Obj>;
  fulfillments: Map<string, { view: Obj; record: FakeFulfillmentRecord }>;
  bulkOperations: Map<string, BulkOperationRecord>;
  /** `after`: requests still to answer normally before this failure applies (a crash mid-pull). */
  failures: { failure: ShopifyFakeFailure; retryAfterSeconds: number; after: number }[];
  stats: Omit<ShopifyFakeStats, "throttleStatus">;
  counters: {
    order: number;
    number: number;
    line: number;
    fulfillmentOrder: number;
    foLine: number;
    fulfillment: number;
    bulk: number;
    shipping: number;
    inventoryLevel: number;
    webhookSubscription: number;
    product: number;
    media: number;
  };
  lastUpdatedMs: number;
  /** Inventory items by GID, each holding its levels (`inventoryLevels`, in activation order). */
  inventoryItems: Map<string, Obj>;
  /** Products by GID (each holding its media and variants), and every variant by GID. */
  products: Map<string, Obj>;
  variants: Map<string, Obj>;
  locations: Map<string, Obj>;
  /** The last inventory change, like `lastUpdatedMs` for orders. */
  inventoryUpdatedMs: number;
  autoOrders: ReturnType<typeof setInterval> | null;
  random: () => number;
}

function refill(bucket: Bucket, now: number) {
  bucket.available = Math.min(
    bucket.maximumAvailable,
    bucket.available + ((now - bucket.at) / 1000) * bucket.restoreRate,
  );
  bucket.at = now;
}

function throttleStatus(bucket: Bucket) {
  return {
    maximumAvailable: bucket.maximumAvailable,
    currentlyAvailable: Math.floor(bucket.available),
    restoreRate: bucket.restoreRate,
  };
}

const numericId = (gid: unknown) => Number(String(gid).split("/").pop());

function matchesSearch(order: Obj, search: unknown): boolean {
  if (typeof search !== "string" || search.trim() === "") return true;
  const terms = search.match(/(?:[^\s'"]+|'[^']*'|"[^"]*")+/g) ?? [];
  for (const term of terms) {
    if (term === "AND") continue;
    const match = /^([a-z_]+):(>=|<=|>|<)?(.*)$/.exec(term);
    if (!match) continue;
    const [, key = "", op = "", rawValue = ""] = match;
    const value = rawValue.replace(/^['"]|['"]$/g, "");
    const dateField = { updated_at: "updatedAt", created_at: "createdAt", processed_at: "processedAt" }[key];
    if (dateField !== undefined) {
      const left = Date.parse(String(order[dateField]));
      const right = Date.parse(value);
      if (Number.isNaN(right)) continue;
      const ok =
        op === ">="
          ? left >= right
          : op === "<="
            ? left <= right
            : op === ">"
              ? left > right
              : op === "<"
                ? left < right
                : left === right;
      if (!ok) return false;
    } else if (key === "name") {
      if (String(order.name).replace("#", "").toLowerCase() !== value.replace("#", "").toLowerCase()) {
        return false;
      }
    } else if (key === "status") {
      const cancelled = order.cancelledAt !== null;
      const closed = order.closed === true;
      const status = cancelled ? "cancelled" : closed ? "closed" : "open";
      if (value !== "any" && value !== status) return false;
    }
    // Shopify ignores filters it does not know; so does the fake.
  }
  return true;
}

const SORT_FIELDS: Record<string, string> = {
  UPDATED_AT: "updatedAt",
  CREATED_AT: "createdAt",
  PROCESSED_AT: "processedAt",
  ID: "id",
};

function sortValue(order: Obj, sortKey: string): number {
  const field = SORT_FIELDS[sortKey] ?? "id";
  return field === "id" ? numericId(order.id) : Date.parse(String(order[field]));
}

/** The search fields Shopify documents for `orders(query:)`. */
const ORDER_SEARCH_FIELDS = new Set([
  "cart_token",
  "channel",
  "channel_id",
  "chargeback_status",
  "checkout_token",
  "confirmation_number",
  "created_at",
  "credit_card_last4",
  "current_total_price",
  "customer_id",
  "delivery_method",
  "discount_code",
  "email",
  "financial_status",
  "fraud_protection_level",
  "fulfillment_location_id",
  "fulfillment_status",
  "gateway",
  "id",
  "location_id",
  "name",
  "payment_id",
  "payment_provider_id",
  "po_number",
  "processed_at",
  "reference_location_id",
  "return_status",
  "risk_level",
  "sales_channel",
  "sku",
  "source_identifier",
  "source_name",
  "status",
  "subtotal_line_items_quantity",
  "tag",
  "tag_not",
  "test",
  "total_weight",
  "updated_at",
]);

/** Terms of a search string, quoted values kept whole. */
function searchTerms(search: unknown): string[] {
  if (typeof search !== "string") return [];
  return search.match(/(?:[^\s'"]+|'[^']*'|"[^"]*")+/g) ?? [];
}

const unquote = (value: string) => value.replace(/^['"]|['"]$/g, "");
const digitsOf = (value: unknown) => (typeof value === "string" ? value.replace(/\D/g, "") : "");

/** The `field:` names of a search Shopify would not apply to orders. */
function unappliedOrderSearchFields(search: unknown): string[] {
  const fields: string[] = [];
  for (const term of searchTerms(search)) {
    const match = /^-?([a-z_.]+):/.exec(term);
    const field = match?.[1];
    if (field !== undefined && !ORDER_SEARCH_FIELDS.has(field) && !field.startsWith("metafields.")) {
      fields.push(field);
    }
  }
  return fields;
}

/** Shopify's default (unfielded) search over an order: its number, email, names and phone digits. */
function defaultOrderSearchMatches(order: Obj, term: string): boolean {
  const value = unquote(term).toLowerCase();
  if (value === "" || value === "and" || value === "or") return true;
  const customer = (order.customer ?? null) as Obj | null;
  const addresses = [order.shippingAddress, order.billingAddress].filter(
    (a): a is Obj => typeof a === "object" && a !== null,
  );
  const texts = [order.name, order.email, customer?.displayName, ...addresses.map((a) => a.name)];
  if (texts.some((t) => typeof t === "string" && t.toLowerCase().includes(value))) return true;
  const digits = value.replace(/\D/g, "");
  if (digits.length < 7) return false;
  const phones = [order.phone, customer?.phone, ...addresses.map((a) => a.phone)].map(digitsOf);
  return phones.some((phone) => phone !== "" && (phone.includes(digits) || digits.endsWith(phone)));
}

/** Orders: `matchesSearch`'s fields, plus `email:` and plain terms; unknown fields are left out. */
function matchesOrderSearch(order: Obj, search: unknown): boolean {
  if (!matchesSearch(order, search)) return false;
  for (const term of searchTerms(search)) {
    const fielded = /^([a-z_.]+):(.*)$/.exec(term);
    if (fielded === null) {
      if (!defaultOrderSearchMatches(order, term)) return false;
      continue;
    }
    if (fielded[1] === "email") {
      const wanted = unquote(fielded[2] ?? "").toLowerCase();
      if (String(order.email ?? "").toLowerCase() !== wanted) return false;
    }
  }
  return true;
}

const PRODUCT_SORT_KEYS = new Set(["ID", "UPDATED_AT"]);

function productSortValue(product: Obj, sortKey: string): number {
  return sortKey === "UPDATED_AT" ? Date.parse(String(product.updatedAt)) : numericId(product.id);
}

/** Width and height of the fake's product photos (square, as most shop themes want them). */
const PHOTO_SIZE = 2048;

const slug = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

// ───────────────────────────── The fake ─────────────────────────────

export async function startShopifyFake(options: ShopifyFakeOptions = {}): Promise<ShopifyFake> {
  const bulkDelayMs = options.bulkDelayMs ?? 50;
  const defaultMaximum = options.maximumAvailable ?? 2000;
  const defaultRestore = options.restoreRate ?? 100;
  const shops = new Map<string, Shop>();
  const hanging = new Set<ServerResponse>();
  let baseUrl = "";

  const shopOf = (domain: string): Shop => {
    const shop = shops.get(domain);
    if (shop === undefined) throw new Error(`Unknown fake shop ${domain}`);
    return shop;
  };

  const createShop: ShopifyFake["createShop"] = (input) => {
    const currency = input.currency ?? "USD";
    if (MARKETS[currency] === undefined) throw new Error(`The fake has no market for ${currency}`);
    const maximumAvailable = input.maximumAvailable ?? defaultMaximum;
    // A distinct id range per shop, like Shopify's global ids.
    const base = 5_000_000 + shops.size * 100_000;
    let seed = base;
    shops.set(input.shop, {
      domain: input.shop,
      accessToken: input.accessToken,
      clientSecret: input.clientSecret ?? null,
      webhooks: { subscriptions: new Map(), paused: false, deliveries: [] },
      currency,
      bucket: {
        maximumAvailable,
        restoreRate: input.restoreRate ?? defaultRestore,
        available: maximumAvailable,
        at: Date.now(),
      },
      orders: new Map(),
      fulfillmentOrders: new Map(),
      fulfillments: new Map(),
      bulkOperations: new Map(),
      failures: [],
      stats: {
        requests: 0,
        throttled: 0,
        overLimit: 0,
        maxCostExceeded: 0,
        unauthorized: 0,
        injected: Object.fromEntries(FAILURES.map((f) => [String(f), 0])),
        requestedCost: 0,
        actualCost: 0,
        requestedCosts: [],
        bulkDownloads: 0,
        bulkRangeRequests: 0,
        webhooks: { delivered: 0, failedAttempts: 0, abandoned: 0, dropped: 0, unsigned: 0 },
      },
      counters: {
        order: 5_820_000_000_000 + base,
        number: 1000,
        line: 14_800_000_000_000 + base * 10,
        fulfillmentOrder: 6_900_000_000_000 + base,
        foLine: 14_900_000_000_000 + base * 10,
        fulfillment: 5_300_000_000_000 + base,
        bulk: 3_100_000_000_000 + base,
        shipping: 4_400_000_000_000 + base,
        inventoryLevel: 120_000_000_000 + base,
        webhookSubscription: 1_100_000_000 + base,
        product: 9_100_000_000 + base,
        media: 31_000_000_000 + base,
      },
      lastUpdatedMs: 0,
      inventoryItems: new Map(),
      products: new Map(),
      variants: new Map(),
      locations: new Map(),
      inventoryUpdatedMs: 0,
      autoOrders: null,
      // Deterministic per shop: the same seed gives the same orders, run after run.
      random: () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      },
    });
    stockCatalog(shopOf(input.shop));
    stockProducts(shopOf(input.shop));
  };

  /** A new last-modified time: now, strictly after the shop's previous one (Shopify's order is total). */
  const bump = (shop: Shop, atMs = Date.now()) => {
    shop.lastUpdatedMs = Math.max(atMs, shop.lastUpdatedMs + 1000);
    return shopifyTime(shop.lastUpdatedMs);
  };

  const summary = (order: Obj): FakeOrderSummary => ({
    id: String(order.id),
    name: String(order.name),
    updatedAt: String(order.updatedAt),
    lineItemIds: (order.lineItems as Obj[]).map((line) => String(line.id)),
  });

  const createOrder = (shop: Shop, seed: FakeOrderSeed, placedAtMs: number): Obj => {
    const currency = shop.currency;
    const market = MARKETS[currency];
    if (market === undefined) throw new Error(`The fake has no market for ${currency}`);
    const exponent = currencyExponent(currency);
    const fromUsd = (cents: number) => Math.round((cents / 100) * market.perUsd * 10 ** exponent);
    const pick = <T>(list: T[]): T => list[Math.floor(shop.random() * list.length)] as T;

    const generated = () => {
      const picked = Array.from({ length: 1 + Math.floor(shop.random() * 3) }, () => {
        const item = pick(CATALOG);
        return { sku: item.sku, quantity: 1 + Math.floor(shop.random() * 3) };
      });
      // Gift wrapping comes with something to wrap, as in a real store.
      if (picked.every((line) => line.sku === null)) {
        const goods = CATALOG.filter((item) => item.sku !== null);
        picked.push({ sku: pick(goods).sku, quantity: 1 });
      }
      return picked;
    };
    const specs: NonNullable<FakeOrderSeed["lines"]> = seed.lines ?? generated();
    const discountCode =
      seed.discountCode === undefined ? (shop.random() < 0.3 ? "WELCOME10" : null) : seed.discountCode;
    const orderId = `gid://shopify/Order/${++shop.counters.order}`;
    const lines = specs.map((spec) => {
      const item = CATALOG.find((c) => c.sku === spec.sku && spec.sku !== undefined) ?? null;
      const quantity = spec.quantity ?? 1;
      const unit =
        spec.unitPrice !== undefined ? toMinorUnits(spec.unitPrice, currency) : fromUsd(item?.usd ?? 1000);
      const gross = unit * quantity;
      const discount = discountCode === null ? 0 : Math.round(gross * 0.1);
      const tax = Math.round((gross - discount) * market.taxRate);
      const lineId = `gid://shopify/LineItem/${++shop.counters.line}`;
      const title = spec.title ?? item?.title ?? "Custom item";
      const variantTitle = spec.variantTitle !== undefined ? spec.variantTitle : (item?.variantTitle ?? null);
      const sku = spec.sku === undefined ? (item?.sku ?? null) : spec.sku;
      const line: Obj = {
        __typename: "LineItem",
        id: lineId,
        name: variantTitle === null ? title : `${title} - ${variantTitle}`,
        title,
        variantTitle,
        sku,
        vendor: "Tradewind Demo Co.",
        quantity,
        currentQuantity: quantity,
        unfulfilledQuantity: quantity,
        requiresShipping: true,
        originalUnitPriceSet: moneyBag(unit, currency),
        discountedUnitPriceSet: moneyBag(unit - Math.round(discount / quantity), currency),
        originalTotalSet: moneyBag(gross, currency),
        totalDiscountSet: moneyBag(discount, currency),
        discountAllocations:
          discount === 0
            ? []
            : [{ __typename: "DiscountAllocation", allocatedAmountSet: moneyBag(discount, currency) }],
        taxLines: [
          {
            __typename: "TaxLine",
            title: market.taxTitle,
            rate: market.taxRate,
            ratePercentage: market.taxRate * 100,
            priceSet: moneyBag(tax, currency),
          },
        ],
        variant:
          item === null
            ? null
            : {
                __typename: "ProductVariant",
                id: `gid://shopify/ProductVariant/${item.variantId}`,
                sku: item.sku,
                title: item.variantTitle ?? "Default Title",
              },
        product:
          item === null
            ? null
            : { __typename: "Product", id: `gid://shopify/Product/${item.productId}`, title: item.title },
      };
      return { line, gross, discount, tax };
    });
    const subtotal = lines.reduce((sum, l) => sum + l.gross - l.discount, 0);
    const discounts = lines.reduce((sum, l) => sum + l.discount, 0);
    const tax = lines.reduce((sum, l) => sum + l.tax, 0);
    const freeShipping = subtotal >= fromUsd(7500);
    const shippingPrice = freeShipping ? 0 : fromUsd(market.shippingUsd);
    const total = subtotal + shippingPrice + tax;
    const customerSeed = pick(CUSTOMERS);
    const shippingAddress = seed.shippingAddress === null ? null : { ...pick(market.addresses) };
    const customer =
      seed.customer === null
        ? null
        : {
            __typename: "Customer",
            id: `gid://shopify/Customer/${7_100_000_000_000 + CUSTOMERS.indexOf(customerSeed)}`,
            displayName: `${customerSeed.first} ${customerSeed.last}`,
            firstName: customerSeed.first,
            lastName: customerSeed.last,
          };
    const createdAt = shopifyTime(seed.createdAt ? Date.parse(seed.createdAt) : placedAtMs);
    const number = ++shop.counters.number;
    const financialStatus = seed.financialStatus ?? (shop.random() < 0.85 ? "PAID" : "PENDING");
    const order: Obj = {
      __typename: "Order",
      id: orderId,
      legacyResourceId: String(numericId(orderId)),
      name: `#${number}`,
      email: seed.email !== undefined ? seed.email : customer === null ? null : customerSeed.email,
      phone: seed.phone ?? null,
      createdAt,
      updatedAt: createdAt,
      processedAt: createdAt,
      cancelledAt: null,
      cancelReason: null,
      closed: false,
      closedAt: null,
      note: seed.note === undefined ? null : seed.note,
      tags: seed.tags ?? [],
      discountCodes: discountCode === null ? [] : [discountCode],
      currencyCode: currency,
      presentmentCurrencyCode: currency,
      taxesIncluded: false,
      displayFinancialStatus: financialStatus,
      displayFulfillmentStatus: "UNFULFILLED",
      customer,
      shippingAddress,
      billingAddress: shippingAddress === null ? { ...pick(market.addresses) } : { ...shippingAddress },
      subtotalPriceSet: moneyBag(subtotal, currency),
      totalShippingPriceSet: moneyBag(shippingPrice, currency),
      totalTaxSet: moneyBag(tax, currency),
      totalDiscountsSet: moneyBag(discounts, currency),
      totalPriceSet: moneyBag(total, currency),
      currentSubtotalPriceSet: moneyBag(subtotal, currency),
      currentShippingPriceSet: moneyBag(shippingPrice, currency),
      currentTotalTaxSet: moneyBag(tax, currency),
      currentTotalDiscountsSet: moneyBag(discounts, currency),
      currentTotalPriceSet: moneyBag(total, currency),
      taxLines: [
        {
          __typename: "TaxLine",
          title: market.taxTitle,
          rate: market.taxRate,
          ratePercentage: market.taxRate * 100,
          priceSet: moneyBag(tax, currency),
        },
      ],
      currentTaxLines: [
        {
          __typename: "TaxLine",
          title: market.taxTitle,
          rate: market.taxRate,
          ratePercentage: market.taxRate * 100,
          priceSet: moneyBag(tax, currency),
        },
      ],
      shippingLines:
        shippingAddress === null
          ? []
          : [
              {
                __typename: "ShippingLine",
                id: `gid://shopify/ShippingLine/${++shop.counters.shipping}`,
                title: freeShipping ? "Free Shipping" : "Standard",
                code: freeShipping ? "FREE" : "STANDARD",
                source: "shopify",
                originalPriceSet: moneyBag(shippingPrice, currency),
                discountedPriceSet: moneyBag(shippingPrice, currency),
              },
            ],
      lineItems: lines.map((l) => l.line),
      fulfillmentOrders: [],
      fulfillments: [],
    };
    const fulfillmentOrder: Obj = {
      __typename: "FulfillmentOrder",
      id: `gid://shopify/FulfillmentOrder/${++shop.counters.fulfillmentOrder}`,
      status: "OPEN",
      requestStatus: "UNSUBMITTED",
      orderId,
      assignedLocation: {
        __typename: "FulfillmentOrderAssignedLocation",
        name: "Main Warehouse",
        location: { __typename: "Location", id: "gid://shopify/Location/76543210", name: "Main Warehouse" },
      },
      lineItems: lines.map((l) => ({
        __typename: "FulfillmentOrderLineItem",
        id: `gid://shopify/FulfillmentOrderLineItem/${++shop.counters.foLine}`,
        sku: l.line.sku,
        totalQuantity: l.line.quantity,
        remainingQuantity: l.line.quantity,
        lineItem: l.line,
      })),
    };
    (order.fulfillmentOrders as Obj[]).push(fulfillmentOrder);
    shop.fulfillmentOrders.set(String(fulfillmentOrder.id), fulfillmentOrder);
    shop.orders.set(orderId, order);
    for (const { line } of lines) commitStock(shop, line.sku as string | null, Number(line.quantity));
    if (seed.cancelled) cancelOrder(shop, order);
    return order;
  };

  const cancelOrder = (shop: Shop, order: Obj) => {
    order.cancelledAt = bump(shop);
    order.updatedAt = order.cancelledAt;
    order.cancelReason = "CUSTOMER";
    order.closed = true;
    order.displayFinancialStatus = order.displayFinancialStatus === "PAID" ? "REFUNDED" : "VOIDED";
    for (const fo of order.fulfillmentOrders as Obj[]) fo.status = "CLOSED";
  };

  /** A new inventory change time: now, strictly after the shop's previous inventory change. */
  const bumpInventory = (shop: Shop) => {
    shop.inventoryUpdatedMs = Math.max(Date.now(), shop.inventoryUpdatedMs + 1000);
    return shopifyTime(shop.inventoryUpdatedMs);
  };

  const locationOf = (shop: Shop, id: string): Obj => {
    let location = shop.locations.get(id);
    if (location === undefined) {
      location = { __typename: "Location", id, name: `Location ${numericId(id)}`, isActive: true };
      shop.locations.set(id, location);
    }
    return location;
  };

  const levelState = (level: Obj) => level._state as LevelState;

  /** Stocks `item` at `location` (Shopify's "activate"): a new level with `available` units. */
  const activateLevel = (shop: Shop, item: Obj, location: Obj, available: number, at: string): Obj => {
    const state: LevelState = {
      quantities: {
        available,
        committed: 0,
        damaged: 0,
        incoming: 0,
        quality_control: 0,
        reserved: 0,
        safety_stock: 0,
      },
      changedAt: { available: at, on_hand: at },
    };
    const levelNumber = ++shop.counters.inventoryLevel;
    const level: Obj = {
      __typename: "InventoryLevel",
      id: `gid://shopify/InventoryLevel/${levelNumber}?inventory_item_id=${numericId(item.id)}`,
      createdAt: at,
      updatedAt: at,
      isActive: true,
      canDeactivate: true,
      deactivationAlert: null,
      location,
      item,
      _state: state,
      quantities: ((field, variables) => {
        const names = arg(field, "names", variables);
        if (!Array.isArray(names)) {
          throw new GraphqlError(
            "Field 'quantities' is missing required arguments: names",
            "missingRequiredArguments",
            { className: "Field", name: "quantities", arguments: "names" },
          );
        }
        return names.map((name) => {
          if (!(QUANTITY_NAMES as readonly unknown[]).includes(name)) {
            throw new GraphqlError(`The quantity name '${String(name)}' is not valid.`, "INVALID");
          }
          const key = name as QuantityName;
          const quantity =
            key === "on_hand"
              ? ON_HAND_PARTS.reduce((sum, part) => sum + state.quantities[part], 0)
              : state.quantities[key];
          return {
            __typename: "InventoryQuantity",
            id: `gid://shopify/InventoryQuantity/${levelNumber}?inventory_item_id=${numericId(item.id)}&name=${key}`,
            name: key,
            quantity,
            updatedAt: state.changedAt[key] ?? null,
          };
        });
      }) satisfies FieldResolver,
    };
    (item.inventoryLevels as Obj[]).push(level);
    return level;
  };

  /** One inventory item per catalogue variant, stocked as the module comment describes. */
  const stockCatalog = (shop: Shop) => {
    const at = bumpInventory(shop);
    for (const location of LOCATIONS) locationOf(shop, location.id).name = location.name;
    for (const entry of CATALOG) {
      const id = inventoryItemId(entry.variantId);
      const item: Obj = {
        __typename: "InventoryItem",
        id,
        legacyResourceId: String(numericId(id)),
        sku: entry.sku,
        tracked: entry.sku !== null,
        requiresShipping: entry.sku !== null,
        createdAt: at,
        updatedAt: at,
        variant: {
          __typename: "ProductVariant",
          id: `gid://shopify/ProductVariant/${entry.variantId}`,
          sku: entry.sku,
          title: entry.variantTitle ?? "Default Title",
        },
        inventoryLevels: [],
      };
      shop.inventoryItems.set(id, item);
      const stockedAt = entry.sku === null || MAIN_LOCATION_ONLY.has(entry.sku) ? [MAIN_LOCATION] : LOCATIONS;
      stockedAt.forEach((location, index) => {
        const available = entry.sku === null ? 0 : startingStock(entry.variantId, index);
        activateLevel(shop, item, locationOf(shop, location.id), available, at);
      });
    }
  };

  const inventoryItemBySku = (shop: Shop, sku: string): Obj | undefined =>
    [...shop.inventoryItems.values()].find((item) => item.sku === sku);

  const levelSummary = (item: Obj, level: Obj): FakeInventoryLevelSummary => ({
    inventoryItemId: String(item.id),
    sku: (item.sku as string | null) ?? null,
    tracked: item.tracked === true,
    locationId: String((level.location as Obj).id),
    available: levelState(level).quantities.available,
    updatedAt: String(level.updatedAt),
  });

  /** Records a quantity change on a level: its states' and its own `updatedAt` move on together. */
  const touchLevel = (shop: Shop, level: Obj, names: QuantityName[]) => {
    const at = bumpInventory(shop);
    for (const name of [...names, "on_hand" as const]) levelState(level).changedAt[name] = at;
    level.updatedAt = at;
    if (names.includes("available")) {
      emitWebhook(
        shop,
        "inventory_levels/update",
        restInventoryLevelPayload(
          level.item as Obj,
          level,
          levelState(level).quantities.available,
          MARKETS[shop.currency]?.utcOffsetMinutes ?? 0,
        ),
      );
    }
  };

  const setInventory: ShopifyFake["setInventory"] = (domain, input) => {
    const shop = shopOf(domain);
    if (!Number.isInteger(input.available)) throw new RangeError("available must be an integer");
    const locationId = input.locationId ?? MAIN_LOCATION.id;
    if (!/^gid:\/\/shopify\/Location\/\d+$/.test(locationId)) {
      throw new RangeError(`Not a location GID: "${locationId}"`);
    }
    const item = inventoryItemBySku(shop, input.sku);
    if (item === undefined) throw new Error(`Unknown SKU ${input.sku} in ${domain}`);
    const levels = item.inventoryLevels as Obj[];
    const level =
      levels.find((l) => (l.location as Obj).id === locationId) ??
      activateLevel(shop, item, locationOf(shop, locationId), 0, shopifyTime(Date.now()));
    levelState(level).quantities.available = input.available;
    touchLevel(shop, level, ["available"]);
    return levelSummary(item, level);
  };

  const listInventory: ShopifyFake["listInventory"] = (domain) =>
    [...shopOf(domain).inventoryItems.values()]
      .sort((a, b) => numericId(a.id) - numericId(b.id))
      .flatMap((item) => (item.inventoryLevels as Obj[]).map((level) => levelSummary(item, level)));

  // ── Products and their pictures ──

  /** The search warnings of the request being executed (Shopify's `extensions.search`). */
  let searchReport: Obj[] = [];

  /** A MediaImage as Shopify serves it: READY, with its image on the CDN (`?v=` changes with the file). */
  const mediaImage = (shop: Shop, seed: FakeProductImageSeed, fallbackName: string, at: string): Obj => {
    const n = ++shop.counters.media;
    const url =
      seed.url ??
      `https://cdn.shopify.com/s/files/1/0712/3456/7890/files/${slug(fallbackName)}.jpg?v=${Math.floor(Date.parse(at) / 1000)}`;
    const alt = seed.alt === undefined ? fallbackName : seed.alt;
    return {
      __typename: "MediaImage",
      id: `gid://shopify/MediaImage/${n}`,
      alt: alt ?? "",
      mediaContentType: "IMAGE",
      status: "READY",
      createdAt: at,
      updatedAt: at,
      fileStatus: "READY",
      mimeType: "image/jpeg",
      image: {
        __typename: "Image",
        id: `gid://shopify/ImageSource/${n}`,
        url,
        altText: alt,
        width: seed.width ?? PHOTO_SIZE,
        height: seed.height ?? PHOTO_SIZE,
      },
    };
  };

  const video = (shop: Shop, title: string, at: string): Obj => {
    const n = ++shop.counters.media;
    return {
      __typename: "Video",
      id: `gid://shopify/Video/${n}`,
      alt: `${title} video`,
      mediaContentType: "VIDEO",
      status: "READY",
      createdAt: at,
      updatedAt: at,
      duration: 14_000,
      filename: `${slug(title)}.mp4`,
      sources: [
        {
          __typename: "VideoSource",
          url: `https://cdn.shopify.com/videos/c/o/v/${slug(title)}.mp4`,
          mimeType: "video/mp4",
          format: "mp4",
          width: 1920,
          height: 1080,
        },
      ],
    };
  };

  const productSummary = (product: Obj): FakeProductSummary => ({
    id: String(product.id),
    title: String(product.title),
    updatedAt: String(product.updatedAt),
    variants: (product.variants as Obj[]).map((variant) => {
      const own = (variant.media as Obj[])[0];
      return {
        id: String(variant.id),
        sku: (variant.sku as string | null) ?? null,
        title: String(variant.title),
        imageUrl: own === undefined ? null : String((own.image as Obj).url),
        updatedAt: String(variant.updatedAt),
      };
    }),
    imageUrls: (product.media as Obj[])
      .filter((m) => m.__typename === "MediaImage")
      .map((m) => String((m.image as Obj).url)),
  });

  /** A product with its media and variants; variants' own pictures are media of the product. */
  const createProduct = (
    shop: Shop,
    seed: FakeProductSeed,
    ids: { productId?: number; variantIds?: number[] } = {},
  ): Obj => {
    const at = shopifyTime(Date.now());
    const productNumber = ids.productId ?? ++shop.counters.product;
    const id = `gid://shopify/Product/${productNumber}`;
    const images = (seed.images ?? []).map((image, index) =>
      mediaImage(shop, image, index === 0 ? seed.title : `${seed.title} ${index + 1}`, at),
    );
    const media = seed.video ? [...images, video(shop, seed.title, at)] : images;
    const variantSeeds = seed.variants ?? [{ sku: null, title: "Default Title" }];
    const product: Obj = {
      __typename: "Product",
      id,
      legacyResourceId: String(productNumber),
      title: seed.title,
      handle: slug(seed.title),
      status: "ACTIVE",
      vendor: "Tradewind Demo Co.",
      productType: "Apparel & Accessories",
      tags: [],
      createdAt: at,
      updatedAt: at,
      featuredMedia: images[0] ?? null,
      media,
      variants: [],
    };
    product.variants = variantSeeds.map((variantSeed, index) => {
      const variantNumber = ids.variantIds?.[index] ?? ++shop.counters.product;
      const own = variantSeed.image === undefined ? undefined : images[variantSeed.image];
      const title = variantSeed.title ?? "Default Title";
      const variant: Obj = {
        __typename: "ProductVariant",
        id: `gid://shopify/ProductVariant/${variantNumber}`,
        legacyResourceId: String(variantNumber),
        sku: variantSeed.sku ?? null,
        title,
        displayName: `${seed.title} - ${title}`,
        price: "24.00",
        availableForSale: true,
        createdAt: at,
        updatedAt: at,
        media: own === undefined ? [] : [own],
        product: { __typename: "Product", id, title: seed.title },
      };
      shop.variants.set(String(variant.id), variant);
      return variant;
    });
    shop.products.set(id, product);
    return product;
  };

  /** One product per catalogue product, with the variant ids order lines carry. */
  const stockProducts = (shop: Shop) => {
    const byProduct = new Map<number, CatalogItem[]>();
    for (const item of CATALOG)
      byProduct.set(item.productId, [...(byProduct.get(item.productId) ?? []), item]);
    for (const [productId, items] of byProduct) {
      const first = items[0];
      if (first === undefined) continue;
      // Gift wrapping has no picture; a product with several variants has one per variant plus a shared one.
      const images: FakeProductImageSeed[] =
        first.sku === null
          ? []
          : items.length > 1
            ? [
                ...items.map((item) => ({ alt: `${item.title} in ${item.variantTitle ?? "default"}` })),
                { alt: `${first.title} worn outdoors` },
              ]
            : [{ alt: first.title }];
      createProduct(
        shop,
        {
          title: first.title,
          images,
          video: productId === 8802,
          variants: items.map((item, index) => ({
            sku: item.sku,
            title: item.variantTitle ?? "Default Title",
            ...(items.length > 1 ? { image: index } : {}),
          })),
        },
        { productId, variantIds: items.map((item) => item.variantId) },
      );
    }
  };

  const seedProducts: ShopifyFake["seedProducts"] = (domain, seeds) => {
    const shop = shopOf(domain);
    return seeds.map((seed) => productSummary(createProduct(shop, seed)));
  };

  /** Every change moves the product's `updatedAt` on (and a variant's, when its own picture changes). */
  const updateProduct: ShopifyFake["updateProduct"] = (domain, id, patch) => {
    const shop = shopOf(domain);
    const product = shop.products.get(id);
    if (product === undefined) throw new Error(`Unknown product ${id} in ${domain}`);
    // Whole seconds, strictly after the product's previous change (as for orders).
    const at = shopifyTime(Math.max(Date.now(), Date.parse(String(product.updatedAt)) + 1000));
    if (patch.title !== undefined) product.title = patch.title;
    if (patch.images !== undefined) {
      const images = patch.images.map((image, index) =>
        mediaImage(shop, image, `${String(product.title)} ${index + 1}`, at),
      );
      product.media = [...images, ...(product.media as Obj[]).filter((m) => m.__typename !== "MediaImage")];
      product.featuredMedia = images[0] ?? null;
      for (const variant of product.variants as Obj[]) {
        if ((variant.media as Obj[]).length > 0) variant.media = [];
      }
    }
    const images = (product.media as Obj[]).filter((m) => m.__typename === "MediaImage");
    for (const [variantId, index] of Object.entries(patch.variantImages ?? {})) {
      const variant = (product.variants as Obj[]).find((v) => v.id === variantId);
      if (variant === undefined) throw new Error(`Unknown variant ${variantId} of ${id}`);
      const own = index === null ? undefined : images[index];
      variant.media = own === undefined ? [] : [own];
      variant.updatedAt = at;
    }
    product.updatedAt = at;
    return productSummary(product);
  };

  const listProducts: ShopifyFake["listProducts"] = (domain) =>
    [...shopOf(domain).products.values()]
      .sort((a, b) => numericId(a.id) - numericId(b.id))
      .map(productSummary);

  /** Products by `sortKey` (ID or UPDATED_AT) with keyset cursors, like orders. */
  const resolveProducts = (shop: Shop, field: FieldNode, variables: Variables): Obj => {
    const size = checkPageSize(field, variables);
    const sortKey = String(arg(field, "sortKey", variables) ?? "ID");
    if (!PRODUCT_SORT_KEYS.has(sortKey)) {
      throw new GraphqlError(
        `Argument 'sortKey' on Field 'products' has an invalid value (${sortKey}). Expected type 'ProductSortKeys'.`,
        "argumentLiteralsIncompatible",
      );
    }
    const reverse = arg(field, "reverse", variables) === true;
    const search = arg(field, "query", variables);
    const list = [...shop.products.values()]
      .filter((product) => matchesSearch(product, search))
      .sort(
        (a, b) =>
          productSortValue(a, sortKey) - productSortValue(b, sortKey) || numericId(a.id) - numericId(b.id),
      );
    if (reverse) list.reverse();
    const after = arg(field, "after", variables);
    let start = 0;
    if (after !== undefined && after !== null) {
      const { last_id: lastId, last_value: lastValue } = decodeCursor(after);
      const later = (p: Obj) => {
        const cmp = productSortValue(p, sortKey) - Number(lastValue) || numericId(p.id) - Number(lastId);
        return reverse ? cmp < 0 : cmp > 0;
      };
      start = list.findIndex(later);
      if (start < 0) start = list.length;
    }
    return projectConnection(
      field,
      list.slice(start, start + size),
      {
        start,
        hasNextPage: start + size < list.length,
        cursorOf: (item) =>
          encodeCursor({ last_id: numericId(item.id), last_value: productSortValue(item, sortKey) }),
      },
      variables,
    );
  };

  /** A placed order commits its units at the main location (available → committed), as Shopify does. */
  const commitStock = (shop: Shop, sku: string | null, quantity: number) => {
    if (sku === null) return;
    const item = inventoryItemBySku(shop, sku);
    if (item === undefined || item.tracked !== true) return;
    const level = (item.inventoryLevels as Obj[]).find((l) => (l.location as Obj).id === MAIN_LOCATION.id);
    if (level === undefined) return;
    const state = levelState(level);
    state.quantities.available -= quantity;
    state.quantities.committed += quantity;
    touchLevel(shop, level, ["available", "committed"]);
  };

  const seedOrders: ShopifyFake["seedOrders"] = (domain, seed) => {
    const shop = shopOf(domain);
    const seeds: FakeOrderSeed[] = typeof seed === "number" ? Array.from({ length: seed }, () => ({})) : seed;
    const now = Date.now();
    return seeds.map((one, index) => {
      // Placed in the recent past, a minute apart, oldest first; last modified in the same order.
      const placedAt = now - (seeds.length - index) * 60_000;
      const order = createOrder(shop, one, placedAt);
      if (!one.cancelled) order.updatedAt = bump(shop, placedAt + 5000);
      emitOrderCreated(shop, order);
      return summary(order);
    });
  };

  const findOrder = (shop: Shop, id: string): Obj | undefined =>
    shop.orders.get(id) ??
    shop.orders.get(`gid://shopify/Order/${id}`) ??
    [...shop.orders.values()].find((o) => o.name === id || o.name === `#${id}`);

  const updateOrder: ShopifyFake["updateOrder"] = (domain, id, patch) => {
    const shop = shopOf(domain);
    const order = findOrder(shop, id);
    if (order === undefined) throw new Error(`Unknown order ${id} in ${domain}`);
    for (const key of [
      "note",
      "tags",
      "email",
      "phone",
      "displayFinancialStatus",
      "displayFulfillmentStatus",
    ] as const) {
      if (patch[key] !== undefined) order[key] = patch[key];
    }
    if (patch.raw !== undefined) Object.assign(order, structuredClone(patch.raw));
    if (patch.cancel) cancelOrder(shop, order);
    else order.updatedAt = bump(shop);
    emitOrderUpdated(shop, order, [
      ...(patch.cancel ? ["orders/cancelled"] : []),
      ...(patch.displayFinancialStatus === "PAID" ? ["orders/paid"] : []),
      ...(patch.displayFulfillmentStatus === "FULFILLED" ? ["orders/fulfilled"] : []),
    ]);
    return summary(order);
  };

  const failNext: ShopifyFake["failNext"] = (domain, failure, opts = {}) => {
    shopOf(domain).failures.push({
      failure,
      retryAfterSeconds: opts.retryAfterSeconds ?? 1,
      after: opts.after ?? 0,
    });
  };

  const setLimits: ShopifyFake["setLimits"] = (domain, limits) => {
    const bucket = shopOf(domain).bucket;
    refill(bucket, Date.now());
    if (limits.maximumAvailable !== undefined) bucket.maximumAvailable = limits.maximumAvailable;
    if (limits.restoreRate !== undefined) bucket.restoreRate = limits.restoreRate;
    bucket.available = Math.min(bucket.maximumAvailable, limits.currentlyAvailable ?? bucket.available);
  };

  const spend: ShopifyFake["spend"] = (domain, points) => {
    const bucket = shopOf(domain).bucket;
    refill(bucket, Date.now());
    bucket.available = Math.max(0, bucket.available - points);
  };

  const stats: ShopifyFake["stats"] = (domain) => {
    const shop = shopOf(domain);
    refill(shop.bucket, Date.now());
    return structuredClone({ ...shop.stats, throttleStatus: throttleStatus(shop.bucket) });
  };

  const startAutoOrders: ShopifyFake["startAutoOrders"] = (domain, { everyMs, perTick }) => {
    const shop = shopOf(domain);
    if (shop.autoOrders !== null) clearInterval(shop.autoOrders);
    shop.autoOrders = setInterval(
      () => {
        for (let i = 0; i < perTick; i++) {
          const order = createOrder(shop, {}, Date.now());
          order.updatedAt = bump(shop);
          emitOrderCreated(shop, order);
        }
      },
      Math.max(10, everyMs),
    );
    shop.autoOrders.unref();
  };
  const stopAutoOrders: ShopifyFake["stopAutoOrders"] = (domain) => {
    const shop = shopOf(domain);
    if (shop.autoOrders !== null) clearInterval(shop.autoOrders);
    shop.autoOrders = null;
  };

  // ── Webhooks ──

  const retryDelaysMs = options.webhookRetryDelaysMs ?? [100, 500, 2000];
  const webhookTimeoutMs = options.webhookTimeoutMs ?? 5000;
  const deliveriesUnderWay = new Set<Promise<void>>();
  const closing = new AbortController();
  const MAX_DELIVERIES_KEPT = 500;

  const pause = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      closing.signal.addEventListener("abort", () => {
        clearTimeout(timer);
        resolve();
      });
    });

  /** Sends one delivery until it is answered 2xx or the retries run out; its webhook id never changes. */
  const deliver = async (
    shop: Shop,
    delivery: FakeWebhookDelivery,
    headers: Record<string, string>,
    body: string,
  ) => {
    for (let attempt = 1; ; attempt++) {
      delivery.attempts = attempt;
      let delivered = false;
      try {
        const response = await fetch(delivery.uri, {
          method: "POST",
          headers,
          body,
          redirect: "manual",
          signal: AbortSignal.any([closing.signal, AbortSignal.timeout(webhookTimeoutMs)]),
        });
        delivery.lastStatus = response.status;
        await response.body?.cancel().catch(() => undefined);
        delivered = response.status >= 200 && response.status < 300;
      } catch {
        delivery.lastStatus = null;
      }
      if (delivered) {
        delivery.status = "delivered";
        shop.stats.webhooks.delivered++;
        return;
      }
      shop.stats.webhooks.failedAttempts++;
      const wait = retryDelaysMs[attempt - 1];
      if (wait === undefined || closing.signal.aborted) {
        delivery.status = "abandoned";
        shop.stats.webhooks.abandoned++;
        return;
      }
      await pause(wait);
    }
  };

  /**
   * An event of `topic` happened: each of the shop's subscriptions to it with an HTTP(S) address gets the
   * same body, signed with the shop's client secret, in its own delivery (own webhook id, shared event id).
   */
  const emitWebhook = (shop: Shop, topic: string, payload: Obj) => {
    const subscribers = [...shop.webhooks.subscriptions.values()].filter(
      (subscription) =>
        subscription.topic === topicEnum(topic) && /^https?:\/\//i.test(String(subscription.uri)),
    );
    if (subscribers.length === 0) return;
    if (shop.clientSecret === null) {
      shop.stats.webhooks.unsigned++;
      return;
    }
    const body = JSON.stringify(payload);
    const signature = signShopifyWebhook(shop.clientSecret, body);
    const eventId = randomUUID();
    const triggeredAt = new Date().toISOString();
    for (const subscription of subscribers) {
      const webhookId = randomUUID();
      const headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": signature,
        "X-Shopify-Shop-Domain": shop.domain,
        "X-Shopify-Webhook-Id": webhookId,
        "X-Shopify-Event-Id": eventId,
        "X-Shopify-Triggered-At": triggeredAt,
        "X-Shopify-API-Version": String((subscription.apiVersion as Obj).handle),
      };
      const delivery: FakeWebhookDelivery = {
        webhookId,
        eventId,
        topic,
        uri: String(subscription.uri),
        triggeredAt,
        attempts: 0,
        status: "pending",
        lastStatus: null,
        request: { headers, body },
      };
      shop.webhooks.deliveries.push(delivery);
      if (shop.webhooks.deliveries.length > MAX_DELIVERIES_KEPT) shop.webhooks.deliveries.shift();
      if (shop.webhooks.paused) {
        delivery.status = "dropped";
        shop.stats.webhooks.dropped++;
        continue;
      }
      const run = deliver(shop, delivery, headers, body);
      deliveriesUnderWay.add(run);
      void run.finally(() => deliveriesUnderWay.delete(run));
    }
  };

  /** Order topics for a new order: created, and paid or cancelled already where it is. */
  const emitOrderCreated = (shop: Shop, order: Obj) => {
    const payload = restOrderPayload(order);
    emitWebhook(shop, "orders/create", payload);
    if (order.displayFinancialStatus === "PAID") emitWebhook(shop, "orders/paid", payload);
    if (order.cancelledAt !== null) emitWebhook(shop, "orders/cancelled", payload);
  };

  const emitOrderUpdated = (shop: Shop, order: Obj, also: string[] = []) => {
    const payload = restOrderPayload(order);
    emitWebhook(shop, "orders/updated", payload);
    for (const topic of also) emitWebhook(shop, topic, payload);
  };

  const webhooksSettled = async () => {
    while (deliveriesUnderWay.size > 0) await Promise.allSettled([...deliveriesUnderWay]);
  };

  const subscriptionSummary = (subscription: Obj): FakeWebhookSubscription => ({
    id: String(subscription.id),
    topic: String(subscription.topic),
    uri: String(subscription.uri),
    format: String(subscription.format),
    filter: (subscription.filter as string | null) ?? null,
    includeFields: [...(subscription.includeFields as string[])],
    apiVersion: String((subscription.apiVersion as Obj).handle),
    createdAt: String(subscription.createdAt),
    updatedAt: String(subscription.updatedAt),
  });

  const listWebhookSubscriptions: ShopifyFake["listWebhookSubscriptions"] = (domain) =>
    [...shopOf(domain).webhooks.subscriptions.values()]
      .sort((a, b) => numericId(a.id) - numericId(b.id))
      .map(subscriptionSummary);

  const listWebhookDeliveries: ShopifyFake["listWebhookDeliveries"] = (domain) =>
    structuredClone(shopOf(domain).webhooks.deliveries);

  const subscriptionInvalid = (detail: string) =>
    new GraphqlError(
      `Variable $webhookSubscription of type WebhookSubscriptionInput! was provided invalid value (${detail})`,
      "INVALID_VARIABLE",
    );

  /** `WebhookSubscriptionInput` as the 2025-04+ schema defines it (no `callbackUrl` any more). */
  const subscriptionInput = (raw: unknown): Obj => {
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
      throw subscriptionInvalid("Expected value to not be null");
    }
    const input = raw as Obj;
    const allowed = ["uri", "format", "filter", "includeFields", "metafieldNamespaces", "metafields", "name"];
    for (const key of Object.keys(input)) {
      if (!allowed.includes(key)) {
        throw subscriptionInvalid(`${key}: Field is not defined on WebhookSubscriptionInput`);
      }
    }
    if (input.format !== undefined && input.format !== "JSON" && input.format !== "XML") {
      throw subscriptionInvalid(`format: Expected "${String(input.format)}" to be one of: JSON, XML`);
    }
    if (
      input.includeFields !== undefined &&
      (!Array.isArray(input.includeFields) || input.includeFields.some((f) => typeof f !== "string"))
    ) {
      throw subscriptionInvalid("includeFields: Expected [String!]");
    }
    if (input.filter !== undefined && input.filter !== null && typeof input.filter !== "string") {
      throw subscriptionInvalid("filter: Could not coerce value to String");
    }
    return input;
  };

  /** Shopify takes HTTPS URLs, Pub/Sub and EventBridge addresses; the fake also plain HTTP on loopback (tests). */
  const uriProblem = (uri: unknown): string | null => {
    if (typeof uri !== "string" || uri.trim() === "") return "Address can't be blank";
    if (/^pubsub:\/\/[^:/]+:[^/]+$/.test(uri) || /^arn:aws:events:[^:]+::event-source\/.+/.test(uri))
      return null;
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return "Address is invalid";
    }
    if (url.protocol === "https:") return null;
    if (url.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) return null;
    return "Address protocol http:// is not supported";
  };

  const takenBy = (shop: Shop, topic: unknown, uri: unknown, except: unknown = null) =>
    [...shop.webhooks.subscriptions.values()].some(
      (s) => s.id !== except && s.topic === topic && s.uri === uri,
    );

  const subscriptionPayload = (
    typename: string,
    subscription: Obj | null,
    errors: { field: string[]; message: string }[],
  ) => ({
    __typename: typename,
    webhookSubscription: subscription,
    userErrors: errors.map((e) => ({ __typename: "UserError", ...e })),
  });

  const webhookSubscriptionCreate = (
    shop: Shop,
    field: FieldNode,
    variables: Variables,
    version: string,
  ): Obj => {
    const topic = arg(field, "topic", variables);
    if (typeof topic !== "string" || !WEBHOOK_TOPICS.has(topic)) {
      throw new GraphqlError(
        `Variable $topic of type WebhookSubscriptionTopic! was provided invalid value (Expected "${String(topic)}" to be one of: ${[...WEBHOOK_TOPICS].slice(0, 5).join(", ")}, …)`,
        "INVALID_VARIABLE",
      );
    }
    const input = subscriptionInput(arg(field, "webhookSubscription", variables));
    const problem = uriProblem(input.uri);
    const uriField = ["webhookSubscription", "uri"];
    if (problem !== null)
      return subscriptionPayload("WebhookSubscriptionCreatePayload", null, [
        { field: uriField, message: problem },
      ]);
    if (takenBy(shop, topic, input.uri)) {
      return subscriptionPayload("WebhookSubscriptionCreatePayload", null, [
        { field: uriField, message: "Address for this topic has already been taken" },
      ]);
    }
    const n = ++shop.counters.webhookSubscription;
    const now = shopifyTime(Date.now());
    const subscription: Obj = {
      __typename: "WebhookSubscription",
      id: `gid://shopify/WebhookSubscription/${n}`,
      legacyResourceId: String(n),
      topic,
      uri: input.uri,
      format: input.format ?? "JSON",
      filter: typeof input.filter === "string" && input.filter !== "" ? input.filter : null,
      includeFields: (input.includeFields as string[] | undefined) ?? [],
      metafieldNamespaces: (input.metafieldNamespaces as string[] | undefined) ?? [],
      name: input.name ?? null,
      createdAt: now,
      updatedAt: now,
      apiVersion: { __typename: "ApiVersion", handle: version, displayName: version, supported: true },
    };
    shop.webhooks.subscriptions.set(String(subscription.id), subscription);
    return subscriptionPayload("WebhookSubscriptionCreatePayload", subscription, []);
  };

  const webhookSubscriptionUpdate = (shop: Shop, field: FieldNode, variables: Variables): Obj => {
    const id = String(arg(field, "id", variables));
    const input = subscriptionInput(arg(field, "webhookSubscription", variables));
    const subscription = shop.webhooks.subscriptions.get(id);
    if (subscription === undefined) {
      return subscriptionPayload("WebhookSubscriptionUpdatePayload", null, [
        { field: ["id"], message: "Webhook subscription does not exist" },
      ]);
    }
    const uri = input.uri ?? subscription.uri;
    const problem = uriProblem(uri);
    const uriField = ["webhookSubscription", "uri"];
    if (problem !== null)
      return subscriptionPayload("WebhookSubscriptionUpdatePayload", null, [
        { field: uriField, message: problem },
      ]);
    if (takenBy(shop, subscription.topic, uri, subscription.id)) {
      return subscriptionPayload("WebhookSubscriptionUpdatePayload", null, [
        { field: uriField, message: "Address for this topic has already been taken" },
      ]);
    }
    subscription.uri = uri;
    if (input.format !== undefined) subscription.format = input.format;
    if (input.filter !== undefined) subscription.filter = input.filter === "" ? null : input.filter;
    if (input.includeFields !== undefined) subscription.includeFields = input.includeFields;
    if (input.metafieldNamespaces !== undefined) subscription.metafieldNamespaces = input.metafieldNamespaces;
    subscription.updatedAt = shopifyTime(Date.now());
    return subscriptionPayload("WebhookSubscriptionUpdatePayload", subscription, []);
  };

  const webhookSubscriptionDelete = (shop: Shop, field: FieldNode, variables: Variables): Obj => {
    const id = String(arg(field, "id", variables));
    const existed = shop.webhooks.subscriptions.delete(id);
    return {
      __typename: "WebhookSubscriptionDeletePayload",
      deletedWebhookSubscriptionId: existed ? id : null,
      userErrors: existed
        ? []
        : [{ __typename: "UserError", field: ["id"], message: "Webhook subscription does not exist" }],
    };
  };

  /** This app's subscriptions in id order (keyset cursors), filtered by `topics`, `uri` and `format`. */
  const resolveWebhookSubscriptions = (shop: Shop, field: FieldNode, variables: Variables): Obj => {
    const size = checkPageSize(field, variables);
    const topics = arg(field, "topics", variables);
    const uri = arg(field, "uri", variables);
    const format = arg(field, "format", variables);
    const reverse = arg(field, "reverse", variables) === true;
    const list = [...shop.webhooks.subscriptions.values()]
      .filter(
        (s) =>
          (!Array.isArray(topics) || topics.length === 0 || topics.includes(s.topic)) &&
          (typeof uri !== "string" || s.uri === uri) &&
          (typeof format !== "string" || s.format === format),
      )
      .sort((a, b) => numericId(a.id) - numericId(b.id));
    if (reverse) list.reverse();
    const after = arg(field, "after", variables);
    let start = 0;
    if (after !== undefined && after !== null) {
      const lastId = Number(decodeCursor(after).last_id);
      start = list.findIndex((s) => (reverse ? numericId(s.id) < lastId : numericId(s.id) > lastId));
      if (start < 0) start = list.length;
    }
    return projectConnection(
      field,
      list.slice(start, start + size),
      {
        start,
        hasNextPage: start + size < list.length,
        cursorOf: (item) => encodeCursor({ last_id: numericId(item.id) }),
      },
      variables,
    );
  };

  /** `nodes(ids:)`: one entry per id, null for unknown ones; at most 250 ids; malformed ids are errors. */
  const resolveNodes = (shop: Shop, field: FieldNode, variables: Variables): unknown[] => {
    const ids = arg(field, "ids", variables);
    if (!Array.isArray(ids)) {
      throw new GraphqlError("Field 'nodes' is missing required arguments: ids", "missingRequiredArguments");
    }
    if (ids.length > 250) {
      throw new GraphqlError(
        `The input array size of ${ids.length} is greater than the maximum allowed of 250.`,
        "MAX_INPUT_SIZE_EXCEEDED",
      );
    }
    return ids.map((id) => {
      if (typeof id !== "string" || !/^gid:\/\/shopify\/[A-Za-z]+\/\d+(\?.*)?$/.test(id)) {
        throw new GraphqlError(`Invalid global id '${String(id)}'`, "argumentLiteralsIncompatible");
      }
      const node = findNode(shop, id);
      return node === null ? null : project(field.selection ?? [], node, variables);
    });
  };

  // ── GraphQL execution ──

  const bulkView = (shop: Shop, op: BulkOperationRecord): Obj => {
    const now = Date.now();
    const done = now >= op.readyAtMs;
    return {
      __typename: "BulkOperation",
      id: op.id,
      type: "QUERY",
      query: op.query,
      status: done ? "COMPLETED" : now - op.createdAtMs < bulkDelayMs / 2 ? "CREATED" : "RUNNING",
      errorCode: null,
      createdAt: shopifyTime(op.createdAtMs),
      completedAt: done ? shopifyTime(op.readyAtMs) : null,
      objectCount: String(done ? op.objectCount : 0),
      rootObjectCount: String(done ? op.rootObjectCount : 0),
      fileSize: done && op.objectCount > 0 ? String(Buffer.byteLength(op.jsonl)) : null,
      url:
        done && op.objectCount > 0
          ? `${baseUrl}/bulk-results/${encodeURIComponent(shop.domain)}/${op.n}.jsonl`
          : null,
      partialDataUrl: null,
    };
  };

  const sortedOrders = (shop: Shop, field: FieldNode, variables: Variables): Obj[] => {
    const sortKey = String(arg(field, "sortKey", variables) ?? "ID");
    if (SORT_FIELDS[sortKey] === undefined) {
      throw new GraphqlError(
        `Argument 'sortKey' on Field 'orders' has an invalid value (${sortKey}). Expected type 'OrderSortKeys'.`,
        "argumentLiteralsIncompatible",
      );
    }
    const reverse = arg(field, "reverse", variables) === true;
    const search = arg(field, "query", variables);
    const list = [...shop.orders.values()]
      .filter((order) => matchesOrderSearch(order, search))
      .sort((a, b) => sortValue(a, sortKey) - sortValue(b, sortKey) || numericId(a.id) - numericId(b.id));
    return reverse ? list.reverse() : list;
  };

  const resolveOrders = (shop: Shop, field: FieldNode, variables: Variables): Obj => {
    const size = checkPageSize(field, variables);
    const search = arg(field, "query", variables);
    const unapplied = unappliedOrderSearchFields(search);
    if (unapplied.length > 0) {
      searchReport.push({
        path: [field.alias],
        query: search,
        warnings: unapplied.map((name) => ({
          field: name,
          message: "Invalid search field for this query.",
          code: "invalid_field",
        })),
      });
    }
    const sortKey = String(arg(field, "sortKey", variables) ?? "ID");
    const reverse = arg(field, "reverse", variables) === true;
    const list = sortedOrders(shop, field, variables);
    const after = arg(field, "after", variables);
    let start = 0;
    if (after !== undefined && after !== null) {
      // Keyset, like Shopify: an order modified while paging moves behind the cursor and comes again.
      const { last_id: lastId, last_value: lastValue } = decodeCursor(after);
      const key = (o: Obj) => [sortValue(o, sortKey), numericId(o.id)] as const;
      const later = (o: Obj) => {
        const [value, id] = key(o);
        const cmp = value - Number(lastValue) || id - Number(lastId);
        return reverse ? cmp < 0 : cmp > 0;
      };
      start = list.findIndex(later);
      if (start < 0) start = list.length;
    }
    const items = list.slice(start, start + size);
    return projectConnection(
      field,
      items,
      {
        start,
        hasNextPage: start + size < list.length,
        cursorOf: (item) =>
          encodeCursor({ last_id: numericId(item.id), last_value: sortValue(item, sortKey) }),
      },
      variables,
    );
  };

  /** Inventory items in id order; keyset cursors, so items created while paging come at the end. */
  const resolveInventoryItems = (shop: Shop, field: FieldNode, variables: Variables): Obj => {
    const size = checkPageSize(field, variables);
    const reverse = arg(field, "reverse", variables) === true;
    const search = arg(field, "query", variables);
    const skuTerms =
      typeof search === "string"
        ? [...search.matchAll(/(?:^|\s)sku:(?:'([^']*)'|"([^"]*)"|(\S+))/g)].map((m) => m[1] ?? m[2] ?? m[3])
        : [];
    const list = [...shop.inventoryItems.values()]
      .filter((item) => matchesSearch(item, search) && skuTerms.every((sku) => item.sku === sku))
      .sort((a, b) => numericId(a.id) - numericId(b.id));
    if (reverse) list.reverse();
    const after = arg(field, "after", variables);
    let start = 0;
    if (after !== undefined && after !== null) {
      const lastId = Number(decodeCursor(after).last_id);
      start = list.findIndex((item) => (reverse ? numericId(item.id) < lastId : numericId(item.id) > lastId));
      if (start < 0) start = list.length;
    }
    return projectConnection(
      field,
      list.slice(start, start + size),
      {
        start,
        hasNextPage: start + size < list.length,
        cursorOf: (item) => encodeCursor({ last_id: numericId(item.id) }),
      },
      variables,
    );
  };

  const findNode = (shop: Shop, id: unknown): Obj | null => {
    const key = String(id);
    return (
      shop.orders.get(key) ??
      shop.fulfillmentOrders.get(key) ??
      shop.fulfillments.get(key)?.view ??
      shop.inventoryItems.get(key) ??
      shop.products.get(key) ??
      shop.variants.get(key) ??
      shop.webhooks.subscriptions.get(key) ??
      (shop.bulkOperations.has(key)
        ? bulkView(shop, shop.bulkOperations.get(key) as BulkOperationRecord)
        : null)
    );
  };

  const runBulkQuery = (shop: Shop, query: unknown, groupObjects: boolean): Obj => {
    const userError = (message: string, code: string) => ({
      __typename: "BulkOperationRunQueryPayload",
      bulkOperation: null,
      userErrors: [{ __typename: "BulkOperationUserError", field: ["query"], message, code }],
    });
    if (typeof query !== "string") return userError("Invalid bulk query: query is required", "INVALID");
    let operation: OperationNode;
    try {
      operation = parseOperation(query);
    } catch (error) {
      return userError(`Invalid bulk query: ${(error as Error).message}`, "INVALID");
    }
    const [root] = childFields(operation.selection);
    if (
      operation.type !== "query" ||
      root === undefined ||
      root.name !== "orders" ||
      !isConnectionSelection(root)
    ) {
      return userError(
        "Bulk queries must contain at least one connection (this fake exports orders only).",
        "INVALID",
      );
    }
    const running = [...shop.bulkOperations.values()].filter((op) => Date.now() < op.readyAtMs);
    if (running.length >= 5) {
      return userError(
        `A bulk query operation for this app and shop is already in progress: ${running[0]?.id}.`,
        "OPERATION_IN_PROGRESS",
      );
    }
    const nodeSelection =
      (child(root, "nodes") ?? child(child(root, "edges") ?? root, "node"))?.selection ?? [];
    const orders = sortedOrders(
      shop,
      { ...root, args: { ...root.args, sortKey: { kind: "literal", value: "ID" } } },
      {},
    );
    const parents: string[] = [];
    const children: string[] = [];
    let objectCount = 0;
    try {
      for (const order of orders) {
        const record: Obj = {};
        const nested: string[] = [];
        for (const node of childFields(nodeSelection)) {
          const value = node.name === "__typename" ? "Order" : order[node.name];
          if (node.selection !== null && Array.isArray(value) && isConnectionSelection(node)) {
            const childSelection =
              (child(node, "nodes") ?? child(child(node, "edges") ?? node, "node"))?.selection ?? [];
            for (const item of value as Obj[]) {
              if (childFields(childSelection).some((c) => isConnectionSelection(c))) {
                throw new GraphqlError("Bulk queries support a nesting depth of two connections", "INVALID");
              }
              nested.push(JSON.stringify({ ...project(childSelection, item, {}), __parentId: order.id }));
            }
          } else {
            Object.assign(record, project([node], order, {}));
          }
        }
        parents.push(JSON.stringify(record));
        objectCount += 1 + nested.length;
        if (groupObjects) parents.push(...nested);
        else children.push(...nested);
      }
    } catch (error) {
      return userError(`Invalid bulk query: ${(error as Error).message}`, "INVALID");
    }
    const n = ++shop.counters.bulk;
    const now = Date.now();
    const lines = [...parents, ...children];
    const op: BulkOperationRecord = {
      id: `gid://shopify/BulkOperation/${n}`,
      n,
      query,
      createdAtMs: now,
      readyAtMs: now + bulkDelayMs,
      jsonl: lines.length === 0 ? "" : `${lines.join("\n")}\n`,
      objectCount,
      rootObjectCount: orders.length,
    };
    shop.bulkOperations.set(op.id, op);
    return {
      __typename: "BulkOperationRunQueryPayload",
      bulkOperation: { ...bulkView(shop, op), status: "CREATED" },
      userErrors: [],
    };
  };

  const fulfillmentCreate = (shop: Shop, input: unknown): Obj => {
    const invalid = (detail: string) =>
      new GraphqlError(
        `Variable $fulfillment of type FulfillmentInput! was provided invalid value (${detail})`,
        "INVALID_VARIABLE",
      );
    const payload = (fulfillment: Obj | null, userErrors: { field: string[] | null; message: string }[]) => ({
      __typename: "FulfillmentCreatePayload",
      fulfillment,
      userErrors: userErrors.map((e) => ({ __typename: "UserError", ...e })),
    });
    if (typeof input !== "object" || input === null) throw invalid("Expected value to not be null");
    const fulfillment = input as Obj;
    const groups = fulfillment.lineItemsByFulfillmentOrder;
    if (!Array.isArray(groups)) throw invalid("lineItemsByFulfillmentOrder: Expected value to not be null");
    if (groups.length === 0) {
      return payload(null, [
        {
          field: ["fulfillment", "lineItemsByFulfillmentOrder"],
          message: "Line items by fulfillment order can't be blank.",
        },
      ]);
    }
    const notifyCustomer = fulfillment.notifyCustomer ?? false;
    if (typeof notifyCustomer !== "boolean")
      throw invalid("notifyCustomer: Could not coerce value to Boolean");
    const tracking = (fulfillment.trackingInfo ?? {}) as Obj;
    const strings = (value: unknown, name: string): string[] => {
      if (value === undefined || value === null) return [];
      if (!Array.isArray(value) || value.some((v) => typeof v !== "string"))
        throw invalid(`trackingInfo.${name}: Expected [String!]`);
      return value as string[];
    };
    const numbers = [
      ...(typeof tracking.number === "string" ? [tracking.number] : []),
      ...strings(tracking.numbers, "numbers"),
    ];
    const urls = [
      ...(typeof tracking.url === "string" ? [tracking.url] : []),
      ...strings(tracking.urls, "urls"),
    ];
    const company = typeof tracking.company === "string" ? tracking.company : null;

    const plan: { fo: Obj; items: { foLine: Obj; quantity: number }[] }[] = [];
    const errors: { field: string[]; message: string }[] = [];
    groups.forEach((group: unknown, index) => {
      const g = (group ?? {}) as Obj;
      if (typeof g.fulfillmentOrderId !== "string")
        throw invalid(
          `lineItemsByFulfillmentOrder.${index}.fulfillmentOrderId: Expected value to not be null`,
        );
      const fo = shop.fulfillmentOrders.get(g.fulfillmentOrderId);
      const field = ["fulfillment", "lineItemsByFulfillmentOrder", String(index), "fulfillmentOrderId"];
      if (fo === undefined) {
        errors.push({ field, message: "Fulfillment order does not exist." });
        return;
      }
      if (fo.status !== "OPEN" && fo.status !== "IN_PROGRESS") {
        errors.push({
          field,
          message: `Fulfillment order ${fo.id} has an unfulfillable status= ${String(fo.status).toLowerCase()}.`,
        });
        return;
      }
      const foLines = fo.lineItems as Obj[];
      if (g.fulfillmentOrderLineItems === undefined || g.fulfillmentOrderLineItems === null) {
        const items = foLines
          .filter((l) => Number(l.remainingQuantity) > 0)
          .map((foLine) => ({ foLine, quantity: Number(foLine.remainingQuantity) }));
        plan.push({ fo, items });
        return;
      }
      if (!Array.isArray(g.fulfillmentOrderLineItems))
        throw invalid(`lineItemsByFulfillmentOrder.${index}.fulfillmentOrderLineItems: Expected a list`);
      const items: { foLine: Obj; quantity: number }[] = [];
      for (const raw of g.fulfillmentOrderLineItems as unknown[]) {
        const item = (raw ?? {}) as Obj;
        if (
          typeof item.id !== "string" ||
          typeof item.quantity !== "number" ||
          !Number.isInteger(item.quantity)
        ) {
          throw invalid(
            `lineItemsByFulfillmentOrder.${index}.fulfillmentOrderLineItems: id and quantity are required`,
          );
        }
        const foLine = foLines.find((l) => l.id === item.id);
        if (foLine === undefined) {
          errors.push({
            field,
            message: `Fulfillment order line item ${item.id} does not belong to fulfillment order ${fo.id}.`,
          });
          continue;
        }
        if (item.quantity <= 0 || item.quantity > Number(foLine.remainingQuantity)) {
          errors.push({
            field,
            message: `Invalid fulfillment order line item quantity requested for ${item.id}.`,
          });
          continue;
        }
        items.push({ foLine, quantity: item.quantity });
      }
      plan.push({ fo, items });
    });
    if (errors.length > 0) return payload(null, errors);
    const orderIds = new Set(plan.map((p) => p.fo.orderId));
    const locations = new Set(
      plan.map((p) => (p.fo.assignedLocation as Obj & { location: Obj }).location.id),
    );
    if (orderIds.size > 1 || locations.size > 1) {
      return payload(null, [
        {
          field: ["fulfillment"],
          message:
            "All fulfillment orders in the fulfillment must belong to the same order and be assigned to the same location.",
        },
      ]);
    }
    if (plan.every((p) => p.items.length === 0)) {
      return payload(null, [{ field: ["fulfillment"], message: "There are no line items to fulfill." }]);
    }

    const order = shop.orders.get(String(plan[0]?.fo.orderId)) as Obj;
    const id = `gid://shopify/Fulfillment/${++shop.counters.fulfillment}`;
    const createdAt = bump(shop);
    const trackingInfo =
      numbers.length === 0 && company !== null
        ? [{ __typename: "FulfillmentTrackingInfo", company, number: null, url: urls[0] ?? null }]
        : numbers.map((number, i) => ({
            __typename: "FulfillmentTrackingInfo",
            company,
            number,
            url: urls[i] ?? null,
          }));
    const lineItems: FakeFulfillmentRecord["lineItems"] = [];
    for (const { items } of plan) {
      for (const { foLine, quantity } of items) {
        foLine.remainingQuantity = Number(foLine.remainingQuantity) - quantity;
        const line = foLine.lineItem as Obj;
        line.unfulfilledQuantity = Number(line.unfulfilledQuantity) - quantity;
        lineItems.push({
          fulfillmentOrderLineItemId: String(foLine.id),
          lineItemId: String(line.id),
          quantity,
        });
      }
    }
    for (const { fo } of plan) {
      fo.status = (fo.lineItems as Obj[]).every((l) => Number(l.remainingQuantity) === 0)
        ? "CLOSED"
        : "IN_PROGRESS";
    }
    const allDone = (order.lineItems as Obj[]).every((l) => Number(l.unfulfilledQuantity) === 0);
    order.displayFulfillmentStatus = allDone ? "FULFILLED" : "PARTIALLY_FULFILLED";
    order.updatedAt = createdAt;
    const view: Obj = {
      __typename: "Fulfillment",
      id,
      name: `${String(order.name)}-F${(order.fulfillments as Obj[]).length + 1}`,
      status: "SUCCESS",
      displayStatus: "FULFILLED",
      createdAt,
      updatedAt: createdAt,
      trackingInfo,
    };
    (order.fulfillments as Obj[]).push(view);
    emitOrderUpdated(shop, order, [allDone ? "orders/fulfilled" : "orders/partially_fulfilled"]);
    shop.fulfillments.set(id, {
      view,
      record: {
        id,
        orderId: String(order.id),
        status: "SUCCESS",
        notifyCustomer,
        trackingInfo: trackingInfo.map(({ company: c, number, url }) => ({ company: c, number, url })),
        lineItems,
        createdAt,
      },
    });
    return payload(view, []);
  };

  /** Executes a parsed operation; returns `data` (GraphqlError thrown for request-level errors). */
  const execute = (shop: Shop, operation: OperationNode, variables: Variables, version: string): Obj => {
    const data: Obj = {};
    for (const field of childFields(operation.selection)) {
      const selection = field.selection;
      let value: unknown;
      if (operation.type === "mutation") {
        if (field.name === "bulkOperationRunQuery") {
          value = runBulkQuery(
            shop,
            arg(field, "query", variables),
            arg(field, "groupObjects", variables) === true,
          );
        } else if (field.name === "fulfillmentCreate") {
          value = fulfillmentCreate(shop, arg(field, "fulfillment", variables));
        } else if (field.name === "webhookSubscriptionCreate") {
          value = webhookSubscriptionCreate(shop, field, variables, version);
        } else if (field.name === "webhookSubscriptionUpdate") {
          value = webhookSubscriptionUpdate(shop, field, variables);
        } else if (field.name === "webhookSubscriptionDelete") {
          value = webhookSubscriptionDelete(shop, field, variables);
        } else {
          throw new GraphqlError(`Field '${field.name}' doesn't exist on type 'Mutation'`, "undefinedField", {
            typeName: "Mutation",
            fieldName: field.name,
          });
        }
        data[field.alias] = selection === null ? value : project(selection, value as Obj, variables);
        continue;
      }
      switch (field.name) {
        case "orders":
          data[field.alias] = resolveOrders(shop, field, variables);
          continue;
        case "inventoryItems":
          data[field.alias] = resolveInventoryItems(shop, field, variables);
          continue;
        case "products":
          data[field.alias] = resolveProducts(shop, field, variables);
          continue;
        case "product":
          value = shop.products.get(String(arg(field, "id", variables))) ?? null;
          break;
        case "nodes":
          data[field.alias] = resolveNodes(shop, field, variables);
          continue;
        case "webhookSubscriptions":
          data[field.alias] = resolveWebhookSubscriptions(shop, field, variables);
          continue;
        case "webhookSubscription":
          value = shop.webhooks.subscriptions.get(String(arg(field, "id", variables))) ?? null;
          break;
        case "inventoryItem":
          value = shop.inventoryItems.get(String(arg(field, "id", variables))) ?? null;
          break;
        case "order":
        case "node":
          value = findNode(shop, arg(field, "id", variables));
          if (value !== null && field.name === "order" && (value as Obj).__typename !== "Order") value = null;
          break;
        case "bulkOperation": {
          const op = shop.bulkOperations.get(String(arg(field, "id", variables)));
          value = op === undefined ? null : bulkView(shop, op);
          break;
        }
        case "currentBulkOperation": {
          const last = [...shop.bulkOperations.values()].pop();
          value = last === undefined ? null : bulkView(shop, last);
          break;
        }
        case "shop":
          value = {
            __typename: "Shop",
            id: "gid://shopify/Shop/1",
            name: shop.domain.split(".")[0],
            myshopifyDomain: shop.domain,
            currencyCode: shop.currency,
          };
          break;
        default:
          throw new GraphqlError(
            `Field '${field.name}' doesn't exist on type 'QueryRoot'`,
            "undefinedField",
            { typeName: "QueryRoot", fieldName: field.name },
          );
      }
      data[field.alias] =
        value === null || selection === null ? (value ?? null) : project(selection, value as Obj, variables);
    }
    return data;
  };

  // ── HTTP ──

  const sendJson = (
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, {
      "Content-Type": "application/json; charset=utf-8",
      "X-Request-Id": randomBytes(16).toString("hex"),
      ...headers,
    });
    res.end(JSON.stringify(body));
  };

  const readBody = async (req: IncomingMessage): Promise<string> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString("utf8");
  };

  const graphqlRequest = async (req: IncomingMessage, res: ServerResponse, shop: Shop, version: string) => {
    const body = await readBody(req);
    const stats = shop.stats;
    stats.requests++;
    const versionHeader = { "X-Shopify-API-Version": version };
    if (req.headers["x-shopify-access-token"] !== shop.accessToken) {
      stats.unauthorized++;
      return sendJson(res, 401, {
        errors: "[API] Invalid API key or access token (unrecognized login or wrong password)",
      });
    }
    if (req.method !== "POST") return sendJson(res, 405, { errors: "Method Not Allowed" });

    const now = Date.now();
    const bucket = shop.bucket;
    refill(bucket, now);
    const head = shop.failures[0];
    let injected: (typeof shop.failures)[number] | undefined;
    if (head !== undefined && head.after > 0) head.after -= 1;
    else injected = shop.failures.shift();
    if (injected !== undefined) {
      stats.injected[String(injected.failure)] = (stats.injected[String(injected.failure)] ?? 0) + 1;
      switch (injected.failure) {
        case "hang":
          hanging.add(res);
          res.on("close", () => hanging.delete(res));
          return;
        case 429:
          return sendJson(
            res,
            429,
            {
              errors:
                "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
            },
            { "Retry-After": String(injected.retryAfterSeconds), ...versionHeader },
          );
        case 500:
          return sendJson(res, 500, { errors: "Internal Server Error" }, versionHeader);
        case 502:
          res.writeHead(502, { "Content-Type": "text/html" });
          return res.end(
            "<html><head><title>502 Bad Gateway</title></head><body><h1>Bad Gateway</h1></body></html>",
          );
        case 503:
          res.writeHead(503, { "Content-Type": "text/html" });
          return res.end("<html><body><h1>503 Service Unavailable</h1></body></html>");
        case "throttled":
          break;
      }
    }

    let payload: { query?: unknown; variables?: unknown };
    try {
      payload = JSON.parse(body) as typeof payload;
    } catch {
      return sendJson(
        res,
        400,
        { errors: { query: "Required parameter missing or invalid" } },
        versionHeader,
      );
    }
    if (typeof payload?.query !== "string") {
      return sendJson(
        res,
        400,
        { errors: { query: "Required parameter missing or invalid" } },
        versionHeader,
      );
    }
    const variables = (
      typeof payload.variables === "object" && payload.variables !== null ? payload.variables : {}
    ) as Variables;

    let operation: OperationNode;
    let requested: number;
    try {
      operation = parseOperation(payload.query);
      for (const definition of operation.variables) {
        if (!(definition.name in variables) && definition.defaultValue !== null) {
          variables[definition.name] = resolveValue(definition.defaultValue, {});
        }
      }
      requested = requestedQueryCost(operation, variables);
    } catch (error) {
      const e = error instanceof GraphqlError ? error : new GraphqlError(String(error), "parseError");
      return sendJson(
        res,
        200,
        { errors: [{ message: e.message, extensions: { code: e.code, ...e.extra } }] },
        versionHeader,
      );
    }
    stats.requestedCosts.push(requested);

    if (requested > MAX_QUERY_COST) {
      stats.maxCostExceeded++;
      return sendJson(
        res,
        200,
        {
          errors: [
            {
              message: `Query cost is ${requested}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).`,
              extensions: {
                code: "MAX_COST_EXCEEDED",
                cost: requested,
                maxCost: MAX_QUERY_COST,
                documentation: "https://shopify.dev/api/usage/rate-limits",
              },
            },
          ],
        },
        versionHeader,
      );
    }

    const throttled = (cause: "bucket" | "injected") => {
      stats.throttled++;
      if (cause === "bucket") stats.overLimit++;
      return sendJson(
        res,
        200,
        {
          errors: [
            {
              message: "Throttled",
              extensions: { code: "THROTTLED", documentation: "https://shopify.dev/api/usage/rate-limits" },
            },
          ],
          extensions: {
            cost: {
              requestedQueryCost: requested,
              actualQueryCost: null,
              throttleStatus: throttleStatus(bucket),
            },
          },
        },
        versionHeader,
      );
    };
    if (injected?.failure === "throttled") {
      // Another consumer of the same bucket just emptied it.
      bucket.available = 0;
      return throttled("injected");
    }
    if (requested > bucket.available) return throttled("bucket");

    bucket.available -= requested;
    let data: Obj | null = null;
    let errors: unknown[] | undefined;
    searchReport = [];
    try {
      data = execute(shop, operation, variables, version);
    } catch (error) {
      if (!(error instanceof GraphqlError)) throw error;
      errors = [{ message: error.message, extensions: { code: error.code, ...error.extra } }];
    }
    const actual =
      data === null
        ? 0
        : operation.type === "mutation"
          ? requested
          : actualSelectionCost(operation.selection, data, variables);
    bucket.available = Math.min(bucket.maximumAvailable, bucket.available + (requested - actual));
    stats.requestedCost += requested;
    stats.actualCost += actual;
    sendJson(
      res,
      200,
      {
        ...(data === null ? {} : { data }),
        ...(errors === undefined ? {} : { errors }),
        extensions: {
          cost: {
            requestedQueryCost: requested,
            actualQueryCost: actual,
            throttleStatus: throttleStatus(bucket),
          },
          ...(searchReport.length > 0 ? { search: searchReport } : {}),
        },
      },
      versionHeader,
    );
  };

  const control = async (req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams) => {
    const reply = (status: number, body?: unknown) => {
      res.writeHead(status, body === undefined ? {} : { "Content-Type": "application/json" });
      res.end(body === undefined ? undefined : JSON.stringify(body));
    };
    let body: Obj = {};
    if (req.method === "POST") {
      try {
        body = JSON.parse((await readBody(req)) || "{}") as Obj;
      } catch {
        return reply(400, { error: "body must be JSON" });
      }
    }
    const route = `${req.method} ${path}`;
    const shopName = typeof body.shop === "string" ? body.shop : (query.get("shop") ?? "");
    if (route === "POST /shops") {
      if (!shopName || typeof body.accessToken !== "string")
        return reply(400, { error: "shop and accessToken are required" });
      createShop({
        shop: shopName,
        accessToken: body.accessToken,
        ...(typeof body.maximumAvailable === "number" ? { maximumAvailable: body.maximumAvailable } : {}),
        ...(typeof body.restoreRate === "number" ? { restoreRate: body.restoreRate } : {}),
        ...(typeof body.currency === "string" ? { currency: body.currency } : {}),
        ...(typeof body.clientSecret === "string" ? { clientSecret: body.clientSecret } : {}),
      });
      return reply(204);
    }
    if (!shops.has(shopName)) return reply(404, { error: `unknown shop "${shopName}"` });
    switch (route) {
      case "POST /orders": {
        const seed = Array.isArray(body.orders) ? (body.orders as FakeOrderSeed[]) : Number(body.count ?? 1);
        return reply(200, { orders: seedOrders(shopName, seed) });
      }
      case "POST /orders/update": {
        try {
          return reply(200, {
            order: updateOrder(shopName, String(body.id), (body.patch ?? {}) as FakeOrderPatch),
          });
        } catch (error) {
          return reply(404, { error: (error as Error).message });
        }
      }
      case "GET /orders": {
        const order = findOrder(shopOf(shopName), query.get("id") ?? "");
        return order === undefined
          ? reply(404, { error: "unknown order" })
          : reply(200, { order: JSON.parse(JSON.stringify(order)) });
      }
      case "POST /fail-next": {
        const failure = body.failure as ShopifyFakeFailure;
        if (!FAILURES.includes(failure))
          return reply(400, { error: `failure must be one of ${FAILURES.join(", ")}` });
        failNext(shopName, failure, {
          ...(typeof body.retryAfterSeconds === "number"
            ? { retryAfterSeconds: body.retryAfterSeconds }
            : {}),
          ...(typeof body.after === "number" ? { after: body.after } : {}),
        });
        return reply(204);
      }
      case "POST /limits":
        setLimits(shopName, {
          ...(typeof body.maximumAvailable === "number" ? { maximumAvailable: body.maximumAvailable } : {}),
          ...(typeof body.restoreRate === "number" ? { restoreRate: body.restoreRate } : {}),
          ...(typeof body.currentlyAvailable === "number"
            ? { currentlyAvailable: body.currentlyAvailable }
            : {}),
        });
        return reply(204);
      case "POST /spend":
        spend(shopName, Number(body.points ?? 0));
        return reply(204);
      case "GET /stats":
        return reply(200, stats(shopName));
      case "GET /fulfillments":
        return reply(200, { fulfillments: listFulfillments(shopName) });
      case "POST /auto-orders":
        startAutoOrders(shopName, {
          everyMs: Number(body.everyMs ?? 1000),
          perTick: Number(body.perTick ?? 1),
        });
        return reply(204);
      case "POST /inventory": {
        if (typeof body.sku !== "string" || typeof body.available !== "number") {
          return reply(400, { error: "sku (string) and available (integer) are required" });
        }
        if (!inventoryItemBySku(shopOf(shopName), body.sku)) {
          return reply(404, { error: `unknown SKU "${body.sku}"` });
        }
        try {
          const level = setInventory(shopName, {
            sku: body.sku,
            available: body.available,
            ...(typeof body.locationId === "string" ? { locationId: body.locationId } : {}),
          });
          return reply(200, { level });
        } catch (error) {
          return reply(400, { error: (error as Error).message });
        }
      }
      case "GET /inventory":
        return reply(200, { levels: listInventory(shopName) });
      case "DELETE /auto-orders":
        stopAutoOrders(shopName);
        return reply(204);
      case "GET /webhooks":
        return reply(200, { subscriptions: listWebhookSubscriptions(shopName) });
      case "POST /products": {
        if (!Array.isArray(body.products)) return reply(400, { error: "products (array) is required" });
        return reply(200, { products: seedProducts(shopName, body.products as FakeProductSeed[]) });
      }
      case "POST /products/update": {
        try {
          return reply(200, {
            product: updateProduct(shopName, String(body.id), (body.patch ?? {}) as FakeProductPatch),
          });
        } catch (error) {
          return reply(404, { error: (error as Error).message });
        }
      }
      case "GET /products":
        return reply(200, { products: listProducts(shopName) });
      case "GET /webhooks/deliveries":
        return reply(200, { deliveries: listWebhookDeliveries(shopName) });
      case "POST /webhooks/deliveries/pause":
        shopOf(shopName).webhooks.paused = true;
        return reply(204);
      case "POST /webhooks/deliveries/resume":
        shopOf(shopName).webhooks.paused = false;
        return reply(204);
      default:
        return reply(404, { error: `no control route ${route}` });
    }
  };

  const listFulfillments: ShopifyFake["listFulfillments"] = (domain) =>
    structuredClone([...shopOf(domain).fulfillments.values()].map((f) => f.record));

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://fake.invalid");
    const fail = (error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, { errors: `fake failure: ${String(error)}` });
      else res.destroy();
    };
    if (url.pathname.startsWith("/__control/")) {
      control(req, res, url.pathname.slice("/__control".length), url.searchParams).catch(fail);
      return;
    }
    const bulk = /^\/bulk-results\/([^/]+)\/(\d+)\.jsonl$/.exec(url.pathname);
    if (bulk && req.method === "GET") {
      const shop = shops.get(decodeURIComponent(bulk[1] ?? ""));
      const op = shop?.bulkOperations.get(`gid://shopify/BulkOperation/${bulk[2]}`);
      if (shop === undefined || op === undefined || Date.now() < op.readyAtMs) {
        res.writeHead(404, { "Content-Type": "application/xml" });
        res.end("<?xml version='1.0' encoding='UTF-8'?><Error><Code>NoSuchKey</Code></Error>");
        return;
      }
      shop.stats.bulkDownloads++;
      const file = Buffer.from(op.jsonl);
      const range = byteRange(req.headers.range, file.byteLength);
      if (range === "unsatisfiable") {
        shop.stats.bulkRangeRequests++;
        res.writeHead(416, {
          "Content-Type": "application/xml",
          "Content-Range": `bytes */${file.byteLength}`,
        });
        res.end("<?xml version='1.0' encoding='UTF-8'?><Error><Code>InvalidRange</Code></Error>");
        return;
      }
      if (range === null) {
        res.writeHead(200, {
          "Content-Type": "application/jsonl",
          "Content-Length": file.byteLength,
          "Accept-Ranges": "bytes",
        });
        res.end(file);
        return;
      }
      shop.stats.bulkRangeRequests++;
      res.writeHead(206, {
        "Content-Type": "application/jsonl",
        "Content-Length": range.end - range.start + 1,
        "Content-Range": `bytes ${range.start}-${range.end}/${file.byteLength}`,
        "Accept-Ranges": "bytes",
      });
      res.end(file.subarray(range.start, range.end + 1));
      return;
    }
    const graphql = /^\/shops\/([^/]+)\/admin\/api\/(\d{4}-\d{2}|unstable)\/graphql\.json$/.exec(
      url.pathname,
    );
    const shop = graphql ? shops.get(decodeURIComponent(graphql[1] ?? "")) : undefined;
    if (!graphql || shop === undefined) {
      req.resume();
      sendJson(res, 404, { errors: "Not Found" });
      return;
    }
    graphqlRequest(req, res, shop, graphql[2] ?? "").catch(fail);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  baseUrl = `http://127.0.0.1:${port}`;

  return {
    url: baseUrl,
    createShop,
    seedOrders,
    updateOrder,
    getOrder: (domain, id) => {
      const order = findOrder(shopOf(domain), id);
      return order === undefined ? undefined : (JSON.parse(JSON.stringify(order)) as Obj);
    },
    failNext,
    setLimits,
    spend,
    stats,
    listFulfillments,
    startAutoOrders,
    stopAutoOrders,
    setInventory,
    listInventory,
    listWebhookSubscriptions,
    listWebhookDeliveries,
    seedProducts,
    updateProduct,
    listProducts,
    pauseWebhookDeliveries: (domain) => {
      shopOf(domain).webhooks.paused = true;
    },
    resumeWebhookDeliveries: (domain) => {
      shopOf(domain).webhooks.paused = false;
    },
    webhooksSettled,
    close() {
      for (const shop of shops.values()) if (shop.autoOrders !== null) clearInterval(shop.autoOrders);
      // Deliveries under way stop at once (their retries too).
      closing.abort();
      for (const res of hanging) res.destroy();
      hanging.clear();
      return new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}
