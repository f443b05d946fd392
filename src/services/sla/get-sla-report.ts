import { sql } from "drizzle-orm";
import * as z from "zod";
import { tenantBatch } from "../../db/tenant";
import { ValidationError } from "../../lib/errors";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { TimeBound, timeRangeFilters } from "../orders/time-range";
import { parseInput } from "../tickets/ticket-input";
import { callerOf } from "../users/caller";

export const SLA_REPORT_GROUPS = ["agent", "team"] as const;
export type SlaReportGroup = (typeof SLA_REPORT_GROUPS)[number];

/** A longer range is a data export, not a report a person reads. */
const MAX_RANGE_DAYS = 366;

export const SlaReportQuerySchema = z.strictObject({
  from: TimeBound.meta({ description: "Tickets created at or after (inclusive)" }),
  to: TimeBound.meta({
    description: "Tickets created at or before (inclusive; a date covers the whole UTC day)",
  }),
  groupBy: z.enum(SLA_REPORT_GROUPS).default("agent").meta({
    description: "`agent`: by the ticket's current assignee; `team`: by its current team",
  }),
});
export type SlaReportQuery = z.input<typeof SlaReportQuerySchema>;

export interface TargetTally {
  met: number;
  breached: number;
  /** Still running or paused, not yet met and not overdue. */
  inProgress: number;
  /** met ÷ (met + breached), in %, one decimal; null while nothing is decided. */
  percentMet: number | null;
}

export interface SlaReportRow {
  /** With `groupBy=agent`: the assignee (null = unassigned). */
  agent?: { id: string; name: string | null; email: string | null } | null;
  /** With `groupBy=team`: the team (null = no team). */
  team?: { id: string; name: string } | null;
  tickets: number;
  firstResponse: TargetTally;
  resolution: TargetTally;
  overall: { met: number; breached: number; percentMet: number | null };
}

export interface SlaReport {
  from: string;
  to: string;
  groupBy: SlaReportGroup;
  rows: SlaReportRow[];
  totals: Omit<SlaReportRow, "agent" | "team">;
}

interface ReportRow extends Record<string, unknown> {
  is_total: boolean;
  key_id: string | null;
  key_name: string | null;
  key_email: string | null;
  tickets: string | number;
  fr_met: string | number;
  fr_breached: string | number;
  fr_in_progress: string | number;
  res_met: string | number;
  res_breached: string | number;
  res_in_progress: string | number;
}

function percent(met: number, breached: number): number | null {
  const decided = met + breached;
  return decided === 0 ? null : Math.round((met / decided) * 1000) / 10;
}

function tally(met: number, breached: number, inProgress: number): TargetTally {
  return { met, breached, inProgress, percentMet: percent(met, breached) };
}

function countsOf(row: ReportRow): Omit<SlaReportRow, "agent" | "team"> {
  const firstResponse = tally(Number(row.fr_met), Number(row.fr_breached), Number(row.fr_in_progress));
  const resolution = tally(Number(row.res_met), Number(row.res_breached), Number(row.res_in_progress));
  const met = firstResponse.met + resolution.met;
  const breached = firstResponse.breached + resolution.breached;
  return {
    tickets: Number(row.tickets),
    firstResponse,
    resolution,
    overall: { met, breached, percentMet: percent(met, breached) },
  };
}

function instantOf(bound: string, end: boolean): number {
  if (/^\d{4}-\d{2}-\d{2}$/.test(bound)) return Date.parse(`${bound}T00:00:00Z`) + (end ? 86_400_000 : 0);
  return Date.parse(bound);
}

/**
 * How well SLAs were kept for the tickets created in a range that had a policy, per agent or team
 * (`tickets:admin`). A target is breached when the sweep marked it, when more than the target was used, or
 * when it is still open past its due time; met when it stopped (first response, or solved/closed) within
 * the target; otherwise in progress. One SQL round trip.
 */
export async function getSlaReport({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: SlaReportQuery;
}): Promise<SlaReport> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "tickets:admin");
  const query = parseInput(SlaReportQuerySchema, input, "query parameters");
  const fromMs = instantOf(query.from, false);
  const toMs = instantOf(query.to, true);
  if (toMs < fromMs)
    throw new ValidationError("Invalid query parameters", { to: ["Must not be before from"] });
  if (toMs - fromMs > MAX_RANGE_DAYS * 86_400_000) {
    throw new ValidationError("Invalid query parameters", {
      to: [`The range may span at most ${MAX_RANGE_DAYS} days`],
    });
  }
  const created = timeRangeFilters(sql`t.created_at`, { from: query.from, to: query.to });
  const byAgent = query.groupBy === "agent";
  const key = byAgent ? sql`j.assignee_id` : sql`j.team_id`;
  const keyName = byAgent ? sql`max(u.full_name)` : sql`max(s.name)`;
  const keyEmail = byAgent ? sql`max(u.email)` : sql`null::text`;
  const keyJoin = byAgent
    ? sql`left join users u on u.tenant_id = j.tenant_id and u.id = j.assignee_id`
    : sql`left join support_teams s on s.tenant_id = j.tenant_id and s.id = j.team_id`;

  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ReportRow>(sql`
      with judged as (
        select t.tenant_id, t.assignee_id, t.team_id,
               case
                 when fr.minutes is null then null
                 when t.first_response_breached_at is not null
                   or t.sla_first_response_elapsed_seconds > fr.minutes * 60
                   or (t.first_responded_at is null and t.status in ('open', 'on_hold')
                       and t.first_response_due_at < now()) then 'breached'
                 when t.first_responded_at is not null or t.status in ('solved', 'closed') then 'met'
                 else 'in_progress'
               end as first_response,
               case
                 when res.minutes is null then null
                 when t.resolution_breached_at is not null
                   or t.sla_resolution_elapsed_seconds > res.minutes * 60
                   or (t.status in ('open', 'on_hold') and t.resolution_due_at < now()) then 'breached'
                 when t.status in ('solved', 'closed') then 'met'
                 else 'in_progress'
               end as resolution
          from tickets t
          join sla_policies p on p.tenant_id = t.tenant_id and p.id = t.sla_policy_id
         cross join lateral (select (p.targets -> t.priority ->> 'firstResponseMinutes')::int as minutes) fr
         cross join lateral (select (p.targets -> t.priority ->> 'resolutionMinutes')::int as minutes) res
         where t.tenant_id = ${t} and ${sql.join(created, sql` and `)}
      )
      select grouping(${key}) = 1 as is_total,
             ${key}::text as key_id, ${keyName} as key_name, ${keyEmail} as key_email,
             count(*) as tickets,
             count(*) filter (where j.first_response = 'met') as fr_met,
             count(*) filter (where j.first_response = 'breached') as fr_breached,
             count(*) filter (where j.first_response = 'in_progress') as fr_in_progress,
             count(*) filter (where j.resolution = 'met') as res_met,
             count(*) filter (where j.resolution = 'breached') as res_breached,
             count(*) filter (where j.resolution = 'in_progress') as res_in_progress
        from judged j
        ${keyJoin}
       group by grouping sets ((${key}), ())
       order by is_total, count(*) desc, key_name nulls last, key_id nulls last`),
  ]);

  const empty: ReportRow = {
    is_total: true,
    key_id: null,
    key_name: null,
    key_email: null,
    tickets: 0,
    fr_met: 0,
    fr_breached: 0,
    fr_in_progress: 0,
    res_met: 0,
    res_breached: 0,
    res_in_progress: 0,
  };
  const totalRow = result.rows.find((r) => r.is_total) ?? empty;
  const rows = result.rows
    .filter((r) => !r.is_total)
    .map((r): SlaReportRow => {
      const counts = countsOf(r);
      if (byAgent) {
        return {
          agent: r.key_id === null ? null : { id: r.key_id, name: r.key_name, email: r.key_email },
          ...counts,
        };
      }
      return { team: r.key_id === null ? null : { id: r.key_id, name: r.key_name ?? "" }, ...counts };
    });
  return {
    from: query.from,
    to: query.to,
    groupBy: query.groupBy,
    rows,
    totals: countsOf(totalRow),
  };
}
