import { UnauthorizedError } from "../../lib/errors";
import { type AuditAuthor, auditAuthorOf } from "../audit/audit-entry";
import type { Permission } from "../auth/permissions";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";

/**
 * Who may write tickets: a signed-in user or API key holding `permission`, or Tradewind itself acting for
 * a tenant (`ctx.actor` of type system with `ctx.tenantId` set — the chat handover, queue consumers), which
 * has no principal and is trusted because only server code can build such a context.
 */
export function ticketCaller(
  ctx: ServiceContext,
  permission: Permission,
  requestId?: string | null,
): AuditAuthor & { userId: string | null } {
  const principal = ctx.principal;
  if (principal) {
    requirePermissionOf(principal, permission);
    if (principal.kind === "applicant") throw new UnauthorizedError("Authentication required");
    return {
      ...auditAuthorOf(ctx, principal.tenantId, requestId),
      userId: principal.kind === "user" ? principal.userId : null,
    };
  }
  if (ctx.actor?.type === "system" && ctx.tenantId) {
    return { ...auditAuthorOf(ctx, ctx.tenantId, requestId), userId: null };
  }
  throw new UnauthorizedError("Authentication required");
}
