import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { enqueueWebhookSync } from "../webhooks/register-webhooks";
import { type ConnectionKind, PROVIDERS, type Provider } from "./connection-config";
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
import { parseAccount, parseCredentials, parseSettings, throwIfInvalid } from "./provider-input";

export interface CreateConnectionInput {
  provider: Provider;
  account: string;
  displayName: string;
  credentials: unknown;
  settings?: unknown;
  erpConnectionId?: string | null | undefined;
  enabled?: boolean | undefined;
}

/**
 * Connects a channel or an ERP. Credentials and settings are checked against the provider's schemas (one 422
 * naming every wrong field), the account normalised by the provider's rule, and the credentials sealed to
 * this row before anything is written. The connection and its sync streams are inserted in one transaction,
 * each stream due at once so the next cron run picks it up. The same account of a provider twice is a 409;
 * an `erpConnectionId` that is not an ERP connection of this tenant is a 422.
 */
export async function createConnection({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateConnectionInput;
}): Promise<ConnectionView> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:admin");
  const provider = input.provider;
  const { kind } = PROVIDERS[provider];
  const errors: Record<string, string[]> = {};
  const account = parseAccount(provider, input.account, errors);
  const credentials = parseCredentials(provider, input.credentials, errors);
  const settings = parseSettings(provider, input.settings ?? {}, errors);
  const erpConnectionId = input.erpConnectionId ?? null;
  if (erpConnectionId !== null && kind !== "channel") {
    errors.erpConnectionId = ["Only a sales channel connection pushes its orders to an ERP connection"];
  }
  throwIfInvalid(errors);
  if (account === undefined || credentials === undefined || settings === undefined) {
    throw new Error("validated connection input is incomplete");
  }

  // The id is chosen here so the credentials can be sealed to it before the insert.
  const id = crypto.randomUUID();
  const sealed = await sealConnectionCredentials(ctx.config.credentialsKeys, {
    tenantId: t,
    connectionId: id,
    credentials,
  });
  const streams = plannedStreams(provider, settings, new Date());

  let view: ConnectionViewRow | undefined;
  let erpKind: ConnectionKind | undefined;
  try {
    const [, , viewResult, erpResult] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        insert into connections
          (id, tenant_id, kind, provider, account, display_name, enabled, settings, credentials_sealed, erp_connection_id)
        select ${id}, ${t}, ${kind}, ${provider}, ${account}, ${input.displayName.trim()}, ${input.enabled ?? true},
               ${JSON.stringify(settings)}::jsonb, ${sealed}, ${erpConnectionId}::uuid
         where ${erpConnectionId}::uuid is null
            or exists (select 1 from connections e
                        where e.tenant_id = ${t} and e.id = ${erpConnectionId}::uuid and e.kind = 'erp')`),
      db.execute(sql`
        insert into sync_streams (tenant_id, connection_id, resource, interval_seconds, checkpoint, next_due_at)
        select c.tenant_id, c.id, s.resource, s.interval_seconds, s.checkpoint, now()
          from connections c
         cross join jsonb_to_recordset(${JSON.stringify(streams)}::jsonb)
               as s(resource text, interval_seconds integer, checkpoint jsonb)
         where c.tenant_id = ${t} and c.id = ${id}`),
      db.execute<ConnectionViewRow>(selectConnectionView(t, id)),
      db.execute<{ kind: ConnectionKind }>(
        sql`select kind from connections where tenant_id = ${t} and id = ${erpConnectionId}::uuid`,
      ),
    ]);
    view = viewResult.rows[0];
    erpKind = erpResult.rows[0]?.kind;
  } catch (error) {
    throw connectionWriteError(error);
  }
  if (!view) throw erpReferenceError(erpKind);
  ctx.logger.info("connection created", { tenantId: t, connectionId: id, provider, account });
  // Only a connection that can verify deliveries gets subscriptions (a later edit adding a secret syncs).
  if (kind === "channel" && "clientSecret" in credentials && credentials.clientSecret) {
    await enqueueWebhookSync(ctx, { tenantId: t, connectionId: id, provider });
  }
  return toConnectionView(view);
}
