import { sql } from "drizzle-orm";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { type AuditEntry, auditStatement, changedFields } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { type TicketComment, type TicketCommentRow, toTicketComment } from "./comment-view";
import { ticketCaller } from "./ticket-access";
import { AddCommentSchema, type AddTicketCommentInput, parseInput } from "./ticket-input";
import {
  auditRecordsWithSla,
  isoOrNullOf,
  type LockedTicketRow,
  lockTicketStatement,
  type SlaChange,
  slaChangeOf,
} from "./ticket-lock";
import { assertNotClosed, ticketEffectsOfComment, timestampsAfterStatus } from "./ticket-rules";
import { ticketTransaction } from "./ticket-transaction";

/** How much of a comment's body its audit row keeps: enough to recognise it, not a second copy. */
const AUDIT_EXCERPT = 200;

interface CommentLockRow extends LockedTicketRow {
  author_name: string | null;
  author_email: string | null;
  author_active: boolean | null;
}

/**
 * Adds a public reply or an internal note to a ticket. The first public reply by an agent is the ticket's
 * first response (its first-response clock stops); a customer's reply to a ticket that is pending or
 * solved reopens it. Either recomputes the SLA clocks. The comment, the ticket change and their audit
 * rows are one transaction; a closed ticket takes no comments (412).
 *
 * Called by the API (an agent's reply or note, or a customer message relayed by an integration) and by
 * Tradewind itself (the chat handover's transcript, with actor `{ type: "system", name: "chat" }`).
 */
export async function addTicketComment({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: AddTicketCommentInput;
  requestId?: string | null;
}): Promise<TicketComment> {
  const author = ticketCaller(ctx, "tickets:write", requestId);
  const body = parseInput(AddCommentSchema, input, "comment");
  if (body.author.type === "customer" && !body.public) {
    throw new ValidationError("Invalid comment", { public: ["A customer's message is always public"] });
  }
  const t = author.tenantId;
  const commentId = crypto.randomUUID();
  const agentId = body.author.type === "agent" ? body.author.userId : null;

  const { row, records } = await ticketTransaction(ctx, t, async (tx) => {
    const lockedResult = await tx.execute<CommentLockRow>(
      lockTicketStatement(t, body.ticketId, {
        extra: sql`au.full_name as author_name, au.email as author_email,
                   au.active and au.deleted_at is null as author_active`,
        join: sql`left join users au on au.tenant_id = t.tenant_id and au.id = ${agentId}::uuid`,
      }),
    );
    const locked = lockedResult.rows[0];
    if (!locked) throw new NotFoundError("Ticket not found");
    assertNotClosed(locked.status);
    if (agentId !== null && locked.author_active !== true) {
      throw new ValidationError("Invalid comment", {
        "author.userId": ["No active user with this id in this tenant"],
      });
    }

    const now = new Date().toISOString();
    const firstRespondedBefore = isoOrNullOf(locked.first_responded_at);
    const effects = ticketEffectsOfComment({
      ticket: { status: locked.status, firstRespondedAt: firstRespondedBefore },
      authorType: body.author.type,
      public: body.public,
      now,
    });
    const solvedBefore = isoOrNullOf(locked.solved_at);
    const stamps =
      effects.status === locked.status
        ? { solvedAt: solvedBefore, closedAt: isoOrNullOf(locked.closed_at) }
        : timestampsAfterStatus(
            effects.status,
            { status: locked.status, solvedAt: solvedBefore, closedAt: isoOrNullOf(locked.closed_at) },
            now,
          );
    const ticketChanges = changedFields(
      { status: locked.status, firstRespondedAt: firstRespondedBefore, solvedAt: solvedBefore },
      { status: effects.status, firstRespondedAt: effects.firstRespondedAt, solvedAt: stamps.solvedAt },
    );
    let ticketWrite = sql`updated_at = ${now}::timestamptz`;
    let sla: SlaChange | null = null;
    if (Object.keys(ticketChanges).length > 0) {
      sla = slaChangeOf(
        locked,
        {
          status: effects.status,
          priority: locked.priority,
          firstRespondedAt: effects.firstRespondedAt,
          solvedAt: stamps.solvedAt,
        },
        now,
        { tenantId: t, ticketId: body.ticketId, requestId: author.requestId },
      );
      Object.assign(ticketChanges, sla.changes);
      ticketWrite = sql`${ticketWrite}, status = ${effects.status},
        first_responded_at = ${effects.firstRespondedAt}::timestamptz, solved_at = ${stamps.solvedAt}::timestamptz,
        version = version + 1, ${sla.assignments}`;
    }

    const authorName =
      body.author.type === "agent"
        ? locked.author_name
        : body.author.type === "customer"
          ? (body.author.name ?? locked.requester_name)
          : body.author.name;
    const authorEmail =
      body.author.type === "agent"
        ? locked.author_email
        : body.author.type === "customer"
          ? (body.author.email ?? locked.requester_email)
          : null;
    const entries: AuditEntry[] = [
      {
        entityType: "ticket_comment",
        entityId: commentId,
        action: "commented",
        changes: {
          ticketId: { before: null, after: body.ticketId },
          public: { before: null, after: body.public },
          authorType: { before: null, after: body.author.type },
          ...(agentId === null ? {} : { authorUserId: { before: null, after: agentId } }),
          body: { before: null, after: excerpt(body.body) },
        },
      },
    ];
    if (Object.keys(ticketChanges).length > 0) {
      entries.push({
        entityType: "ticket",
        entityId: body.ticketId,
        action: "updated",
        changes: ticketChanges,
      });
    }
    const records = auditRecordsWithSla(author, entries, now, sla);
    const written = await tx.execute<TicketCommentRow>(sql`
      with touched as (
        update tickets set ${ticketWrite} where tenant_id = ${t} and id = ${body.ticketId}::uuid
      ),
      ${sql.join([...(sla?.ctes ?? []), sql`audited as (${auditStatement(t, records)})`], sql`, `)}
      insert into ticket_comments (id, tenant_id, ticket_id, author_type, author_user_id, author_name, author_email,
                                   body, public, email_message_id, created_at)
      values (${commentId}::uuid, ${t}::uuid, ${body.ticketId}::uuid, ${body.author.type}, ${agentId}::uuid,
              ${authorName ?? null}, ${authorEmail ?? null}, ${body.body}, ${body.public},
              ${body.emailMessageId ?? null}::uuid, ${now}::timestamptz)
      returning id, ticket_id, author_type, author_user_id, author_name, author_email, body, public,
                email_message_id, created_at`);
    const comment = written.rows[0];
    if (!comment) throw new Error("comment insert returned no row");
    return { row: comment, records };
  });

  publishAuditFeed(ctx, t, records);
  return toTicketComment(row);
}

function excerpt(text: string): string {
  return text.length <= AUDIT_EXCERPT ? text : `${text.slice(0, AUDIT_EXCERPT - 1)}…`;
}
