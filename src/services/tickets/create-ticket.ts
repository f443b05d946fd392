import { sql } from "drizzle-orm";
import { type BusinessCalendar, computeTicketSla, type SlaPolicyRules } from "../../domain/sla";
import { ValidationError } from "../../lib/errors";
import { type AuditEntry, auditRecords, auditStatement } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { type AssignmentCandidate, pickAssignee } from "./assignment-rules";
import { ticketCaller } from "./ticket-access";
import { type CreateTicketInput, CreateTicketSchema, parseInput } from "./ticket-input";
import { normaliseTags } from "./ticket-rules";
import {
  calendarJson,
  jsonValue,
  policyJson,
  SLA_WRITE_COLUMNS,
  slaAuditFields,
  slaValues,
} from "./ticket-sla";
import {
  candidatesOf,
  handOutCtes,
  lockTeam,
  lockTeamMembers,
  membersJson,
  ticketTransaction,
} from "./ticket-transaction";
import { type TicketRow, type TicketView, ticketViewStatement, toTicketView } from "./ticket-view";

interface CreateContextRow extends Record<string, unknown> {
  policy: SlaPolicyRules | string | null;
  calendar: BusinessCalendar | string | null;
  found_orders: string[];
  assignee_active: boolean | null;
  members: AssignmentCandidate[] | string | null;
}

/**
 * Opens a ticket: the next human number of the tenant (`ticket_counters`, bumped in the same transaction
 * so numbers are gapless per committed ticket), SLA due times from the team's policy and calendar (else the
 * tenant's default policy, 24/7), linked orders (must be the tenant's), and — for a team that hands tickets
 * out by round robin or least load, when no assignee is given — its agent. The audit row commits with it.
 *
 * Called by the API and by Tradewind itself (the chat handover, with actor `{ type: "system", name: "chat" }`).
 */
export async function createTicket({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: CreateTicketInput;
  requestId?: string | null;
}): Promise<TicketView> {
  const author = ticketCaller(ctx, "tickets:write", requestId);
  const body = parseInput(CreateTicketSchema, input, "ticket");
  const { tags, errors } = normaliseTags(body.tags ?? []);
  if (errors.length > 0) throw new ValidationError("Invalid ticket", { tags: errors });
  const t = author.tenantId;
  const id = crypto.randomUUID();
  const orderIds = [...new Set(body.orderIds ?? [])];
  const teamId = body.teamId ?? null;
  const requestedAssignee = body.assigneeId ?? null;
  // Only an assignee left out lets the team pick; an explicit null means "leave it unassigned".
  const teamPicks = teamId !== null && body.assigneeId === undefined;
  const priority = body.priority ?? "normal";
  const requester = {
    email: body.requester.email ?? null,
    name: body.requester.name || null,
    phone: body.requester.phone || null,
  };

  const { row, records } = await ticketTransaction(ctx, t, async (tx) => {
    const team = teamId === null ? null : await lockTeam(tx, t, teamId, teamPicks ? "update" : "share");
    if (teamId !== null && team === null) {
      throw new ValidationError("Unknown team", { teamId: ["No such support team in this tenant"] });
    }
    if (teamPicks && teamId !== null && team?.assignment_strategy !== "manual") {
      await lockTeamMembers(tx, t, teamId);
    }
    const context = await tx.execute<CreateContextRow>(sql`
      select ${policyJson(t, sql`${teamId}::uuid`)} as policy,
             ${calendarJson(t, sql`${teamId}::uuid`)} as calendar,
             (select coalesce(array_agg(o.id::text), '{}') from orders o
               where o.tenant_id = ${t} and o.id = any(${sql.param(orderIds)}::uuid[])) as found_orders,
             (select u.active and u.deleted_at is null from users u
               where u.tenant_id = ${t} and u.id = ${requestedAssignee}::uuid) as assignee_active,
             ${teamPicks && teamId !== null ? membersJson(t, teamId, null) : sql`null::json`} as members`);
    const found = context.rows[0];
    if (!found) throw new Error("ticket context returned no row");
    const missing = orderIds.filter((o) => !found.found_orders.includes(o));
    if (missing.length > 0) {
      throw new ValidationError("Unknown orders", {
        orderIds: missing.map((o) => `No order ${o} in this tenant`),
      });
    }
    if (requestedAssignee !== null && found.assignee_active !== true) {
      throw new ValidationError("Unknown assignee", {
        assigneeId: ["No active user with this id in this tenant"],
      });
    }
    const pick =
      teamPicks && team !== null
        ? pickAssignee(team.assignment_strategy, candidatesOf(found.members), Number(team.round_robin_cursor))
        : null;
    const assigneeId = pick?.userId ?? requestedAssignee;

    const now = new Date().toISOString();
    const sla = computeTicketSla({
      previous: null,
      facts: { status: "open", priority, createdAt: now, firstRespondedAt: null, solvedAt: null },
      policy: jsonValue(found.policy),
      calendar: jsonValue(found.calendar),
      now,
    });
    const initial: Record<string, unknown> = {
      number: null,
      subject: body.subject,
      status: "open",
      priority,
      channel: body.channel,
      requester,
      tags,
      teamId,
      assigneeId,
      orderIds,
      chatSessionId: body.chatSessionId ?? null,
      ...slaAuditFields(sla),
    };
    const entries: AuditEntry[] = [
      {
        entityType: "ticket",
        entityId: id,
        action: "created",
        changes: Object.fromEntries(
          Object.entries(initial)
            .filter(([field, value]) => field !== "number" && value !== null && !isEmptyList(value))
            .map(([field, value]) => [field, { before: null, after: value }]),
        ),
      },
    ];
    const records = auditRecords(author, entries, now);
    const handOut = pick && teamId !== null ? handOutCtes(t, teamId, pick.userId, pick.nextCursor) : [];

    await tx.execute(sql`
      with counter as (
        insert into ticket_counters (tenant_id, last_number) values (${t}, 1)
        on conflict (tenant_id) do update set last_number = ticket_counters.last_number + 1
        returning last_number
      ),
      ticket as (
        insert into tickets (id, tenant_id, number, subject, description, status, priority, channel,
                             requester_email, requester_name, requester_phone, assignee_id, team_id, tags,
                             chat_session_id, created_by, created_at, updated_at, ${SLA_WRITE_COLUMNS})
        select ${id}::uuid, ${t}::uuid, counter.last_number, ${body.subject}, ${body.description ?? ""}, 'open',
               ${priority}, ${body.channel}, ${requester.email}, ${requester.name}, ${requester.phone},
               ${assigneeId}::uuid, ${teamId}::uuid, ${sql.param(tags)}::text[], ${body.chatSessionId ?? null}::uuid,
               ${JSON.stringify(author.actor)}::jsonb, ${now}::timestamptz, ${now}::timestamptz, ${slaValues(sla)}
          from counter
        returning id
      ),
      linked as (
        insert into ticket_orders (tenant_id, ticket_id, order_id)
        select ${t}::uuid, ticket.id, o from ticket, unnest(${sql.param(orderIds)}::uuid[]) o
      ),
      ${sql.join([...handOut, sql`audited as (${auditStatement(t, records)})`], sql`, `)}
      select 1`);
    const view = await tx.execute<TicketRow>(ticketViewStatement(t, id));
    const created = view.rows[0];
    if (!created) throw new Error("created ticket not readable");
    return { row: created, records };
  });

  publishAuditFeed(ctx, t, records);
  ctx.logger.info("ticket created", { tenantId: t, ticketId: id, number: Number(row.number) });
  return toTicketView(row, new Date().toISOString());
}

function isEmptyList(value: unknown): boolean {
  return Array.isArray(value) && value.length === 0;
}
