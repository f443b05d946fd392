import { type SQL, sql } from "drizzle-orm";
import type { ChannelAdapter, OrderSearchResult } from "../../adapters/channels/interface";
import {
  givenCriteria,
  matchesOrderSearch,
  type OrderSearchCriteria,
  phoneDigits,
} from "../../adapters/channels/order-search";
import { isDatabaseUnavailable } from "../../cache/dual-write";
import { pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { Order } from "../../domain/commerce";
import { isOrderStatus } from "../../domain/order-state";
import { AppError, ServiceUnavailableError, UpstreamError } from "../../lib/errors";
import {
  CONNECTION_COLUMNS,
  type ConnectionRow,
  connectionFromRow,
  type LoadedConnection,
} from "../connections/load-connection";
import type { ServiceContext } from "../context";
import { channelAdapterFor } from "../sync/adapters";
import { escapeLike } from "../users/list-users";
import {
  type ChannelMatch,
  isPartial,
  type LookedUpOrder,
  mergeLookups,
  type ShipmentSummary,
  type StoredMatch,
  type StoreLookup,
} from "./merge";

/** What one lookup found, across every store and Tradewind's own copy. */
export interface OrderLookupResult {
  orders: LookedUpOrder[];
  stores: StoreLookup[];
  /** Some store failed or did not answer in time: its orders may be missing (stored copies still show). */
  partial: boolean;
  /** When the stores were asked (ISO 8601). */
  searchedAt: string;
}

/** Orders one answer carries: a customer has a handful; more is someone fishing. */
export const MAX_LOOKUP_ORDERS = 20;
/** Orders asked of each store: its newest (see queries.ts for what one costs at Shopify). */
export const ORDERS_PER_STORE = 3;
/**
 * An interactive lookup is not a pull: one attempt per request (a failing store is reported and the next
 * lookup, or the background refresh of a stale answer, tries again) and a short wait for the governor.
 */
const LOOKUP_PATIENCE = { maxAttempts: 1, maxWaitMs: 2_000 } as const;
/** Stored candidates read before the exact match: the coarse SQL filter may let a few extra through. */
const STORED_CANDIDATES = 50;
/** Digits of a phone number the stored search compares (the tail: country codes are often left out). */
const STORED_PHONE_DIGITS = 7;

interface StoredRow extends Record<string, unknown> {
  id: string;
  connection_id: string;
  status: string;
  data: unknown;
  store_name: string;
  shipments: unknown;
}

/**
 * The coarse SQL filter for stored orders (every criterion ANDed); `matchesOrderSearch` then decides
 * exactly on the stored order itself. `search_text` is the lower-cased number, email, names and phones
 * (trigram-indexed), so the number and email filters can use the index.
 */
function storedFilters(criteria: OrderSearchCriteria): SQL[] {
  const filters: SQL[] = [];
  if (criteria.orderNumber !== undefined) {
    const number = criteria.orderNumber;
    filters.push(sql`(o.search_text like ${`%${escapeLike(number)}%`} or o.external_id = ${number})`);
  }
  if (criteria.email !== undefined) {
    filters.push(sql`o.search_text like ${`%${escapeLike(criteria.email)}%`}`);
    filters.push(sql`lower(o.customer_email) = ${criteria.email}`);
  }
  if (criteria.phone !== undefined) {
    const tail = phoneDigits(criteria.phone).slice(-STORED_PHONE_DIGITS);
    filters.push(sql`regexp_replace(o.search_text, '[^0-9]', '', 'g') like ${`%${tail}%`}`);
  }
  return filters;
}

function shipmentsOf(raw: unknown): ShipmentSummary[] {
  if (!Array.isArray(raw)) return [];
  const out: ShipmentSummary[] = [];
  for (const item of raw) {
    if (typeof item !== "object" || item === null) continue;
    const s = item as Record<string, unknown>;
    const shippedAt = typeof s.shippedAt === "string" ? new Date(s.shippedAt) : null;
    if (shippedAt === null || Number.isNaN(shippedAt.getTime()) || typeof s.carrier !== "string") continue;
    out.push({
      carrier: s.carrier,
      carrierCode: typeof s.carrierCode === "string" ? s.carrierCode : null,
      trackingNumbers: Array.isArray(s.trackingNumbers) ? s.trackingNumbers.map(String) : [],
      trackingUrl: typeof s.trackingUrl === "string" ? s.trackingUrl : null,
      shippedAt: shippedAt.toISOString(),
    });
  }
  return out;
}

/** One round trip: the tenant's enabled stores (credentials sealed) and its stored orders that may match. */
async function readTenant(ctx: ServiceContext, tenantId: string, criteria: OrderSearchCriteria) {
  const where = sql.join([sql`o.tenant_id = ${tenantId}`, ...storedFilters(criteria)], sql` and `);
  try {
    const [stores, stored] = await tenantBatch(ctx.db.http, tenantId, (db) => [
      db.execute<ConnectionRow>(sql`
        select ${CONNECTION_COLUMNS} from connections
         where tenant_id = ${tenantId} and kind = 'channel' and enabled
         order by created_at, id`),
      db.execute<StoredRow>(sql`
        select o.id, o.connection_id, o.status, o.data, c.display_name as store_name,
               (select jsonb_agg(jsonb_build_object(
                         'carrier', s.carrier, 'carrierCode', s.carrier_code,
                         'trackingNumbers', to_jsonb(s.tracking_numbers), 'trackingUrl', s.tracking_url,
                         'shippedAt', s.shipped_at) order by s.shipped_at desc)
                  from shipments s where s.tenant_id = o.tenant_id and s.order_id = o.id) as shipments
          from orders o
          join connections c on c.tenant_id = o.tenant_id and c.id = o.connection_id
         where ${where}
         order by o.placed_at desc, o.id
         limit ${STORED_CANDIDATES}`),
    ]);
    return { stores: stores.rows, stored: stored.rows };
  } catch (error) {
    if (isDatabaseUnavailable(error))
      throw new ServiceUnavailableError("Database unavailable", { cause: error });
    throw error;
  }
}

function storedMatches(rows: readonly StoredRow[], criteria: OrderSearchCriteria): StoredMatch[] {
  const out: StoredMatch[] = [];
  for (const row of rows) {
    const order = Order.safeParse(typeof row.data === "string" ? JSON.parse(row.data) : row.data);
    if (!order.success || !isOrderStatus(row.status) || !matchesOrderSearch(order.data, criteria)) continue;
    out.push({
      orderId: row.id,
      connectionId: row.connection_id,
      storeName: row.store_name,
      status: row.status,
      order: order.data,
      shipments: shipmentsOf(row.shipments),
    });
  }
  return out;
}

/** A store that did not answer within the lookup's deadline (see `within`). */
class DeadlineExceeded extends Error {
  override name = "DeadlineExceeded";
}

/** A caller-safe account of why a store's search failed: our typed errors' messages, nothing else. */
function describe(error: unknown): string {
  if (error instanceof AppError || error instanceof DeadlineExceeded) return error.message.slice(0, 300);
  return "The store could not be searched (internal error)";
}

/**
 * Log fields for a lookup's failure: our typed errors' code and message (adapters scrub theirs); for
 * anything else only its class and SQLSTATE — a failed query's message carries its parameters, which
 * here are the customer's email or phone.
 */
export function lookupFailureForLog(error: unknown): Record<string, string> {
  if (error instanceof AppError) return { errorCode: error.code, error: error.message.slice(0, 300) };
  const sqlstate = pgErrorOf(error)?.code;
  return {
    error: error instanceof Error ? error.name : typeof error,
    ...(sqlstate === undefined ? {} : { sqlstate }),
  };
}

function isTimeout(error: unknown): boolean {
  if (error instanceof DeadlineExceeded) return true;
  if (!(error instanceof UpstreamError)) return false;
  const cause = error.cause;
  const causeName = cause instanceof Error ? cause.name : "";
  return causeName === "TimeoutError" || /timed out/i.test(error.message);
}

/** `promise`, or a DeadlineExceeded after `ms` (the promise itself keeps running and is left to finish). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineExceeded(`The store gave no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Searches one store; never throws: every outcome is a status. */
async function searchStore(
  ctx: ServiceContext,
  row: ConnectionRow,
  criteria: OrderSearchCriteria,
): Promise<{ store: StoreLookup; orders: ChannelMatch[] }> {
  const base = {
    connectionId: row.id,
    storeName: row.display_name,
    provider: row.provider,
    found: 0,
    truncated: false,
  };
  let connection: LoadedConnection;
  let adapter: ChannelAdapter;
  try {
    connection = await connectionFromRow(ctx, row);
    adapter = channelAdapterFor(ctx, connection, LOOKUP_PATIENCE);
  } catch (error) {
    return { store: { ...base, status: "skipped", error: describe(error) }, orders: [] };
  }
  const searchable = adapter.orderSearchCriteria ?? [];
  const missing = givenCriteria(criteria).filter((c) => !searchable.includes(c));
  if (adapter.searchOrders === undefined || missing.length > 0) {
    const what = adapter.searchOrders === undefined ? "order lookup" : `lookup by ${missing.join(" and ")}`;
    return {
      store: { ...base, status: "skipped", error: `${connection.provider} does not support ${what}` },
      orders: [],
    };
  }
  // The adapter's own timeout ends a hung request; this bounds the whole search (follow-up pages, the
  // governor's wait) so one store can never hold the answer of the others.
  const deadlineMs = ctx.config.upstream.timeoutMs + LOOKUP_PATIENCE.maxWaitMs + 1_000;
  const search = adapter.searchOrders({ criteria, limit: ORDERS_PER_STORE });
  try {
    const result: OrderSearchResult = await within(search, deadlineMs);
    const orders = result.orders
      .filter((order) => Order.safeParse(order).success)
      .map((order) => ({ connectionId: row.id, storeName: row.display_name, order }));
    return { store: { ...base, status: "ok", found: orders.length, truncated: result.truncated }, orders };
  } catch (error) {
    // A search abandoned at the deadline still finishes (and returns its governor permit) in the background.
    if (error instanceof DeadlineExceeded) ctx.waitUntil(search.catch(() => undefined));
    const status = isTimeout(error) ? "timeout" : "failed";
    ctx.logger.warn("order lookup: store search failed", {
      connectionId: row.id,
      provider: row.provider,
      status,
      ...lookupFailureForLog(error),
    });
    return { store: { ...base, status, error: describe(error) }, orders: [] };
  }
}

/**
 * Asks every enabled store of the tenant at once (each through its account's rate governor) and reads
 * Tradewind's stored orders in the same round trip as the stores' list, then merges (see `mergeLookups`).
 * One store failing, timing out or not supporting the criteria never fails the lookup: it is reported in
 * `stores`, and `partial` says the answer may be missing orders.
 */
export async function searchAllStores(
  ctx: ServiceContext,
  tenantId: string,
  criteria: OrderSearchCriteria,
): Promise<OrderLookupResult> {
  const searchedAt = new Date().toISOString();
  const { stores, stored } = await readTenant(ctx, tenantId, criteria);
  const results = await Promise.all(stores.map((row) => searchStore(ctx, row, criteria)));
  const storeLookups = results.map((r) => r.store);
  return {
    orders: mergeLookups(
      results.flatMap((r) => r.orders),
      storedMatches(stored, criteria),
      MAX_LOOKUP_ORDERS,
    ),
    stores: storeLookups,
    partial: isPartial(storeLookups),
    searchedAt,
  };
}
