import type { ServiceContext } from "../context";
import { chatUserOf, customerTenantOf } from "./chat-access";
import type { ChatMessageView } from "./chat-model";
import { closedUnlessFound, liveOrExplain } from "./chat-results";
import { sessionStub } from "./chat-stub";

export interface PostedChatMessage {
  message: ChatMessageView;
  /** This clientMessageId was sent before: the stored message, not a new one. */
  duplicate: boolean;
}

/**
 * The customer writes (the HTTP path of clients on the event stream). While the bot answers, the
 * object starts the AI's reply, which streams to every connection after this returns.
 */
export async function postCustomerChatMessage({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string; body: string; clientMessageId: string | null };
}): Promise<PostedChatMessage> {
  const tenantId = customerTenantOf(ctx);
  return closedUnlessFound(
    await sessionStub(input.sessionId).post({
      tenantId,
      participant: { kind: "customer" },
      body: input.body,
      clientMessageId: input.clientMessageId,
    }),
  );
}

/**
 * An agent writes (chat:write, joined). The name under the message is the one the agent joined with
 * (the object keeps it), so this path costs no Postgres round trip.
 */
export async function postAgentChatMessage({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; body: string; clientMessageId: string | null };
}): Promise<PostedChatMessage> {
  const { tenantId, userId } = await chatUserOf(ctx, "chat:write", input.id);
  const result = await sessionStub(input.id).post({
    tenantId,
    participant: { kind: "agent", userId, name: "", canWrite: true },
    body: input.body,
    clientMessageId: input.clientMessageId,
  });
  return liveOrExplain(ctx, tenantId, input.id, result);
}
