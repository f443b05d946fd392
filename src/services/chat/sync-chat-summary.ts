import { and, eq, isNull, sql } from "drizzle-orm";
import { chatSessions } from "../../db/schema";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { customerTenantOf } from "./chat-access";
import type { ChatSummary } from "./chat-model";

/**
 * Postgres' copy of a live chat's summary, written by its ChatSession object when the status, agent or
 * ticket changes (and every so often as messages arrive), so lists and filters see live chats. One
 * statement; a row already archived is never overwritten by a late summary.
 */
export async function syncChatSummary({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ChatSummary;
}): Promise<void> {
  const tenantId = customerTenantOf(ctx);
  await tenantBatch(ctx.db.http, tenantId, (db) => [
    db
      .update(chatSessions)
      .set({
        status: input.status,
        agentId: input.agentId,
        ticketId: input.ticketId,
        messageCount: input.messageCount,
        lastMessageAt: input.lastMessageAt,
        closedAt: input.closedAt,
        closeReason: input.closeReason,
        updatedAt: sql`now()`,
      })
      .where(
        and(
          eq(chatSessions.tenantId, tenantId),
          eq(chatSessions.id, input.sessionId),
          isNull(chatSessions.archivedAt),
        ),
      ),
  ]);
}
