import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { isoOf, isoOrNull } from "../users/caller";
import type {
  ChatChannel,
  ChatCustomer,
  ChatMessageView,
  ChatParticipantView,
  ChatRole,
  ChatSessionView,
  ChatStatus,
  JsonObject,
} from "./chat-model";

/**
 * Chats as Postgres knows them: the archived ones (the object's storage is gone) and the summary of
 * live ones. Read when the session's object has no conversation (anymore).
 */

export interface ChatSessionRow extends Record<string, unknown> {
  id: string;
  status: ChatStatus;
  channel: ChatChannel;
  customer: ChatCustomer | string;
  agent_id: string | null;
  ticket_id: string | null;
  message_count: number;
  started_at: string;
  last_message_at: string | null;
  closed_at: string | null;
  close_reason: string | null;
  archived_at: string | null;
}

export const CHAT_SESSION_COLUMNS = sql`s.id, s.status, s.channel, s.customer, s.agent_id, s.ticket_id, s.message_count,
  s.started_at, s.last_message_at, s.closed_at, s.close_reason, s.archived_at`;

interface ArchivedAgentRow extends Record<string, unknown> {
  user_id: string;
  name: string | null;
}

interface ChatMessageRow extends Record<string, unknown> {
  seq: number;
  role: ChatRole;
  author_user_id: string | null;
  body: string;
  meta: JsonObject | string | null;
  created_at: string;
}

export function toChatSessionView(
  row: ChatSessionRow,
  agents: readonly ArchivedAgentRow[] = [],
): ChatSessionView {
  const customer =
    typeof row.customer === "string" ? (JSON.parse(row.customer) as ChatCustomer) : row.customer;
  const participants: ChatParticipantView[] = [
    {
      role: "customer",
      userId: null,
      name: customer.name ?? customer.email ?? null,
      online: false,
      joinedAt: isoOf(row.started_at),
      leftAt: null,
    },
    ...agents.map((a) => ({
      role: "agent" as const,
      userId: a.user_id,
      name: a.name,
      online: false,
      joinedAt: null,
      leftAt: null,
    })),
  ];
  return {
    id: row.id,
    status: row.status,
    channel: row.channel,
    customer,
    agentId: row.agent_id,
    ticketId: row.ticket_id,
    participants,
    messageCount: Number(row.message_count),
    startedAt: isoOf(row.started_at),
    lastMessageAt: isoOrNull(row.last_message_at),
    closedAt: isoOrNull(row.closed_at),
    closeReason: row.close_reason,
    live: false,
    archivedAt: isoOrNull(row.archived_at),
  };
}

function toMessageView(row: ChatMessageRow): ChatMessageView {
  const stored = (typeof row.meta === "string" ? JSON.parse(row.meta) : row.meta) as JsonObject | null;
  const { authorName, clientMessageId, ...meta } = stored ?? {};
  return {
    seq: Number(row.seq),
    role: row.role,
    authorUserId: row.author_user_id,
    authorName: typeof authorName === "string" ? authorName : null,
    body: row.body,
    clientMessageId: typeof clientMessageId === "string" ? clientMessageId : null,
    meta: Object.keys(meta).length > 0 ? meta : null,
    createdAt: isoOf(row.created_at),
  };
}

/** An archived (or never started) chat's view, with the agents who wrote in it. One round trip. */
export async function readStoredChatSession(
  ctx: ServiceContext,
  tenantId: string,
  id: string,
): Promise<ChatSessionView> {
  const [sessions, agents] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ChatSessionRow>(
      sql`select ${CHAT_SESSION_COLUMNS} from chat_sessions s where s.tenant_id = ${tenantId} and s.id = ${id}`,
    ),
    db.execute<ArchivedAgentRow>(sql`
      select m.author_user_id as user_id, (array_agg(m.meta->>'authorName' order by m.seq desc))[1] as name
        from chat_messages m
       where m.tenant_id = ${tenantId} and m.session_id = ${id} and m.role = 'agent' and m.author_user_id is not null
       group by m.author_user_id
       order by min(m.seq)`),
  ]);
  const row = sessions.rows[0];
  if (!row) throw new NotFoundError("Chat session not found");
  return toChatSessionView(row, agents.rows);
}

/** A page of an archived transcript after `afterSeq`, oldest first. One round trip. */
export async function readStoredChatMessages(
  ctx: ServiceContext,
  tenantId: string,
  input: { id: string; afterSeq: number; limit: number },
): Promise<{ items: ChatMessageView[]; nextCursor: string | null }> {
  const [sessions, messages] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{ id: string }>(
      sql`select id from chat_sessions where tenant_id = ${tenantId} and id = ${input.id}`,
    ),
    db.execute<ChatMessageRow>(sql`
      select seq, role, author_user_id, body, meta, created_at from chat_messages
       where tenant_id = ${tenantId} and session_id = ${input.id} and seq > ${input.afterSeq}
       order by seq limit ${input.limit + 1}`),
  ]);
  if (!sessions.rows[0]) throw new NotFoundError("Chat session not found");
  const items = messages.rows.slice(0, input.limit).map(toMessageView);
  const last = items.at(-1);
  return { items, nextCursor: messages.rows.length > input.limit && last ? String(last.seq) : null };
}

/** 404 unless the chat exists in the tenant (live or archived). One round trip. */
export async function requireStoredChat(ctx: ServiceContext, tenantId: string, id: string): Promise<void> {
  const [rows] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{ id: string }>(
      sql`select id from chat_sessions where tenant_id = ${tenantId} and id = ${id}`,
    ),
  ]);
  if (!rows.rows[0]) throw new NotFoundError("Chat session not found");
}

/**
 * Why the object has no conversation for a session the caller named: it closed and was archived (412),
 * or there is no such session in the caller's tenant (404). One round trip.
 */
export async function explainMissingChat(ctx: ServiceContext, tenantId: string, id: string): Promise<never> {
  const [rows] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{ status: string }>(
      sql`select status from chat_sessions where tenant_id = ${tenantId} and id = ${id}`,
    ),
  ]);
  if (rows.rows[0])
    throw new PreconditionFailedError("This chat is closed", { details: { status: "closed" } });
  throw new NotFoundError("Chat session not found");
}
