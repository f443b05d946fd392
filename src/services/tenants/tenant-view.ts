import { sql } from "drizzle-orm";
import { cacheKeys } from "../../cache/keys";
import { invalidateCache } from "../cache/invalidate-cache";
import type { ServiceContext } from "../context";

/** A tenant as platform administrators see it. `settings` stays internal: it may hold configuration. */
export interface TenantView {
  id: string;
  slug: string;
  name: string;
  status: "active" | "suspended";
  suspendedAt: string | null;
  suspendedReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface TenantRow extends Record<string, unknown> {
  id: string;
  slug: string;
  name: string;
  status: string;
  suspended_at: string | null;
  suspended_reason: string | null;
  created_at: string;
  updated_at: string;
}

/** The columns behind `TenantView`, for `select`/`returning` lists. */
export const tenantColumns = sql.raw(
  "id, slug, name, status, settings->>'suspendedAt' as suspended_at, " +
    "settings->>'suspendedReason' as suspended_reason, created_at, updated_at",
);

export function toTenantView(row: TenantRow): TenantView {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    status: row.status === "suspended" ? "suspended" : "active",
    suspendedAt: row.suspended_at === null ? null : isoTime(row.suspended_at),
    suspendedReason: row.suspended_reason,
    createdAt: isoTime(row.created_at),
    updatedAt: isoTime(row.updated_at),
  };
}

export function isoTime(value: string | Date): string {
  return new Date(value).toISOString();
}

/**
 * After a tenant's status changed in Postgres: drop every cached copy of it, so its access tokens,
 * applicant tokens and API keys (whose cached record carries the tenant status) see the change on their
 * next request, and login pages see the new public profile.
 */
export async function invalidateTenantCaches(
  ctx: ServiceContext,
  tenant: { id: string; slug: string },
  apiKeyHashes: readonly string[],
  reason: string,
): Promise<void> {
  await invalidateCache({
    ctx,
    input: {
      keys: [
        ctx.cache.key(cacheKeys.authTenant.name(tenant.id)),
        ctx.cache.key(cacheKeys.tenantProfile.name(tenant.slug)),
        ...apiKeyHashes.map((hash) => ctx.cache.key(cacheKeys.authApiKey.name(hash))),
      ],
      reason,
    },
  });
}
