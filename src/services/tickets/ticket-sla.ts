/**
 * The tickets side of the SLA clocks: which policy and calendar apply to a ticket, its persisted clock
 * state as `src/domain/sla.ts` reads it, and the columns a recompute writes. The clock rules themselves are
 * the SLA module's; every ticket write that can move a clock (create, status, priority, team, the first
 * public reply) recomputes with `computeTicketSla`.
 */
import { type SQL, sql } from "drizzle-orm";
import type { ComputedTicketSla, TicketSlaState } from "../../domain/sla";

/** An `sla_policies` row aliased `p` as the JSON `SlaPolicyRules` the clocks read. */
export const POLICY_RULES_JSON: SQL = sql`json_build_object('id', p.id, 'targets', p.targets,
  'businessHoursOnly', p.business_hours_only, 'atRiskPercent', p.at_risk_percent)`;

/**
 * The policy for a ticket of team `teamId` (a SQL uuid expression, may be null): the team's own policy,
 * else the tenant's default, else none — as the JSON `SlaPolicyRules`.
 */
export function policyJson(tenantId: string, teamId: SQL): SQL {
  return sql`(select ${POLICY_RULES_JSON}
                from sla_policies p
               where p.tenant_id = ${tenantId}
                 and p.id = coalesce(
                       (select st.sla_policy_id from support_teams st where st.tenant_id = ${tenantId} and st.id = ${teamId}),
                       (select d.id from sla_policies d where d.tenant_id = ${tenantId} and d.is_default)))`;
}

/**
 * The policy a ticket's clocks last ran under (its stored `sla_policy_id`, a SQL uuid expression) as the
 * JSON `SlaPolicyRules`; null for none. Time already used is banked under it before new rules apply.
 */
export function storedPolicyJson(tenantId: SQL | string, policyId: SQL): SQL {
  return sql`(select ${POLICY_RULES_JSON} from sla_policies p where p.tenant_id = ${tenantId} and p.id = ${policyId})`;
}

/** The business calendar of team `teamId` as JSON `BusinessCalendar`; null without a team (24/7 UTC). */
export function calendarJson(tenantId: string, teamId: SQL): SQL {
  return sql`(select json_build_object('timezone', st.timezone, 'weekly', st.business_hours, 'holidays', st.holidays)
                from support_teams st where st.tenant_id = ${tenantId} and st.id = ${teamId})`;
}

/** The clock columns of `tickets` (aliased `t`) under the names `slaStateOf` reads. */
export const SLA_STATE_COLUMNS: SQL = sql`t.sla_policy_id, t.first_response_due_at, t.resolution_due_at,
  t.sla_first_response_elapsed_seconds, t.sla_resolution_elapsed_seconds, t.sla_clock_started_at, t.sla_paused_at`;

type Timestamp = string | Date;

export interface SlaStateRow extends Record<string, unknown> {
  sla_policy_id: string | null;
  first_response_due_at: Timestamp | null;
  resolution_due_at: Timestamp | null;
  sla_first_response_elapsed_seconds: number;
  sla_resolution_elapsed_seconds: number;
  sla_clock_started_at: Timestamp | null;
  sla_paused_at: Timestamp | null;
}

function iso(value: Timestamp | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

export function slaStateOf(row: SlaStateRow): TicketSlaState {
  return {
    policyId: row.sla_policy_id,
    firstResponseDueAt: iso(row.first_response_due_at),
    resolutionDueAt: iso(row.resolution_due_at),
    firstResponseElapsedSeconds: Number(row.sla_first_response_elapsed_seconds),
    resolutionElapsedSeconds: Number(row.sla_resolution_elapsed_seconds),
    clockStartedAt: iso(row.sla_clock_started_at),
    pausedAt: iso(row.sla_paused_at),
  };
}

/** JSON from the driver arrives parsed; be tolerant of text. */
export function jsonValue<T>(value: T | string | null): T | null {
  if (value === null) return null;
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

/** The clock columns a computed state is written to, in the order of `slaValues`. */
export const SLA_WRITE_COLUMNS: SQL = sql.raw(
  "sla_policy_id, first_response_due_at, resolution_due_at, sla_first_response_elapsed_seconds, " +
    "sla_resolution_elapsed_seconds, sla_clock_started_at, sla_paused_at, first_response_at_risk_after, " +
    "resolution_at_risk_after",
);

/** A computed state as values for `SLA_WRITE_COLUMNS` (the at-risk instants too: the SLA sweep reads them). */
export function slaValues(state: ComputedTicketSla): SQL {
  return sql`${state.policyId}::uuid, ${state.firstResponseDueAt}::timestamptz, ${state.resolutionDueAt}::timestamptz,
    ${state.firstResponseElapsedSeconds}::int, ${state.resolutionElapsedSeconds}::int,
    ${state.clockStartedAt}::timestamptz, ${state.pausedAt}::timestamptz,
    ${state.firstResponseAtRiskAfter}::timestamptz, ${state.resolutionAtRiskAfter}::timestamptz`;
}

/** `SET` assignments that persist a computed state. */
export function slaAssignments(state: ComputedTicketSla): SQL {
  return sql`(${SLA_WRITE_COLUMNS}) = (select ${slaValues(state)})`;
}

/** The due-time changes worth an audit entry (the clock counters move on every recompute; noise). */
export function slaAuditFields(state: TicketSlaState): Record<string, unknown> {
  return {
    slaPolicyId: state.policyId,
    firstResponseDueAt: state.firstResponseDueAt,
    resolutionDueAt: state.resolutionDueAt,
  };
}
