import type { ServiceContext } from "../context";
import { readStoredChatSession } from "./archived-chat";
import { customerTenantOf, staffTenantOf } from "./chat-access";
import { type ChatSessionView, customerView } from "./chat-model";
import { sessionStub, toAppError } from "./chat-stub";

/**
 * A chat as an agent sees it (chat:read): live from its object (presence included) while it holds the
 * conversation, else from Postgres (archived). Another tenant's chat is "not found" either way.
 */
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

/** The customer's own chat (chat token), live or archived, without the agents' details. */
export async function getCustomerChatSession({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string };
}): Promise<ChatSessionView> {
  const tenantId = customerTenantOf(ctx);
  const live = await sessionStub(input.sessionId).snapshot({ tenantId });
  if (live.ok) return customerView(live.value);
  if (live.error.code !== "NOT_FOUND") throw toAppError(live.error);
  return customerView(await readStoredChatSession(ctx, tenantId, input.sessionId));
}
