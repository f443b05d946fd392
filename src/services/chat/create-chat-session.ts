import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError } from "../../lib/errors";
import { isUuid } from "../../lib/ids";
import type { ServiceContext } from "../context";
import { getTenantPublicProfile } from "../tenants/get-tenant-public-profile";
import type { ChatChannel, ChatCustomer, ChatMessageView, ChatSessionView } from "./chat-model";
import { customerView } from "./chat-model";
import { sessionStub, unwrap } from "./chat-stub";
import { signChatToken } from "./chat-token";

export interface CreateChatSessionInput {
  /** The seller: tenant slug (what a widget is configured with) or tenant id. */
  tenant: string;
  channel: ChatChannel;
  customer: ChatCustomer;
  /** The customer's first message, sent as soon as the session exists. */
  message?: { body: string; clientMessageId?: string | undefined } | undefined;
}

export interface CreatedChatSession {
  session: ChatSessionView;
  /** The customer's chat token: this session only, `expiresIn` seconds. */
  token: string;
  tokenType: "Bearer";
  expiresIn: number;
  expiresAt: string;
  message: ChatMessageView | null;
}

/**
 * A customer starts a chat with a seller. The chat_sessions row is written first (one round trip; with a
 * tenant id the same statement checks the tenant is active), which fixes the session's tenant; then the
 * session's object is started with that tenant, and the customer gets a token for this one session.
 */
export async function createChatSession({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateChatSessionInput;
}): Promise<CreatedChatSession> {
  const tenantId = await activeTenantId(ctx, input.tenant);
  const sessionId = crypto.randomUUID();
  const [inserted] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{ status: string | null; started_at: string | null }>(sql`
      with t as (select status from tenants where id = ${tenantId}),
           ins as (
             insert into chat_sessions (id, tenant_id, status, channel, customer)
             select ${sessionId}, ${tenantId}, 'bot', ${input.channel}, ${JSON.stringify(input.customer)}::jsonb
               from t where t.status = 'active'
             returning started_at)
      select (select status from t) as status, (select started_at from ins) as started_at`),
  ]);
  const row = inserted.rows[0];
  if (!row?.status) throw new NotFoundError("Tenant not found");
  if (!row.started_at) throw new ForbiddenError("This tenant is suspended");
  ctx.tenantId = tenantId;
  const stub = sessionStub(sessionId);
  let session: ChatSessionView;
  try {
    session = unwrap(
      await stub.start({
        tenantId,
        sessionId,
        channel: input.channel,
        customer: input.customer,
        startedAt: new Date(row.started_at).toISOString(),
      }),
    );
  } catch (error) {
    // A row without a conversation behind it would show as live forever: close it now.
    await tenantBatch(ctx.db.http, tenantId, (db) => [
      db.execute(sql`
        update chat_sessions set status = 'closed', close_reason = 'failed_to_start', closed_at = now(),
               archived_at = now(), updated_at = now()
         where tenant_id = ${tenantId} and id = ${sessionId}`),
    ]).catch((cleanup: unknown) => ctx.logger.error("chat start cleanup failed", { error: String(cleanup) }));
    throw error;
  }
  const token = await signChatToken(ctx, { tenantId, sessionId });
  let message: ChatMessageView | null = null;
  if (input.message) {
    message = unwrap(
      await stub.post({
        tenantId,
        participant: { kind: "customer" },
        body: input.message.body,
        clientMessageId: input.message.clientMessageId ?? null,
      }),
    ).message;
    session = { ...session, messageCount: session.messageCount + 1, lastMessageAt: message.createdAt };
  }
  return {
    session: customerView(session),
    token: token.token,
    tokenType: "Bearer",
    expiresIn: token.expiresIn,
    expiresAt: token.expiresAt,
    message,
  };
}

/** A tenant id as given (the insert checks it), or a slug resolved through the cached public profile. */
async function activeTenantId(ctx: ServiceContext, tenant: string): Promise<string> {
  if (isUuid(tenant)) return tenant.toLowerCase();
  const profile = await getTenantPublicProfile({ ctx, input: { slug: tenant } });
  if (profile.status !== "active") throw new ForbiddenError("This tenant is suspended");
  return profile.id;
}
