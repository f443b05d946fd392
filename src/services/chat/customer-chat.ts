import { PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { readStoredChatMessages, readStoredChatSession } from "./archived-chat";
import { customerTenantOf } from "./chat-access";
import type { ChatMessageView, ChatSessionView } from "./chat-model";
import { customerView } from "./chat-model";
import { type ChatCallResult, sessionStub, toAppError } from "./chat-stub";
import { signChatToken } from "./chat-token";

/**
 * What a customer does in their chat, authenticated by the chat token (the route checked it names this
 * session and bound its tenant). The object answers while the chat is live; once it is archived the
 * object knows nothing and the answer comes from Postgres (reads) or is "this chat is closed" (writes).
 */

const CUSTOMER = { kind: "customer" } as const;

function closedUnlessFound<T>(result: ChatCallResult<T>): T {
  if (result.ok) return result.value;
  if (result.error.code === "NOT_FOUND") {
    throw new PreconditionFailedError("This chat is closed", { details: { status: "closed" } });
  }
  throw toAppError(result.error);
}

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

export async function listCustomerChatMessages({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string; afterSeq: number; limit: number };
}): Promise<{ items: ChatMessageView[]; nextCursor: string | null }> {
  const tenantId = customerTenantOf(ctx);
  const live = await sessionStub(input.sessionId).messages({
    tenantId,
    afterSeq: input.afterSeq,
    limit: input.limit,
  });
  if (live.ok) return live.value;
  if (live.error.code !== "NOT_FOUND") throw toAppError(live.error);
  return readStoredChatMessages(ctx, tenantId, {
    id: input.sessionId,
    afterSeq: input.afterSeq,
    limit: input.limit,
  });
}

export async function postCustomerChatMessage({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string; body: string; clientMessageId: string | null };
}): Promise<{ message: ChatMessageView; duplicate: boolean }> {
  const tenantId = customerTenantOf(ctx);
  return closedUnlessFound(
    await sessionStub(input.sessionId).post({
      tenantId,
      participant: CUSTOMER,
      body: input.body,
      clientMessageId: input.clientMessageId,
    }),
  );
}

/** The customer asks for a human. Safe to repeat: while one is coming or here, nothing changes. */
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

/** The customer ends the chat. Closing a closed chat answers its archived view. */
export async function closeCustomerChat({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string };
}): Promise<ChatSessionView> {
  const tenantId = customerTenantOf(ctx);
  const result = await sessionStub(input.sessionId).close({ tenantId, reason: "customer" });
  if (result.ok) return customerView(result.value);
  if (result.error.code !== "NOT_FOUND") throw toAppError(result.error);
  return customerView(await readStoredChatSession(ctx, tenantId, input.sessionId));
}

/** A fresh token for a live chat, before the current one expires. */
export async function refreshChatToken({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string };
}): Promise<{ token: string; tokenType: "Bearer"; expiresIn: number; expiresAt: string }> {
  const tenantId = customerTenantOf(ctx);
  closedUnlessFound(await sessionStub(input.sessionId).snapshot({ tenantId }));
  const token = await signChatToken(ctx, { tenantId, sessionId: input.sessionId });
  return { token: token.token, tokenType: "Bearer", expiresIn: token.expiresIn, expiresAt: token.expiresAt };
}
