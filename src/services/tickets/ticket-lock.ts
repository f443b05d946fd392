import { type SQL, sql } from "drizzle-orm";
import {
  type BusinessCalendar,
  type ComputedTicketSla,
  computeTicketSlaUnderNewRules,
  type SlaPolicyRules,
} from "../../domain/sla";
import {
  type AuditAuthor,
  type AuditEntry,
  type AuditRecord,
  auditRecords,
  changedFields,
  type FieldChanges,
} from "../audit/audit-entry";
import {
  domainEventsStatement,
  type SlaTransition,
  slaAuthor,
  slaTransitionAuditEntry,
  slaTransitionEvent,
} from "../sla/sla-events";
import type { TicketPriority, TicketStatus } from "./ticket-rules";
import {
  calendarJson,
  jsonValue,
  policyJson,
  SLA_STATE_COLUMNS,
  type SlaStateRow,
  slaAssignments,
  slaAuditFields,
  slaStateOf,
  storedPolicyJson,
} from "./ticket-sla";

type Timestamp = string | Date;

/**
 * The ticket as a write reads it, locked, with the SLA policy and calendar that apply after the change
 * (`policy`, `calendar`) and those its clocks ran under until now (`ran_under_policy`, `ran_under_calendar`:
 * its stored policy and its current team's calendar).
 */
export interface LockedTicketRow extends SlaStateRow, Record<string, unknown> {
  status: TicketStatus;
  priority: TicketPriority;
  subject: string;
  description: string;
  tags: string[];
  team_id: string | null;
  assignee_id: string | null;
  requester_email: string | null;
  requester_name: string | null;
  requester_phone: string | null;
  first_responded_at: Timestamp | null;
  solved_at: Timestamp | null;
  closed_at: Timestamp | null;
  created_at: Timestamp;
  version: number;
  policy: SlaPolicyRules | string | null;
  calendar: BusinessCalendar | string | null;
  ran_under_policy: SlaPolicyRules | string | null;
  ran_under_calendar: BusinessCalendar | string | null;
  number: string | number;
  first_response_breached_at: Timestamp | null;
  resolution_breached_at: Timestamp | null;
  team_found: boolean;
}

/**
 * Locks one ticket (`FOR UPDATE`) and reads what a change needs. `teamId` names the team the ticket will
 * have after the change (default: its current one), whose policy and calendar come back with it; `extra`
 * columns (over `join`ed tables, which are not locked) ride along in the same round trip.
 */
export function lockTicketStatement(
  tenantId: string,
  ticketId: string,
  options: { teamId?: string | null | undefined; extra?: SQL; join?: SQL } = {},
): SQL {
  const team = options.teamId === undefined ? sql`t.team_id` : sql`${options.teamId}::uuid`;
  return sql`
    select t.status, t.priority, t.subject, t.description, t.tags, t.team_id, t.assignee_id, t.requester_email,
           t.requester_name, t.requester_phone, t.first_responded_at, t.solved_at, t.closed_at, t.created_at,
           t.version, t.number, t.first_response_breached_at, t.resolution_breached_at, ${SLA_STATE_COLUMNS},
           ${policyJson(tenantId, team)} as policy, ${calendarJson(tenantId, team)} as calendar,
           ${storedPolicyJson(tenantId, sql`t.sla_policy_id`)} as ran_under_policy,
           ${calendarJson(tenantId, sql`t.team_id`)} as ran_under_calendar,
           exists (select 1 from support_teams st where st.tenant_id = ${tenantId} and st.id = ${team}) as team_found
           ${options.extra ? sql`, ${options.extra}` : sql``}
      from tickets t ${options.join ?? sql``}
     where t.tenant_id = ${tenantId} and t.id = ${ticketId}::uuid
       for update of t`;
}

export function isoOrNullOf(value: Timestamp | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

/**
 * The SLA state after a change to `facts`, with the rules the locked read returned: the segment that just
 * ended is banked under the rules it ran under, due times follow the rules that apply from now (they
 * differ when the change moves the ticket to another team).
 */
export function slaAfter(
  locked: LockedTicketRow,
  facts: {
    status: TicketStatus;
    priority: TicketPriority;
    firstRespondedAt: string | null;
    solvedAt: string | null;
  },
  now: string,
): ComputedTicketSla {
  return computeTicketSlaUnderNewRules({
    previous: slaStateOf(locked),
    facts: { ...facts, createdAt: new Date(locked.created_at).toISOString() },
    ranUnder: { policy: jsonValue(locked.ran_under_policy), calendar: jsonValue(locked.ran_under_calendar) },
    from: { policy: jsonValue(locked.policy), calendar: jsonValue(locked.calendar) },
    now,
  });
}

export interface SlaChange {
  /** `SET` assignments: the new clock state, and the breach marker of each target found overdue. */
  assignments: SQL;
  /** The due-time changes, for the change's own audit entry. */
  changes: FieldChanges;
  /**
   * Targets already past their due time that the SLA sweep had not marked yet (it runs every minute; a
   * reply or a pause in between would stop the clock and the breach would never be recorded): their audit
   * records by the SLA actor (list them before the change's own) and a CTE recording their events.
   */
  breachRecords: AuditRecord[];
  ctes: SQL[];
}

/**
 * What a change that moves the clocks writes besides its own fields: the new SLA state, its due-time
 * changes for the audit, and the breaches the change finds already past (recorded as the sweep would).
 */
export function slaChangeOf(
  locked: LockedTicketRow,
  facts: Parameters<typeof slaAfter>[1],
  now: string,
  ticket: { tenantId: string; ticketId: string; requestId: string | null },
): SlaChange {
  const sla = slaAfter(locked, facts, now);
  const nowMs = Date.parse(now);
  const overdue = (
    [
      ["first_response", locked.first_response_due_at, locked.first_response_breached_at],
      ["resolution", locked.resolution_due_at, locked.resolution_breached_at],
    ] as const
  ).flatMap(([target, dueAt, breachedAt]): SlaTransition[] =>
    dueAt === null || breachedAt !== null || new Date(dueAt).getTime() >= nowMs
      ? []
      : [
          {
            tenantId: ticket.tenantId,
            ticketId: ticket.ticketId,
            ticketNumber: Number(locked.number),
            priority: locked.priority,
            target,
            transition: "breached",
            dueAt: new Date(dueAt).toISOString(),
            atRiskAt: null,
            assigneeId: locked.assignee_id,
            teamId: locked.team_id,
            policyId: locked.sla_policy_id,
          },
        ],
  );
  const markers = overdue.map((b) => sql`, ${sql.raw(`${b.target}_breached_at`)} = ${b.dueAt}::timestamptz`);
  return {
    assignments: sql`${slaAssignments(sla)}${sql.join(markers)}`,
    changes: changedFields(slaAuditFields(slaStateOf(locked)), slaAuditFields(sla)),
    breachRecords: auditRecords(
      slaAuthor(ticket.tenantId, ticket.requestId),
      overdue.map(slaTransitionAuditEntry),
      now,
    ),
    ctes:
      overdue.length === 0
        ? []
        : [sql`sla_events as (${domainEventsStatement(overdue.map(slaTransitionEvent))})`],
  };
}

/** A write's audit records: the breaches its SLA change found first (they happened first), then its own. */
export function auditRecordsWithSla(
  author: AuditAuthor,
  entries: readonly AuditEntry[],
  now: string,
  sla: SlaChange | null,
): AuditRecord[] {
  return [...(sla?.breachRecords ?? []), ...auditRecords(author, entries, now)];
}
