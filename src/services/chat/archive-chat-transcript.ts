import { and, eq, sql } from "drizzle-orm";
import { chatMessages, chatSessions } from "../../db/schema";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { customerTenantOf } from "./chat-access";
import type { ChatMessageView, ChatSummary, JsonObject } from "./chat-model";

/** Rows per insert statement: 8 parameters a row stays far below Postgres' 65,535 per statement. */
const ROWS_PER_INSERT = 1000;

/**
 * A closed chat's transcript and final summary, in ONE transaction (one HTTP round trip): the session
 * row is completed (`archived_at` set) and every message inserted. Messages already there (a retry
 * after a lost answer) are skipped, so archiving is safe to repeat. Nothing is cached in Redis: an
 * archived chat is read from Postgres, the truth, by the few who open it.
 */
export async function archiveChatTranscript({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { summary: ChatSummary; messages: readonly ChatMessageView[] };
}): Promise<void> {
  const tenantId = customerTenantOf(ctx);
  const { summary } = input;
  const rows = input.messages.map((m) => ({
    tenantId,
    sessionId: summary.sessionId,
    seq: m.seq,
    role: m.role,
    authorUserId: m.authorUserId,
    body: m.body,
    meta: archivedMeta(m),
    createdAt: m.createdAt,
  }));
  const chunks: (typeof rows)[] = [];
  for (let i = 0; i < rows.length; i += ROWS_PER_INSERT) chunks.push(rows.slice(i, i + ROWS_PER_INSERT));
  await tenantBatch(ctx.db.http, tenantId, (db) => [
    db
      .update(chatSessions)
      .set({
        status: "closed",
        agentId: summary.agentId,
        ticketId: summary.ticketId,
        messageCount: summary.messageCount,
        lastMessageAt: summary.lastMessageAt,
        closedAt: summary.closedAt ?? sql`now()`,
        closeReason: summary.closeReason,
        archivedAt: sql`coalesce(${chatSessions.archivedAt}, now())`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(chatSessions.tenantId, tenantId), eq(chatSessions.id, summary.sessionId))),
    ...chunks.map((chunk) => db.insert(chatMessages).values(chunk).onConflictDoNothing()),
  ]);
}

/** The message's own meta plus what the live view showed beside it (author name, client message id). */
function archivedMeta(message: ChatMessageView): JsonObject | null {
  const meta: JsonObject = { ...message.meta };
  if (message.authorName !== null) meta.authorName = message.authorName;
  if (message.clientMessageId !== null) meta.clientMessageId = message.clientMessageId;
  return Object.keys(meta).length > 0 ? meta : null;
}
