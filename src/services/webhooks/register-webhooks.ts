import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { UpstreamError } from "../../lib/errors";
import type { ChannelPullMessage } from "../../queues/hub-messages";
import { type LoadedConnection, loadConnectionForSync } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import { channelAdapterFor } from "../sync/adapters";
import { SHOPIFY_WEBHOOK_TOPICS } from "./webhook-model";

/** Where a connection's channel delivers: this Worker's receiver for it. */
export function webhookCallbackUrl(
  publicBaseUrl: string,
  connection: { provider: string; id: string },
): string {
  return `${publicBaseUrl}/webhooks/${connection.provider}/${connection.id}`;
}

export type WebhookState =
  | { status: "registered"; callbackUrl: string; topics: string[]; syncedAt: string }
  | { status: "not_registered"; reason: string; syncedAt: string }
  | { status: "failed"; callbackUrl: string; error: string; syncedAt: string };

async function saveState(
  ctx: ServiceContext,
  connection: LoadedConnection,
  state: WebhookState,
): Promise<void> {
  await tenantBatch(ctx.db.http, connection.tenantId, (db) => [
    db.execute(sql`
      update connections set webhook_state = ${JSON.stringify(state)}::jsonb
       where tenant_id = ${connection.tenantId} and id = ${connection.id}`),
  ]);
}

/**
 * Where the last sync left (or may have left) subscriptions at the channel: the URL they were registered
 * at (PUBLIC_BASE_URL may have changed since); null when there are none to take down.
 */
async function registeredCallback(
  ctx: ServiceContext,
  input: { tenantId: string; connectionId: string },
): Promise<string | null> {
  const [previous] = await tenantBatch(ctx.db.http, input.tenantId, (db) => [
    db.execute<{ status: string | null; callback_url: string | null }>(sql`
      select webhook_state->>'status' as status, webhook_state->>'callbackUrl' as callback_url
        from connections where tenant_id = ${input.tenantId} and id = ${input.connectionId}`),
  ]);
  const row = previous.rows[0];
  if (!row || !["registered", "failed"].includes(row.status ?? "")) return null;
  return row.callback_url;
}

/** Why a connection should have no subscriptions right now (null = it should have them). */
function reasonNotToRegister(ctx: ServiceContext, connection: LoadedConnection): string | null {
  if (connection.provider !== "shopify")
    return `${connection.provider} webhooks are configured in its developer console`;
  if (!ctx.config.publicBaseUrl) return "PUBLIC_BASE_URL is not configured";
  if (!connection.credentials.clientSecret) return "no clientSecret: deliveries could not be verified";
  if (!connection.enabled) return "the connection is disabled";
  return null;
}

/**
 * Makes the channel's webhook subscriptions for this connection what they should be: Shopify's topics
 * pointed at this connection's receiver when it can verify them (client secret set, enabled, a public URL),
 * none otherwise. Idempotent at the channel (re-saving a connection never duplicates a subscription) and
 * recorded on the connection (`webhook_state`). Transient channel failures are thrown so the queue retries.
 */
export async function syncConnectionWebhooks({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; connectionId: string };
}): Promise<WebhookState> {
  const connection = await loadConnectionForSync({ ctx, input });
  const now = new Date().toISOString();
  const reason = reasonNotToRegister(ctx, connection);
  const adapter = connection.kind === "channel" ? channelAdapterFor(ctx, connection) : null;
  if (reason !== null) {
    // Subscriptions registered earlier (before a disable, or a removed secret) are taken down; a
    // connection that never had any costs the channel no call.
    const registered = await registeredCallback(ctx, {
      tenantId: connection.tenantId,
      connectionId: connection.id,
    });
    if (registered !== null && adapter?.removeWebhookSubscriptions) {
      await adapter.removeWebhookSubscriptions({ callbackUrl: registered });
    }
    const state: WebhookState = { status: "not_registered", reason, syncedAt: now };
    await saveState(ctx, connection, state);
    return state;
  }
  const callbackUrl = webhookCallbackUrl(ctx.config.publicBaseUrl ?? "", connection);
  if (!adapter?.syncWebhookSubscriptions) {
    const state: WebhookState = {
      status: "not_registered",
      reason: "the channel has no subscription API",
      syncedAt: now,
    };
    await saveState(ctx, connection, state);
    return state;
  }
  try {
    const result = await adapter.syncWebhookSubscriptions({ callbackUrl, topics: SHOPIFY_WEBHOOK_TOPICS });
    const state: WebhookState = {
      status: "registered",
      callbackUrl,
      topics: [...SHOPIFY_WEBHOOK_TOPICS],
      syncedAt: now,
    };
    await saveState(ctx, connection, state);
    ctx.logger.info("webhook subscriptions synced", {
      tenantId: connection.tenantId,
      connectionId: connection.id,
      created: result.created.length,
      updated: result.updated.length,
      removed: result.removed.length,
    });
    return state;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await saveState(ctx, connection, {
      status: "failed",
      callbackUrl,
      error: message.slice(0, 500),
      syncedAt: now,
    });
    if (error instanceof UpstreamError && !error.retryable)
      return { status: "failed", callbackUrl, error: message, syncedAt: now };
    throw error;
  }
}

/** Asks for the subscriptions of a channel connection to be synced (after create or update). */
export async function enqueueWebhookSync(
  ctx: ServiceContext,
  input: { tenantId: string; connectionId: string; provider: string },
): Promise<void> {
  if (input.provider !== "shopify" || !ctx.config.publicBaseUrl) return;
  const message: ChannelPullMessage = {
    type: "webhooks.sync",
    tenantId: input.tenantId,
    connectionId: input.connectionId,
  };
  try {
    await ctx.queues.channelPull.send(message);
  } catch (error) {
    ctx.logger.error("webhook subscription sync not enqueued; save the connection again to retry", {
      connectionId: input.connectionId,
      error: String(error),
    });
  }
}

/**
 * Before a channel connection is deleted: its subscriptions are removed at the channel, while its
 * credentials still exist. Best effort within the request: a failure is logged and the delete goes on
 * (Shopify drops subscriptions whose deliveries keep failing; the receiver refuses them meanwhile).
 */
export async function removeConnectionWebhooks(
  ctx: ServiceContext,
  input: { tenantId: string; connectionId: string },
): Promise<{ removed: number } | null> {
  try {
    const callbackUrl = await registeredCallback(ctx, input);
    if (callbackUrl === null) return null;
    const connection = await loadConnectionForSync({ ctx, input });
    if (connection.provider !== "shopify") return null;
    const adapter = channelAdapterFor(ctx, connection);
    if (!adapter.removeWebhookSubscriptions) return null;
    const result = await adapter.removeWebhookSubscriptions({ callbackUrl });
    return { removed: result.removed.length };
  } catch (error) {
    ctx.logger.warn("webhook subscriptions not removed before the connection was deleted", {
      connectionId: input.connectionId,
      error: error instanceof Error ? error.message : String(error),
    });
    return null;
  }
}
