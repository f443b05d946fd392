import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, ValidationError } from "../../lib/errors";
import { isPermission, type Permission } from "../auth/permissions";
import { hasPermission, requirePermissionOf } from "../auth/principal";
import { newApiKey, sha256Hex } from "../auth/tokens";
import type { ServiceContext } from "../context";
import { type ApiKeyRow, type ApiKeyView, apiKeyColumns, textArray, toApiKeyView } from "./api-key-view";

export interface CreateApiKeyInput {
  name: string;
  scopes: string[];
  /** ISO 8601; must be in the future. Absent = never expires. */
  expiresAt?: string | undefined;
}

export type CreatedApiKey = ApiKeyView & {
  /** The whole key. Shown in this response only: Tradewind keeps nothing but its SHA-256. */
  key: string;
};

/**
 * Issues an API key. Scopes must be known permissions (422), and a caller can only hand out what it
 * holds itself (403) — a superuser holds everything in its tenant; an API key with `api_keys:admin`
 * can mint keys within its own scopes.
 */
export async function createApiKey({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateApiKeyInput;
}): Promise<CreatedApiKey> {
  requirePermissionOf(ctx.principal, "api_keys:admin");
  const principal = ctx.principal;
  if (!principal || principal.kind === "applicant") throw new ForbiddenError("Not allowed");
  // A key minting keys would let a leaked key outlive its own revocation; keys come from people.
  if (principal.kind === "apiKey")
    throw new ForbiddenError("API keys are created by signed-in users, not by API keys");
  const tenantId = principal.tenantId;

  const name = input.name.trim();
  if (name === "") throw new ValidationError("Invalid API key", { name: ["Must not be empty"] });
  const unknown = input.scopes.filter((s) => !isPermission(s));
  if (unknown.length > 0) {
    throw new ValidationError("Unknown scopes", { scopes: unknown.map((s) => `Unknown permission '${s}'`) });
  }
  const scopes = [...new Set(input.scopes)].filter(isPermission).sort();
  if (scopes.length === 0) throw new ValidationError("Invalid API key", { scopes: ["Give at least one"] });
  const beyond = scopes.filter((s: Permission) => !hasPermission(principal, s));
  if (beyond.length > 0) {
    throw new ForbiddenError("An API key cannot hold permissions its creator does not have", {
      details: { scopes: beyond },
    });
  }
  let expiresAt: string | null = null;
  if (input.expiresAt !== undefined) {
    const at = Date.parse(input.expiresAt);
    if (!Number.isFinite(at)) throw new ValidationError("Invalid API key", { expiresAt: ["Not a date"] });
    if (at <= Date.now())
      throw new ValidationError("Invalid API key", { expiresAt: ["Must be in the future"] });
    expiresAt = new Date(at).toISOString();
  }

  const { key, displayPrefix } = newApiKey();
  const createdBy = principal.kind === "user" ? principal.userId : null;
  const [result] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ApiKeyRow>(sql`
      insert into api_keys (tenant_id, name, prefix, key_hash, scopes, created_by, expires_at)
      values (${tenantId}, ${name}, ${displayPrefix}, ${sha256Hex(key)}, ${textArray(scopes)},
              ${createdBy}, ${expiresAt}::timestamptz)
      returning ${apiKeyColumns}`),
  ]);
  const row = result.rows[0];
  if (!row) throw new Error("API key insert returned nothing");
  ctx.logger.info("api key created", { tenantId, keyId: row.id, scopes });
  return { ...toApiKeyView(row), key };
}
