import { sql } from "drizzle-orm";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import {
  type EndpointSecrets,
  newStandardWebhookSecret,
  openEndpointSecrets,
  sealEndpointSecrets,
} from "./endpoint-secrets";

/** A generic (Standard Webhooks) endpoint as the API shows it: never its secrets after creation/rotation. */
export interface WebhookEndpointView {
  id: string;
  name: string;
  description: string | null;
  connectionId: string | null;
  enabled: boolean;
  /** Where the partner delivers (null when PUBLIC_BASE_URL is not configured). */
  url: string | null;
  path: string;
  rotation: { previousSecretExpiresAt: string } | null;
  createdAt: string;
  updatedAt: string;
}

/** Returned once, when the secret is created or rotated: give it to the partner, it is not shown again. */
export interface WebhookEndpointWithSecret extends WebhookEndpointView {
  secret: string;
}

interface EndpointRow extends Record<string, unknown> {
  id: string;
  name: string;
  description: string | null;
  connection_id: string | null;
  enabled: boolean;
  previous_secret_expires_at: string | null;
  created_at: string;
  updated_at: string;
}

const COLUMNS = sql.raw(
  "id, name, description, connection_id, enabled, previous_secret_expires_at, created_at, updated_at",
);

/** Standard Webhooks secrets are 24–64 random bytes, `whsec_` + base64. */
const SECRET = /^whsec_[A-Za-z0-9+/]{32,88}={0,2}$/;

function toView(ctx: ServiceContext, row: EndpointRow): WebhookEndpointView {
  const path = `/webhooks/generic/${row.id}`;
  const expires = row.previous_secret_expires_at;
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    connectionId: row.connection_id,
    enabled: row.enabled,
    url: ctx.config.publicBaseUrl ? `${ctx.config.publicBaseUrl}${path}` : null,
    path,
    rotation:
      expires !== null && Date.parse(expires) > Date.now()
        ? { previousSecretExpiresAt: new Date(expires).toISOString() }
        : null,
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

function adminOf(ctx: ServiceContext): string {
  const { tenantId, principal } = callerOf(ctx);
  requirePermissionOf(principal, "webhooks:admin");
  return tenantId;
}

function connectionError(error: unknown): never {
  const pg = pgErrorOf(error);
  if (pg?.code === PG_FOREIGN_KEY_VIOLATION) {
    throw new ValidationError("Unknown connection", { connectionId: ["No such connection in this tenant"] });
  }
  throw error;
}

export async function createWebhookEndpoint({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: {
    name: string;
    description?: string | null;
    connectionId?: string | null;
    secret?: string | undefined;
  };
}): Promise<WebhookEndpointWithSecret> {
  const t = adminOf(ctx);
  if (input.secret !== undefined && !SECRET.test(input.secret)) {
    throw new ValidationError("Invalid secret", {
      secret: ["Use the Standard Webhooks form: whsec_ followed by base64 of 24 to 64 random bytes"],
    });
  }
  const id = crypto.randomUUID();
  const secret = input.secret ?? newStandardWebhookSecret();
  const secrets: EndpointSecrets = { current: secret, previous: null };
  const sealed = await sealEndpointSecrets(ctx.config, { tenantId: t, endpointId: id, secrets });
  try {
    const [result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<EndpointRow>(sql`
        insert into webhook_endpoints (id, tenant_id, name, description, connection_id, secrets_sealed)
        values (${id}, ${t}, ${input.name.trim()}, ${input.description ?? null}, ${input.connectionId ?? null}::uuid, ${sealed})
        returning ${COLUMNS}`),
    ]);
    const row = result.rows[0];
    if (!row) throw new Error("insert returned no row");
    ctx.logger.info("webhook endpoint created", { tenantId: t, endpointId: id });
    return { ...toView(ctx, row), secret };
  } catch (error) {
    return connectionError(error);
  }
}

export async function listWebhookEndpoints({ ctx }: { ctx: ServiceContext }): Promise<WebhookEndpointView[]> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "webhooks:read");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<EndpointRow>(sql`
      select ${COLUMNS} from webhook_endpoints where tenant_id = ${t} order by created_at desc, id desc limit 500`),
  ]);
  return result.rows.map((row) => toView(ctx, row));
}

export async function updateWebhookEndpoint({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: {
    id: string;
    name?: string | undefined;
    description?: string | null | undefined;
    enabled?: boolean | undefined;
  };
}): Promise<WebhookEndpointView> {
  const t = adminOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<EndpointRow>(sql`
      update webhook_endpoints
         set name = coalesce(${input.name?.trim() ?? null}, name),
             description = case when ${input.description !== undefined} then ${input.description ?? null} else description end,
             enabled = coalesce(${input.enabled ?? null}::boolean, enabled),
             updated_at = now()
       where tenant_id = ${t} and id = ${input.id}
      returning ${COLUMNS}`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Webhook endpoint not found");
  return toView(ctx, row);
}

export async function deleteWebhookEndpoint({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<{ deleted: true }> {
  const t = adminOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ id: string }>(
      sql`delete from webhook_endpoints where tenant_id = ${t} and id = ${input.id} returning id`,
    ),
  ]);
  if (!result.rows[0]) throw new NotFoundError("Webhook endpoint not found");
  ctx.logger.info("webhook endpoint deleted", { tenantId: t, endpointId: input.id });
  return { deleted: true };
}

const DEFAULT_GRACE_HOURS = 24;

/**
 * A new signing secret; the current one keeps verifying for `graceHours` (default 24, 0 = at once), so the
 * partner can switch without losing deliveries. Reading the old secret and sealing both happen in the
 * service; the row update checks the secrets did not change meanwhile.
 */
export async function rotateWebhookEndpointSecret({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; graceHours?: number | undefined; secret?: string | undefined };
}): Promise<WebhookEndpointWithSecret> {
  const t = adminOf(ctx);
  if (input.secret !== undefined && !SECRET.test(input.secret)) {
    throw new ValidationError("Invalid secret", {
      secret: ["Use the Standard Webhooks form: whsec_ followed by base64 of 24 to 64 random bytes"],
    });
  }
  const [current] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ secrets_sealed: string }>(sql`
      select secrets_sealed from webhook_endpoints where tenant_id = ${t} and id = ${input.id}`),
  ]);
  const sealedBefore = current.rows[0]?.secrets_sealed;
  if (sealedBefore === undefined) throw new NotFoundError("Webhook endpoint not found");
  const before = await openEndpointSecrets(ctx.config, {
    tenantId: t,
    endpointId: input.id,
    sealed: sealedBefore,
  });
  const secret = input.secret ?? newStandardWebhookSecret();
  const graceHours = input.graceHours ?? DEFAULT_GRACE_HOURS;
  const secrets: EndpointSecrets = { current: secret, previous: graceHours > 0 ? before.current : null };
  const sealed = await sealEndpointSecrets(ctx.config, { tenantId: t, endpointId: input.id, secrets });
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<EndpointRow>(sql`
      update webhook_endpoints
         set secrets_sealed = ${sealed},
             previous_secret_expires_at = case when ${graceHours} > 0
                                               then now() + make_interval(hours => ${graceHours}) end,
             updated_at = now()
       where tenant_id = ${t} and id = ${input.id} and secrets_sealed = ${sealedBefore}
      returning ${COLUMNS}`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Webhook endpoint not found, or rotated concurrently; try again");
  ctx.logger.info("webhook endpoint secret rotated", { tenantId: t, endpointId: input.id, graceHours });
  return { ...toView(ctx, row), secret };
}
