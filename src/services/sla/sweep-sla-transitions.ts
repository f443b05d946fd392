import { sql } from "drizzle-orm";
import { tenantContextStatement } from "../../db/tenant";
import { type AuditRecord, auditRecords, auditStatement } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import {
  domainEventsStatement,
  type SlaTransition,
  slaAuthor,
  slaTransitionAuditEntry,
  slaTransitionEvent,
} from "./sla-events";

/** Transitions marked per run at most (tickets, each with up to four); the next minute takes the rest. */
const MAX_TICKETS_PER_RUN = 1000;

interface TransitionRow extends Record<string, unknown> {
  tenant_id: string;
  ticket_id: string;
  ticket_number: string | number;
  priority: "low" | "normal" | "high" | "urgent";
  target: "first_response" | "resolution";
  transition: "at_risk" | "breached";
  due_at: string | Date;
  at_risk_at: string | Date | null;
  assignee_id: string | null;
  team_id: string | null;
  policy_id: string | null;
}

function transitionOf(row: TransitionRow): SlaTransition {
  return {
    tenantId: row.tenant_id,
    ticketId: row.ticket_id,
    ticketNumber: Number(row.ticket_number),
    priority: row.priority,
    target: row.target,
    transition: row.transition,
    dueAt: new Date(row.due_at).toISOString(),
    atRiskAt: row.at_risk_at === null ? null : new Date(row.at_risk_at).toISOString(),
    assigneeId: row.assignee_id,
    teamId: row.team_id,
    policyId: row.policy_id,
  };
}

/**
 * The SLA sweep (every minute): claims, across tenants, the ticket targets that turned at risk or breached
 * since the last run (`claim_sla_transitions` marks each once) and records, per transition, a
 * `ticket.sla_at_risk` / `ticket.sla_breached` domain event and an audit row of the ticket — all in one
 * transaction, so a run that fails leaves nothing marked and the next one records it. A few statements per
 * tenant with transitions; no upstream calls.
 */
export async function sweepSlaTransitions({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<{ transitions: number; tenants: number }> {
  const now = new Date().toISOString();
  const byTenant = await ctx.db.transaction(async (tx) => {
    const claimed = await tx.execute<TransitionRow>(
      sql`select * from claim_sla_transitions(${MAX_TICKETS_PER_RUN})`,
    );
    const groups = new Map<string, SlaTransition[]>();
    for (const row of claimed.rows) {
      const list = groups.get(row.tenant_id) ?? [];
      list.push(transitionOf(row));
      groups.set(row.tenant_id, list);
    }
    const recorded = new Map<string, AuditRecord[]>();
    for (const [tenantId, transitions] of groups) {
      // Each tenant's rows are written under its own context (RLS), within the claim's transaction.
      await tx.execute(tenantContextStatement(tenantId));
      const records = auditRecords(slaAuthor(tenantId), transitions.map(slaTransitionAuditEntry), now);
      await tx.execute(
        sql`with events as (${domainEventsStatement(transitions.map(slaTransitionEvent))}) ${auditStatement(tenantId, records)}`,
      );
      recorded.set(tenantId, records);
    }
    return recorded;
  });

  let transitions = 0;
  for (const [tenantId, records] of byTenant) {
    publishAuditFeed(ctx, tenantId, records);
    transitions += records.length;
  }
  if (transitions > 0) ctx.logger.info("SLA transitions recorded", { transitions, tenants: byTenant.size });
  return { transitions, tenants: byTenant.size };
}
