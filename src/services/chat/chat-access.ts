import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors";
import type { Permission } from "../auth/permissions";
import { hasPermission, requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { requireStoredChat } from "./archived-chat";

/**
 * Who may do what in a chat. Customers are authenticated by their chat token (the route binds the
 * token's tenant to the context and has checked it names the session in the path); agents are users
 * or API keys with chat:read / chat:write. Only users take part in a conversation (join, write, leave):
 * a message needs a person's name under it.
 */

/** The tenant of a customer's call: set by the chat-token authentication, never by the client. */
export function customerTenantOf(ctx: ServiceContext): string {
  if (!ctx.tenantId) throw new UnauthorizedError("Authentication required");
  return ctx.tenantId;
}

export function staffTenantOf(
  ctx: ServiceContext,
  permission: Extract<Permission, `chat:${string}`>,
): string {
  const caller = callerOf(ctx);
  requirePermissionOf(caller.principal, permission);
  return caller.tenantId;
}

export interface ChatAgent {
  tenantId: string;
  userId: string;
  name: string;
  canWrite: boolean;
}

/**
 * The signed-in user as a chat participant, with the name customers see (full name, else the part of
 * the email before the @). One Postgres round trip.
 */
export async function chatAgentOf(
  ctx: ServiceContext,
  permission: Extract<Permission, `chat:${string}`>,
  sessionId: string,
): Promise<ChatAgent> {
  const user = await chatUserOf(ctx, permission, sessionId);
  const [result] = await tenantBatch(ctx.db.http, user.tenantId, (db) => [
    db.execute<{ full_name: string; email: string | null; username: string | null }>(
      sql`select full_name, email, username from users where tenant_id = ${user.tenantId} and id = ${user.userId}`,
    ),
  ]);
  const row = result.rows[0];
  const name = row?.full_name.trim() || row?.email?.split("@")[0] || row?.username || "Agent";
  return { ...user, name };
}

/**
 * The signed-in user behind a chat action, without a round trip (no name). An API key is refused, but
 * only after the chat is found in its tenant: another tenant's chat id gets the same 404 as anywhere else.
 */
export async function chatUserOf(
  ctx: ServiceContext,
  permission: Extract<Permission, `chat:${string}`>,
  sessionId: string,
): Promise<Omit<ChatAgent, "name">> {
  const caller = callerOf(ctx);
  requirePermissionOf(caller.principal, permission);
  if (caller.userId === null) {
    await requireStoredChat(ctx, caller.tenantId, sessionId);
    throw new ForbiddenError("Only a signed-in user can take part in a chat, not an API key");
  }
  return {
    tenantId: caller.tenantId,
    userId: caller.userId,
    canWrite: hasPermission(caller.principal, "chat:write"),
  };
}
