import { and, asc, eq } from "drizzle-orm";
import { tickets } from "../../db/schema";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { addTicketComment } from "../tickets/add-ticket-comment";
import { createTicket } from "../tickets/create-ticket";
import { customerTenantOf } from "./chat-access";
import {
  type ChatCustomer,
  type ChatMessageView,
  formatTranscript,
  type HandoverReason,
  handoverSubject,
} from "./chat-model";

const REASON_WORDS: Record<HandoverReason, string> = {
  customer_request: "the customer asked for a human",
  ai_handover: "the assistant handed the conversation over",
  ai_unavailable: "the assistant could not answer",
  agent_left: "the agent left before it was resolved",
};

/**
 * A handover's ticket: opened with the transcript so far as its first comment (an internal note: the
 * customer has seen every line already), or, when the chat already has one, given the part of the
 * transcript it has not seen. `onTicket` is told the ticket id as soon as it exists, so the caller can
 * keep it before the comment is written (a retry then never opens a second ticket); `lookUpExisting`
 * asks Postgres first for a ticket of this chat, for a retry whose create may have committed unseen.
 */
export async function recordChatHandover({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: {
    sessionId: string;
    ticketId: string | null;
    lookUpExisting: boolean;
    customer: ChatCustomer;
    reason: HandoverReason;
    transcript: readonly ChatMessageView[];
    firstCustomerMessage: string | undefined;
    onTicket: (ticketId: string) => void;
  };
}): Promise<{ ticketId: string; created: boolean }> {
  const tenantId = customerTenantOf(ctx);
  let ticketId = input.ticketId;
  let created = false;
  if (ticketId === null && input.lookUpExisting)
    ticketId = await ticketOfChat(ctx, tenantId, input.sessionId);
  if (ticketId === null) {
    const ticket = await createTicket({
      ctx,
      input: {
        subject: handoverSubject(input.customer, input.firstCustomerMessage),
        description: `Chat handed over to a human: ${REASON_WORDS[input.reason]}.`,
        channel: "chat",
        requester: {
          email: input.customer.email,
          name: input.customer.name,
          phone: input.customer.phone,
        },
        chatSessionId: input.sessionId,
        tags: ["chat"],
      },
    });
    ticketId = ticket.id;
    created = true;
  }
  input.onTicket(ticketId);
  if (input.transcript.length > 0) {
    const heading = input.transcript[0]?.seq === 1 ? "Chat transcript:" : "Chat transcript (continued):";
    await addTicketComment({
      ctx,
      input: {
        ticketId,
        body: `${heading}\n${formatTranscript(input.transcript, input.customer)}`,
        public: false,
        author: { type: "system", name: "chat" },
      },
    });
  }
  return { ticketId, created };
}

async function ticketOfChat(
  ctx: ServiceContext,
  tenantId: string,
  sessionId: string,
): Promise<string | null> {
  const [rows] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db
      .select({ id: tickets.id })
      .from(tickets)
      .where(and(eq(tickets.tenantId, tenantId), eq(tickets.chatSessionId, sessionId)))
      .orderBy(asc(tickets.createdAt))
      .limit(1),
  ]);
  return rows[0]?.id ?? null;
}
