import { sql } from "drizzle-orm";
import type { ServiceContext } from "../context";

/** Slugs that name platform surfaces, never a tenant (`platform` is the platform admins' login tenant). */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  "platform",
  "admin",
  "api",
  "app",
  "www",
  "docs",
  "status",
  "support",
  "help",
  "login",
  "auth",
  "webhooks",
  "tradewind",
]);

export interface SlugAvailability {
  slug: string;
  available: boolean;
  reason?: "taken" | "reserved";
}

/** For sign-up and tenant-creation forms; one Postgres round trip, none for reserved slugs. */
export async function checkSlugAvailability({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { slug: string };
}): Promise<SlugAvailability> {
  const slug = input.slug.toLowerCase();
  if (RESERVED_SLUGS.has(slug)) return { slug, available: false, reason: "reserved" };
  const result = await ctx.db.http.execute<{ taken: boolean }>(
    sql`select exists (select 1 from tenant_public_profile(${slug})) as taken`,
  );
  return result.rows[0]?.taken ? { slug, available: false, reason: "taken" } : { slug, available: true };
}
