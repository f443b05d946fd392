// SLA fixtures for workers tests: policies through the API, teams and tickets arranged as the database owner
// (the tickets API stamps "now"; SLA scenarios need tickets created, answered and solved in the past).
import type { ComputedTicketSla, SlaPriority, SlaTargets, WeeklyHours } from "../../src/domain/sla";
import type { SlaPolicyView } from "../../src/services/sla/sla-policy-model";
import { bearer } from "./auth";
import { call, envelope, ownerSql } from "./harness";

export const TARGETS: SlaTargets = {
  urgent: { firstResponseMinutes: 15, resolutionMinutes: 120 },
  high: { firstResponseMinutes: 30, resolutionMinutes: 240 },
  normal: { firstResponseMinutes: 60, resolutionMinutes: 480 },
  low: { firstResponseMinutes: 240, resolutionMinutes: 2400 },
};

export function weeklyHours(days: Partial<WeeklyHours>): WeeklyHours {
  return { mon: [], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [], ...days };
}

export const NINE_TO_FIVE_WEEKDAYS = weeklyHours({
  mon: [["09:00", "17:00"]],
  tue: [["09:00", "17:00"]],
  wed: [["09:00", "17:00"]],
  thu: [["09:00", "17:00"]],
  fri: [["09:00", "17:00"]],
});

export async function createPolicy(
  token: string,
  body: Record<string, unknown> = {},
): Promise<SlaPolicyView> {
  const response = await call(
    "/api/v1/sla/policies",
    bearer(token, {
      method: "POST",
      body: { name: `Policy ${crypto.randomUUID().slice(0, 8)}`, targets: TARGETS, ...body },
    }),
  );
  const data = (await envelope<SlaPolicyView>(response)).data;
  if (response.status !== 201 || !data) throw new Error(`policy create failed: ${response.status}`);
  return data;
}

export async function insertTeam(
  tenantId: string,
  team: {
    name?: string;
    timezone?: string;
    businessHours?: WeeklyHours | null;
    holidays?: string[];
    slaPolicyId?: string | null;
  } = {},
): Promise<string> {
  const [row] = await ownerSql()`
    insert into support_teams (tenant_id, name, timezone, business_hours, holidays, sla_policy_id)
    values (${tenantId}, ${team.name ?? `Team ${crypto.randomUUID().slice(0, 8)}`}, ${team.timezone ?? "UTC"},
            ${team.businessHours === undefined || team.businessHours === null ? null : JSON.stringify(team.businessHours)}::jsonb,
            ${JSON.stringify(team.holidays ?? [])}::jsonb, ${team.slaPolicyId ?? null})
    returning id`;
  return String(row?.id);
}

export interface TicketFixture {
  subject?: string;
  status?: "open" | "pending" | "on_hold" | "solved" | "closed";
  priority?: SlaPriority;
  assigneeId?: string | null;
  teamId?: string | null;
  createdAt: string;
  firstRespondedAt?: string | null;
  solvedAt?: string | null;
  sla?: Partial<ComputedTicketSla>;
  firstResponseBreachedAt?: string | null;
  resolutionBreachedAt?: string | null;
}

/** A ticket row with the SLA state given (numbered after the tenant's highest). */
export async function insertTicket(tenantId: string, ticket: TicketFixture): Promise<string> {
  const sla = ticket.sla ?? {};
  const [row] = await ownerSql()`
    insert into tickets (tenant_id, number, subject, status, priority, channel, assignee_id, team_id, created_at,
                         updated_at, first_responded_at, solved_at, sla_policy_id, first_response_due_at,
                         resolution_due_at, sla_first_response_elapsed_seconds, sla_resolution_elapsed_seconds,
                         sla_clock_started_at, sla_paused_at, first_response_at_risk_after,
                         resolution_at_risk_after, first_response_breached_at, resolution_breached_at)
    values (${tenantId},
            (select coalesce(max(number), 0) + 1 from tickets where tenant_id = ${tenantId}),
            ${ticket.subject ?? "Where is my order?"}, ${ticket.status ?? "open"}, ${ticket.priority ?? "normal"},
            'api', ${ticket.assigneeId ?? null}, ${ticket.teamId ?? null}, ${ticket.createdAt}, ${ticket.createdAt},
            ${ticket.firstRespondedAt ?? null}, ${ticket.solvedAt ?? null}, ${sla.policyId ?? null},
            ${sla.firstResponseDueAt ?? null}, ${sla.resolutionDueAt ?? null},
            ${sla.firstResponseElapsedSeconds ?? 0}, ${sla.resolutionElapsedSeconds ?? 0},
            ${sla.clockStartedAt ?? null}, ${sla.pausedAt ?? null}, ${sla.firstResponseAtRiskAfter ?? null},
            ${sla.resolutionAtRiskAfter ?? null}, ${ticket.firstResponseBreachedAt ?? null},
            ${ticket.resolutionBreachedAt ?? null})
    returning id`;
  return String(row?.id);
}

export interface TicketSlaRow {
  sla_policy_id: string | null;
  first_response_due_at: string | null;
  resolution_due_at: string | null;
  first_response_at_risk_after: string | null;
  resolution_at_risk_after: string | null;
  sla_first_response_elapsed_seconds: number;
  sla_resolution_elapsed_seconds: number;
  sla_clock_started_at: string | null;
  sla_paused_at: string | null;
  first_response_breached_at: string | null;
  resolution_breached_at: string | null;
  first_response_at_risk_at: string | null;
  resolution_at_risk_at: string | null;
  version: number;
}

function iso(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(String(value))).toISOString();
}

/** A ticket's SLA columns as ISO strings, read as the owner. */
export async function ticketSla(ticketId: string): Promise<TicketSlaRow> {
  const [row] = await ownerSql()`
    select sla_policy_id, first_response_due_at, resolution_due_at, first_response_at_risk_after,
           resolution_at_risk_after, sla_first_response_elapsed_seconds, sla_resolution_elapsed_seconds,
           sla_clock_started_at, sla_paused_at, first_response_breached_at, resolution_breached_at,
           first_response_at_risk_at, resolution_at_risk_at, version
      from tickets where id = ${ticketId}`;
  if (!row) throw new Error(`no ticket ${ticketId}`);
  return {
    sla_policy_id: row.sla_policy_id === null ? null : String(row.sla_policy_id),
    first_response_due_at: iso(row.first_response_due_at),
    resolution_due_at: iso(row.resolution_due_at),
    first_response_at_risk_after: iso(row.first_response_at_risk_after),
    resolution_at_risk_after: iso(row.resolution_at_risk_after),
    sla_first_response_elapsed_seconds: Number(row.sla_first_response_elapsed_seconds),
    sla_resolution_elapsed_seconds: Number(row.sla_resolution_elapsed_seconds),
    sla_clock_started_at: iso(row.sla_clock_started_at),
    sla_paused_at: iso(row.sla_paused_at),
    first_response_breached_at: iso(row.first_response_breached_at),
    resolution_breached_at: iso(row.resolution_breached_at),
    first_response_at_risk_at: iso(row.first_response_at_risk_at),
    resolution_at_risk_at: iso(row.resolution_at_risk_at),
    version: Number(row.version),
  };
}

/** Audit rows of a tenant (oldest first), as the owner reads them. */
export async function auditRows(tenantId: string, entityType?: string) {
  const rows = await ownerSql()`
    select entity_type, entity_id, action, actor, actor_key, changes, request_id
      from audit_log where tenant_id = ${tenantId} and (${entityType ?? null}::text is null or entity_type = ${entityType ?? null})
     order by occurred_at, id`;
  return rows.map((r) => ({
    entityType: String(r.entity_type),
    entityId: String(r.entity_id),
    action: String(r.action),
    actor: r.actor as Record<string, unknown>,
    actorKey: String(r.actor_key),
    changes: r.changes as Record<string, { before: unknown; after: unknown }>,
    requestId: r.request_id === null ? null : String(r.request_id),
  }));
}

/** An instant `minutes` from now (negative = in the past), as ISO. */
export function minutesFromNow(minutes: number): string {
  return new Date(Date.now() + minutes * 60_000).toISOString();
}
