import { PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { explainMissingChat } from "./archived-chat";
import { type ChatCallResult, toAppError } from "./chat-stub";

/**
 * What an object's "not found" means depends on who asks. A customer holds a token for a session that
 * was started, so an object without the conversation has archived it: "this chat is closed". An agent
 * may name any id: Postgres tells an archived chat (412 for writes) from one not in the tenant (404).
 */

export function closedUnlessFound<T>(result: ChatCallResult<T>): T {
  if (result.ok) return result.value;
  if (result.error.code === "NOT_FOUND") {
    throw new PreconditionFailedError("This chat is closed", { details: { status: "closed" } });
  }
  throw toAppError(result.error);
}

export async function liveOrExplain<T>(
  ctx: ServiceContext,
  tenantId: string,
  sessionId: string,
  result: ChatCallResult<T>,
): Promise<T> {
  if (result.ok) return result.value;
  if (result.error.code === "NOT_FOUND") return explainMissingChat(ctx, tenantId, sessionId);
  throw toAppError(result.error);
}
