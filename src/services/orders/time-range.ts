import { type SQL, sql } from "drizzle-orm";
import * as z from "zod";

/** A bound of a time filter: a calendar day (UTC) or an instant. */
export const TimeBound = z.union([z.iso.date(), z.iso.datetime({ offset: true })]).meta({
  description: "A date (`2026-03-01`, a whole UTC day) or an ISO 8601 instant",
  example: "2026-03-01",
});

export interface TimeRange {
  from?: string | undefined;
  to?: string | undefined;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `from` and `to` are both inclusive: `to=2026-03-31` keeps the whole of 31 March (UTC), which is what a
 * person picking two days in a date picker means.
 */
export function timeRangeFilters(column: SQL, range: TimeRange): SQL[] {
  const filters: SQL[] = [];
  if (range.from !== undefined) {
    const from = DATE_ONLY.test(range.from) ? `${range.from}T00:00:00Z` : range.from;
    filters.push(sql`${column} >= ${from}::timestamptz`);
  }
  if (range.to !== undefined) {
    if (DATE_ONLY.test(range.to)) {
      const nextDay = new Date(`${range.to}T00:00:00Z`);
      nextDay.setUTCDate(nextDay.getUTCDate() + 1);
      filters.push(sql`${column} < ${nextDay.toISOString()}::timestamptz`);
    } else {
      filters.push(sql`${column} <= ${range.to}::timestamptz`);
    }
  }
  return filters;
}
