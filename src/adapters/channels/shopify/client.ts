import type * as z from "zod";
import type { InventoryLevel, Order } from "../../../domain/commerce";
import { backoffSeconds } from "../../../lib/backoff";
import { UpstreamError } from "../../../lib/errors";
import { scrubber } from "../../../lib/scrub";
import type { UpstreamFailureKind, UpstreamGate, UpstreamOutcome } from "../../../lib/upstream-gate";
import type {
  BulkExportChunk,
  ChannelAdapter,
  ChannelBulkExport,
  FulfillmentInput,
  OrderSearchResult,
  OrdersPage,
  ProductAssetsPage,
  VariantAsset,
  WebhookSubscriptionsResult,
} from "../interface";
import { matchesOrderSearch, normaliseCriteria, type OrderSearchCriterion } from "../order-search";
import { toVariantAssets } from "./product-transform";
import {
  bulkOperationQuery,
  bulkOperationRunQueryMutation,
  type FulfillmentCreateInput,
  fulfillmentCreateMutation,
  fulfillmentStateQuery,
  type GraphqlDocument,
  inventoryItemLevelsQuery,
  inventoryItemsByIdQuery,
  inventoryItemsPageQuery,
  maxInventoryItemsPerNodesQuery,
  maxInventoryItemsPerPage,
  maxOrdersPerNodesQuery,
  maxOrdersPerPage,
  orderLineItemsQuery,
  orderLookupQuery,
  orderLookupSearch,
  ordersByIdQuery,
  ordersPageQuery,
  productsPageQuery,
  productVariantsQuery,
  type WebhookSubscriptionInput,
  webhookSubscriptionCreateMutation,
  webhookSubscriptionDeleteMutation,
  webhookSubscriptionsQuery,
  webhookSubscriptionUpdateMutation,
} from "./queries";
import {
  type BulkExportOrder,
  groupedBulkOrders,
  inventoryItemFromPage,
  inventorySkuOf,
  orderFromPage,
  ShopifyPayloadError,
  toBulkExportStatus,
  toInventoryLevels,
  toOrder,
} from "./transform";
import {
  bulkOperationDataSchema,
  bulkOperationRunQueryDataSchema,
  fulfillmentCreateDataSchema,
  fulfillmentStateDataSchema,
  graphqlResponseSchema,
  inventoryItemLevelsDataSchema,
  inventoryItemsByIdDataSchema,
  inventoryItemsPageDataSchema,
  orderLineItemsDataSchema,
  orderLookupIdsDataSchema,
  ordersByIdDataSchema,
  ordersPageDataSchema,
  pageOrderSchema,
  pageProductSchema,
  productsPageDataSchema,
  productVariantsDataSchema,
  type ShopifyFulfillmentState,
  type ShopifyGraphqlError,
  type ShopifyInventoryItem,
  type ShopifyOrder,
  type ShopifyProduct,
  type ShopifyUserError,
  type ShopifyWebhookSubscription,
  searchExtensionSchema,
  webhookSubscriptionCreateDataSchema,
  webhookSubscriptionDeleteDataSchema,
  webhookSubscriptionsPageDataSchema,
  webhookSubscriptionUpdateDataSchema,
} from "./types";
import { webhookTopicEnum, webhookTopicName } from "./webhook-transform";

/**
 * Shopify channel adapter over the Admin GraphQL API (`POST {shop}/admin/api/{version}/graphql.json`,
 * `X-Shopify-Access-Token`).
 *
 * Rate limits: Shopify meters each app+shop by calculated query cost in a leaky bucket. Every request
 * first takes a permit from the `UpstreamGate` for its requested cost (computed from the document before it
 * is sent, by Shopify's documented rules: see queries.ts) and returns it with what Shopify reported
 * (`extensions.cost`: actual cost and `throttleStatus`), so the governor can refund the difference and
 * track the real bucket.
 *
 * Failures:
 * | Shopify answer                                   | kind         | retried here |
 * |--------------------------------------------------|--------------|--------------|
 * | 200 with errors[].extensions.code THROTTLED      | rate_limited | yes, after (requested − currentlyAvailable) / restoreRate |
 * | 429 (Retry-After seconds)                        | rate_limited | yes, after Retry-After |
 * | 5xx, network error, timeout, non-JSON body       | retryable    | queries: yes, jittered backoff; mutations: only after re-reading the state (fulfilments) |
 * | 200 with INTERNAL_SERVER_ERROR                   | retryable    | same |
 * | 401, 403, 200 with ACCESS_DENIED                 | auth         | no |
 * | any other GraphQL error, userErrors, other 4xx   | permanent    | no |
 * Requests already refused (THROTTLED, 429) were never executed, so even mutations are resent.
 *
 * The access token travels only in a request header: it is never part of a URL, a message or a cause.
 */

export interface ShopifyCredentials {
  /** SECRET: the Admin API access token, sent as `X-Shopify-Access-Token`. */
  accessToken: string;
}

/** The Admin API version every request names. Stable versions are supported for at least 12 months. */
export const SHOPIFY_API_VERSION = "2026-10";

const UPSTREAM = "shopify";
const GRAPHQL_ENDPOINT = "graphql";
/** Bulk result files live on Shopify's storage, not the GraphQL endpoint: they cost no query points. */
const BULK_DOWNLOAD_ENDPOINT = "bulk-download";
/** Shopify's advice when a 429 carries no Retry-After. */
const DEFAULT_RETRY_AFTER_MS = 1000;
/** How long to come back after Shopify refuses a second concurrent bulk query. */
const BULK_IN_PROGRESS_RETRY_SECONDS = 60;

export interface ShopifyAdapterInput {
  /** e.g. "acme.myshopify.com". */
  shopDomain: string;
  credentials: ShopifyCredentials;
  /** Origin template with "{shop}": "https://{shop}" in production, "http://127.0.0.1:PORT/shops/{shop}" for the fake. */
  apiBase: string;
  gate: UpstreamGate;
  /** Per attempt, response body included. */
  timeoutMs?: number;
  /** Attempts for requests that are safe to resend, the first included. */
  maxAttempts?: number;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Per attempt of a bulk result download (files can be large). */
  downloadTimeoutMs?: number;
  /** Backoff for retryable failures: full jitter between base and base·2^(n−1), capped. */
  backoffBaseMs?: number;
  backoffCapMs?: number;
}

/** An `UpstreamError` with its `kind`, the classification services and the governor act on. */
function upstreamError(
  message: string,
  kind: UpstreamFailureKind,
  options: { retryAfterSeconds?: number; cause?: unknown } = {},
): UpstreamError {
  const error = new UpstreamError(message, {
    upstream: UPSTREAM,
    retryable: kind === "retryable" || kind === "rate_limited",
    kind,
    ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
    ...(options.cause === undefined ? {} : { cause: options.cause }),
  });
  return error;
}

/**
 * The request may or may not have been executed (timeout, 5xx, connection lost after sending): a mutation
 * must not be resent before the state is read again.
 */
class AmbiguousOutcomeError extends UpstreamError {}

/** A failure worth another attempt, and how long to wait before it. */
interface Transient {
  error: UpstreamError;
  waitMs: number;
  /** True when the request may have been executed. */
  ambiguous: boolean;
}

/** One round trip's result and what to tell the governor about it. */
type RoundTrip = { outcome: UpstreamOutcome } & (
  | { data: unknown }
  | { transient: Transient }
  | { fatal: UpstreamError }
);

export type ShopifyAdapter = ChannelAdapter &
  ChannelBulkExport &
  Required<
    Pick<
      ChannelAdapter,
      | "listInventoryLevels"
      | "getOrders"
      | "syncWebhookSubscriptions"
      | "removeWebhookSubscriptions"
      | "searchOrders"
      | "listProductAssets"
    >
  > & {
    shopDomain: string;
    /**
     * The SKU each inventory item (GID) is synced under, null when it has none or is not tracked (see
     * `inventorySkuOf`): what an `inventory_levels/update` webhook, which names only the item, needs.
     * Ids Shopify does not know are absent.
     */
    getInventoryItemSkus(inventoryItemIds: readonly string[]): Promise<Map<string, string | null>>;
  };

export function createShopifyAdapter(input: ShopifyAdapterInput): ShopifyAdapter {
  const shopDomain = input.shopDomain.trim().toLowerCase();
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(shopDomain)) {
    throw new RangeError(`Not a shop domain: "${input.shopDomain}"`);
  }
  if (!input.apiBase.includes("{shop}")) throw new RangeError('apiBase must contain "{shop}"');
  const origin = input.apiBase.replace("{shop}", shopDomain).replace(/\/+$/, "");
  const graphqlUrl = `${origin}/admin/api/${SHOPIFY_API_VERSION}/graphql.json`;
  const accessToken = input.credentials.accessToken;
  const gate = input.gate;
  const timeoutMs = input.timeoutMs ?? 10_000;
  const downloadTimeoutMs = input.downloadTimeoutMs ?? 120_000;
  const maxAttempts = Math.max(1, input.maxAttempts ?? 4);
  // Call through a closure: an unbound `fetch` taken off an object throws "Illegal invocation" in workerd.
  const doFetch: typeof fetch = input.fetch ?? ((url, init) => fetch(url, init));
  const sleep = input.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = input.random ?? Math.random;
  const backoffBaseMs = input.backoffBaseMs ?? 250;
  const backoffCapMs = input.backoffCapMs ?? 5000;

  /** Removes the access token (and signed query strings, e.g. bulk file URLs) from text leaving this module. */
  const scrubbing = scrubber([accessToken]);
  const scrub = scrubbing.text;
  const safeCause = scrubbing.error;
  // backoffSeconds is a unit-free formula below its 12 h clamp: fed milliseconds, it returns milliseconds.
  const backoffMs = (attempt: number) =>
    backoffSeconds(attempt, { baseSeconds: backoffBaseMs, capSeconds: backoffCapMs, random });

  /** One GraphQL round trip under one permit; the permit is always returned with what happened. */
  async function exchange(doc: GraphqlDocument, attempt: number): Promise<RoundTrip> {
    const permit = await gate.acquire({ endpoint: GRAPHQL_ENDPOINT, cost: doc.cost });
    let outcome: UpstreamOutcome = { ok: false, failure: "retryable" };
    try {
      const result = await roundTrip(doc, attempt);
      outcome = result.outcome;
      return result;
    } finally {
      // The governor's bookkeeping must not turn a Shopify answer into a failure.
      await permit.release(outcome).catch(() => undefined);
    }
  }

  async function roundTrip(doc: GraphqlDocument, attempt: number): Promise<RoundTrip> {
    const op = doc.operation;
    const signal = AbortSignal.timeout(timeoutMs);
    const retryable = (error: UpstreamError, measured: Partial<UpstreamOutcome> = {}): RoundTrip => ({
      transient: { error, waitMs: backoffMs(attempt), ambiguous: true },
      outcome: { ok: false, failure: "retryable", ...measured },
    });
    const fatal = (
      message: string,
      kind: UpstreamFailureKind,
      measured: Partial<UpstreamOutcome> = {},
    ): RoundTrip => ({
      fatal: upstreamError(message, kind),
      outcome: { ok: false, failure: kind, ...measured },
    });
    const transportFailure = (error: unknown, phase: string) =>
      retryable(
        upstreamError(
          signal.aborted
            ? `Shopify ${op} timed out after ${timeoutMs} ms`
            : `Shopify ${op} ${phase} (network error)`,
          "retryable",
          { cause: safeCause(error) },
        ),
      );

    let response: Response;
    try {
      response = await doFetch(graphqlUrl, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "x-shopify-access-token": accessToken,
        },
        body: JSON.stringify({ query: doc.query, variables: doc.variables }),
        signal,
      });
    } catch (error) {
      return transportFailure(error, "request failed");
    }

    const status = response.status;
    if (status !== 200) {
      await response.body?.cancel().catch(() => undefined);
      if (status === 401 || status === 403) {
        return fatal(
          `Shopify refused the shop's access token (HTTP ${status}): reconnect the Shopify store`,
          "auth",
        );
      }
      if (status === 429) {
        const retryAfterMs = retryAfterHeaderMs(response.headers.get("retry-after"));
        return {
          transient: {
            error: upstreamError(`Shopify ${op} is rate limited (HTTP 429)`, "rate_limited", {
              retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
            }),
            waitMs: retryAfterMs,
            ambiguous: false,
          },
          outcome: { ok: false, failure: "rate_limited", retryAfterMs },
        };
      }
      if (status >= 500)
        return retryable(upstreamError(`Shopify ${op} returned HTTP ${status}`, "retryable"));
      const reason = status === 404 ? " (unknown shop or API version)" : "";
      return fatal(`Shopify ${op} returned HTTP ${status}${reason}`, "permanent");
    }

    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      return transportFailure(error, "response was cut off");
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      // A proxy's HTML error page: Shopify's edge was in trouble, not our request.
      return retryable(upstreamError(`Shopify ${op} returned a body that is not JSON`, "retryable"));
    }
    const envelope = graphqlResponseSchema.safeParse(json);
    if (!envelope.success) return fatal(`Shopify ${op} returned an unexpected envelope`, "permanent");
    const cost = envelope.data.extensions?.cost;
    const throttle = cost?.throttleStatus;
    const actualCost = typeof cost?.actualQueryCost === "number" ? cost.actualQueryCost : undefined;
    const measured: Partial<UpstreamOutcome> = {
      ...(throttle === undefined ? {} : { throttle }),
      ...(actualCost === undefined ? {} : { actualCost }),
    };
    const errors = envelope.data.errors ?? [];

    if (errors.some(isThrottled)) {
      const requested = typeof cost?.requestedQueryCost === "number" ? cost.requestedQueryCost : doc.cost;
      // Exactly until the bucket holds this query's cost again.
      const retryAfterMs =
        throttle !== undefined && throttle.restoreRate > 0
          ? Math.ceil((Math.max(0, requested - throttle.currentlyAvailable) / throttle.restoreRate) * 1000)
          : DEFAULT_RETRY_AFTER_MS;
      return {
        transient: {
          error: upstreamError(`Shopify ${op} was throttled (query cost ${requested})`, "rate_limited", {
            retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
          }),
          waitMs: retryAfterMs,
          ambiguous: false,
        },
        outcome: { ok: false, failure: "rate_limited", retryAfterMs, ...measured },
      };
    }

    const ignoredTerms = ignoredSearchTerms(envelope.data.extensions?.search);
    if (errors.length === 0 && ignoredTerms.length > 0) {
      // Shopify answered as if those terms had not been given: not the set that was asked for.
      return fatal(
        `Shopify ${op} ignored search terms (${scrub(ignoredTerms.join("; "))}): the answer is not what was asked`,
        "permanent",
        measured,
      );
    }

    if (errors.length > 0) {
      const kind = classifyGraphqlErrors(errors);
      const message = `Shopify ${op} failed: ${scrub(describeErrors(errors))}`;
      // Released with Shopify's measurements too: the points were spent all the same.
      return kind === "retryable"
        ? retryable(upstreamError(message, kind), measured)
        : fatal(message, kind, measured);
    }

    return { data: envelope.data.data, outcome: { ok: true, ...measured } };
  }

  /**
   * Runs `doc` until it answers, resending after rate limits always and after ambiguous failures only
   * when `safe` (queries). Parses `data` with `schema`.
   */
  async function graphql<T>(
    doc: GraphqlDocument,
    schema: z.ZodType<T>,
    options: { safe: boolean },
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const result = await exchange(doc, attempt);
      if ("fatal" in result) throw result.fatal;
      if ("data" in result) {
        const parsed = schema.safeParse(result.data);
        if (!parsed.success) {
          throw upstreamError(`Shopify ${doc.operation} returned data of an unexpected shape`, "permanent");
        }
        return parsed.data;
      }
      const { error, waitMs, ambiguous } = result.transient;
      if (ambiguous && !options.safe) {
        throw new AmbiguousOutcomeError(error.message, {
          upstream: UPSTREAM,
          retryable: true,
          cause: error.cause,
        });
      }
      if (attempt >= maxAttempts) throw error;
      await sleep(waitMs);
    }
  }

  function mapOrder(order: ShopifyOrder): Order {
    try {
      return toOrder(order, shopDomain);
    } catch (error) {
      if (error instanceof ShopifyPayloadError || error instanceof RangeError) {
        throw upstreamError(`Shopify order ${order.name} could not be mapped: ${error.message}`, "permanent");
      }
      throw error;
    }
  }

  async function remainingLineItems(order: ShopifyOrder, after: string | null): Promise<void> {
    await readRemainingPages(after, order.lineItems, async (cursor) => {
      const data = await graphql(
        orderLineItemsQuery({ orderId: order.id, after: cursor }),
        orderLineItemsDataSchema,
        { safe: true },
      );
      return data.order?.lineItems ?? null;
    });
  }

  /**
   * One order node as a page or `nodes(ids:)` selects it: its remaining lines read, then mapped into
   * `orders`, or into `rejected` when its shape or amounts cannot be mapped (one bad order never fails the rest).
   */
  async function collectOrder(
    raw: { id: string; name?: unknown; updatedAt?: unknown },
    orders: Order[],
    rejected: OrdersPage["rejected"],
  ): Promise<void> {
    const parsed = pageOrderSchema.safeParse(raw);
    if (!parsed.success) {
      const name = typeof raw.name === "string" ? raw.name : null;
      rejected.push({
        externalId: raw.id,
        externalNumber: name,
        updatedAt: typeof raw.updatedAt === "string" ? raw.updatedAt : null,
        error: `Shopify order ${name ?? raw.id} has an unexpected shape: ${parsed.error.issues
          .slice(0, 3)
          .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
          .join("; ")}`,
      });
      return;
    }
    const node = parsed.data;
    const order = orderFromPage(node);
    const lines = node.lineItems.pageInfo;
    if (lines.hasNextPage) await remainingLineItems(order, lines.endCursor);
    try {
      orders.push(mapOrder(order));
    } catch (error) {
      if (!(error instanceof UpstreamError) || error.retryable) throw error;
      rejected.push({
        externalId: node.id,
        externalNumber: node.name,
        updatedAt: node.updatedAt,
        error: error.message,
      });
    }
  }

  async function remainingInventoryLevels(item: ShopifyInventoryItem, after: string | null): Promise<void> {
    await readRemainingPages(after, item.inventoryLevels, async (cursor) => {
      const data = await graphql(
        inventoryItemLevelsQuery({ inventoryItemId: item.id, after: cursor }),
        inventoryItemLevelsDataSchema,
        { safe: true },
      );
      return data.inventoryItem?.inventoryLevels ?? null;
    });
  }

  function mapInventoryItem(item: ShopifyInventoryItem): InventoryLevel[] {
    try {
      return toInventoryLevels(item);
    } catch (error) {
      if (error instanceof ShopifyPayloadError) {
        throw upstreamError(
          `Shopify inventory item ${item.id} could not be mapped: ${error.message}`,
          "permanent",
        );
      }
      throw error;
    }
  }

  /**
   * One stretch of a bulk result file, under one permit per attempt. The file sits on Google Cloud Storage
   * behind a signed URL (no access token), which honours `Range`: the request asks for the file from
   * `fromByte` on, and reading stops (the rest is cancelled, never buffered) once `maxOrders` orders are
   * whole. A server that ignores `Range` answers 200 with the whole file; its first `fromByte` bytes are
   * then read and dropped, which costs time but not memory. Reads are safe to repeat: a transport failure
   * reads the whole stretch again.
   */
  async function readBulkChunk(url: string, fromByte: number, maxOrders: number): Promise<BulkExportChunk> {
    for (let attempt = 1; ; attempt++) {
      const permit = await gate.acquire({ endpoint: BULK_DOWNLOAD_ENDPOINT, cost: 0 });
      let outcome: UpstreamOutcome = { ok: false, failure: "retryable" };
      let transient: UpstreamError;
      try {
        const signal = AbortSignal.timeout(downloadTimeoutMs);
        try {
          const response = await doFetch(url, {
            method: "GET",
            headers: fromByte > 0 ? { range: `bytes=${fromByte}-` } : {},
            signal,
          });
          const status = response.status;
          if (status === 416) {
            // Nothing at or after `fromByte`: the file ends there.
            await response.body?.cancel().catch(() => undefined);
            outcome = { ok: true };
            return { orders: [], rejected: [], nextByte: null };
          }
          if (status === 200 || status === 206) {
            const skip =
              status === 200
                ? fromByte
                : fromByte - rangeStart(response.headers.get("content-range"), fromByte);
            if (skip < 0) {
              await response.body?.cancel().catch(() => undefined);
              outcome = { ok: false, failure: "permanent" };
              throw upstreamError(
                `Shopify bulk export file answered a range that starts after byte ${fromByte}`,
                "permanent",
              );
            }
            const chunk =
              response.body === null
                ? { orders: [], rejected: [], nextByte: null }
                : await readOrders(response.body, fromByte, skip, maxOrders);
            outcome = { ok: true };
            return chunk;
          }
          await response.body?.cancel().catch(() => undefined);
          if (status !== 429 && status < 500) {
            outcome = { ok: false, failure: "permanent" };
            throw upstreamError(
              `Shopify bulk export file returned HTTP ${status} (expired or invalid URL)`,
              "permanent",
            );
          }
          transient = upstreamError(`Shopify bulk export file returned HTTP ${status}`, "retryable");
        } catch (error) {
          if (error instanceof UpstreamError) throw error;
          if (error instanceof ShopifyPayloadError) {
            outcome = { ok: false, failure: "permanent" };
            throw upstreamError(`Shopify bulk export file cannot be read: ${error.message}`, "permanent");
          }
          transient = upstreamError(
            signal.aborted
              ? `Shopify bulk export download timed out after ${downloadTimeoutMs} ms`
              : "Shopify bulk export download failed (network error)",
            "retryable",
            { cause: safeCause(error) },
          );
        }
      } finally {
        await permit.release(outcome).catch(() => undefined);
      }
      if (attempt >= maxAttempts) throw transient;
      await sleep(backoffMs(attempt));
    }
  }

  /** Whole orders from a (grouped) result file's body, up to `maxOrders`, stopping at an order's first byte. */
  async function readOrders(
    body: ReadableStream<Uint8Array>,
    fromByte: number,
    skip: number,
    maxOrders: number,
  ): Promise<BulkExportChunk> {
    const assembler = groupedBulkOrders();
    const orders: Order[] = [];
    const rejected: OrdersPage["rejected"] = [];
    const take = (done: BulkExportOrder) => {
      if ("rejected" in done) {
        rejected.push(done.rejected);
        return;
      }
      try {
        orders.push(mapOrder(done.order));
      } catch (error) {
        if (!(error instanceof UpstreamError) || error.retryable) throw error;
        const { order } = done;
        rejected.push({
          externalId: order.id,
          externalNumber: order.name,
          updatedAt: order.updatedAt,
          error: error.message,
        });
      }
    };
    for await (const { record, start } of jsonLineRecords(body, fromByte, skip)) {
      const done = assembler.add(record);
      if (done === null) continue;
      take(done);
      // `record` began the next order: the stretch ends just before it (leaving the loop cancels the body).
      if (orders.length + rejected.length >= maxOrders) return { orders, rejected, nextByte: start };
    }
    const last = assembler.end();
    if (last !== null) take(last);
    return { orders, rejected, nextByte: null };
  }

  /** Every subscription of this app that delivers to `uri`, all pages read. */
  async function subscriptionsTo(uri: string): Promise<ShopifyWebhookSubscription[]> {
    const found: ShopifyWebhookSubscription[] = [];
    let after: string | null = null;
    for (;;) {
      const data: z.infer<typeof webhookSubscriptionsPageDataSchema> = await graphql(
        webhookSubscriptionsQuery({ uri, after }),
        webhookSubscriptionsPageDataSchema,
        { safe: true },
      );
      // Compared again here: the subscription set is ours to change only where the address is exactly ours.
      found.push(...data.webhookSubscriptions.nodes.filter((subscription) => subscription.uri === uri));
      const page = data.webhookSubscriptions.pageInfo;
      if (!page.hasNextPage || page.endCursor === null) return found;
      after = page.endCursor;
    }
  }

  /**
   * Runs one subscription mutation. Not resent after an ambiguous failure: the error is retryable instead,
   * and the caller's next sync (idempotent, it reads the subscriptions first) finds whatever happened.
   */
  async function subscriptionMutation<T>(doc: GraphqlDocument, schema: z.ZodType<T>): Promise<T> {
    try {
      return await graphql(doc, schema, { safe: false });
    } catch (error) {
      if (error instanceof AmbiguousOutcomeError) {
        throw upstreamError(error.message, "retryable", { cause: error.cause });
      }
      throw error;
    }
  }

  function refused(action: string, userErrors: ShopifyUserError[]): void {
    if (userErrors.length > 0) {
      throw upstreamError(`Shopify refused to ${action}: ${describeUserErrors(userErrors)}`, "permanent");
    }
  }

  async function deleteSubscription(subscription: ShopifyWebhookSubscription): Promise<void> {
    const data = await subscriptionMutation(
      webhookSubscriptionDeleteMutation(subscription.id),
      webhookSubscriptionDeleteDataSchema,
    );
    refused(
      `delete the ${subscription.topic} webhook subscription`,
      data.webhookSubscriptionDelete.userErrors,
    );
  }

  async function readFulfillmentState(orderId: string): Promise<ShopifyFulfillmentState> {
    const data = await graphql(fulfillmentStateQuery(orderId), fulfillmentStateDataSchema, { safe: true });
    if (data.order === null) throw upstreamError(`Shopify order ${orderId} not found`, "permanent");
    return data.order;
  }

  async function remainingVariants(product: ShopifyProduct, after: string | null): Promise<void> {
    await readRemainingPages(after, product.variants, async (cursor) => {
      const data = await graphql(
        productVariantsQuery({ productId: product.id, after: cursor }),
        productVariantsDataSchema,
        { safe: true },
      );
      return data.product?.variants ?? null;
    });
  }

  return {
    channel: "shopify",
    shopDomain,
    orderSearchCriteria: ["orderNumber", "email", "phone"] satisfies OrderSearchCriterion[],

    /**
     * Shopify's order search (`orderLookupSearch`), newest processed first, at most `limit`: the ids first,
     * then the orders found, read by id (see `orderLookupQuery`). Each order is checked against the criteria
     * again: the search index matches loosely (a plain phone term matches wherever its digits appear).
     */
    async searchOrders({ criteria, limit }): Promise<OrderSearchResult> {
      const wanted = normaliseCriteria(criteria);
      const search = orderLookupSearch(wanted);
      if (search === null) return { orders: [], rejected: [], truncated: false };
      const found = await graphql(
        orderLookupQuery({ search, first: Math.max(1, Math.floor(limit)) }),
        orderLookupIdsDataSchema,
        { safe: true },
      );
      const ids = found.orders.nodes.map((node) => node.id).filter((id) => ORDER_GID.test(id));
      const orders: Order[] = [];
      const rejected: OrdersPage["rejected"] = [];
      for (const chunk of chunks(ids, maxOrdersPerNodesQuery())) {
        const data = await graphql(ordersByIdQuery(chunk), ordersByIdDataSchema, { safe: true });
        for (const node of data.nodes) {
          if (node === null || node.__typename !== "Order" || typeof node.id !== "string") continue;
          await collectOrder({ ...node, id: node.id }, orders, rejected);
        }
      }
      return {
        orders: orders.filter((order) => matchesOrderSearch(order, wanted)),
        rejected,
        truncated: found.orders.pageInfo.hasNextPage,
      };
    },

    /** One page of products in id order, each with all its variants; variants come out as assets. */
    async listProductAssets({ cursor, pageSize }): Promise<ProductAssetsPage> {
      const data = await graphql(
        productsPageQuery({ cursor, first: Math.max(1, Math.floor(pageSize)) }),
        productsPageDataSchema,
        { safe: true },
      );
      const assets: VariantAsset[] = [];
      const rejected: ProductAssetsPage["rejected"] = [];
      for (const raw of data.products.nodes) {
        const parsed = pageProductSchema.safeParse(raw);
        if (!parsed.success) {
          rejected.push({
            productExternalId: raw.id,
            error: `Shopify product ${raw.id} has an unexpected shape: ${parsed.error.issues
              .slice(0, 3)
              .map((issue) => `${issue.path.join(".")}: ${issue.message}`)
              .join("; ")}`,
          });
          continue;
        }
        const { variants, ...rest } = parsed.data;
        const product: ShopifyProduct = { ...rest, variants: [...variants.nodes] };
        if (variants.pageInfo.hasNextPage) await remainingVariants(product, variants.pageInfo.endCursor);
        assets.push(...toVariantAssets(product));
      }
      const page = data.products.pageInfo;
      return { assets, rejected, nextCursor: page.hasNextPage ? page.endCursor : null };
    },

    async listOrdersUpdatedSince({ updatedSince, cursor, pageSize }) {
      const since = isoTimestamp(updatedSince);
      // Shopify refuses any query above 1,000 points, so the page is what the cost allows.
      const first = Math.max(1, Math.min(Math.floor(pageSize), maxOrdersPerPage()));
      const data = await graphql(
        ordersPageQuery({ updatedSince: since, cursor, first }),
        ordersPageDataSchema,
        {
          safe: true,
        },
      );
      const orders: Order[] = [];
      const rejected: OrdersPage["rejected"] = [];
      for (const raw of data.orders.nodes) await collectOrder(raw, orders, rejected);
      const page = data.orders.pageInfo;
      return { orders, rejected, nextCursor: page.hasNextPage ? page.endCursor : null };
    },

    /**
     * One page of inventory items (`pageSize` counts items, each with all its levels), in Shopify's id
     * order. Items without a SKU or not tracked yield no levels but still move the cursor.
     */
    async listInventoryLevels({ cursor, pageSize }) {
      const first = Math.max(1, Math.min(Math.floor(pageSize), maxInventoryItemsPerPage()));
      const data = await graphql(inventoryItemsPageQuery({ cursor, first }), inventoryItemsPageDataSchema, {
        safe: true,
      });
      const levels: InventoryLevel[] = [];
      for (const node of data.inventoryItems.nodes) {
        const item = inventoryItemFromPage(node);
        const more = node.inventoryLevels.pageInfo;
        // The rest of an item that maps to nothing is not worth its query points.
        if (more.hasNextPage && inventorySkuOf(item) !== null) {
          await remainingInventoryLevels(item, more.endCursor);
        }
        levels.push(...mapInventoryItem(item));
      }
      const page = data.inventoryItems.pageInfo;
      return { levels, nextCursor: page.hasNextPage ? page.endCursor : null };
    },

    /** By GID, in chunks sized to the cost ceiling; ids that are not order GIDs are simply not found. */
    async getOrders(externalIds) {
      const ids = [...new Set(externalIds)].filter((id) => ORDER_GID.test(id));
      const orders: Order[] = [];
      const rejected: OrdersPage["rejected"] = [];
      for (const chunk of chunks(ids, maxOrdersPerNodesQuery())) {
        const data = await graphql(ordersByIdQuery(chunk), ordersByIdDataSchema, { safe: true });
        for (const node of data.nodes) {
          if (node === null || node.__typename !== "Order" || typeof node.id !== "string") continue;
          await collectOrder({ ...node, id: node.id }, orders, rejected);
        }
      }
      return { orders, rejected };
    },

    async getInventoryItemSkus(inventoryItemIds) {
      const ids = [...new Set(inventoryItemIds)].filter((id) => INVENTORY_ITEM_GID.test(id));
      const skus = new Map<string, string | null>();
      for (const chunk of chunks(ids, maxInventoryItemsPerNodesQuery())) {
        const data = await graphql(inventoryItemsByIdQuery(chunk), inventoryItemsByIdDataSchema, {
          safe: true,
        });
        for (const node of data.nodes) {
          if (node === null || node.__typename !== "InventoryItem" || typeof node.id !== "string") continue;
          if (typeof node.tracked !== "boolean") {
            throw upstreamError(
              `Shopify inventory item ${node.id} came without its tracked flag`,
              "permanent",
            );
          }
          skus.set(node.id, inventorySkuOf({ sku: node.sku ?? null, tracked: node.tracked }));
        }
      }
      return skus;
    },

    /**
     * Ours = this app's subscriptions whose `uri` is exactly `callbackUrl`. Each wanted topic gets one, in
     * JSON with no filter and the whole payload (anything else would silently drop events or fields the
     * receiver reads); ours for other topics are deleted; other addresses are never touched.
     */
    async syncWebhookSubscriptions({ callbackUrl, topics }) {
      const uri = checkedCallbackUrl(callbackUrl);
      const wanted = new Map<string, string>();
      for (const topic of topics) wanted.set(webhookTopicEnum(topic), topic.trim());
      const input: WebhookSubscriptionInput = { uri, format: "JSON", filter: "", includeFields: [] };
      const result: WebhookSubscriptionsResult = { created: [], updated: [], unchanged: [], removed: [] };
      const existing = await subscriptionsTo(uri);
      const kept = new Set<string>();
      for (const subscription of existing) {
        const name = wanted.get(subscription.topic);
        if (name === undefined || kept.has(subscription.topic)) {
          await deleteSubscription(subscription);
          result.removed.push(webhookTopicName(subscription.topic) ?? subscription.topic);
          continue;
        }
        kept.add(subscription.topic);
        const differs =
          subscription.format !== "JSON" ||
          (subscription.filter ?? "") !== "" ||
          subscription.includeFields.length > 0;
        if (!differs) {
          result.unchanged.push(name);
          continue;
        }
        const data = await subscriptionMutation(
          webhookSubscriptionUpdateMutation(subscription.id, input),
          webhookSubscriptionUpdateDataSchema,
        );
        refused(`update the ${name} webhook subscription`, data.webhookSubscriptionUpdate.userErrors);
        result.updated.push(name);
      }
      for (const [topicEnum, name] of wanted) {
        if (kept.has(topicEnum)) continue;
        const data = await subscriptionMutation(
          webhookSubscriptionCreateMutation(topicEnum, input),
          webhookSubscriptionCreateDataSchema,
        );
        refused(`subscribe to ${name}`, data.webhookSubscriptionCreate.userErrors);
        if (data.webhookSubscriptionCreate.webhookSubscription === null) {
          throw upstreamError(`Shopify created no ${name} webhook subscription`, "permanent");
        }
        result.created.push(name);
      }
      return result;
    },

    async removeWebhookSubscriptions({ callbackUrl }) {
      const uri = checkedCallbackUrl(callbackUrl);
      const removed: string[] = [];
      for (const subscription of await subscriptionsTo(uri)) {
        await deleteSubscription(subscription);
        removed.push(webhookTopicName(subscription.topic) ?? subscription.topic);
      }
      return { removed };
    },

    async startOrdersBulkExport({ updatedSince }) {
      // Not resent after an ambiguous failure: that could start a second export of the same orders.
      const data = await graphql(
        bulkOperationRunQueryMutation(isoTimestamp(updatedSince)),
        bulkOperationRunQueryDataSchema,
        { safe: false },
      );
      const { bulkOperation, userErrors } = data.bulkOperationRunQuery;
      if (userErrors.length > 0) {
        if (userErrors.some((e) => e.code === "OPERATION_IN_PROGRESS")) {
          throw upstreamError(
            `Shopify is already running a bulk export for this shop: ${describeUserErrors(userErrors)}`,
            "rate_limited",
            { retryAfterSeconds: BULK_IN_PROGRESS_RETRY_SECONDS },
          );
        }
        throw upstreamError(
          `Shopify refused the bulk export: ${describeUserErrors(userErrors)}`,
          "permanent",
        );
      }
      if (bulkOperation === null) throw upstreamError("Shopify started no bulk export", "permanent");
      return { operationId: bulkOperation.id };
    },

    async getBulkExport(operationId) {
      const data = await graphql(bulkOperationQuery(operationId), bulkOperationDataSchema, { safe: true });
      if (data.bulkOperation === null) {
        throw upstreamError(`Shopify bulk export ${operationId} not found`, "permanent");
      }
      return toBulkExportStatus(data.bulkOperation);
    },

    async readBulkExportOrders({ url, fromByte, maxOrders }) {
      if (!Number.isSafeInteger(fromByte) || fromByte < 0) {
        throw new RangeError(`Not a byte offset: ${fromByte}`);
      }
      return readBulkChunk(url, fromByte, Math.max(1, Math.floor(maxOrders)));
    },

    async createFulfillment(request) {
      const orderId = request.orderExternalId;
      const trackingNumbers = request.trackingNumbers.map((n) => n.trim()).filter((n) => n !== "");
      if (trackingNumbers.length === 0) {
        throw upstreamError("A Shopify fulfilment needs at least one tracking number", "permanent");
      }
      if (request.carrier.trim() === "")
        throw upstreamError("A Shopify fulfilment needs a carrier", "permanent");
      const trackingInfo: FulfillmentCreateInput["trackingInfo"] = {
        company: request.carrier.trim(),
        numbers: trackingNumbers,
        ...(request.trackingUrl ? { urls: [request.trackingUrl] } : {}),
      };

      let sentBefore = false;
      for (let round = 1; ; round++) {
        const state = await readFulfillmentState(orderId);
        const existing = fulfillmentCarrying(state, trackingNumbers);
        // Found after our own unanswered attempt: that attempt created it.
        if (existing !== null) return { fulfillmentId: existing, created: sentBefore };

        const groups = planFulfillment(state, request.lines);
        const created: string[] = [];
        try {
          for (const lineItemsByFulfillmentOrder of groups) {
            sentBefore = true;
            const data = await graphql(
              fulfillmentCreateMutation({
                lineItemsByFulfillmentOrder,
                notifyCustomer: request.notifyCustomer,
                trackingInfo,
              }),
              fulfillmentCreateDataSchema,
              { safe: false },
            );
            const { fulfillment, userErrors } = data.fulfillmentCreate;
            if (userErrors.length > 0) {
              throw upstreamError(
                `Shopify refused the fulfilment of order ${orderId}: ${describeUserErrors(userErrors)}`,
                "permanent",
              );
            }
            if (fulfillment === null) {
              throw upstreamError(`Shopify created no fulfilment for order ${orderId}`, "permanent");
            }
            created.push(fulfillment.id);
          }
        } catch (error) {
          if (error instanceof AmbiguousOutcomeError && round < maxAttempts) {
            await sleep(backoffMs(round));
            continue;
          }
          if (error instanceof AmbiguousOutcomeError) {
            throw upstreamError(error.message, "retryable", { cause: error.cause });
          }
          throw error;
        }
        const [first] = created;
        if (first === undefined)
          throw upstreamError(`Nothing to fulfil on Shopify order ${orderId}`, "permanent");
        return { fulfillmentId: first, created: true };
      }
    },
  };
}

const ORDER_GID = /^gid:\/\/shopify\/Order\/\d+$/;
const INVENTORY_ITEM_GID = /^gid:\/\/shopify\/InventoryItem\/\d+$/;

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Shopify delivers to HTTPS endpoints (plain HTTP only reaches local fakes). */
function checkedCallbackUrl(callbackUrl: string): string {
  let url: URL;
  try {
    url = new URL(callbackUrl);
  } catch {
    throw new RangeError(`Not a webhook callback URL: "${callbackUrl}"`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new RangeError(`Not an HTTP(S) webhook callback URL: "${callbackUrl}"`);
  }
  return callbackUrl;
}

function isThrottled(error: ShopifyGraphqlError): boolean {
  return error.extensions?.code === "THROTTLED" || error.message === "Throttled";
}

/**
 * The rest of a nested connection (an order's lines, an item's levels, a product's variants) after the
 * page that came inline, appended to `into`. `readPage` answers null when the parent was deleted between
 * the page and this read: what was read already is all there is.
 */
async function readRemainingPages<T>(
  after: string | null,
  into: T[],
  readPage: (
    cursor: string,
  ) => Promise<{ nodes: T[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } | null>,
): Promise<void> {
  let cursor = after;
  while (cursor !== null) {
    const page = await readPage(cursor);
    if (page === null) return;
    into.push(...page.nodes);
    cursor = page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null;
  }
}

/** "field: message" of every search term Shopify reported it did not apply (`extensions.search`). */
function ignoredSearchTerms(search: unknown): string[] {
  const parsed = searchExtensionSchema.safeParse(search);
  if (!parsed.success) return [];
  return parsed.data.flatMap((entry) =>
    (entry.warnings ?? []).map((w) => `${w.field ?? "?"}: ${w.message ?? "not applied"}`),
  );
}

function classifyGraphqlErrors(errors: ShopifyGraphqlError[]): UpstreamFailureKind {
  const codes = errors.map((e) => e.extensions?.code);
  if (codes.includes("ACCESS_DENIED")) return "auth";
  if (codes.includes("INTERNAL_SERVER_ERROR")) return "retryable";
  return "permanent";
}

function describeErrors(errors: ShopifyGraphqlError[]): string {
  return errors
    .slice(0, 3)
    .map((e) => (e.extensions?.code ? `${e.extensions.code}: ${e.message}` : e.message))
    .join("; ")
    .slice(0, 500);
}

function describeUserErrors(errors: ShopifyUserError[]): string {
  return errors
    .map((e) => (e.field && e.field.length > 0 ? `${e.field.join(".")}: ${e.message}` : e.message))
    .join("; ")
    .slice(0, 500);
}

function retryAfterHeaderMs(header: string | null): number {
  const seconds = header === null ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.ceil(seconds * 1000) : DEFAULT_RETRY_AFTER_MS;
}

function isoTimestamp(value: string): string {
  const time = Date.parse(value);
  if (Number.isNaN(time)) throw new RangeError(`Not a timestamp: "${value}"`);
  return new Date(time).toISOString();
}

/** "bytes 1200-99999/100000" → 1200; `fallback` when the header is absent or not of that form. */
function rangeStart(contentRange: string | null, fallback: number): number {
  const match = contentRange === null ? null : /^bytes\s+(\d+)-\d+\/(?:\d+|\*)$/i.exec(contentRange.trim());
  return match?.[1] === undefined ? fallback : Number(match[1]);
}

/** An order's JSON line is a few kilobytes; a line this long means the file is not what it should be. */
const MAX_BULK_LINE_BYTES = 8 * 1024 * 1024;

/**
 * The records of a JSONL body, each with the byte offset of its line in the whole file (the body's first
 * byte, after `skip` dropped bytes, being `fromByte`). Offsets are counted in bytes, not characters, since
 * they become `Range` requests. Stopping early (leaving a `for await`) cancels the body.
 */
async function* jsonLineRecords(
  body: ReadableStream<Uint8Array>,
  fromByte: number,
  skip: number,
): AsyncGenerator<{ record: unknown; start: number }> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const parse = (bytes: Uint8Array, start: number): unknown => {
    const text = decoder.decode(bytes);
    if (text.trim() === "") return undefined;
    try {
      return JSON.parse(text);
    } catch {
      // Never JSON.parse's message: it quotes the line, and the line holds customers' data.
      throw new ShopifyPayloadError(`the line at byte ${start} is not JSON`);
    }
  };
  let toSkip = skip;
  let partial: Uint8Array[] = [];
  let partialBytes = 0;
  let lineStart = fromByte;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let chunk = value;
      if (toSkip > 0) {
        if (chunk.byteLength <= toSkip) {
          toSkip -= chunk.byteLength;
          continue;
        }
        chunk = chunk.subarray(toSkip);
        toSkip = 0;
      }
      let from = 0;
      for (let newline = chunk.indexOf(0x0a); newline >= 0; newline = chunk.indexOf(0x0a, from)) {
        const line = joinBytes([...partial, chunk.subarray(from, newline)]);
        partial = [];
        partialBytes = 0;
        const start = lineStart;
        lineStart += line.byteLength + 1;
        from = newline + 1;
        const record = parse(line, start);
        if (record !== undefined) yield { record, start };
      }
      if (from < chunk.byteLength) {
        partialBytes += chunk.byteLength - from;
        if (partialBytes > MAX_BULK_LINE_BYTES) {
          throw new ShopifyPayloadError(
            `the line at byte ${lineStart} is longer than ${MAX_BULK_LINE_BYTES} bytes`,
          );
        }
        // A copy: a view would keep the whole network chunk alive.
        partial.push(chunk.slice(from));
      }
    }
    // The last line may end without a newline.
    const record = parse(joinBytes(partial), lineStart);
    if (record !== undefined) yield { record, start: lineStart };
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

function joinBytes(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1 && parts[0] !== undefined) return parts[0];
  const joined = new Uint8Array(parts.reduce((n, part) => n + part.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    joined.set(part, at);
    at += part.byteLength;
  }
  return joined;
}

const normaliseTracking = (value: string) => value.replace(/\s+/g, "").toUpperCase();

/** The id of a fulfilment already carrying one of `trackingNumbers`, if any. */
function fulfillmentCarrying(state: ShopifyFulfillmentState, trackingNumbers: string[]): string | null {
  const wanted = new Set(trackingNumbers.map(normaliseTracking));
  for (const fulfillment of state.fulfillments) {
    if (
      fulfillment.status === "CANCELLED" ||
      fulfillment.status === "ERROR" ||
      fulfillment.status === "FAILURE"
    ) {
      continue;
    }
    if (fulfillment.trackingInfo.some((t) => t.number !== null && wanted.has(normaliseTracking(t.number)))) {
      return fulfillment.id;
    }
  }
  return null;
}

type FulfillmentGroup = FulfillmentCreateInput["lineItemsByFulfillmentOrder"];

/**
 * What to put in each `fulfillmentCreate`: one call per location, since Shopify requires the fulfillment
 * orders of one fulfilment to share their assigned location. Empty `lines` = every remaining line.
 */
function planFulfillment(
  state: ShopifyFulfillmentState,
  lines: FulfillmentInput["lines"],
): FulfillmentGroup[] {
  const open = state.fulfillmentOrders.nodes.filter(
    (fo) =>
      (fo.status === "OPEN" || fo.status === "IN_PROGRESS") &&
      fo.lineItems.nodes.some((li) => li.remainingQuantity > 0),
  );
  const byLocation = new Map<string, FulfillmentGroup>();
  const groupOf = (locationId: string) => {
    const group = byLocation.get(locationId) ?? [];
    byLocation.set(locationId, group);
    return group;
  };

  if (lines.length === 0) {
    if (open.length === 0) {
      throw upstreamError(
        `Shopify order ${state.id} has nothing left to fulfil (${state.displayFulfillmentStatus ?? "unknown status"})`,
        "permanent",
      );
    }
    for (const fo of open)
      groupOf(fo.assignedLocation.location?.id ?? "").push({ fulfillmentOrderId: fo.id });
    return [...byLocation.values()];
  }

  const remaining = new Map<string, number>();
  for (const fo of open) for (const li of fo.lineItems.nodes) remaining.set(li.id, li.remainingQuantity);
  const items = new Map<string, { locationId: string; items: { id: string; quantity: number }[] }>();
  for (const line of lines) {
    let wanted = line.quantity;
    if (!Number.isInteger(wanted) || wanted <= 0) {
      throw upstreamError(`Line ${line.externalLineId}: quantity must be a positive integer`, "permanent");
    }
    for (const fo of open) {
      for (const li of fo.lineItems.nodes) {
        if (wanted === 0 || li.lineItem.id !== line.externalLineId) continue;
        const available = remaining.get(li.id) ?? 0;
        const take = Math.min(available, wanted);
        if (take === 0) continue;
        remaining.set(li.id, available - take);
        wanted -= take;
        const entry = items.get(fo.id) ?? { locationId: fo.assignedLocation.location?.id ?? "", items: [] };
        entry.items.push({ id: li.id, quantity: take });
        items.set(fo.id, entry);
      }
    }
    if (wanted > 0) {
      throw upstreamError(
        `Shopify order ${state.id}: line ${line.externalLineId} has ${line.quantity - wanted} of ${line.quantity} left to fulfil`,
        "permanent",
      );
    }
  }
  for (const [fulfillmentOrderId, entry] of items) {
    groupOf(entry.locationId).push({ fulfillmentOrderId, fulfillmentOrderLineItems: entry.items });
  }
  return [...byLocation.values()];
}
