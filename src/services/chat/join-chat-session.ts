import type { ServiceContext } from "../context";
import { chatAgentOf } from "./chat-access";
import type { ChatSessionView } from "./chat-model";
import { liveOrExplain } from "./chat-results";
import { sessionStub } from "./chat-stub";

/**
 * The signed-in agent (chat:write) joins: the chat moves to `agent`, from `waiting` or straight from the
 * bot (a takeover). Joining again changes nothing. One Postgres round trip (the agent's name).
 */
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
