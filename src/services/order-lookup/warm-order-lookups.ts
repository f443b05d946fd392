import { sql } from "drizzle-orm";
import { normaliseCriteria, type OrderSearchCriteria } from "../../adapters/channels/order-search";
import type { ServiceContext } from "../context";
import { canonicalCriteria, criteriaHash } from "./criteria";
import { activeLookupTenants, hasFreshLookup, refreshLookup } from "./look-up-orders";
import { lookupFailureForLog } from "./search-stores";

/** Orders placed this recently are the ones customers ask about. */
const PLACED_WITHIN_SECONDS = 24 * 60 * 60;
/** Newest orders per tenant each run: one busy tenant must not take every slot. */
const PER_TENANT = 3;
/** Candidate orders per run (across tenants). */
const MAX_CANDIDATES = 20;
/** Tenants considered per run: those that looked orders up most recently. */
const MAX_TENANTS = 50;
/** Lookups per run: each asks every store of its tenant, so the run's work stays bounded. */
export const MAX_WARM_LOOKUPS_PER_RUN = 20;
/** Lookups running at once. */
const CONCURRENCY = 4;

interface Candidate extends Record<string, unknown> {
  tenant_id: string;
  external_number: string;
  customer_email: string | null;
}

/**
 * The five-minute cron's share of order lookup: for the newest orders of each tenant that uses order
 * lookup (it looked orders up in the last day: `lookup:active-tenants`), the lookups a customer is likely to
 * make — by order number and by email — are asked now unless a fresh answer is cached, so the customer's
 * own lookup is a cache hit. A tenant that never looks orders up costs its stores nothing. Bounded per run
 * (`MAX_WARM_LOOKUPS_PER_RUN`); the candidates come from one cross-tenant statement (a SECURITY DEFINER
 * function, see drizzle/0013), each lookup runs for its own tenant.
 */
export async function warmOrderLookups({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<{ warmed: number; fresh: number; busy: number; failed: number }> {
  const outcome = { warmed: 0, fresh: 0, busy: 0, failed: 0 };
  if (ctx.cache.redis === null) return outcome;
  let tenants: string[];
  try {
    tenants = await activeLookupTenants(ctx, PLACED_WITHIN_SECONDS * 1000, MAX_TENANTS);
  } catch (error) {
    // Warming is a speed-up: with Redis down there is nothing to warm into, and the run is not a failure.
    ctx.logger.warn("order lookup warm-up skipped: active tenants unavailable", lookupFailureForLog(error));
    return outcome;
  }
  if (tenants.length === 0) return outcome;
  const candidates = await ctx.db.http.execute<Candidate>(sql`
    select tenant_id, external_number, customer_email
      from order_lookup_warm_candidates(${sql.param(tenants)}::uuid[], ${PLACED_WITHIN_SECONDS}, ${PER_TENANT},
                                        ${MAX_CANDIDATES})`);

  const jobs: { tenantId: string; criteria: OrderSearchCriteria }[] = [];
  const seen = new Set<string>();
  const add = (tenantId: string, criteria: OrderSearchCriteria) => {
    const normalised = normaliseCriteria(criteria);
    const key = `${tenantId}:${canonicalCriteria(normalised)}`;
    if (Object.keys(normalised).length === 0 || seen.has(key)) return;
    seen.add(key);
    jobs.push({ tenantId, criteria: normalised });
  };
  for (const row of candidates.rows) {
    add(row.tenant_id, { orderNumber: row.external_number });
    if (row.customer_email) add(row.tenant_id, { email: row.customer_email });
  }

  const queue = jobs.slice(0, MAX_WARM_LOOKUPS_PER_RUN);
  const worker = async () => {
    for (let job = queue.shift(); job !== undefined; job = queue.shift()) {
      const tenantCtx: ServiceContext = { ...ctx, tenantId: job.tenantId };
      try {
        const hash = await criteriaHash(job.criteria);
        if (await hasFreshLookup(tenantCtx, job.tenantId, hash)) {
          outcome.fresh += 1;
          continue;
        }
        const done = await refreshLookup(tenantCtx, job.tenantId, job.criteria, hash);
        if (done === "refreshed") outcome.warmed += 1;
        else outcome[done] += 1;
      } catch (error) {
        outcome.failed += 1;
        ctx.logger.warn("order lookup warm-up failed", {
          tenantId: job.tenantId,
          ...lookupFailureForLog(error),
        });
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  if (outcome.warmed > 0 || outcome.failed > 0) ctx.logger.info("order lookups warmed", outcome);
  return outcome;
}
