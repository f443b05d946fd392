import { type SQL, sql } from "drizzle-orm";
import {
  type BusinessCalendar,
  type ComputedTicketSla,
  computeTicketSla,
  type SlaPolicyRules,
} from "../../domain/sla";
import type { TicketPriority, TicketStatus } from "./ticket-rules";
import {
  calendarJson,
  jsonValue,
  policyJson,
  SLA_STATE_COLUMNS,
  type SlaStateRow,
  slaStateOf,
} from "./ticket-sla";

type Timestamp = string | Date;

/** The ticket as a write reads it, locked, with the SLA policy and calendar that apply after the change. */
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
           t.version, ${SLA_STATE_COLUMNS},
           ${policyJson(tenantId, team)} as policy, ${calendarJson(tenantId, team)} as calendar,
           exists (select 1 from support_teams st where st.tenant_id = ${tenantId} and st.id = ${team}) as team_found
           ${options.extra ? sql`, ${options.extra}` : sql``}
      from tickets t ${options.join ?? sql``}
     where t.tenant_id = ${tenantId} and t.id = ${ticketId}::uuid
       for update of t`;
}

export function isoOrNullOf(value: Timestamp | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

/** The SLA state after a change to `facts`, with the policy and calendar the locked read returned. */
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
  return computeTicketSla({
    previous: slaStateOf(locked),
    facts: { ...facts, createdAt: new Date(locked.created_at).toISOString() },
    policy: jsonValue(locked.policy),
    calendar: jsonValue(locked.calendar),
    now,
  });
}
