import type { ServiceContext } from "../context";
import { customerTenantOf } from "./chat-access";
import { closedUnlessFound } from "./chat-results";
import { sessionStub } from "./chat-stub";
import { signChatToken } from "./chat-token";

/** A fresh chat token for a live chat, presented with the current (unexpired) one. */
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
