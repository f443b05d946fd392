/**
 * SLA transitions — a ticket target turning at risk or breached — as they are recorded: a
 * `ticket.sla_at_risk` / `ticket.sla_breached` domain event and an audit row of the ticket by the SLA actor,
 * both written in the transaction that marks the transition on the ticket. The every-minute sweep records
 * most of them (sweep-sla-transitions.ts); a ticket write that stops or moves a clock already past its due
 * time records that breach itself (src/services/tickets/ticket-lock.ts), or it would never be recorded.
 */
import { type SQL, sql } from "drizzle-orm";
import { type DomainEvent, TicketSlaAtRiskEvent, TicketSlaBreachedEvent } from "../../queues/messages";
import { type AuditAuthor, type AuditEntry, actorKeyOf } from "../audit/audit-entry";
import type { Actor } from "../context";

/** Who records SLA transitions, in audit rows and events. */
export const SLA_ACTOR: Actor = { type: "system", name: "sla" };

export type SlaTargetKey = "first_response" | "resolution";

export interface SlaTransition {
  tenantId: string;
  ticketId: string;
  ticketNumber: number;
  priority: "low" | "normal" | "high" | "urgent";
  target: SlaTargetKey;
  transition: "at_risk" | "breached";
  /** ISO instants: the target's due time, and (at risk) when it turned at risk. */
  dueAt: string;
  atRiskAt: string | null;
  assigneeId: string | null;
  teamId: string | null;
  policyId: string | null;
}

/** The ticket column each transition sets, as the audit row names it. */
const MARKER_FIELD = {
  first_response: { at_risk: "firstResponseAtRiskAt", breached: "firstResponseBreachedAt" },
  resolution: { at_risk: "resolutionAtRiskAt", breached: "resolutionBreachedAt" },
} as const;

/** The author of SLA audit rows of a tenant (`requestId`: the request whose write found the breach, if any). */
export function slaAuthor(tenantId: string, requestId: string | null = null): AuditAuthor {
  return { tenantId, actor: SLA_ACTOR, actorKey: actorKeyOf(SLA_ACTOR), requestId };
}

/** The domain event of a transition; it occurred at the due time (breached) or the at-risk instant. */
export function slaTransitionEvent(transition: SlaTransition): DomainEvent {
  const data = {
    ticketId: transition.ticketId,
    ticketNumber: transition.ticketNumber,
    target: transition.target,
    priority: transition.priority,
    dueAt: transition.dueAt,
    assigneeId: transition.assigneeId,
    teamId: transition.teamId,
    policyId: transition.policyId,
  };
  const base = { eventId: crypto.randomUUID(), tenantId: transition.tenantId, actor: SLA_ACTOR };
  if (transition.transition === "breached") {
    return TicketSlaBreachedEvent.parse({
      ...base,
      type: "ticket.sla_breached",
      occurredAt: transition.dueAt,
      data,
    });
  }
  const atRiskAt = transition.atRiskAt ?? transition.dueAt;
  return TicketSlaAtRiskEvent.parse({
    ...base,
    type: "ticket.sla_at_risk",
    occurredAt: atRiskAt,
    data: { ...data, atRiskAt },
  });
}

/** The audit entry of a transition: the marker column it set on the ticket. */
export function slaTransitionAuditEntry(transition: SlaTransition): AuditEntry {
  const breached = transition.transition === "breached";
  return {
    entityType: "ticket",
    entityId: transition.ticketId,
    action: breached ? "sla_breached" : "sla_at_risk",
    changes: {
      [MARKER_FIELD[transition.target][transition.transition]]: {
        before: null,
        after: breached ? transition.dueAt : (transition.atRiskAt ?? transition.dueAt),
      },
    },
  };
}

/** One INSERT of `events` into `domain_events` (at least one). */
export function domainEventsStatement(events: readonly DomainEvent[]): SQL {
  const rows = events.map(
    (e) => sql`(${e.eventId}::uuid, ${e.tenantId}::uuid, ${e.type},
      ${"ticketId" in e.data ? e.data.ticketId : null}::uuid, ${JSON.stringify(e.actor)}::jsonb,
      ${JSON.stringify(e.data)}::jsonb, ${e.occurredAt}::timestamptz)`,
  );
  return sql`insert into domain_events (id, tenant_id, type, subject_id, actor, payload, occurred_at)
    values ${sql.join(rows, sql`, `)}`;
}
