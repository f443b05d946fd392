import { sql } from "drizzle-orm";
import { cacheKeys, isTombstone } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { expandPermissions } from "./permissions";
import type { Principal } from "./principal";
import { sha256Hex } from "./tokens";

/** A hash that matched no key, remembered for a minute so guessing keys costs Redis, not Postgres. */
interface MissingApiKey {
  missing: true;
}

interface CachedApiKey {
  id: string;
  tenantId: string;
  scopes: string[];
  expiresAt: string | null;
  revoked: boolean;
  tenantStatus: string;
}

/**
 * Machine clients (ERP callbacks, scripts) authenticate with `Authorization: Bearer tw_sk_…`. The key's
 * hash is looked up once a minute at most (Redis), through a SECURITY DEFINER function because the key
 * names no tenant; `last_used_at` is stamped on those lookups, so it is accurate to about a minute.
 */
export async function resolveApiKeyPrincipal(ctx: ServiceContext, key: string): Promise<Principal> {
  const hash = sha256Hex(key);
  const cacheKey = ctx.cache.key(cacheKeys.authApiKey.name(hash));
  let record: CachedApiKey | null = null;
  let cached: CachedApiKey | MissingApiKey | null | undefined;
  try {
    cached = await ctx.cache.redis?.get<CachedApiKey | MissingApiKey>(cacheKey);
  } catch (error) {
    ctx.logger.warn("API key cache read failed; using Postgres", { error: String(error) });
  }
  if (cached && "missing" in cached) throw new UnauthorizedError("Invalid API key");
  if (cached && !isTombstone(cached)) record = cached;
  if (!record) {
    const result = await ctx.db.http.execute<{
      id: string;
      tenant_id: string;
      scopes: string[];
      expires_at: string | null;
      revoked_at: string | null;
      tenant_status: string;
    }>(sql`select * from auth_api_key_lookup(${hash})`);
    const row = result.rows[0];
    if (!row) {
      const missing: MissingApiKey = { missing: true };
      ctx.waitUntil(
        Promise.resolve(
          ctx.cache.redis?.set(cacheKey, missing, { ex: cacheKeys.authApiKey.ttlSeconds, nx: true }),
        ).catch((error: unknown) =>
          ctx.logger.warn("API key miss cache write failed", { error: String(error) }),
        ),
      );
      throw new UnauthorizedError("Invalid API key");
    }
    record = {
      id: row.id,
      tenantId: row.tenant_id,
      scopes: row.scopes,
      expiresAt: row.expires_at,
      revoked: row.revoked_at !== null,
      tenantStatus: row.tenant_status,
    };
    const fresh = record;
    ctx.waitUntil(
      Promise.all([
        ctx.cache.redis?.set(cacheKey, fresh, { ex: cacheKeys.authApiKey.ttlSeconds, nx: true }),
        tenantBatch(ctx.db.http, fresh.tenantId, (db) => [
          db.execute(
            sql`update api_keys set last_used_at = now() where tenant_id = ${fresh.tenantId} and id = ${fresh.id}`,
          ),
        ]),
      ]).catch((error: unknown) => ctx.logger.warn("API key bookkeeping failed", { error: String(error) })),
    );
  }
  if (record.revoked || (record.expiresAt !== null && Date.parse(record.expiresAt) <= Date.now())) {
    throw new UnauthorizedError("Invalid API key");
  }
  if (record.tenantStatus !== "active") throw new ForbiddenError("This tenant is suspended");
  return {
    kind: "apiKey",
    tenantId: record.tenantId,
    keyId: record.id,
    permissions: expandPermissions(record.scopes),
  };
}
