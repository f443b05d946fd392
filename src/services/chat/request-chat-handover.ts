import type { ServiceContext } from "../context";
import { customerTenantOf } from "./chat-access";
import { type ChatSessionView, customerView } from "./chat-model";
import { closedUnlessFound } from "./chat-results";
import { sessionStub } from "./chat-stub";

/**
 * The customer asks for a human: the chat waits for an agent and its ticket is opened with the
 * transcript (or given the new part). Safe to repeat: while one is coming or here, nothing changes.
 */
export async function requestChatHandover({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string };
}): Promise<ChatSessionView> {
  const tenantId = customerTenantOf(ctx);
  return customerView(closedUnlessFound(await sessionStub(input.sessionId).handover({ tenantId })));
}
