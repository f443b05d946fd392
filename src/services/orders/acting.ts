import { UnauthorizedError } from "../../lib/errors";
import type { Actor, ServiceContext } from "../context";
import { callerOf } from "../users/caller";

/** The tenant and the actor that writes are recorded against (order transitions, failure history). */
export function actingCaller(ctx: ServiceContext): { tenantId: string; actor: Actor } {
  const { tenantId } = callerOf(ctx);
  if (!ctx.actor) throw new UnauthorizedError("Authentication required");
  return { tenantId, actor: ctx.actor };
}
