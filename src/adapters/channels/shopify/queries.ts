/**
 * The GraphQL documents Tradewind sends to the Shopify Admin API, each built from one selection tree that
 * renders the text AND yields its requested cost, so the estimate handed to the rate governor can never
 * drift from what is sent.
 *
 * Shopify's documented cost rules ("GraphQL Admin API rate limits", calculated query cost):
 * - scalar and enum fields: 0;
 * - object fields: 1 plus their selection;
 * - connections (and lists sized by `first`): 2 plus `first` × the cost of one element, an element being
 *   1 plus its selection (`pageInfo` is covered by the 2);
 * - a mutation: 10.
 * A query whose requested cost exceeds 1,000 points is refused before it runs (MAX_COST_EXCEEDED),
 * whatever the plan, so page sizes are derived from the cost, not only from the caller's wish.
 */

export const MAX_SINGLE_QUERY_COST = 1000;
export const MUTATION_COST = 10;
/** Shopify's largest page (`first`) for any connection. */
export const MAX_PAGE_SIZE = 250;

/** `first` is a literal or the name of a variable (without `$`). */
type First = number | { variable: string };

export type Field =
  | string
  | { kind: "object"; name: string; args?: string; selection: readonly Field[] }
  | { kind: "connection"; name: string; first: First; args?: string; selection: readonly Field[] }
  | { kind: "list"; name: string; first: number; selection: readonly Field[] }
  /** `... on Type { … }`: the selection of one possible type of an interface or union. */
  | { kind: "fragment"; on: string; selection: readonly Field[] };

const object = (name: string, selection: readonly Field[], args?: string): Field => ({
  kind: "object",
  name,
  selection,
  ...(args === undefined ? {} : { args }),
});
const connection = (name: string, first: First, selection: readonly Field[], args?: string): Field => ({
  kind: "connection",
  name,
  first,
  selection,
  ...(args === undefined ? {} : { args }),
});
const list = (name: string, first: number, selection: readonly Field[]): Field => ({
  kind: "list",
  name,
  first,
  selection,
});
const fragment = (on: string, selection: readonly Field[]): Field => ({ kind: "fragment", on, selection });

/** "page" renders connections with `first` and `pageInfo`; "bulk" renders them bare, as bulk queries want. */
type RenderMode = "page" | "bulk";

function renderFirst(first: First): string {
  return typeof first === "number" ? String(first) : `$${first.variable}`;
}

export function renderSelection(selection: readonly Field[], mode: RenderMode = "page"): string {
  return selection.map((field) => renderField(field, mode)).join(" ");
}

function renderField(field: Field, mode: RenderMode): string {
  if (typeof field === "string") return field;
  const inner = renderSelection(field.selection, mode);
  if (field.kind === "fragment") return `... on ${field.on} { ${inner} }`;
  if (field.kind === "object") return `${field.name}${field.args ? `(${field.args})` : ""} { ${inner} }`;
  if (field.kind === "list") return `${field.name}(first: ${field.first}) { ${inner} }`;
  if (mode === "bulk")
    return `${field.name}${field.args ? `(${field.args})` : ""} { edges { node { ${inner} } } }`;
  const args = [`first: ${renderFirst(field.first)}`, ...(field.args ? [field.args] : [])].join(", ");
  return `${field.name}(${args}) { pageInfo { hasNextPage endCursor } nodes { ${inner} } }`;
}

/** The requested cost of `selection` by Shopify's documented rules, `first` variables taken from `variables`. */
export function requestedCost(selection: readonly Field[], variables: Record<string, unknown> = {}): number {
  let total = 0;
  // Fragments are alternatives: an interface costs its most expensive possibility, once.
  let fragments = 0;
  for (const field of selection) {
    if (typeof field === "string") continue;
    const inner = requestedCost(field.selection, variables);
    if (field.kind === "fragment") {
      fragments = Math.max(fragments, inner);
      continue;
    }
    if (field.kind === "object") {
      total += 1 + inner;
      continue;
    }
    const first = typeof field.first === "number" ? field.first : variables[field.first.variable];
    if (typeof first !== "number" || !Number.isInteger(first) || first < 0) {
      throw new RangeError(`No page size for ${field.name}`);
    }
    total += 2 + first * (1 + inner);
  }
  return total + fragments;
}

const MONEY = [object("shopMoney", ["amount", "currencyCode"])];
const money = (name: string): Field => object(name, MONEY);
const ADDRESS: readonly Field[] = [
  "name",
  "company",
  "address1",
  "address2",
  "city",
  "province",
  "provinceCode",
  "zip",
  "countryCodeV2",
  "phone",
];
const TAX_LINE: readonly Field[] = ["title", "rate", money("priceSet")];

export const LINE_ITEM_FIELDS: readonly Field[] = [
  "id",
  "sku",
  "title",
  "variantTitle",
  "quantity",
  "currentQuantity",
  money("originalUnitPriceSet"),
  money("totalDiscountSet"),
  object("taxLines", TAX_LINE),
  object("variant", ["id"]),
  object("product", ["id"]),
];

export const SHIPPING_LINE_FIELDS: readonly Field[] = ["id", "title", "code", money("originalPriceSet")];

/** Everything of an order except its connections (the part a bulk export writes on the order's own line). */
const ORDER_SCALARS_AND_OBJECTS: readonly Field[] = [
  "id",
  "name",
  "email",
  "phone",
  "createdAt",
  "updatedAt",
  "processedAt",
  "cancelledAt",
  "cancelReason",
  "note",
  "tags",
  "discountCodes",
  "currencyCode",
  "displayFinancialStatus",
  "displayFulfillmentStatus",
  object("customer", ["id", "displayName"]),
  object("shippingAddress", ADDRESS),
  object("billingAddress", ADDRESS),
  money("currentSubtotalPriceSet"),
  money("currentShippingPriceSet"),
  money("currentTotalTaxSet"),
  money("currentTotalDiscountsSet"),
  money("currentTotalPriceSet"),
  object("currentTaxLines", TAX_LINE),
];

/**
 * Line items fetched inline with each order of a page. Ten keeps a page of seven orders under the
 * 1,000-point ceiling; orders with more lines get the rest through `orderLineItemsQuery`.
 */
export const LINE_ITEMS_PER_ORDER = 10;
/** Shipping lines inline: orders rarely carry more than one. */
export const SHIPPING_LINES_PER_ORDER = 5;

/** One order as both pages and bulk exports select it (bulk rendering drops the `first`s). */
const ORDER_FIELDS: readonly Field[] = [
  ...ORDER_SCALARS_AND_OBJECTS,
  connection("shippingLines", SHIPPING_LINES_PER_ORDER, SHIPPING_LINE_FIELDS),
  connection("lineItems", LINE_ITEMS_PER_ORDER, LINE_ITEM_FIELDS),
];

export interface GraphqlDocument {
  /** Operation name, for error messages and logs. */
  operation: string;
  query: string;
  variables: Record<string, unknown>;
  /** Requested cost by Shopify's rules: what the governor must hold before the request goes out. */
  cost: number;
}

const ORDERS_PAGE_SELECTION: readonly Field[] = [
  connection(
    "orders",
    { variable: "first" },
    ORDER_FIELDS,
    "after: $after, query: $query, sortKey: UPDATED_AT",
  ),
];

/** The largest page of orders (with their inline lines) whose requested cost stays within Shopify's ceiling. */
export function maxOrdersPerPage(): number {
  const perOrder = requestedCost(ORDERS_PAGE_SELECTION, { first: 1 }) - 2;
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor((MAX_SINGLE_QUERY_COST - 2) / perOrder)));
}

/**
 * Shopify search syntax: orders updated at or after `updatedSince`. Quoted because the timestamp holds
 * colons, which the search parser would otherwise read as field separators.
 */
export function updatedSinceSearch(updatedSince: string): string {
  return `updated_at:>='${updatedSince}'`;
}

export function ordersPageQuery(input: {
  updatedSince: string;
  cursor: string | null;
  first: number;
}): GraphqlDocument {
  const variables = {
    first: input.first,
    after: input.cursor,
    query: updatedSinceSearch(input.updatedSince),
  };
  return {
    operation: "OrdersUpdatedSince",
    query: `query OrdersUpdatedSince($first: Int!, $after: String, $query: String!) { ${renderSelection(ORDERS_PAGE_SELECTION)} }`,
    variables,
    cost: requestedCost(ORDERS_PAGE_SELECTION, variables),
  };
}

const ORDER_LINE_ITEMS_SELECTION: readonly Field[] = [
  object(
    "order",
    ["id", connection("lineItems", { variable: "first" }, LINE_ITEM_FIELDS, "after: $after")],
    "id: $id",
  ),
];

/** Lines per follow-up page: the most that fits the ceiling. */
export function maxLineItemsPerPage(): number {
  const perLine =
    requestedCost(ORDER_LINE_ITEMS_SELECTION, { first: 1 }) -
    requestedCost(ORDER_LINE_ITEMS_SELECTION, { first: 0 });
  const fixed = requestedCost(ORDER_LINE_ITEMS_SELECTION, { first: 0 });
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor((MAX_SINGLE_QUERY_COST - fixed) / perLine)));
}

/** The rest of an order's line items, after the ones that came inline with the page. */
export function orderLineItemsQuery(input: { orderId: string; after: string | null }): GraphqlDocument {
  const variables = { id: input.orderId, first: maxLineItemsPerPage(), after: input.after };
  return {
    operation: "OrderLineItems",
    query: `query OrderLineItems($id: ID!, $first: Int!, $after: String) { ${renderSelection(ORDER_LINE_ITEMS_SELECTION)} }`,
    variables,
    cost: requestedCost(ORDER_LINE_ITEMS_SELECTION, variables),
  };
}

/** Bulk exports have no cost ceiling and no `first`: the whole filtered set, lines included. */
export function ordersBulkQueryText(updatedSince: string): string {
  const search = JSON.stringify(updatedSinceSearch(updatedSince));
  const selection: readonly Field[] = [
    {
      kind: "connection",
      name: "orders",
      first: 0,
      args: `query: ${search}, sortKey: UPDATED_AT`,
      selection: ORDER_FIELDS,
    },
  ];
  return `{ ${renderSelection(selection, "bulk")} }`;
}

export function bulkOperationRunQueryMutation(updatedSince: string): GraphqlDocument {
  return {
    operation: "BulkOrdersExport",
    // groupObjects true: each order's line items and shipping lines come directly after the order, so the
    // file can be read a few hundred orders at a time from any order's first byte, in bounded memory, and
    // resumed there. The price, as Shopify documents it: grouping makes the export slower and likelier to
    // time out (a timed-out export fails the backfill, which a replay starts again). Ungrouped files put
    // every child after every order and could only be assembled whole.
    query:
      "mutation BulkOrdersExport($query: String!) { bulkOperationRunQuery(query: $query, groupObjects: true) { bulkOperation { id status } userErrors { field message code } } }",
    variables: { query: ordersBulkQueryText(updatedSince) },
    cost: MUTATION_COST,
  };
}

const BULK_OPERATION_SELECTION: readonly Field[] = [
  object(
    "bulkOperation",
    [
      "id",
      "status",
      "errorCode",
      "objectCount",
      "rootObjectCount",
      "url",
      "partialDataUrl",
      "createdAt",
      "completedAt",
    ],
    "id: $id",
  ),
];

export function bulkOperationQuery(operationId: string): GraphqlDocument {
  const variables = { id: operationId };
  return {
    operation: "BulkOperationStatus",
    query: `query BulkOperationStatus($id: ID!) { ${renderSelection(BULK_OPERATION_SELECTION)} }`,
    variables,
    cost: requestedCost(BULK_OPERATION_SELECTION, variables),
  };
}

/** Fulfilments already on the order (to stay idempotent) and the open work still to fulfil. */
export const FULFILLMENTS_CHECKED = 20;
export const TRACKING_INFO_PER_FULFILLMENT = 5;
export const FULFILLMENT_ORDERS_CHECKED = 5;
export const LINES_PER_FULFILLMENT_ORDER = 50;

const FULFILLMENT_STATE_SELECTION: readonly Field[] = [
  object(
    "order",
    [
      "id",
      "displayFulfillmentStatus",
      list("fulfillments", FULFILLMENTS_CHECKED, [
        "id",
        "status",
        "createdAt",
        list("trackingInfo", TRACKING_INFO_PER_FULFILLMENT, ["company", "number", "url"]),
      ]),
      connection("fulfillmentOrders", FULFILLMENT_ORDERS_CHECKED, [
        "id",
        "status",
        object("assignedLocation", [object("location", ["id"])]),
        connection("lineItems", LINES_PER_FULFILLMENT_ORDER, [
          "id",
          "remainingQuantity",
          "totalQuantity",
          object("lineItem", ["id"]),
        ]),
      ]),
    ],
    "id: $id",
  ),
];

export function fulfillmentStateQuery(orderId: string): GraphqlDocument {
  const variables = { id: orderId };
  return {
    operation: "OrderFulfillmentState",
    query: `query OrderFulfillmentState($id: ID!) { ${renderSelection(FULFILLMENT_STATE_SELECTION)} }`,
    variables,
    cost: requestedCost(FULFILLMENT_STATE_SELECTION, variables),
  };
}

export interface FulfillmentCreateInput {
  lineItemsByFulfillmentOrder: {
    fulfillmentOrderId: string;
    /** Omitted = every remaining line of that fulfillment order. */
    fulfillmentOrderLineItems?: { id: string; quantity: number }[];
  }[];
  notifyCustomer: boolean;
  trackingInfo: { company: string; numbers: string[]; urls?: string[] };
}

export function fulfillmentCreateMutation(fulfillment: FulfillmentCreateInput): GraphqlDocument {
  return {
    operation: "CreateFulfillment",
    query:
      "mutation CreateFulfillment($fulfillment: FulfillmentInput!) { fulfillmentCreate(fulfillment: $fulfillment) { fulfillment { id status trackingInfo(first: 5) { company number url } } userErrors { field message } } }",
    variables: { fulfillment },
    cost: MUTATION_COST,
  };
}

/*
 * Inventory. Shopify keeps one inventory item per variant (it holds the SKU) and one inventory level per
 * item and location that stocks it; a level's `quantities(names:)` reads its named states. Tradewind reads
 * `available` only: what can still be sold there (on hand minus committed, reserved, damaged, …).
 *
 * There is no "levels changed since" search: `inventoryItems(query: "updated_at:…")` filters on the item's
 * own record (SKU, cost, tracking), which a stock movement does not touch, and `inventoryLevels` has no
 * time filter at all. So every inventory run reads the whole catalogue, item by item, in id order.
 */

/** The quantity name Tradewind syncs. */
export const AVAILABLE_QUANTITY = "available";

/**
 * Levels fetched inline with each item of a page. Most shops stock an item at one to a few locations; an
 * item stocked at more gets the rest through `inventoryItemLevelsQuery`.
 */
export const LEVELS_PER_INVENTORY_ITEM = 10;

export const INVENTORY_LEVEL_FIELDS: readonly Field[] = [
  "id",
  "updatedAt",
  object("location", ["id"]),
  // An unsized list of objects: Shopify counts it like one object.
  object("quantities", ["name", "quantity", "updatedAt"], `names: ["${AVAILABLE_QUANTITY}"]`),
];

const INVENTORY_ITEMS_PAGE_SELECTION: readonly Field[] = [
  connection(
    "inventoryItems",
    { variable: "first" },
    [
      "id",
      "sku",
      "tracked",
      connection("inventoryLevels", LEVELS_PER_INVENTORY_ITEM, INVENTORY_LEVEL_FIELDS),
    ],
    "after: $after",
  ),
];

/** The largest page of inventory items (with their inline levels) within Shopify's cost ceiling. */
export function maxInventoryItemsPerPage(): number {
  const perItem =
    requestedCost(INVENTORY_ITEMS_PAGE_SELECTION, { first: 1 }) -
    requestedCost(INVENTORY_ITEMS_PAGE_SELECTION, { first: 0 });
  const fixed = requestedCost(INVENTORY_ITEMS_PAGE_SELECTION, { first: 0 });
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor((MAX_SINGLE_QUERY_COST - fixed) / perItem)));
}

export function inventoryItemsPageQuery(input: { cursor: string | null; first: number }): GraphqlDocument {
  const variables = { first: input.first, after: input.cursor };
  return {
    operation: "InventoryItemsPage",
    query: `query InventoryItemsPage($first: Int!, $after: String) { ${renderSelection(INVENTORY_ITEMS_PAGE_SELECTION)} }`,
    variables,
    cost: requestedCost(INVENTORY_ITEMS_PAGE_SELECTION, variables),
  };
}

const INVENTORY_ITEM_LEVELS_SELECTION: readonly Field[] = [
  object(
    "inventoryItem",
    ["id", connection("inventoryLevels", { variable: "first" }, INVENTORY_LEVEL_FIELDS, "after: $after")],
    "id: $id",
  ),
];

/** Levels per follow-up page: the most that fits the ceiling. */
export function maxInventoryLevelsPerPage(): number {
  const perLevel =
    requestedCost(INVENTORY_ITEM_LEVELS_SELECTION, { first: 1 }) -
    requestedCost(INVENTORY_ITEM_LEVELS_SELECTION, { first: 0 });
  const fixed = requestedCost(INVENTORY_ITEM_LEVELS_SELECTION, { first: 0 });
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor((MAX_SINGLE_QUERY_COST - fixed) / perLevel)));
}

/** The rest of an item's levels, after the ones that came inline with the page. */
export function inventoryItemLevelsQuery(input: {
  inventoryItemId: string;
  after: string | null;
}): GraphqlDocument {
  const variables = { id: input.inventoryItemId, first: maxInventoryLevelsPerPage(), after: input.after };
  return {
    operation: "InventoryItemLevels",
    query: `query InventoryItemLevels($id: ID!, $first: Int!, $after: String) { ${renderSelection(INVENTORY_ITEM_LEVELS_SELECTION)} }`,
    variables,
    cost: requestedCost(INVENTORY_ITEM_LEVELS_SELECTION, variables),
  };
}

/*
 * Reads by id: `nodes(ids:)` answers one entry per id, null for ids Shopify does not know. It is a list, not a
 * connection, and Shopify costs it by the ids asked: each one as one object of the selection (an interface's
 * inline fragments cost their most expensive possibility), so a chunk of ids is sized to stay under the
 * ceiling, like a page. Shopify takes at most 250 ids per call.
 */

/** Requested cost of `nodes(ids:)` with `ids` ids of a type selected by `selection`. */
function nodesCost(ids: number, selection: readonly Field[]): number {
  return ids * (1 + requestedCost(selection));
}

/** The most orders one `ordersByIdQuery` may ask for (with their inline lines). */
export function maxOrdersPerNodesQuery(): number {
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor(MAX_SINGLE_QUERY_COST / nodesCost(1, ORDER_FIELDS))));
}

/** Orders by GID, each selected as a page selects it (so the same mapping applies, follow-up lines included). */
export function ordersByIdQuery(ids: readonly string[]): GraphqlDocument {
  if (ids.length > maxOrdersPerNodesQuery()) {
    throw new RangeError(`At most ${maxOrdersPerNodesQuery()} orders per query (got ${ids.length})`);
  }
  return {
    operation: "OrdersById",
    query: `query OrdersById($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on Order { ${renderSelection(ORDER_FIELDS)} } } }`,
    variables: { ids: [...ids] },
    cost: nodesCost(ids.length, ORDER_FIELDS),
  };
}

const INVENTORY_ITEM_SKU_FIELDS: readonly Field[] = ["id", "sku", "tracked"];

export function maxInventoryItemsPerNodesQuery(): number {
  return Math.max(
    1,
    Math.min(MAX_PAGE_SIZE, Math.floor(MAX_SINGLE_QUERY_COST / nodesCost(1, INVENTORY_ITEM_SKU_FIELDS))),
  );
}

/** Inventory items by GID: just what decides their SKU (see `inventorySkuOf`). */
export function inventoryItemsByIdQuery(ids: readonly string[]): GraphqlDocument {
  if (ids.length > maxInventoryItemsPerNodesQuery()) {
    throw new RangeError(
      `At most ${maxInventoryItemsPerNodesQuery()} inventory items per query (got ${ids.length})`,
    );
  }
  return {
    operation: "InventoryItemsById",
    query: `query InventoryItemsById($ids: [ID!]!) { nodes(ids: $ids) { __typename ... on InventoryItem { ${renderSelection(INVENTORY_ITEM_SKU_FIELDS)} } } }`,
    variables: { ids: [...ids] },
    cost: nodesCost(ids.length, INVENTORY_ITEM_SKU_FIELDS),
  };
}

/*
 * Webhook subscriptions, in the API's unified form (2025-04 on): the destination is `uri`, filterable in the
 * `webhookSubscriptions` query; a subscription is (topic, uri) unique per app, and only the calling app's own
 * subscriptions are visible.
 */

export const WEBHOOK_SUBSCRIPTION_FIELDS: readonly Field[] = [
  "id",
  "topic",
  "uri",
  "format",
  "filter",
  "includeFields",
];

const WEBHOOK_SUBSCRIPTIONS_SELECTION: readonly Field[] = [
  connection(
    "webhookSubscriptions",
    { variable: "first" },
    WEBHOOK_SUBSCRIPTION_FIELDS,
    "after: $after, uri: $uri",
  ),
];

/** One page (the largest Shopify serves) of this app's subscriptions delivering to `uri`. */
export function webhookSubscriptionsQuery(input: { uri: string; after: string | null }): GraphqlDocument {
  const variables = { first: MAX_PAGE_SIZE, after: input.after, uri: input.uri };
  return {
    operation: "WebhookSubscriptions",
    query: `query WebhookSubscriptions($first: Int!, $after: String, $uri: String) { ${renderSelection(WEBHOOK_SUBSCRIPTIONS_SELECTION)} }`,
    variables,
    cost: requestedCost(WEBHOOK_SUBSCRIPTIONS_SELECTION, variables),
  };
}

/** `WebhookSubscriptionInput`: where and how Shopify delivers. */
export interface WebhookSubscriptionInput {
  uri: string;
  format: "JSON";
  /** "" = every event of the topic. */
  filter: string;
  /** [] = the whole payload. */
  includeFields: string[];
}

const SUBSCRIPTION_PAYLOAD = `webhookSubscription { ${renderSelection(WEBHOOK_SUBSCRIPTION_FIELDS)} } userErrors { field message }`;

export function webhookSubscriptionCreateMutation(
  topic: string,
  webhookSubscription: WebhookSubscriptionInput,
): GraphqlDocument {
  return {
    operation: "WebhookSubscriptionCreate",
    query: `mutation WebhookSubscriptionCreate($topic: WebhookSubscriptionTopic!, $webhookSubscription: WebhookSubscriptionInput!) { webhookSubscriptionCreate(topic: $topic, webhookSubscription: $webhookSubscription) { ${SUBSCRIPTION_PAYLOAD} } }`,
    variables: { topic, webhookSubscription },
    cost: MUTATION_COST,
  };
}

export function webhookSubscriptionUpdateMutation(
  id: string,
  webhookSubscription: WebhookSubscriptionInput,
): GraphqlDocument {
  return {
    operation: "WebhookSubscriptionUpdate",
    query: `mutation WebhookSubscriptionUpdate($id: ID!, $webhookSubscription: WebhookSubscriptionInput!) { webhookSubscriptionUpdate(id: $id, webhookSubscription: $webhookSubscription) { ${SUBSCRIPTION_PAYLOAD} } }`,
    variables: { id, webhookSubscription },
    cost: MUTATION_COST,
  };
}

export function webhookSubscriptionDeleteMutation(id: string): GraphqlDocument {
  return {
    operation: "WebhookSubscriptionDelete",
    query:
      "mutation WebhookSubscriptionDelete($id: ID!) { webhookSubscriptionDelete(id: $id) { deletedWebhookSubscriptionId userErrors { field message } } }",
    variables: { id },
    cost: MUTATION_COST,
  };
}

/*
 * Order lookup: a customer's orders found through Shopify's order search. The documented `orders` filters
 * include `name` and `email` but no phone field, and Shopify drops a filter it does not know (it says so
 * only in `extensions.search[].warnings`) and answers as if it had not been given — every order. So a
 * phone number goes in as a plain (unfielded) term, which Shopify's default search matches against the
 * order's fields, and the client keeps only exact matches (`matchesOrderSearch`) of what comes back.
 */

/**
 * A lookup first asks only for the matching orders' ids (a few points), then reads the orders it found by
 * id (`ordersByIdQuery`, priced per order found): most lookups find one order or none, and the governor
 * must not hold a whole page's worth of points for them.
 */
const ORDER_LOOKUP_SELECTION: readonly Field[] = [
  connection("orders", { variable: "first" }, ["id"], "query: $query, sortKey: PROCESSED_AT, reverse: true"),
];

/** A value as one search term: quoted, so spaces, colons and `@` stay part of it. */
function searchValue(value: string): string {
  return `"${value.replace(/["\\]/g, " ").trim()}"`;
}

/**
 * Shopify search syntax for the criteria, terms joined by spaces (AND): `name:"1001" email:"a@b.example"
 * "16505550101"`. Null when no criterion is searchable.
 */
export function orderLookupSearch(criteria: {
  orderNumber?: string;
  email?: string;
  phone?: string;
}): string | null {
  const terms: string[] = [];
  if (criteria.orderNumber !== undefined)
    terms.push(`name:${searchValue(criteria.orderNumber.replace(/^#+/, ""))}`);
  if (criteria.email !== undefined) terms.push(`email:${searchValue(criteria.email)}`);
  if (criteria.phone !== undefined) {
    const digits = criteria.phone.replace(/\D/g, "");
    if (digits !== "") terms.push(searchValue(digits));
  }
  return terms.length === 0 ? null : terms.join(" ");
}

/** The ids of the newest `first` orders matching `search` (Shopify search syntax). */
export function orderLookupQuery(input: { search: string; first: number }): GraphqlDocument {
  const first = Math.max(1, Math.min(input.first, MAX_PAGE_SIZE));
  const variables = { first, query: input.search };
  return {
    operation: "OrderLookup",
    query: `query OrderLookup($first: Int!, $query: String!) { ${renderSelection(ORDER_LOOKUP_SELECTION)} }`,
    variables,
    cost: requestedCost(ORDER_LOOKUP_SELECTION, variables),
  };
}

/*
 * Product pictures (product assets). A product's pictures are its `media` (the image-only `images` and
 * `featuredImage` fields are deprecated in favour of `media` and `featuredMedia`); a variant may have its
 * own (`ProductVariant.media`, the first being the one shown for it). Only `MediaImage` media are pictures;
 * videos and 3D models are skipped.
 */

const MEDIA_IMAGE_FIELDS: readonly Field[] = [
  "__typename",
  fragment("MediaImage", ["id", "alt", object("image", ["url", "altText", "width", "height"])]),
];

/** Pictures read per product: the featured one and the next few are all an agent or the bot shows. */
export const MEDIA_PER_PRODUCT = 10;
/** Variants inline with each product; products with more get the rest through `productVariantsQuery`. */
export const VARIANTS_PER_PRODUCT = 20;

export const PRODUCT_VARIANT_FIELDS: readonly Field[] = [
  "id",
  "sku",
  "title",
  "updatedAt",
  // The variant's own picture is its first media.
  connection("media", 1, MEDIA_IMAGE_FIELDS),
];

const PRODUCT_FIELDS: readonly Field[] = [
  "id",
  "title",
  "updatedAt",
  object("featuredMedia", MEDIA_IMAGE_FIELDS),
  connection("media", MEDIA_PER_PRODUCT, MEDIA_IMAGE_FIELDS),
  connection("variants", VARIANTS_PER_PRODUCT, PRODUCT_VARIANT_FIELDS),
];

const PRODUCTS_PAGE_SELECTION: readonly Field[] = [
  // Id order: a product changed while paging keeps its place, so no product is skipped.
  connection("products", { variable: "first" }, PRODUCT_FIELDS, "after: $after, sortKey: ID"),
];

/** The largest page of products (with their inline media and variants) within Shopify's cost ceiling. */
export function maxProductsPerPage(): number {
  const perProduct =
    requestedCost(PRODUCTS_PAGE_SELECTION, { first: 1 }) -
    requestedCost(PRODUCTS_PAGE_SELECTION, { first: 0 });
  const fixed = requestedCost(PRODUCTS_PAGE_SELECTION, { first: 0 });
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor((MAX_SINGLE_QUERY_COST - fixed) / perProduct)));
}

export function productsPageQuery(input: { cursor: string | null; first: number }): GraphqlDocument {
  const first = Math.max(1, Math.min(input.first, maxProductsPerPage()));
  const variables = { first, after: input.cursor };
  return {
    operation: "ProductsPage",
    query: `query ProductsPage($first: Int!, $after: String) { ${renderSelection(PRODUCTS_PAGE_SELECTION)} }`,
    variables,
    cost: requestedCost(PRODUCTS_PAGE_SELECTION, variables),
  };
}

const PRODUCT_VARIANTS_SELECTION: readonly Field[] = [
  object(
    "product",
    ["id", connection("variants", { variable: "first" }, PRODUCT_VARIANT_FIELDS, "after: $after")],
    "id: $id",
  ),
];

/** Variants per follow-up page: the most that fits the ceiling. */
export function maxVariantsPerPage(): number {
  const perVariant =
    requestedCost(PRODUCT_VARIANTS_SELECTION, { first: 1 }) -
    requestedCost(PRODUCT_VARIANTS_SELECTION, { first: 0 });
  const fixed = requestedCost(PRODUCT_VARIANTS_SELECTION, { first: 0 });
  return Math.max(1, Math.min(MAX_PAGE_SIZE, Math.floor((MAX_SINGLE_QUERY_COST - fixed) / perVariant)));
}

/** The rest of a product's variants, after the ones that came inline with the page. */
export function productVariantsQuery(input: { productId: string; after: string | null }): GraphqlDocument {
  const variables = { id: input.productId, first: maxVariantsPerPage(), after: input.after };
  return {
    operation: "ProductVariants",
    query: `query ProductVariants($id: ID!, $first: Int!, $after: String) { ${renderSelection(PRODUCT_VARIANTS_SELECTION)} }`,
    variables,
    cost: requestedCost(PRODUCT_VARIANTS_SELECTION, variables),
  };
}
