import { sql } from "drizzle-orm";
import type { ServiceContext } from "../context";

/** Settled (processed, ignored) events are kept this long: enough to investigate any order's history. */
export const SETTLED_RETENTION_DAYS = 30;
/** Dead letters are kept longer, for a person to get to them. */
export const FAILED_RETENTION_DAYS = 90;
const MAX_PER_RUN = 20_000;

/**
 * The webhook log would otherwise grow with every delivery forever: old settled events are deleted in
 * bounded slices by the five-minute cron (one statement across tenants; never an unprocessed event).
 */
export async function purgeWebhookEvents({ ctx }: { ctx: ServiceContext }): Promise<{ purged: number }> {
  const result = await ctx.db.http.execute<{ purged: number }>(
    sql`select purge_webhook_events(${SETTLED_RETENTION_DAYS}, ${FAILED_RETENTION_DAYS}, ${MAX_PER_RUN}) as purged`,
  );
  const purged = Number(result.rows[0]?.purged ?? 0);
  if (purged > 0) ctx.logger.info("old webhook events purged", { purged });
  return { purged };
}
