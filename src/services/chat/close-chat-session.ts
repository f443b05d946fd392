import type { ServiceContext } from "../context";
import { readStoredChatSession } from "./archived-chat";
import { customerTenantOf, staffTenantOf } from "./chat-access";
import { type ChatSessionView, customerView } from "./chat-model";
import { sessionStub, toAppError } from "./chat-stub";

/**
 * Ends a chat: everyone is told and disconnected, the transcript is archived (normally before this
 * answers). Closing a chat that is already archived answers its archive, so a retry is harmless.
 */
async function close(
  ctx: ServiceContext,
  tenantId: string,
  sessionId: string,
  reason: "customer" | "agent",
): Promise<ChatSessionView> {
  const result = await sessionStub(sessionId).close({ tenantId, reason });
  if (result.ok) return result.value;
  if (result.error.code !== "NOT_FOUND") throw toAppError(result.error);
  return readStoredChatSession(ctx, tenantId, sessionId);
}

/** An agent, or an API key with chat:write (an integration ending stale chats). */
export async function closeAgentChat({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ChatSessionView> {
  return close(ctx, staffTenantOf(ctx, "chat:write"), input.id, "agent");
}

export async function closeCustomerChat({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string };
}): Promise<ChatSessionView> {
  return customerView(await close(ctx, customerTenantOf(ctx), input.sessionId, "customer"));
}
