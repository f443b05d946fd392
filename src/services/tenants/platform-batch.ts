import { type SQL, sql } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import type { HttpDb } from "../../db/client";
import { APP_ROLE } from "../../db/tenant";
import { ForbiddenError, UnauthorizedError } from "../../lib/errors";
import type { Principal } from "../auth/principal";
import type { ServiceContext } from "../context";

/**
 * The platform-admin context: the `tenants_platform_admin` policy (drizzle/0005) lets such a transaction
 * see and change every row of `tenants` — and nothing else, since `app.tenant_id` stays unset and every
 * other table's policy needs it. Only services that verified a platform admin (`platformAdminOf`) use it.
 */
export function platformContextStatement(): SQL {
  return sql`select set_config('app.platform_admin', 'on', true), set_config('role', ${APP_ROLE}, true)`;
}

type BatchTuple = readonly [BatchItem<"pg">, ...BatchItem<"pg">[]];

/** Like `tenantBatch`: one round trip, one transaction, platform-admin context first. */
export async function platformBatch<T extends BatchTuple>(
  db: HttpDb,
  build: (db: HttpDb) => T,
): Promise<BatchResponse<T>> {
  const statements = build(db);
  const [, ...results] = await db.batch([db.execute(platformContextStatement()), ...statements]);
  return results as unknown as BatchResponse<T>;
}

export type PlatformAdmin = Extract<Principal, { kind: "user" }>;

/** The authorization line of every platform service verb (the route checks it too). */
export function platformAdminOf(ctx: ServiceContext): PlatformAdmin {
  const principal = ctx.principal;
  if (!principal) throw new UnauthorizedError("Authentication required");
  if (principal.kind !== "user" || !principal.platformAdmin) {
    throw new ForbiddenError("Platform administrators only");
  }
  return principal;
}
