import { sql } from "drizzle-orm";
import { createWechatClient } from "../../adapters/wechat/client";
import { PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, RateLimitedError, UnauthorizedError, UpstreamError } from "../../lib/errors";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { sealWechatSecret } from "./app-secret";

/** What a tenant admin sees of the WeChat configuration: never the secret, sealed or not. */
export interface WechatSettingsView {
  appId: string | null;
  secretSet: boolean;
  updatedAt: string | null;
}

function tenantOf(ctx: ServiceContext): string {
  requirePermissionOf(ctx.principal, "tenant:admin");
  const tenantId = ctx.tenantId;
  if (!tenantId) throw new UnauthorizedError("Authentication required");
  return tenantId;
}

const WECHAT_TIMEOUT_MS = 5000;

/**
 * Proves the submitted pair with WeChat (an access token is issued, then dropped) before anything is
 * stored. App ids are public (every mini-program request names its own in the Referer), so without this
 * any tenant could claim another tenant's app id: the owner would meet a 409 and its users' sign-ins would
 * resolve to the squatter. Refused pairs are `WechatCredentialsRejectedError` (422); WeChat's quota is a 429
 * with Retry-After; WeChat down or busy is a 502.
 */
async function verifyWithWechat(ctx: ServiceContext, input: { appId: string; appSecret: string }) {
  const wechat = createWechatClient({
    baseUrl: ctx.config.wechatApiBase,
    timeoutMs: WECHAT_TIMEOUT_MS,
    logger: ctx.logger,
  });
  try {
    await wechat.verifyAppCredentials(input);
  } catch (error) {
    if (error instanceof UpstreamError && error.retryAfterSeconds !== undefined) {
      throw new RateLimitedError(
        `WeChat's API quota for this mini-program is used up; retry in ${error.retryAfterSeconds} s`,
        error.retryAfterSeconds,
      );
    }
    throw error;
  }
}

/**
 * Stores (or replaces) the tenant's mini-program credentials once WeChat has accepted them (see
 * `verifyWithWechat`); the secret is sealed before it leaves the Worker. One mini-program belongs to one
 * tenant (it is how `POST /auth/wechat` finds the tenant), so an app id another tenant configured is a 409;
 * since the pair is verified first, only a holder of the app's secret can get that far.
 */
export async function putWechatSettings({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { appId: string; appSecret: string };
}): Promise<WechatSettingsView> {
  const tenantId = tenantOf(ctx);
  await verifyWithWechat(ctx, input);
  const sealed = await sealWechatSecret(ctx.config.credentialsKeys, { tenantId, ...input });
  try {
    const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
      db.execute<{ app_id: string; updated_at: string }>(sql`
        insert into wechat_apps (tenant_id, app_id, secret_sealed) values (${tenantId}, ${input.appId}, ${sealed})
        on conflict (tenant_id) do update
          set app_id = excluded.app_id, secret_sealed = excluded.secret_sealed, updated_at = now()
        returning app_id, updated_at`),
    ]);
    const row = result.rows[0];
    if (!row) throw new Error("wechat_apps upsert returned nothing");
    ctx.logger.info("wechat settings updated", { tenantId, appId: row.app_id });
    return { appId: row.app_id, secretSet: true, updatedAt: new Date(row.updated_at).toISOString() };
  } catch (error) {
    const pg = pgErrorOf(error);
    if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "wechat_apps_app_id_key") {
      throw new ConflictError("This WeChat appId is already configured by another tenant", {
        details: { appId: input.appId },
      });
    }
    throw error;
  }
}

export async function getWechatSettings({ ctx }: { ctx: ServiceContext }): Promise<WechatSettingsView> {
  const tenantId = tenantOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<{ app_id: string; updated_at: string }>(
      sql`select app_id, updated_at from wechat_apps where tenant_id = ${tenantId}`,
    ),
  ]);
  const row = result.rows[0];
  if (!row) return { appId: null, secretSet: false, updatedAt: null };
  return { appId: row.app_id, secretSet: true, updatedAt: new Date(row.updated_at).toISOString() };
}
