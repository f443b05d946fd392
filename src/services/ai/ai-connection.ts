import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { PreconditionFailedError } from "../../lib/errors";
import { openConnectionCredentials } from "../connections/credentials-box";
import type { ServiceContext } from "../context";
import { CozeCredentials, CozeSettings } from "./coze-settings";

/** The tenant's Coze connection, ready to call: settings and credentials parsed (credentials are SECRET). */
export interface CozeConnection {
  id: string;
  tenantId: string;
  settings: CozeSettings;
  credentials: CozeCredentials;
}

interface Row extends Record<string, unknown> {
  id: string;
  tenant_id: string;
  settings: Record<string, unknown> | string;
  credentials_sealed: string;
}

/**
 * The tenant's enabled Coze connection (the oldest, should there be several), in one Postgres round trip.
 * Null when it has none. Stored settings or credentials that no longer parse or open are a
 * PreconditionFailedError naming only the connection and the fields: a person must enter them again.
 */
export async function findCozeConnection(
  ctx: ServiceContext,
  tenantId: string,
): Promise<CozeConnection | null> {
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<Row>(sql`
      select id, tenant_id, settings, credentials_sealed
        from connections
       where tenant_id = ${tenantId} and kind = 'ai' and provider = 'coze' and enabled
       order by created_at, id
       limit 1`),
  ]);
  const row = result.rows[0];
  if (!row) return null;
  const connectionId = row.id;
  const settings = CozeSettings.safeParse(
    typeof row.settings === "string" ? JSON.parse(row.settings) : row.settings,
  );
  if (!settings.success) {
    throw new PreconditionFailedError("The AI connection's stored settings are no longer valid; edit them", {
      details: { connectionId, fields: settings.error.issues.map((i) => i.path.join(".")) },
    });
  }
  const opened = await openConnectionCredentials(ctx.config.credentialsKeys, {
    tenantId: row.tenant_id,
    connectionId,
    sealed: row.credentials_sealed,
  });
  const credentials = CozeCredentials.safeParse(opened);
  if (!credentials.success) {
    throw new PreconditionFailedError(
      "The AI connection's stored credentials are no longer valid; enter them again",
      {
        details: { connectionId, fields: credentials.error.issues.map((i) => i.path.join(".")) },
      },
    );
  }
  return {
    id: connectionId,
    tenantId: row.tenant_id,
    settings: settings.data,
    credentials: credentials.data,
  };
}
