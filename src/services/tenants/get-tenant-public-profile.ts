import { sql } from "drizzle-orm";
import { readThrough } from "../../cache/dual-write";
import { cacheKeys } from "../../cache/keys";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";

export interface TenantPublicProfile {
  id: string;
  slug: string;
  name: string;
  status: "active" | "suspended";
}

/**
 * What a login page or mini-program needs to brand itself for a tenant before anyone signs in.
 * One Postgres round trip (a SECURITY DEFINER function exposing only these columns); served from
 * Redis, marked degraded, when Postgres is down.
 */
export async function getTenantPublicProfile({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { slug: string };
}): Promise<TenantPublicProfile> {
  const slug = input.slug.toLowerCase();
  const profile = await readThrough<TenantPublicProfile | null>(ctx, {
    label: "tenant-public-profile",
    key: ctx.cache.key(cacheKeys.tenantProfile.name(slug)),
    ttlSeconds: cacheKeys.tenantProfile.ttlSeconds,
    read: async () => {
      const result = await ctx.db.http.execute<{ id: string; slug: string; name: string; status: string }>(
        sql`select id, slug, name, status from tenant_public_profile(${slug})`,
      );
      const row = result.rows[0];
      if (!row) return null;
      return {
        id: row.id,
        slug: row.slug,
        name: row.name,
        status: row.status === "suspended" ? "suspended" : "active",
      };
    },
  });
  if (!profile) throw new NotFoundError(`Tenant '${slug}' not found`);
  return profile;
}
