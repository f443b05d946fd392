/**
 * "A policy change or a team change recomputes due times": the open tickets a change touches get their
 * SLA clocks recomputed in one transaction, with one audit row per ticket whose SLA moved.
 *
 * Each ticket is recomputed in two steps at the same instant: first the running segment is banked under the
 * rules it ran under (the ticket's stored policy — or the policy's values from before the change — and the
 * team's calendar from before the change when the caller knows it), then the due and at-risk instants are
 * derived under the rules in force now. So a change never re-measures time already used.
 */
import { type SQL, sql } from "drizzle-orm";
import type { WsTransaction } from "../../db/client";
import {
  type BusinessCalendar,
  type ComputedTicketSla,
  computeTicketSlaUnderNewRules,
  type SlaPolicyRules,
  type SlaPriority,
  type SlaTicketStatus,
} from "../../domain/sla";
import { ValidationError } from "../../lib/errors";
import {
  type AuditAuthor,
  type AuditRecord,
  auditRecords,
  auditStatement,
  changedFields,
} from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import {
  calendarJson,
  jsonValue,
  policyJson,
  SLA_STATE_COLUMNS,
  type SlaStateRow,
  slaStateOf,
  storedPolicyJson,
} from "../tickets/ticket-sla";
import { lockTeam, ticketTransaction } from "../tickets/ticket-transaction";

/** Which open tickets a change touches. */
export interface RecomputeScope {
  /** Tickets under this policy now, or that fall under it after the change (its teams', or as the default). */
  policyId?: string | undefined;
  /** Tickets of this team. */
  teamId?: string | undefined;
}

/** The rules from before the change, where the caller knows them (else the current ones are used). */
export interface RulesBefore {
  /** The changed policy's rules before the change (tickets stored under it bank with these). */
  policy?: SlaPolicyRules | undefined;
  /** The team's calendar before the change (only with `teamId`; null = it was 24/7 wall clock). */
  calendar?: BusinessCalendar | null | undefined;
}

/** The SLA fields that matter to people: a change of these is audited (counters move on every recompute). */
function visibleFieldsOf(state: ComputedTicketSla): Record<string, unknown> {
  return {
    slaPolicyId: state.policyId,
    firstResponseDueAt: state.firstResponseDueAt,
    resolutionDueAt: state.resolutionDueAt,
    firstResponseAtRiskAfter: state.firstResponseAtRiskAfter,
    resolutionAtRiskAfter: state.resolutionAtRiskAfter,
  };
}

type Timestamp = string | Date;

interface CandidateRow extends SlaStateRow, Record<string, unknown> {
  id: string;
  status: SlaTicketStatus;
  priority: SlaPriority;
  created_at: Timestamp;
  first_responded_at: Timestamp | null;
  solved_at: Timestamp | null;
  first_response_at_risk_after: Timestamp | null;
  resolution_at_risk_after: Timestamp | null;
  stored_policy: SlaPolicyRules | string | null;
  policy: SlaPolicyRules | string | null;
  calendar: BusinessCalendar | string | null;
}

function iso(value: Timestamp | null): string | null {
  return value === null ? null : new Date(value).toISOString();
}

function scopeFilter(tenantId: string, scope: RecomputeScope): SQL {
  const filters: SQL[] = [];
  if (scope.policyId !== undefined) {
    filters.push(sql`(t.sla_policy_id = ${scope.policyId}::uuid
      or (${policyJson(tenantId, sql`t.team_id`)}) ->> 'id' = ${scope.policyId})`);
  }
  if (scope.teamId !== undefined) filters.push(sql`t.team_id = ${scope.teamId}::uuid`);
  return sql.join(filters, sql` and `);
}

/**
 * Recomputes, inside the caller's tenant transaction (`tx` has the tenant context set), the SLA of the
 * tenant's open, pending and on-hold tickets in `scope`; solved and closed tickets keep the clocks they
 * stopped with. Locks the tickets (in id order, after any team lock the caller holds — the tickets
 * services' lock order), writes the changed ones with their audit rows, and returns those records for the
 * caller to publish after its commit.
 */
export async function recomputeTicketSlaInTransaction(
  tx: WsTransaction,
  input: {
    author: AuditAuthor;
    scope: RecomputeScope;
    before?: RulesBefore | undefined;
    now?: string | undefined;
  },
): Promise<AuditRecord[]> {
  const { author, scope } = input;
  const t = author.tenantId;
  if (scope.policyId === undefined && scope.teamId === undefined) {
    throw new ValidationError("Nothing to recompute", { _root: ["Give policyId or teamId"] });
  }
  const candidates = await tx.execute<CandidateRow>(sql`
    select t.id, t.status, t.priority, t.created_at, t.first_responded_at, t.solved_at, ${SLA_STATE_COLUMNS},
           t.first_response_at_risk_after, t.resolution_at_risk_after,
           ${storedPolicyJson(t, sql`t.sla_policy_id`)} as stored_policy,
           ${policyJson(t, sql`t.team_id`)} as policy,
           ${calendarJson(t, sql`t.team_id`)} as calendar
      from tickets t
     where t.tenant_id = ${t} and t.status in ('open', 'pending', 'on_hold') and ${scopeFilter(t, scope)}
     order by t.id
       for update of t`);

  const now = input.now ?? new Date().toISOString();
  const before = input.before ?? {};
  const changed: { id: string; state: ComputedTicketSla }[] = [];
  const entries = [];
  for (const row of candidates.rows) {
    const facts = {
      status: row.status,
      priority: row.priority,
      createdAt: new Date(row.created_at).toISOString(),
      firstRespondedAt: iso(row.first_responded_at),
      solvedAt: iso(row.solved_at),
    };
    const stored = slaStateOf(row);
    const storedPolicy = jsonValue(row.stored_policy);
    const calendarNow = jsonValue(row.calendar);
    const policyBefore =
      before.policy !== undefined && storedPolicy?.id === before.policy.id ? before.policy : storedPolicy;
    const calendarBefore =
      scope.teamId !== undefined && before.calendar !== undefined ? before.calendar : calendarNow;
    const state = computeTicketSlaUnderNewRules({
      previous: stored,
      facts,
      ranUnder: { policy: policyBefore, calendar: calendarBefore },
      from: { policy: jsonValue(row.policy), calendar: calendarNow },
      now,
    });
    const previous: ComputedTicketSla = {
      ...stored,
      firstResponseAtRiskAfter: iso(row.first_response_at_risk_after),
      resolutionAtRiskAfter: iso(row.resolution_at_risk_after),
    };
    const changes = changedFields(visibleFieldsOf(previous), visibleFieldsOf(state));
    if (Object.keys(changes).length === 0) continue;
    changed.push({ id: row.id, state });
    entries.push({ entityType: "ticket", entityId: row.id, action: "sla_recomputed", changes });
  }
  if (changed.length === 0) return [];

  const records = auditRecords(author, entries, now);
  const values = changed.map(({ id, state }) => ({
    id,
    policy_id: state.policyId,
    first_response_due_at: state.firstResponseDueAt,
    resolution_due_at: state.resolutionDueAt,
    first_response_elapsed: state.firstResponseElapsedSeconds,
    resolution_elapsed: state.resolutionElapsedSeconds,
    clock_started_at: state.clockStartedAt,
    paused_at: state.pausedAt,
    first_response_at_risk_after: state.firstResponseAtRiskAfter,
    resolution_at_risk_after: state.resolutionAtRiskAfter,
  }));
  await tx.execute(sql`
    with v as (
      select * from jsonb_to_recordset(${JSON.stringify(values)}::jsonb) as v(
        id uuid, policy_id uuid, first_response_due_at timestamptz, resolution_due_at timestamptz,
        first_response_elapsed int, resolution_elapsed int, clock_started_at timestamptz, paused_at timestamptz,
        first_response_at_risk_after timestamptz, resolution_at_risk_after timestamptz)
    ),
    updated as (
      update tickets t
         set sla_policy_id = v.policy_id,
             first_response_due_at = v.first_response_due_at,
             resolution_due_at = v.resolution_due_at,
             sla_first_response_elapsed_seconds = v.first_response_elapsed,
             sla_resolution_elapsed_seconds = v.resolution_elapsed,
             sla_clock_started_at = v.clock_started_at,
             sla_paused_at = v.paused_at,
             first_response_at_risk_after = v.first_response_at_risk_after,
             resolution_at_risk_after = v.resolution_at_risk_after,
             version = t.version + 1,
             updated_at = ${now}::timestamptz
        from v
       where t.tenant_id = ${t} and t.id = v.id
      returning t.id
    ),
    audited as (${auditStatement(t, records)})
    select count(*) from updated`);
  return records;
}

/**
 * Recomputes the SLA of the tenant's open tickets after a change of a policy (`policyId`) or of a team's
 * calendar or policy (`teamId`), in its own transaction. Callers that change the team in a transaction of
 * their own should call `recomputeTicketSlaInTransaction` inside it instead, so both commit together, and
 * pass the team's calendar from before the change (`before.calendar`) so time already used keeps its
 * measure. Needs `tickets:admin` (or Tradewind itself acting for the tenant).
 */
export async function recomputeTicketSla({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: RecomputeScope & { before?: RulesBefore | undefined };
  requestId?: string | null;
}): Promise<{ recomputed: number }> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const t = author.tenantId;
  const records = await ticketTransaction(
    ctx,
    t,
    async (tx) => {
      // Team first, then tickets: the lock order of every ticket writer.
      if (input.teamId !== undefined) await lockTeam(tx, t, input.teamId, "share");
      return recomputeTicketSlaInTransaction(tx, {
        author,
        scope: { policyId: input.policyId, teamId: input.teamId },
        before: input.before,
      });
    },
    "change",
  );
  publishAuditFeed(ctx, t, records);
  if (records.length > 0) ctx.logger.info("ticket SLA recomputed", { tenantId: t, tickets: records.length });
  return { recomputed: records.length };
}
