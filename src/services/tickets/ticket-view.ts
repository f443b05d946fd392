import { type SQL, sql } from "drizzle-orm";
import type { WsTransaction } from "../../db/client";
import { type SlaPolicyRules, type SlaRisk, slaRiskOf } from "../../domain/sla";
import { NotFoundError } from "../../lib/errors";
import { isoOf, isoOrNull } from "../users/caller";
import type { TicketChannel, TicketPriority, TicketStatus } from "./ticket-rules";
import { jsonValue, POLICY_RULES_JSON, SLA_STATE_COLUMNS, type SlaStateRow, slaStateOf } from "./ticket-sla";

/** One SLA target of a ticket as agents see it. */
export interface SlaTargetView {
  /** When the target is due; null when it has none, is met, or the clock is paused or stopped. */
  dueAt: string | null;
  /** SLA time used so far (business seconds when the policy counts business hours), as of the last change. */
  elapsedSeconds: number;
  /** `ok`, `at_risk` (the policy's share of the target used), `breached`; null = no such target. */
  status: SlaRisk | null;
  breached: boolean;
  atRisk: boolean;
  /** When the SLA sweep recorded the breach / the at-risk warning. */
  breachedAt: string | null;
  atRiskAt: string | null;
}

export interface TicketSlaView {
  policyId: string | null;
  /** The clocks are paused (the ticket is pending, waiting on the customer). */
  paused: boolean;
  pausedAt: string | null;
  firstResponse: SlaTargetView;
  resolution: SlaTargetView;
}

export interface TicketOrderSummary {
  id: string;
  externalNumber: string;
  channel: string;
  storeId: string;
  status: string;
  currency: string;
  totalMinor: number;
  placedAt: string;
}

export interface TicketSummary {
  id: string;
  number: number;
  subject: string;
  status: TicketStatus;
  priority: TicketPriority;
  channel: TicketChannel;
  requester: { email: string | null; name: string | null; phone: string | null };
  assignee: { id: string; name: string; email: string | null } | null;
  team: { id: string; name: string } | null;
  tags: string[];
  chatSessionId: string | null;
  sla: TicketSlaView;
  firstRespondedAt: string | null;
  solvedAt: string | null;
  closedAt: string | null;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface TicketView extends TicketSummary {
  description: string;
  createdBy: Record<string, unknown> | null;
  commentCount: number;
  orders: TicketOrderSummary[];
}

type Timestamp = string | Date;

export interface TicketSummaryRow extends SlaStateRow, Record<string, unknown> {
  id: string;
  number: string | number;
  subject: string;
  status: TicketStatus;
  priority: TicketPriority;
  channel: TicketChannel;
  requester_email: string | null;
  requester_name: string | null;
  requester_phone: string | null;
  assignee_id: string | null;
  assignee_name: string | null;
  assignee_email: string | null;
  team_id: string | null;
  team_name: string | null;
  tags: string[];
  chat_session_id: string | null;
  sla_policy: SlaPolicyRules | string | null;
  first_response_breached_at: Timestamp | null;
  resolution_breached_at: Timestamp | null;
  first_response_at_risk_at: Timestamp | null;
  resolution_at_risk_at: Timestamp | null;
  first_response_at_risk_after: Timestamp | null;
  resolution_at_risk_after: Timestamp | null;
  first_responded_at: Timestamp | null;
  solved_at: Timestamp | null;
  closed_at: Timestamp | null;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface TicketRow extends TicketSummaryRow {
  description: string;
  created_by: Record<string, unknown> | string | null;
  comment_count: number | string;
  orders: OrderJson[] | string;
}

interface OrderJson {
  id: string;
  externalNumber: string;
  channel: string;
  storeId: string;
  status: string;
  currency: string;
  totalMinor: number | string;
  placedAt: string;
}

/** Columns of a ticket in lists, over `tickets t` (joins: assignee, team, its SLA policy). */
export const TICKET_SUMMARY_COLUMNS: SQL = sql`
  t.id, t.number, t.subject, t.status, t.priority, t.channel, t.requester_email, t.requester_name,
  t.requester_phone, t.assignee_id, au.full_name as assignee_name, au.email as assignee_email, t.team_id,
  tm.name as team_name, t.tags, t.chat_session_id, ${SLA_STATE_COLUMNS},
  case when p.id is null then null else ${POLICY_RULES_JSON} end as sla_policy,
  t.first_response_breached_at, t.resolution_breached_at, t.first_response_at_risk_at, t.resolution_at_risk_at,
  t.first_response_at_risk_after, t.resolution_at_risk_after, t.first_responded_at, t.solved_at, t.closed_at,
  t.version, t.created_at, t.updated_at`;

export const TICKET_JOINS: SQL = sql`
  left join users au on au.tenant_id = t.tenant_id and au.id = t.assignee_id
  left join support_teams tm on tm.tenant_id = t.tenant_id and tm.id = t.team_id
  left join sla_policies p on p.tenant_id = t.tenant_id and p.id = t.sla_policy_id`;

/**
 * The whole ticket in one statement: the list columns plus description, author, comment count and the
 * linked orders (newest placed first) as JSON.
 */
export function ticketViewStatement(tenantId: string, ticketId: string): SQL {
  return sql`
    select ${TICKET_SUMMARY_COLUMNS}, t.description, t.created_by,
           (select count(*) from ticket_comments c where c.tenant_id = t.tenant_id and c.ticket_id = t.id)
             as comment_count,
           (select coalesce(json_agg(json_build_object(
                     'id', o.id, 'externalNumber', o.external_number, 'channel', o.channel, 'storeId', o.store_id,
                     'status', o.status, 'currency', o.currency, 'totalMinor', o.total_minor,
                     'placedAt', o.placed_at) order by o.placed_at desc, o.id), '[]'::json)
              from ticket_orders tko
              join orders o on o.tenant_id = tko.tenant_id and o.id = tko.order_id
             where tko.tenant_id = t.tenant_id and tko.ticket_id = t.id) as orders
      from tickets t ${TICKET_JOINS}
     where t.tenant_id = ${tenantId} and t.id = ${ticketId}::uuid`;
}

/** The whole ticket as a write's transaction sees it (after its change): 404 when it is not there. */
export async function readTicketView(
  tx: WsTransaction,
  tenantId: string,
  ticketId: string,
): Promise<TicketRow> {
  const view = await tx.execute<TicketRow>(ticketViewStatement(tenantId, ticketId));
  const found = view.rows[0];
  if (!found) throw new NotFoundError("Ticket not found");
  return found;
}

function targetView(
  status: SlaRisk | null,
  dueAt: string | null,
  elapsedSeconds: number,
  breachedAt: Timestamp | null,
  atRiskAt: Timestamp | null,
): SlaTargetView {
  // A breach the sweep recorded stands even when a later change (a lower priority) moved the due time.
  const effective: SlaRisk | null = breachedAt !== null ? "breached" : status;
  return {
    dueAt,
    elapsedSeconds,
    status: effective,
    breached: effective === "breached",
    atRisk: effective === "at_risk",
    breachedAt: isoOrNull(breachedAt),
    atRiskAt: isoOrNull(atRiskAt),
  };
}

function slaView(row: TicketSummaryRow, now: string): TicketSlaView {
  const state = slaStateOf(row);
  const policy = jsonValue<SlaPolicyRules>(row.sla_policy);
  const risk = slaRiskOf(
    {
      ...state,
      firstResponseAtRiskAfter: isoOrNull(row.first_response_at_risk_after),
      resolutionAtRiskAfter: isoOrNull(row.resolution_at_risk_after),
    },
    policy,
    now,
    row.priority,
    {
      // A clock that stopped within its target met it (solved or closed stops both; a reply, the first).
      firstResponse: row.first_responded_at !== null || row.status === "solved" || row.status === "closed",
      resolution: row.status === "solved" || row.status === "closed",
    },
  );
  return {
    policyId: state.policyId,
    paused: state.pausedAt !== null,
    pausedAt: state.pausedAt,
    firstResponse: targetView(
      risk.firstResponse,
      state.firstResponseDueAt,
      state.firstResponseElapsedSeconds,
      row.first_response_breached_at,
      row.first_response_at_risk_at,
    ),
    resolution: targetView(
      risk.resolution,
      state.resolutionDueAt,
      state.resolutionElapsedSeconds,
      row.resolution_breached_at,
      row.resolution_at_risk_at,
    ),
  };
}

export function toTicketSummary(row: TicketSummaryRow, now: string): TicketSummary {
  return {
    id: row.id,
    number: Number(row.number),
    subject: row.subject,
    status: row.status,
    priority: row.priority,
    channel: row.channel,
    requester: { email: row.requester_email, name: row.requester_name, phone: row.requester_phone },
    assignee:
      row.assignee_id === null
        ? null
        : { id: row.assignee_id, name: row.assignee_name ?? "", email: row.assignee_email },
    team: row.team_id === null ? null : { id: row.team_id, name: row.team_name ?? "" },
    tags: row.tags,
    chatSessionId: row.chat_session_id,
    sla: slaView(row, now),
    firstRespondedAt: isoOrNull(row.first_responded_at),
    solvedAt: isoOrNull(row.solved_at),
    closedAt: isoOrNull(row.closed_at),
    version: Number(row.version),
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

export function toTicketView(row: TicketRow, now: string): TicketView {
  return {
    ...toTicketSummary(row, now),
    description: row.description,
    createdBy: jsonValue(row.created_by),
    commentCount: Number(row.comment_count),
    orders: (jsonValue(row.orders) ?? []).map((o) => ({
      id: o.id,
      externalNumber: o.externalNumber,
      channel: o.channel,
      storeId: o.storeId,
      status: o.status,
      currency: o.currency,
      totalMinor: Number(o.totalMinor),
      placedAt: isoOf(o.placedAt),
    })),
  };
}
