import type { ServiceContext } from "../context";
import { explainMissingChat, readStoredChatMessages, readStoredChatSession } from "./archived-chat";
import { chatAgentOf, chatUserOf, staffTenantOf } from "./chat-access";
import type { ChatMessageView, ChatSessionView } from "./chat-model";
import { type ChatCallResult, sessionStub, toAppError } from "./chat-stub";

/**
 * What agents do with a chat (chat:read to look, chat:write to take part). The object is asked first:
 * it answers for live chats and refuses any tenant but its own. When it has no conversation, Postgres
 * says whether the chat was archived (readable; writes get 412) or does not exist in this tenant (404).
 */

async function liveOrExplain<T>(
  ctx: ServiceContext,
  tenantId: string,
  sessionId: string,
  result: ChatCallResult<T>,
): Promise<T> {
  if (result.ok) return result.value;
  if (result.error.code === "NOT_FOUND") return explainMissingChat(ctx, tenantId, sessionId);
  throw toAppError(result.error);
}

export async function getChatSession({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ChatSessionView> {
  const tenantId = staffTenantOf(ctx, "chat:read");
  const live = await sessionStub(input.id).snapshot({ tenantId });
  if (live.ok) return live.value;
  if (live.error.code !== "NOT_FOUND") throw toAppError(live.error);
  return readStoredChatSession(ctx, tenantId, input.id);
}

export async function listChatMessages({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; afterSeq: number; limit: number };
}): Promise<{ items: ChatMessageView[]; nextCursor: string | null }> {
  const tenantId = staffTenantOf(ctx, "chat:read");
  const live = await sessionStub(input.id).messages({
    tenantId,
    afterSeq: input.afterSeq,
    limit: input.limit,
  });
  if (live.ok) return live.value;
  if (live.error.code !== "NOT_FOUND") throw toAppError(live.error);
  return readStoredChatMessages(ctx, tenantId, input);
}

/**
 * An agent's message. The name under it is the one the agent joined with (the object keeps it), so
 * this path costs no Postgres round trip.
 */
export async function postAgentChatMessage({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; body: string; clientMessageId: string | null };
}): Promise<{ message: ChatMessageView; duplicate: boolean }> {
  const { tenantId, userId } = await chatUserOf(ctx, "chat:write", input.id);
  const result = await sessionStub(input.id).post({
    tenantId,
    participant: { kind: "agent", userId, name: "", canWrite: true },
    body: input.body,
    clientMessageId: input.clientMessageId,
  });
  return liveOrExplain(ctx, tenantId, input.id, result);
}

export async function joinChatSession({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ChatSessionView> {
  const agent = await chatAgentOf(ctx, "chat:write", input.id);
  const result = await sessionStub(input.id).join({
    tenantId: agent.tenantId,
    agent: { userId: agent.userId, name: agent.name },
  });
  return liveOrExplain(ctx, agent.tenantId, input.id, result);
}

/**
 * The agent leaves. With no agent left the customer waits for another (`returnToBot: false`, the
 * default) or the AI answers again (`returnToBot: true`).
 */
export async function leaveChatSession({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; returnToBot: boolean };
}): Promise<ChatSessionView> {
  const agent = await chatAgentOf(ctx, "chat:write", input.id);
  const result = await sessionStub(input.id).leave({
    tenantId: agent.tenantId,
    agent: { userId: agent.userId, name: agent.name },
    returnToBot: input.returnToBot,
  });
  return liveOrExplain(ctx, agent.tenantId, input.id, result);
}

/** An agent (or an API key with chat:write) ends the chat. Closing a closed chat answers its archive. */
export async function closeAgentChat({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ChatSessionView> {
  const tenantId = staffTenantOf(ctx, "chat:write");
  const result = await sessionStub(input.id).close({ tenantId, reason: "agent" });
  if (result.ok) return result.value;
  if (result.error.code !== "NOT_FOUND") throw toAppError(result.error);
  return readStoredChatSession(ctx, tenantId, input.id);
}
