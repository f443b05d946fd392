import type { ServiceContext } from "../context";
import { chatAgentOf } from "./chat-access";
import type { ChatSessionView } from "./chat-model";
import { liveOrExplain } from "./chat-results";
import { sessionStub } from "./chat-stub";

/**
 * The agent leaves. With no agent left the customer waits for another (`returnToBot: false`; the chat's
 * ticket hears the conversation so far) or the AI answers again (`returnToBot: true`).
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
