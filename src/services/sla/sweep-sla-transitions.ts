import { type SQL, sql } from "drizzle-orm";
import { tenantContextStatement } from "../../db/tenant";
import { type DomainEvent, TicketSlaAtRiskEvent, TicketSlaBreachedEvent } from "../../queues/messages";
import {
  type AuditAuthor,
  type AuditRecord,
  actorKeyOf,
  auditRecords,
  auditStatement,
} from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { Actor, ServiceContext } from "../context";

/** Transitions marked per run at most (tickets, each with up to four); the next minute takes the rest. */
const MAX_TICKETS_PER_RUN = 1000;

/** Who marks SLA transitions, in audit rows and events. */
export const SLA_SWEEP_ACTOR: Actor = { type: "system", name: "sla" };

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

/** The ticket column each transition sets, as the audit row names it. */
const MARKER_FIELD = {
  first_response: { at_risk: "firstResponseAtRiskAt", breached: "firstResponseBreachedAt" },
  resolution: { at_risk: "resolutionAtRiskAt", breached: "resolutionBreachedAt" },
} as const;

function eventOf(row: TransitionRow): DomainEvent {
  const dueAt = new Date(row.due_at).toISOString();
  const data = {
    ticketId: row.ticket_id,
    ticketNumber: Number(row.ticket_number),
    target: row.target,
    priority: row.priority,
    dueAt,
    assigneeId: row.assignee_id,
    teamId: row.team_id,
    policyId: row.policy_id,
  };
  const base = { eventId: crypto.randomUUID(), tenantId: row.tenant_id, actor: SLA_SWEEP_ACTOR };
  if (row.transition === "breached") {
    return TicketSlaBreachedEvent.parse({ ...base, type: "ticket.sla_breached", occurredAt: dueAt, data });
  }
  const atRiskAt = new Date(row.at_risk_at ?? row.due_at).toISOString();
  return TicketSlaAtRiskEvent.parse({
    ...base,
    type: "ticket.sla_at_risk",
    occurredAt: atRiskAt,
    data: { ...data, atRiskAt },
  });
}

function eventsStatement(events: readonly DomainEvent[]): SQL {
  const rows = events.map(
    (e) => sql`(${e.eventId}::uuid, ${e.tenantId}::uuid, ${e.type},
      ${"ticketId" in e.data ? e.data.ticketId : null}::uuid, ${JSON.stringify(e.actor)}::jsonb,
      ${JSON.stringify(e.data)}::jsonb, ${e.occurredAt}::timestamptz)`,
  );
  return sql`insert into domain_events (id, tenant_id, type, subject_id, actor, payload, occurred_at)
    values ${sql.join(rows, sql`, `)}`;
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
    const groups = new Map<string, TransitionRow[]>();
    for (const row of claimed.rows) {
      const list = groups.get(row.tenant_id) ?? [];
      list.push(row);
      groups.set(row.tenant_id, list);
    }
    const recorded = new Map<string, AuditRecord[]>();
    for (const [tenantId, rows] of groups) {
      // Each tenant's rows are written under its own context (RLS), within the claim's transaction.
      await tx.execute(tenantContextStatement(tenantId));
      const author: AuditAuthor = {
        tenantId,
        actor: SLA_SWEEP_ACTOR,
        actorKey: actorKeyOf(SLA_SWEEP_ACTOR),
        requestId: null,
      };
      const records = auditRecords(
        author,
        rows.map((row) => ({
          entityType: "ticket",
          entityId: row.ticket_id,
          action: row.transition === "breached" ? "sla_breached" : "sla_at_risk",
          changes: {
            [MARKER_FIELD[row.target][row.transition]]: {
              before: null,
              after: new Date(
                row.transition === "breached" ? row.due_at : (row.at_risk_at ?? row.due_at),
              ).toISOString(),
            },
          },
        })),
        now,
      );
      await tx.execute(
        sql`with events as (${eventsStatement(rows.map(eventOf))}) ${auditStatement(tenantId, records)}`,
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
