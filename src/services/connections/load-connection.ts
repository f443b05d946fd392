import { sql } from "drizzle-orm";
import type * as z from "zod";
import { APP_ROLE, tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError, PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { type ConnectionKind, isProvider, PROVIDERS, type Provider } from "./connection-config";
import { openConnectionCredentials } from "./credentials-box";

/**
 * A connection as the sync engine needs it: settings and credentials parsed with its provider's schemas.
 * Narrowing on `provider` types both (`if (c.provider === "shopify") c.credentials.accessToken`).
 * The credentials are plaintext: keep them out of logs, errors and messages (the logger redacts a
 * `credentials` field, not a value copied elsewhere).
 */
export type LoadedConnection = {
  [P in Provider]: {
    id: string;
    tenantId: string;
    kind: (typeof PROVIDERS)[P]["kind"];
    provider: P;
    account: string;
    displayName: string;
    enabled: boolean;
    settings: z.output<(typeof PROVIDERS)[P]["settings"]>;
    /** For a channel: the ERP connection its orders are pushed to (null = store only). */
    erpConnectionId: string | null;
    credentials: z.output<(typeof PROVIDERS)[P]["credentials"]>;
  };
}[Provider];

export interface ConnectionRow extends Record<string, unknown> {
  id: string;
  tenant_id: string;
  kind: ConnectionKind;
  provider: string;
  account: string;
  display_name: string;
  enabled: boolean;
  settings: Record<string, unknown> | string;
  erp_connection_id: string | null;
  credentials_sealed: string;
}

/**
 * A request context acts for its own tenant only; queue consumers and cron (no principal) name the tenant
 * of the message they process.
 */
function assertActsFor(ctx: ServiceContext, tenantId: string): void {
  if (ctx.tenantId !== undefined && ctx.tenantId !== tenantId) {
    throw new ForbiddenError("This context acts for another tenant");
  }
}

/**
 * Loads a connection for a pull or a push, with its credentials opened. Works without a principal (queue
 * consumers), so the tenant is given explicitly; RLS still confines the read to it. Missing is a
 * NotFoundError. Stored values that no longer satisfy the provider's schema, or that cannot be opened, are
 * a PreconditionFailedError (retrying will not help; a person must re-enter them) that names no value.
 */
export async function loadConnectionForSync({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; connectionId: string };
}): Promise<LoadedConnection> {
  const { tenantId, connectionId } = input;
  assertActsFor(ctx, tenantId);
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ConnectionRow>(sql`
      select ${CONNECTION_COLUMNS} from connections where tenant_id = ${tenantId} and id = ${connectionId}`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Connection not found");
  return connectionFromRow(ctx, row);
}

/** The columns `connectionFromRow` reads, for other reads of connections (e.g. every store of a tenant). */
export const CONNECTION_COLUMNS = sql.raw(
  "id, tenant_id, kind, provider, account, display_name, enabled, settings, erp_connection_id, credentials_sealed",
);

/**
 * The connection a webhook names, found by id alone (the caller is an outside system, not a tenant): the
 * tenant is looked up by a SECURITY DEFINER function inside the tenant-context statement itself, so the
 * row is still read under RLS and the whole lookup is one round trip. Null when the id is unknown or its
 * tenant is not active.
 */
export async function loadConnectionForWebhook(
  ctx: ServiceContext,
  connectionId: string,
): Promise<LoadedConnection | null> {
  const db = ctx.db.http;
  const [, result] = await db.batch([
    db.execute(sql`
      select set_config('app.tenant_id', coalesce(webhook_source_tenant('connection', ${connectionId}::uuid)::text, ''), true),
             set_config('role', ${APP_ROLE}, true)`),
    db.execute<ConnectionRow>(sql`
      select ${CONNECTION_COLUMNS} from connections
       where tenant_id = app_current_tenant() and id = ${connectionId}::uuid`),
  ]);
  const row = result.rows[0];
  if (!row) return null;
  try {
    return await connectionFromRow(ctx, row);
  } catch (error) {
    // Credentials that no longer open or parse cannot verify anything: the sender is refused like an
    // unknown source (it retries, and a person fixes the credentials), and operators see why.
    if (error instanceof PreconditionFailedError) {
      ctx.logger.error("webhook for a connection whose credentials cannot be used", {
        tenantId: row.tenant_id,
        connectionId: row.id,
        error: error.message,
      });
      return null;
    }
    throw error;
  }
}

/** A stored row, with its settings and credentials parsed by the provider's schemas. */
export async function connectionFromRow(ctx: ServiceContext, row: ConnectionRow): Promise<LoadedConnection> {
  const connectionId = row.id;
  const provider = row.provider;
  if (!isProvider(provider)) {
    throw new PreconditionFailedError(`Provider '${provider}' is not supported by this version`, {
      details: { connectionId },
    });
  }
  const spec = PROVIDERS[provider];
  const storedSettings = typeof row.settings === "string" ? JSON.parse(row.settings) : row.settings;
  const settings = (spec.settings as z.ZodType).safeParse(storedSettings);
  if (!settings.success) {
    throw new PreconditionFailedError("The connection's stored settings are no longer valid; edit them", {
      details: { connectionId, fields: settings.error.issues.map((i) => i.path.join(".")) },
    });
  }
  // The row's own ids, as they were when sealed (an id given in capitals would not match the aad).
  const opened = await openConnectionCredentials(ctx.config.credentialsKeys, {
    tenantId: row.tenant_id,
    connectionId: row.id,
    sealed: row.credentials_sealed,
  });
  const credentials = (spec.credentials as z.ZodType).safeParse(opened);
  if (!credentials.success) {
    // Field names only: zod's messages do not carry the value, but nothing of a secret is worth the risk.
    throw new PreconditionFailedError(
      "The connection's stored credentials are no longer valid; enter them again",
      {
        details: { connectionId, fields: credentials.error.issues.map((i) => i.path.join(".")) },
      },
    );
  }
  return {
    id: row.id,
    tenantId: row.tenant_id,
    kind: row.kind,
    provider,
    account: row.account,
    displayName: row.display_name,
    enabled: row.enabled,
    settings: settings.data,
    erpConnectionId: row.erp_connection_id,
    credentials: credentials.data,
  } as LoadedConnection;
}

export interface ErpMappings {
  /** Channel SKU → ERP product code. */
  sku: Map<string, string>;
  /** Channel location / warehouse name → ERP warehouse code. */
  warehouse: Map<string, string>;
  /** Channel shipping method / carrier → ERP logistics channel code. */
  logistics: Map<string, string>;
}

/** Every mapping of an ERP connection, by kind (empty maps when it has none or does not exist). */
export async function loadErpMappings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { tenantId: string; erpConnectionId: string };
}): Promise<ErpMappings> {
  const { tenantId, erpConnectionId } = input;
  assertActsFor(ctx, tenantId);
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{ kind: keyof ErpMappings; source: string; target: string }>(sql`
      select kind, source, target from erp_mappings
       where tenant_id = ${tenantId} and erp_connection_id = ${erpConnectionId}`),
  ]);
  const mappings: ErpMappings = { sku: new Map(), warehouse: new Map(), logistics: new Map() };
  for (const row of result.rows) mappings[row.kind]?.set(row.source, row.target);
  return mappings;
}
