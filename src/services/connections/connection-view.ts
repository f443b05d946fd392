import { type SQL, sql } from "drizzle-orm";
import { PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import { ConflictError, ValidationError } from "../../lib/errors";
import type { Permission } from "../auth/permissions";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { type Caller, callerOf, isoOf, isoOrNull } from "../users/caller";
import type { ChannelSettings, Provider } from "./connection-config";
import { type ConnectionKind, PROVIDERS, streamsOf } from "./connection-config";

export type StreamResource = "orders" | "inventory" | "shipments" | "push_backlog";

export interface SyncStreamView {
  resource: StreamResource;
  intervalSeconds: number;
  nextDueAt: string;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  /** A consumer holds the stream's lease right now (a run is in progress). */
  leased: boolean;
}

/** What the API shows of a connection: everything but its credentials, of which only the key id. */
export interface ConnectionView {
  id: string;
  kind: ConnectionKind;
  provider: string;
  account: string;
  displayName: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  erpConnectionId: string | null;
  credentials: { set: true; keyId: string };
  streams: SyncStreamView[];
  /**
   * For a channel: its webhook receiver and the state of its subscriptions at the channel as last synced
   * (`registered`, `not_registered` with a reason, `failed` with the error); null for an ERP.
   */
  webhooks: { receiverPath: string; state: Record<string, unknown> | null } | null;
  createdAt: string;
  updatedAt: string;
}

interface StreamJson {
  resource: StreamResource;
  intervalSeconds: number;
  nextDueAt: string;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  leased: boolean;
}

export interface ConnectionViewRow extends Record<string, unknown> {
  id: string;
  kind: ConnectionKind;
  provider: string;
  account: string;
  display_name: string;
  enabled: boolean;
  settings: Record<string, unknown> | string;
  erp_connection_id: string | null;
  credentials_key_id: string;
  streams: StreamJson[] | string;
  webhook_state: Record<string, unknown> | string | null;
  created_at: string | Date;
  updated_at: string | Date;
}

/**
 * The connection with its streams in one row. Only the key id of the sealed credentials is selected (the
 * second field of `v1.<kid>.<iv>.<ciphertext>`), so not even the ciphertext leaves the database.
 */
export const CONNECTION_VIEW_COLUMNS: SQL = sql`
  c.id, c.kind, c.provider, c.account, c.display_name, c.enabled, c.settings, c.erp_connection_id,
  split_part(c.credentials_sealed, '.', 2) as credentials_key_id, c.webhook_state, c.created_at, c.updated_at,
  coalesce((
    select json_agg(json_build_object(
             'resource', s.resource,
             'intervalSeconds', s.interval_seconds,
             'nextDueAt', s.next_due_at,
             'lastRunAt', s.last_run_at,
             'lastSuccessAt', s.last_success_at,
             'lastError', s.last_error,
             'consecutiveFailures', s.consecutive_failures,
             'leased', coalesce(s.lease_until > now(), false))
           order by array_position(array['orders', 'inventory', 'shipments', 'push_backlog'], s.resource))
      from sync_streams s
     where s.tenant_id = c.tenant_id and s.connection_id = c.id), '[]'::json) as streams`;

export function selectConnectionView(tenantId: string, connectionId: string): SQL {
  return sql`select ${CONNECTION_VIEW_COLUMNS} from connections c
              where c.tenant_id = ${tenantId} and c.id = ${connectionId}`;
}

function jsonOf<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

export function toConnectionView(row: ConnectionViewRow): ConnectionView {
  return {
    id: row.id,
    kind: row.kind,
    provider: row.provider,
    account: row.account,
    displayName: row.display_name,
    enabled: row.enabled,
    settings: jsonOf(row.settings),
    erpConnectionId: row.erp_connection_id,
    credentials: { set: true, keyId: row.credentials_key_id },
    streams: jsonOf(row.streams).map((s) => ({
      resource: s.resource,
      intervalSeconds: Number(s.intervalSeconds),
      nextDueAt: isoOf(s.nextDueAt),
      lastRunAt: isoOrNull(s.lastRunAt),
      lastSuccessAt: isoOrNull(s.lastSuccessAt),
      lastError: s.lastError,
      consecutiveFailures: Number(s.consecutiveFailures),
      leased: s.leased,
    })),
    webhooks:
      row.kind === "channel"
        ? {
            receiverPath: `/webhooks/${row.provider}/${row.id}`,
            state: row.webhook_state === null ? null : jsonOf(row.webhook_state),
          }
        : null,
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

/** A signed-in user or API key of a tenant holding `permission` (authorization is the first line of a verb). */
export function syncCallerOf(ctx: ServiceContext, permission: Extract<Permission, `sync:${string}`>): Caller {
  const caller = callerOf(ctx);
  requirePermissionOf(caller.principal, permission);
  return caller;
}

const DEFAULT_BACKFILL_DAYS = 30;

export interface PlannedStream {
  resource: StreamResource;
  interval_seconds: number;
  /** Used only when the stream is new; an existing stream keeps its checkpoint. */
  checkpoint: Record<string, unknown>;
}

/**
 * The streams a connection's settings ask for, each with the checkpoint a new stream starts from: a
 * channel's orders from `backfillFrom`, else from 30 days before now; every other stream from nothing.
 */
export function plannedStreams(
  provider: Provider,
  /** The provider's parsed settings (see `streamsOf`). */
  settings: unknown,
  now: Date,
): PlannedStream[] {
  return streamsOf(provider, settings).map(({ resource, intervalSeconds }) => {
    let checkpoint: Record<string, unknown> = {};
    if (PROVIDERS[provider].kind === "channel" && resource === "orders") {
      const backfillFrom = (settings as ChannelSettings).backfillFrom;
      const since = backfillFrom
        ? new Date(backfillFrom)
        : new Date(now.getTime() - DEFAULT_BACKFILL_DAYS * 24 * 60 * 60 * 1000);
      checkpoint = { updatedSince: since.toISOString() };
    }
    return { resource, interval_seconds: intervalSeconds, checkpoint };
  });
}

/** The 422 for an `erpConnectionId` that is not an ERP connection of the caller's tenant. */
export function erpReferenceError(found: ConnectionKind | undefined): ValidationError {
  return new ValidationError("Invalid erpConnectionId", {
    erpConnectionId: [
      found === "channel"
        ? "This connection is a sales channel; orders can only be pushed to an ERP connection"
        : "No ERP connection with this id in this tenant",
    ],
  });
}

/** Constraint violations a connection write can meet, as the caller's errors. */
export function connectionWriteError(error: unknown): unknown {
  const pg = pgErrorOf(error);
  if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "connections_tenant_provider_account_key") {
    return new ConflictError("A connection to this account of this provider already exists", {
      details: { field: "account" },
    });
  }
  // The ERP connection was deleted between our check and the write.
  if (pg?.code === PG_FOREIGN_KEY_VIOLATION && pg.constraint === "connections_erp_fk") {
    return erpReferenceError(undefined);
  }
  return error;
}
