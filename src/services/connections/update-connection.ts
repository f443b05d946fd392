import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { enqueueWebhookSync } from "../webhooks/register-webhooks";
import { type ConnectionKind, isProvider } from "./connection-config";
import {
  type ConnectionView,
  type ConnectionViewRow,
  connectionWriteError,
  erpReferenceError,
  plannedStreams,
  selectConnectionView,
  syncCallerOf,
  toConnectionView,
} from "./connection-view";
import { sealConnectionCredentials } from "./credentials-box";
import { parseCredentials, parseSettings, throwIfInvalid } from "./provider-input";

export interface UpdateConnectionInput {
  displayName?: string | undefined;
  enabled?: boolean | undefined;
  /** Merged over the stored settings (top-level keys), then validated whole. */
  settings?: Record<string, unknown> | undefined;
  /** Replaces the stored credentials whole. */
  credentials?: unknown;
  erpConnectionId?: string | null | undefined;
}

interface CurrentRow extends Record<string, unknown> {
  kind: ConnectionKind;
  provider: string;
  settings: Record<string, unknown> | string;
  version: string;
}

/** Concurrent edits of one connection are rare; past this many lost races the caller is told to retry. */
const MAX_ATTEMPTS = 3;

/**
 * Edits a connection. Settings are merged over the stored ones and validated whole; the streams follow in
 * the same statement (new resources get a stream due now, dropped ones lose theirs, the others take the new
 * interval and run no later than one new interval from now). Credentials are replaced whole and sealed
 * afresh. The write applies only if nobody changed the connection since it was read (settings are merged,
 * so a lost update would silently undo another edit); a lost race reads and merges again.
 */
export async function updateConnection({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; patch: UpdateConnectionInput };
}): Promise<ConnectionView> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:admin");
  const { id, patch } = input;
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    const view = await tryUpdate(ctx, t, id, patch);
    if (view) return view;
  }
  throw new ConflictError("The connection was changed by someone else meanwhile; try again");
}

async function tryUpdate(
  ctx: ServiceContext,
  t: string,
  id: string,
  patch: UpdateConnectionInput,
): Promise<ConnectionView | undefined> {
  const erpId = patch.erpConnectionId ?? null;
  const [currentResult, erpResult] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<CurrentRow>(sql`
      select kind, provider, settings, updated_at::text as version
        from connections where tenant_id = ${t} and id = ${id}`),
    db.execute<{ kind: ConnectionKind }>(
      sql`select kind from connections where tenant_id = ${t} and id = ${erpId}::uuid`,
    ),
  ]);
  const current = currentResult.rows[0];
  if (!current) throw new NotFoundError("Connection not found");
  const provider = current.provider;
  if (!isProvider(provider)) {
    throw new ValidationError("This connection's provider cannot be edited by this version", {
      provider: [`Unsupported provider '${provider}'`],
    });
  }

  const errors: Record<string, string[]> = {};
  const sets: SQL[] = [sql`updated_at = now()`];
  if (patch.displayName !== undefined) sets.push(sql`display_name = ${patch.displayName.trim()}`);
  if (patch.enabled !== undefined) sets.push(sql`enabled = ${patch.enabled}`);
  if (patch.erpConnectionId !== undefined) {
    if (erpId !== null && current.kind !== "channel") {
      errors.erpConnectionId = ["Only a sales channel connection pushes its orders to an ERP connection"];
    } else if (erpId !== null && erpResult.rows[0]?.kind !== "erp") {
      throw erpReferenceError(erpResult.rows[0]?.kind);
    }
    sets.push(sql`erp_connection_id = ${erpId}::uuid`);
  }
  let settings: ReturnType<typeof parseSettings>;
  if (patch.settings !== undefined) {
    const stored: Record<string, unknown> =
      typeof current.settings === "string" ? JSON.parse(current.settings) : current.settings;
    settings = parseSettings(provider, { ...stored, ...patch.settings }, errors);
    if (settings) sets.push(sql`settings = ${JSON.stringify(settings)}::jsonb`);
  }
  let credentials: ReturnType<typeof parseCredentials>;
  if (patch.credentials !== undefined) credentials = parseCredentials(provider, patch.credentials, errors);
  throwIfInvalid(errors);
  if (credentials) {
    const sealed = await sealConnectionCredentials(ctx.config.credentialsKeys, {
      tenantId: t,
      connectionId: id,
      credentials,
    });
    sets.push(sql`credentials_sealed = ${sealed}`);
  }

  // Every change hangs off `updated`: if the guard fails, nothing at all is written.
  const ctes: SQL[] = [
    sql`updated as (
      update connections set ${sql.join(sets, sql`, `)}
       where tenant_id = ${t} and id = ${id} and updated_at = ${current.version}::timestamptz
      returning tenant_id, id)`,
  ];
  if (settings) {
    const streams = plannedStreams(provider, settings, new Date());
    ctes.push(
      sql`planned as (
        select * from jsonb_to_recordset(${JSON.stringify(streams)}::jsonb)
                   as p(resource text, interval_seconds integer, checkpoint jsonb))`,
      sql`dropped as (
        delete from sync_streams s using updated
         where s.tenant_id = updated.tenant_id and s.connection_id = updated.id
           and s.resource not in (select resource from planned))`,
      sql`kept as (
        insert into sync_streams (tenant_id, connection_id, resource, interval_seconds, checkpoint, next_due_at)
        select updated.tenant_id, updated.id, p.resource, p.interval_seconds, p.checkpoint, now()
          from updated cross join planned p
        on conflict (tenant_id, connection_id, resource) do update
           set interval_seconds = excluded.interval_seconds,
               next_due_at = least(sync_streams.next_due_at, now() + make_interval(secs => excluded.interval_seconds)),
               updated_at = now()
         where sync_streams.interval_seconds <> excluded.interval_seconds)`,
    );
  }
  let applied: boolean;
  let view: ConnectionViewRow | undefined;
  try {
    const [result, viewResult] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<{ applied: boolean }>(
        sql`with ${sql.join(ctes, sql`, `)} select exists (select 1 from updated) as applied`,
      ),
      db.execute<ConnectionViewRow>(selectConnectionView(t, id)),
    ]);
    applied = result.rows[0]?.applied === true;
    view = viewResult.rows[0];
  } catch (error) {
    throw connectionWriteError(error);
  }
  if (!view) throw new NotFoundError("Connection not found");
  if (!applied) return undefined;
  ctx.logger.info("connection updated", {
    tenantId: t,
    connectionId: id,
    fields: Object.keys(patch).filter((k) => patch[k as keyof UpdateConnectionInput] !== undefined),
  });
  // A new secret or an enable/disable changes what the channel should deliver.
  if (current.kind === "channel" && (patch.credentials !== undefined || patch.enabled !== undefined)) {
    await enqueueWebhookSync(ctx, { tenantId: t, connectionId: id, provider });
  }
  return toConnectionView(view);
}
