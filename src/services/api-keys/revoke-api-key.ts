import { sql } from "drizzle-orm";
import { cacheKeys } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, UnauthorizedError } from "../../lib/errors";
import { requirePermissionOf } from "../auth/principal";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";
import { type ApiKeyRow, type ApiKeyView, apiKeyColumns, toApiKeyView } from "./api-key-view";

/**
 * Revokes a key of the caller's tenant; revoking a revoked key is a no-op that keeps the first time.
 * The hash comes back from the same UPDATE, so the cached auth record is dropped without another read,
 * and the key stops working on its next request. Another tenant's key id is a 404.
 */
export async function revokeApiKey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ApiKeyView> {
  requirePermissionOf(ctx.principal, "api_keys:admin");
  const tenantId = ctx.tenantId;
  if (!tenantId) throw new UnauthorizedError("Authentication required");
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ApiKeyRow & { key_hash: string }>(sql`
      update api_keys set revoked_at = coalesce(revoked_at, now())
       where tenant_id = ${tenantId} and id = ${input.id}::uuid
      returning ${apiKeyColumns}, key_hash`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("API key not found");
  await invalidateCache({
    ctx,
    input: { keys: [ctx.cache.key(cacheKeys.authApiKey.name(row.key_hash))], reason: "api-key-revoked" },
  });
  ctx.logger.info("api key revoked", { tenantId, keyId: row.id });
  return toApiKeyView(row);
}
