import { sql } from "drizzle-orm";
import { APP_ROLE } from "../../db/tenant";
import { WebhookRejectedError } from "../../lib/errors";
import { isUuid } from "../../lib/ids";
import {
  verify17TrackWebhook,
  verifyShopifyWebhook,
  verifyStandardWebhook,
  verifyTikTokWebhook,
} from "../../lib/webhook-signatures";
import { loadConnectionForWebhook } from "../connections/load-connection";
import type { ServiceContext } from "../context";
import { type EndpointSecrets, openEndpointSecrets } from "./endpoint-secrets";
import { boundedId, type RawBody, secretLabel, type VerifiedWebhook } from "./webhook-model";

/** Read-only view of the request headers (a `Headers` in the Worker). */
export interface HeaderSource {
  get(name: string): string | null;
}

const decoder = new TextDecoder();

function pick(headers: HeaderSource, names: readonly string[]): Record<string, string> {
  const kept: Record<string, string> = {};
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null) kept[name] = value.slice(0, 500);
  }
  return kept;
}

/** Seconds or an ISO time → epoch ms; null when absent or unreadable. */
function instantOf(value: string | number | null | undefined): number | null {
  if (value === null || value === undefined || value === "") return null;
  if (typeof value === "number" || /^\d{9,11}$/.test(value)) return Number(value) * 1000;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : ms;
}

function assertFresh(ctx: ServiceContext, instantMs: number | null, required: boolean): void {
  if (instantMs === null) {
    if (required) throw new WebhookRejectedError("stale");
    return;
  }
  if (Math.abs(Date.now() - instantMs) > ctx.config.webhooks.toleranceSeconds * 1000) {
    throw new WebhookRejectedError("stale");
  }
}

function parseJsonObject(bytes: Uint8Array<ArrayBuffer>): Record<string, unknown> | null {
  try {
    const value: unknown = JSON.parse(decoder.decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : null;
  } catch {
    return null;
  }
}

const SHOPIFY_HEADERS = [
  "x-shopify-topic",
  "x-shopify-shop-domain",
  "x-shopify-webhook-id",
  "x-shopify-event-id",
  "x-shopify-triggered-at",
  "x-shopify-api-version",
  "content-type",
] as const;

/**
 * Shopify: HMAC of the raw body with the app's client secret (or the one being rotated out), checked
 * before anything else is read; then the Triggered-At window; the webhook id is the event id.
 */
export async function verifyShopify(
  ctx: ServiceContext,
  connectionId: string,
  headers: HeaderSource,
  body: RawBody,
): Promise<VerifiedWebhook> {
  const connection = isUuid(connectionId) ? await loadConnectionForWebhook(ctx, connectionId) : null;
  if (connection?.provider !== "shopify") throw new WebhookRejectedError("signature");
  const secrets = [connection.credentials.clientSecret, connection.credentials.previousClientSecret].filter(
    (s): s is string => typeof s === "string",
  );
  const check = await verifyShopifyWebhook(body.bytes, headers.get("x-shopify-hmac-sha256"), secrets);
  if (!check.ok) throw new WebhookRejectedError("signature");
  const triggeredAtMs = instantOf(headers.get("x-shopify-triggered-at"));
  assertFresh(ctx, triggeredAtMs, false);
  const webhookId = headers.get("x-shopify-webhook-id");
  const providerEventId = boundedId(webhookId ?? `sha256:${body.sha256}`);
  const topic = headers.get("x-shopify-topic") ?? "unknown";
  const shopDomain = headers.get("x-shopify-shop-domain");
  let malformed: string | null = null;
  // The header is not signed, but an app secret can be shared by many shops (a public app): a delivery
  // must at least say it is for this connection's shop, or it is kept as a dead letter, never applied.
  if (shopDomain === null) {
    malformed = "Delivery has no X-Shopify-Shop-Domain";
  } else if (shopDomain.toLowerCase() !== connection.account) {
    malformed = `Delivered for shop ${shopDomain.slice(0, 100)}, but this connection is ${connection.account}`;
  } else if (parseJsonObject(body.bytes) === null) {
    malformed = "Body is not a JSON object";
  }
  return {
    tenantId: connection.tenantId,
    source: "shopify",
    connectionId: connection.id,
    endpointId: null,
    providerEventId,
    dedupeKey: `shopify:${connection.id}:${providerEventId}`,
    topic: boundedId(topic),
    triggeredAt: triggeredAtMs === null ? null : new Date(triggeredAtMs).toISOString(),
    headers: pick(headers, SHOPIFY_HEADERS),
    verification: { scheme: "shopify-hmac-sha256", secret: secretLabel(check.secretIndex) },
    malformed,
  };
}

/**
 * TikTok Shop: `Authorization` = HMAC of app key + raw body with the app secret; then the payload's
 * `timestamp` window, its `shop_id` against the connection, and `tts_notification_id` as the event id.
 */
export async function verifyTikTok(
  ctx: ServiceContext,
  connectionId: string,
  headers: HeaderSource,
  body: RawBody,
): Promise<VerifiedWebhook> {
  const connection = isUuid(connectionId) ? await loadConnectionForWebhook(ctx, connectionId) : null;
  if (connection?.provider !== "tiktok") throw new WebhookRejectedError("signature");
  const { appKey, appSecret, previousAppSecret } = connection.credentials;
  const secrets = [appSecret, previousAppSecret].filter((s): s is string => typeof s === "string");
  const check = await verifyTikTokWebhook(body.bytes, headers.get("authorization"), appKey, secrets);
  if (!check.ok) throw new WebhookRejectedError("signature");
  const payload = parseJsonObject(body.bytes);
  const timestamp = payload?.timestamp;
  const triggeredAtMs =
    typeof timestamp === "number" || typeof timestamp === "string" ? instantOf(timestamp) : null;
  // The timestamp is inside the signed body: a missing one from a valid signer is a malformed payload.
  if (triggeredAtMs !== null) assertFresh(ctx, triggeredAtMs, true);
  const notificationId = payload?.tts_notification_id;
  const providerEventId = boundedId(
    typeof notificationId === "string" && notificationId !== "" ? notificationId : `sha256:${body.sha256}`,
  );
  let malformed: string | null = null;
  if (payload === null) malformed = "Body is not a JSON object";
  else if (typeof payload.type !== "number") malformed = "Notification has no numeric `type`";
  else if (triggeredAtMs === null) malformed = "Notification has no `timestamp`";
  else if (payload.shop_id === undefined) malformed = "Notification has no `shop_id`";
  else if (String(payload.shop_id) !== connection.account) {
    malformed = `Notification is for shop ${String(payload.shop_id).slice(0, 40)}, not ${connection.account}`;
  }
  return {
    tenantId: connection.tenantId,
    source: "tiktok",
    connectionId: connection.id,
    endpointId: null,
    providerEventId,
    dedupeKey: `tiktok:${connection.id}:${providerEventId}`,
    topic: typeof payload?.type === "number" ? `type:${payload.type}` : "unknown",
    triggeredAt: triggeredAtMs === null ? null : new Date(triggeredAtMs).toISOString(),
    headers: pick(headers, ["content-type", "user-agent"]),
    verification: { scheme: "tiktok-hmac-sha256", secret: secretLabel(check.secretIndex) },
    malformed,
  };
}

/**
 * 17track: `sign` = SHA-256 of body + "/" + security key (the platform's account, `TRACK17_SECURITY_KEYS`).
 * The push names a parcel, not a tenant: the tenant is the registration `tag` when it is one of ours,
 * else every active tenant that shipped or tracks that number (each gets its own copy). No tenant = none.
 */
export async function verify17Track(
  ctx: ServiceContext,
  headers: HeaderSource,
  body: RawBody,
): Promise<VerifiedWebhook[]> {
  const keys = ctx.config.webhooks.track17Keys;
  const check = await verify17TrackWebhook(body.bytes, headers.get("sign"), keys);
  if (!check.ok) throw new WebhookRejectedError("signature");
  const payload = parseJsonObject(body.bytes);
  const data = payload?.data;
  const parcel = typeof data === "object" && data !== null ? (data as Record<string, unknown>) : null;
  const number = typeof parcel?.number === "string" ? parcel.number.trim() : "";
  const tag = typeof parcel?.tag === "string" ? parcel.tag.trim() : "";
  const event = typeof payload?.event === "string" ? payload.event : "unknown";
  const tenants = await tenantsForParcel(ctx, tag, number);
  return tenants.map((tenantId) => ({
    tenantId,
    source: "17track" as const,
    connectionId: null,
    endpointId: null,
    providerEventId: `sha256:${body.sha256}`,
    dedupeKey: `17track:${body.sha256}`,
    topic: boundedId(event),
    triggeredAt: null,
    headers: pick(headers, ["content-type", "user-agent"]),
    verification: { scheme: "17track-sha256", secret: secretLabel(check.secretIndex) },
    malformed: number === "" ? "Push has no `data.number`" : null,
  }));
}

async function tenantsForParcel(ctx: ServiceContext, tag: string, number: string): Promise<string[]> {
  const result = await ctx.db.http.execute<{ tenant_id: string }>(
    sql`select tenant_id from parcel_tenants(${number}, ${tag})`,
  );
  return result.rows.map((r) => r.tenant_id);
}

const STANDARD_HEADERS = ["webhook-id", "webhook-timestamp", "content-type", "user-agent"] as const;

/**
 * Standard Webhooks (generic partners): `webhook-signature` over id.timestamp.body with the endpoint's
 * secret(s); the timestamp window is mandatory (it is signed, so it cannot be refreshed by a replayer).
 */
export async function verifyGeneric(
  ctx: ServiceContext,
  endpointId: string,
  headers: HeaderSource,
  body: RawBody,
): Promise<VerifiedWebhook> {
  const endpoint = isUuid(endpointId) ? await loadEndpointForWebhook(ctx, endpointId) : null;
  if (!endpoint?.enabled) throw new WebhookRejectedError("signature");
  const id = headers.get("webhook-id");
  const timestamp = headers.get("webhook-timestamp");
  if (!id || !timestamp || !/^\d{1,12}$/.test(timestamp)) throw new WebhookRejectedError("signature");
  const check = await verifyStandardWebhook(
    { rawBody: body.bytes, id, timestamp, signatureHeader: headers.get("webhook-signature") },
    endpoint.secrets,
  );
  if (!check.ok) throw new WebhookRejectedError("signature");
  const triggeredAtMs = Number(timestamp) * 1000;
  assertFresh(ctx, triggeredAtMs, true);
  const payload = parseJsonObject(body.bytes);
  const providerEventId = boundedId(id);
  return {
    tenantId: endpoint.tenantId,
    source: "generic",
    connectionId: endpoint.connectionId,
    endpointId: endpoint.id,
    providerEventId,
    dedupeKey: `generic:${endpoint.id}:${providerEventId}`,
    topic: typeof payload?.type === "string" && payload.type !== "" ? boundedId(payload.type) : "unknown",
    triggeredAt: new Date(triggeredAtMs).toISOString(),
    headers: pick(headers, STANDARD_HEADERS),
    verification: { scheme: "standard-webhooks-v1", secret: secretLabel(check.secretIndex) },
    malformed: payload === null ? "Body is not a JSON object" : null,
  };
}

interface EndpointRow extends Record<string, unknown> {
  id: string;
  tenant_id: string;
  connection_id: string | null;
  enabled: boolean;
  secrets_sealed: string;
  previous_secret_expires_at: string | null;
}

/** Like `loadConnectionForWebhook`: tenant found inside the context statement, row read under RLS, one round trip. */
async function loadEndpointForWebhook(
  ctx: ServiceContext,
  endpointId: string,
): Promise<{
  id: string;
  tenantId: string;
  connectionId: string | null;
  enabled: boolean;
  secrets: string[];
} | null> {
  const db = ctx.db.http;
  const [, result] = await db.batch([
    db.execute(sql`
      select set_config('app.tenant_id', coalesce(webhook_source_tenant('endpoint', ${endpointId}::uuid)::text, ''), true),
             set_config('role', ${APP_ROLE}, true)`),
    db.execute<EndpointRow>(sql`
      select id, tenant_id, connection_id, enabled, secrets_sealed, previous_secret_expires_at
        from webhook_endpoints where tenant_id = app_current_tenant() and id = ${endpointId}::uuid`),
  ]);
  const row = result.rows[0];
  if (!row) return null;
  let secrets: EndpointSecrets;
  try {
    secrets = await openEndpointSecrets(ctx.config, {
      tenantId: row.tenant_id,
      endpointId: row.id,
      sealed: row.secrets_sealed,
    });
  } catch {
    ctx.logger.error("webhook endpoint secrets cannot be opened", {
      endpointId: row.id,
      tenantId: row.tenant_id,
    });
    return null;
  }
  const previousValid =
    secrets.previous !== null &&
    row.previous_secret_expires_at !== null &&
    Date.parse(row.previous_secret_expires_at) > Date.now();
  return {
    id: row.id,
    tenantId: row.tenant_id,
    connectionId: row.connection_id,
    enabled: row.enabled,
    secrets: previousValid && secrets.previous ? [secrets.current, secrets.previous] : [secrets.current],
  };
}
