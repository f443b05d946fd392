import { sql } from "drizzle-orm";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { auditStatement, changedFields } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { type AssignmentCandidate, pickAssignee } from "./assignment-rules";
import { ticketCaller } from "./ticket-access";
import { type AssignTicketInput, AssignTicketSchema, parseInput } from "./ticket-input";
import {
  auditRecordsWithSla,
  isoOrNullOf,
  type LockedTicketRow,
  lockTicketStatement,
  type SlaChange,
  slaChangeOf,
} from "./ticket-lock";
import { assertNotClosed } from "./ticket-rules";
import {
  candidatesOf,
  handOutCtes,
  type LockedTeam,
  lockTeam,
  lockTeamMembers,
  membersJson,
  ticketTransaction,
} from "./ticket-transaction";
import { readTicketView, type TicketView, toTicketView } from "./ticket-view";

interface AssignLockRow extends LockedTicketRow {
  assignee_active: boolean | null;
  members: AssignmentCandidate[] | string | null;
}

/**
 * Assigns a ticket: to an agent (`{ assigneeId }`), to nobody (`{ assigneeId: null }`), or to a team
 * whose strategy picks the agent (`{ teamId, strategy? }`: round robin in member order, or the member
 * with the fewest open tickets; `manual`, or nobody able to take it, queues it on the team unassigned).
 *
 * Concurrency: one WebSocket transaction locks the team row first, then (routing by strategy) every member
 * as a candidate, then the ticket, and reads the members and their loads only after those locks, so
 * concurrent assignments in a team run one after the other, each seeing the previous one's result: the
 * rotation never gives two tickets the same turn nor skips a member, and one ticket assigned concurrently
 * ends with the assignee of the last assignment, every step recorded in the audit log in order. Teams that
 * share an agent queue on that agent, so together they never take them past `maxOpenTickets`. A team
 * change recomputes the SLA clocks.
 */
export async function assignTicket({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: { id: string; assignment: AssignTicketInput };
  requestId?: string | null;
}): Promise<TicketView> {
  const author = ticketCaller(ctx, "tickets:write", requestId);
  const body = parseInput(AssignTicketSchema, input.assignment, "request body");
  const t = author.tenantId;
  const routeToTeam = body.teamId !== undefined && body.assigneeId === undefined;
  const requestedAssignee = body.assigneeId ?? null;

  const { row, records } = await ticketTransaction(ctx, t, async (tx) => {
    let team: LockedTeam | null = null;
    if (body.teamId !== undefined) {
      team = await lockTeam(tx, t, body.teamId, "update");
      if (team === null)
        throw new ValidationError("Unknown team", { teamId: ["No such support team in this tenant"] });
      if (routeToTeam && (body.strategy ?? team.assignment_strategy) !== "manual") {
        await lockTeamMembers(tx, t, body.teamId);
      }
    }
    const lockedResult = await tx.execute<AssignLockRow>(
      lockTicketStatement(t, input.id, {
        teamId: body.teamId,
        extra: sql`(select u.active and u.deleted_at is null from users u
                     where u.tenant_id = ${t} and u.id = ${requestedAssignee}::uuid) as assignee_active,
                   ${routeToTeam && body.teamId !== undefined ? membersJson(t, body.teamId, input.id) : sql`null::json`}
                     as members`,
      }),
    );
    const locked = lockedResult.rows[0];
    if (!locked) throw new NotFoundError("Ticket not found");
    assertNotClosed(locked.status);
    if (requestedAssignee !== null && locked.assignee_active !== true) {
      throw new ValidationError("Unknown assignee", {
        assigneeId: ["No active user with this id in this tenant"],
      });
    }

    const teamId = body.teamId ?? locked.team_id;
    let assigneeId = requestedAssignee;
    let pick: { userId: string; nextCursor: number | null } | null = null;
    if (routeToTeam && team !== null) {
      const strategy = body.strategy ?? team.assignment_strategy;
      pick = pickAssignee(strategy, candidatesOf(locked.members), Number(team.round_robin_cursor));
      assigneeId = pick?.userId ?? null;
    }
    const changes = changedFields(
      { assigneeId: locked.assignee_id, teamId: locked.team_id },
      { assigneeId, teamId },
    );
    // Nothing changes (the agent already has it): no write, and the rotation keeps that agent's turn.
    if (Object.keys(changes).length === 0) return { row: await readTicketView(tx, t, input.id), records: [] };

    const now = new Date().toISOString();
    let sla: SlaChange | null = null;
    if ("teamId" in changes) {
      sla = slaChangeOf(
        locked,
        {
          status: locked.status,
          priority: locked.priority,
          firstRespondedAt: isoOrNullOf(locked.first_responded_at),
          solvedAt: isoOrNullOf(locked.solved_at),
        },
        now,
        { tenantId: t, ticketId: input.id, requestId: author.requestId },
      );
      Object.assign(changes, sla.changes);
    }
    const records = auditRecordsWithSla(
      author,
      [{ entityType: "ticket", entityId: input.id, action: "assigned", changes }],
      now,
      sla,
    );
    const handOut = pick && teamId !== null ? handOutCtes(t, teamId, pick.userId, pick.nextCursor) : [];
    await tx.execute(sql`
      with assigned as (
        update tickets
           set assignee_id = ${assigneeId}::uuid, team_id = ${teamId}::uuid, version = version + 1,
               updated_at = ${now}::timestamptz ${sla === null ? sql`` : sql`, ${sla.assignments}`}
         where tenant_id = ${t} and id = ${input.id}::uuid
      ),
      ${sql.join([...handOut, ...(sla?.ctes ?? []), sql`audited as (${auditStatement(t, records)})`], sql`, `)}
      select 1`);
    return { row: await readTicketView(tx, t, input.id), records };
  });

  publishAuditFeed(ctx, t, records);
  return toTicketView(row, new Date().toISOString());
}
