import type { ServiceContext } from "../context";
import { readStoredChatMessages } from "./archived-chat";
import { customerTenantOf, staffTenantOf } from "./chat-access";
import type { ChatMessageView } from "./chat-model";
import { sessionStub, toAppError } from "./chat-stub";

export interface ChatMessagePage {
  items: ChatMessageView[];
  /** The seq to pass as `after` for the next page; null on the last. */
  nextCursor: string | null;
}

async function messagesOf(
  ctx: ServiceContext,
  tenantId: string,
  input: { id: string; afterSeq: number; limit: number },
): Promise<ChatMessagePage> {
  const live = await sessionStub(input.id).messages({
    tenantId,
    afterSeq: input.afterSeq,
    limit: input.limit,
  });
  if (live.ok) return live.value;
  if (live.error.code !== "NOT_FOUND") throw toAppError(live.error);
  return readStoredChatMessages(ctx, tenantId, input);
}

/** A page of a chat's messages after a seq, oldest first: from its object while live, else from Postgres. */
export async function listChatMessages({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; afterSeq: number; limit: number };
}): Promise<ChatMessagePage> {
  return messagesOf(ctx, staffTenantOf(ctx, "chat:read"), input);
}

/** The same for the customer of the chat (chat token). */
export async function listCustomerChatMessages({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string; afterSeq: number; limit: number };
}): Promise<ChatMessagePage> {
  return messagesOf(ctx, customerTenantOf(ctx), {
    id: input.sessionId,
    afterSeq: input.afterSeq,
    limit: input.limit,
  });
}
