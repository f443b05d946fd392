import { sql } from "drizzle-orm";
import { createWechatClient, WechatCodeRejectedError } from "../../adapters/wechat/client";
import type { WechatSession } from "../../adapters/wechat/types";
import { APP_ROLE, tenantBatch } from "../../db/tenant";
import { ForbiddenError, RateLimitedError, UpstreamError, ValidationError } from "../../lib/errors";
import { type ClientInfo, newSessionStatements, tokenPair } from "../auth/issue-session";
import { loadKeyring, signAccessToken } from "../auth/tokens";
import type { ServiceContext } from "../context";
import { openWechatSecret } from "./app-secret";

export const WECHAT_APP_ID_PATTERN = /^wx[0-9A-Za-z]{16}$/;

export interface WechatLoginInput {
  code: string;
  /** The mini-program's app id; when absent, taken from the `Referer` WeChat sets (`refererAppId`). */
  appId?: string | undefined;
  refererAppId?: string | null | undefined;
}

export type WechatLoginResult =
  | {
      status: "active";
      accessToken: string;
      refreshToken: string;
      tokenType: "Bearer";
      expiresIn: number;
    }
  | {
      status: "pending";
      /** An applicant token: good only for `GET|PATCH /auth/wechat/application`. */
      accessToken: string;
      tokenType: "Bearer";
      expiresIn: number;
      applicationId: string;
    };

const WECHAT_TIMEOUT_MS = 5000;

/**
 * WeChat mini-program sign-in.
 *
 * 1. One round trip resolves the app id to its tenant (SECURITY DEFINER `wechat_app_tenant`), enters that
 *    tenant's RLS context and reads the sealed app secret. An unknown app id is the same 401 as a bad code.
 * 2. code2Session at WeChat. The session key it returns never leaves this function: not returned, not
 *    logged, not stored (nothing here needs to decrypt WeChat user data yet).
 * 3. One round trip records the identity (upsert on tenant+app+openid), opens a pending staff application
 *    for a new, unlinked identity (at most one pending per identity: partial unique index), and reads
 *    where the identity stands.
 * 4. Linked to an active user → a session like a password sign-in (one more round trip). Pending → an
 *    applicant token. Rejected → 403 with the reviewer's reason.
 *
 * WeChat failures: bad/used code 401, high-risk account 403, minute quota (45011) 429 with
 * `Retry-After: 60` (the quota is the tenant's app's, so the client should slow down and retry), anything
 * else upstream (busy after retries, timeouts, HTTP 5xx, the tenant's credentials refused) 502.
 */
export async function loginWithWechat({
  ctx,
  input,
  client,
}: {
  ctx: ServiceContext;
  input: WechatLoginInput;
  client: ClientInfo;
}): Promise<WechatLoginResult> {
  const appId = input.appId ?? input.refererAppId ?? undefined;
  if (!appId) {
    throw new ValidationError("appId is required", {
      appId: ["Give appId, or call from the mini-program (its Referer names the app)"],
    });
  }
  if (!WECHAT_APP_ID_PATTERN.test(appId)) {
    throw new ValidationError("Invalid appId", { appId: ["Must look like wx followed by 16 characters"] });
  }

  const [, found] = await ctx.db.http.batch([
    ctx.db.http.execute(sql`
      select set_config('app.tenant_id', coalesce((select tenant_id::text from wechat_app_tenant(${appId})), ''), true),
             set_config('role', ${APP_ROLE}, true)`),
    ctx.db.http.execute<{ tenant_id: string; tenant_status: string; secret_sealed: string }>(sql`
      select t.id as tenant_id, t.status as tenant_status, w.secret_sealed
        from wechat_apps w join tenants t on t.id = w.tenant_id
       where w.tenant_id = app_current_tenant() and w.app_id = ${appId}`),
  ]);
  const app = found.rows[0];
  // Same class, message and body as a code WeChat refused: the answer does not say which apps exist.
  if (!app) throw new WechatCodeRejectedError(null);
  const tenantId = app.tenant_id;
  ctx.tenantId = tenantId;
  if (app.tenant_status !== "active") throw new ForbiddenError("This tenant is suspended");

  let appSecret: string;
  try {
    appSecret = await openWechatSecret(ctx.config.credentialsKeys, {
      tenantId,
      appId,
      sealed: app.secret_sealed,
    });
  } catch (error) {
    ctx.logger.error("cannot open the tenant's sealed WeChat secret", {
      tenantId,
      appId,
      error: error instanceof Error ? error.message : String(error),
    });
    throw new Error("WeChat configuration unreadable");
  }

  const session = await code2Session(ctx, { appId, appSecret, code: input.code });
  const { openId, unionId } = session;

  const [, , standing] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute(sql`
      insert into wechat_identities (tenant_id, app_id, open_id, union_id, last_login_at)
      values (${tenantId}, ${appId}, ${openId}, ${unionId}, now())
      on conflict (tenant_id, app_id, open_id) do update
        set union_id = coalesce(excluded.union_id, wechat_identities.union_id), last_login_at = now()`),
    // A new (or unlinked) identity with no open or refused application applies to join.
    db.execute(sql`
      insert into staff_applications (tenant_id, wechat_identity_id)
      select i.tenant_id, i.id from wechat_identities i
       where i.tenant_id = ${tenantId} and i.app_id = ${appId} and i.open_id = ${openId}
         and i.user_id is null
         and not exists (select 1 from staff_applications s
                          where s.tenant_id = i.tenant_id and s.wechat_identity_id = i.id
                            and s.status in ('pending', 'rejected'))
      on conflict (tenant_id, wechat_identity_id) where status = 'pending' do nothing`),
    db.execute<{
      user_id: string | null;
      user_active: boolean | null;
      application_id: string | null;
      application_status: string | null;
      reason: string | null;
    }>(sql`
      select i.user_id, u.active and u.deleted_at is null as user_active,
             a.id as application_id, a.status as application_status, a.reason
        from wechat_identities i
        left join users u on u.tenant_id = i.tenant_id and u.id = i.user_id
        left join lateral (
          select s.id, s.status, s.reason from staff_applications s
           where s.tenant_id = i.tenant_id and s.wechat_identity_id = i.id
           order by (s.status = 'pending') desc, s.created_at desc
           limit 1) a on true
       where i.tenant_id = ${tenantId} and i.app_id = ${appId} and i.open_id = ${openId}`),
  ]);
  const row = standing.rows[0];
  if (!row) throw new Error("wechat identity upsert left no row");

  if (row.user_id) {
    if (row.user_active !== true) throw new ForbiddenError("This account is deactivated");
    const userId = row.user_id;
    const opened = newSessionStatements(ctx, ctx.db.http, { tenantId, userId, method: "wechat", client });
    await tenantBatch(ctx.db.http, tenantId, (db) => [
      ...opened.statements,
      db.execute(
        sql`update users set last_login_at = now() where tenant_id = ${tenantId} and id = ${userId}`,
      ),
    ]);
    const tokens = await tokenPair(ctx, {
      tenantId,
      userId,
      sessionId: opened.sessionId,
      refreshToken: opened.refreshToken,
    });
    return { status: "active", ...tokens };
  }
  if (row.application_status === "rejected") {
    throw new ForbiddenError("Your application to join was rejected", {
      details: { reason: row.reason ?? null },
    });
  }
  if (row.application_status !== "pending" || !row.application_id) {
    throw new Error("wechat identity has neither a user nor an open application");
  }
  const ring = await loadKeyring(ctx.config.auth.signingKeys);
  const access = await signAccessToken(ring, ctx.config.auth, {
    kind: "applicant",
    subject: row.application_id,
    tenantId,
    sessionId: null,
  });
  return {
    status: "pending",
    accessToken: access.token,
    tokenType: "Bearer",
    expiresIn: access.expiresIn,
    applicationId: row.application_id,
  };
}

async function code2Session(
  ctx: ServiceContext,
  input: { appId: string; appSecret: string; code: string },
): Promise<WechatSession> {
  const wechat = createWechatClient({
    baseUrl: ctx.config.wechatApiBase,
    timeoutMs: WECHAT_TIMEOUT_MS,
    logger: ctx.logger,
  });
  try {
    return await wechat.code2Session(input);
  } catch (error) {
    // One answer for every refused code (and for unknown apps above): no errcode oracle for callers.
    if (error instanceof WechatCodeRejectedError) throw new WechatCodeRejectedError(null);
    if (error instanceof UpstreamError && error.retryAfterSeconds !== undefined) {
      throw new RateLimitedError(
        `WeChat login is over its quota; retry in ${error.retryAfterSeconds} s`,
        error.retryAfterSeconds,
      );
    }
    throw error;
  }
}
