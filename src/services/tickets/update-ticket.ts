import { sql } from "drizzle-orm";
import { NotFoundError, PreconditionFailedError, ValidationError } from "../../lib/errors";
import { auditStatement, changedFields } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "./ticket-access";
import { parseInput, type UpdateTicketInput, UpdateTicketSchema } from "./ticket-input";
import {
  auditRecordsWithSla,
  isoOrNullOf,
  type LockedTicketRow,
  lockTicketStatement,
  type SlaChange,
  slaChangeOf,
} from "./ticket-lock";
import { assertNotClosed, normaliseTags, timestampsAfterStatus } from "./ticket-rules";
import { ticketTransaction } from "./ticket-transaction";
import { readTicketView, type TicketView, toTicketView } from "./ticket-view";

/**
 * Changes a ticket's status, priority, tags, team, subject, description or requester. `expectedVersion`
 * (the `If-Match` the client read) makes it a conditional write: 412 when someone changed the ticket since.
 * A closed ticket is final (412). Status, priority and team changes recompute the SLA clocks; the audit row
 * with the before/after of each changed field commits with the change. A request that changes nothing
 * writes nothing (no new version, no audit row).
 */
export async function updateTicket({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: { id: string; changes: UpdateTicketInput; expectedVersion?: number | undefined };
  requestId?: string | null;
}): Promise<TicketView> {
  const author = ticketCaller(ctx, "tickets:write", requestId);
  const body = parseInput(UpdateTicketSchema, input.changes, "request body");
  const t = author.tenantId;
  let tags: string[] | undefined;
  if (body.tags !== undefined) {
    const normalised = normaliseTags(body.tags);
    if (normalised.errors.length > 0)
      throw new ValidationError("Invalid ticket", { tags: normalised.errors });
    tags = normalised.tags;
  }

  const { row, records } = await ticketTransaction(ctx, t, async (tx) => {
    const lockedResult = await tx.execute<LockedTicketRow>(
      lockTicketStatement(t, input.id, { teamId: body.teamId }),
    );
    const locked = lockedResult.rows[0];
    if (!locked) throw new NotFoundError("Ticket not found");
    if (input.expectedVersion !== undefined && input.expectedVersion !== Number(locked.version)) {
      throw new PreconditionFailedError("The ticket was changed since you read it; reload and try again", {
        details: { expectedVersion: input.expectedVersion, currentVersion: Number(locked.version) },
      });
    }
    assertNotClosed(locked.status);
    if (body.teamId !== undefined && body.teamId !== null && !locked.team_found) {
      throw new ValidationError("Unknown team", { teamId: ["No such support team in this tenant"] });
    }

    const now = new Date().toISOString();
    const status = body.status ?? locked.status;
    const priority = body.priority ?? locked.priority;
    const teamId = body.teamId === undefined ? locked.team_id : body.teamId;
    const stamps =
      status === locked.status
        ? { solvedAt: isoOrNullOf(locked.solved_at), closedAt: isoOrNullOf(locked.closed_at) }
        : timestampsAfterStatus(
            status,
            {
              status: locked.status,
              solvedAt: isoOrNullOf(locked.solved_at),
              closedAt: isoOrNullOf(locked.closed_at),
            },
            now,
          );
    const requester = {
      email: body.requester?.email !== undefined ? body.requester.email : locked.requester_email,
      name: body.requester?.name !== undefined ? body.requester.name || null : locked.requester_name,
      phone: body.requester?.phone !== undefined ? body.requester.phone || null : locked.requester_phone,
    };
    const before = {
      subject: locked.subject,
      description: locked.description,
      status: locked.status,
      priority: locked.priority,
      tags: locked.tags,
      teamId: locked.team_id,
      requester: {
        email: locked.requester_email,
        name: locked.requester_name,
        phone: locked.requester_phone,
      },
      solvedAt: isoOrNullOf(locked.solved_at),
      closedAt: isoOrNullOf(locked.closed_at),
    };
    const after = {
      subject: body.subject ?? locked.subject,
      description: body.description ?? locked.description,
      status,
      priority,
      tags: tags ?? locked.tags,
      teamId,
      requester,
      ...stamps,
    };
    const changes = changedFields(before, after);
    if (Object.keys(changes).length === 0) return { row: await readTicketView(tx, t, input.id), records: [] };

    // Status, priority and team are what the clocks depend on; anything else leaves them as they are.
    const clocksMove = "status" in changes || "priority" in changes || "teamId" in changes;
    let sla: SlaChange | null = null;
    if (clocksMove) {
      sla = slaChangeOf(
        locked,
        {
          status,
          priority,
          firstRespondedAt: isoOrNullOf(locked.first_responded_at),
          solvedAt: stamps.solvedAt,
        },
        now,
        { tenantId: t, ticketId: input.id, requestId: author.requestId },
      );
      Object.assign(changes, sla.changes);
    }
    const records = auditRecordsWithSla(
      author,
      [{ entityType: "ticket", entityId: input.id, action: "updated", changes }],
      now,
      sla,
    );
    await tx.execute(sql`
      with changed as (
        update tickets
           set subject = ${after.subject}, description = ${after.description}, status = ${status},
               priority = ${priority}, tags = ${sql.param(after.tags)}::text[], team_id = ${teamId}::uuid,
               requester_email = ${requester.email}, requester_name = ${requester.name},
               requester_phone = ${requester.phone}, solved_at = ${stamps.solvedAt}::timestamptz,
               closed_at = ${stamps.closedAt}::timestamptz, version = version + 1, updated_at = ${now}::timestamptz
               ${sla === null ? sql`` : sql`, ${sla.assignments}`}
         where tenant_id = ${t} and id = ${input.id}::uuid
      ),
      ${sql.join([...(sla?.ctes ?? []), sql`audited as (${auditStatement(t, records)})`], sql`, `)}
      select 1`);
    return { row: await readTicketView(tx, t, input.id), records };
  });

  publishAuditFeed(ctx, t, records);
  return toTicketView(row, new Date().toISOString());
}
