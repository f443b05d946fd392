import { sql } from "drizzle-orm";
import { ValidationError } from "../../lib/errors";
import { PLATFORM_TENANT_ID } from "../auth/principal";
import type { ServiceContext } from "../context";
import { platformAdminOf } from "./platform-batch";
import { changeTenantStatus } from "./tenant-status";
import type { TenantView } from "./tenant-view";

/**
 * Suspends a tenant: its users cannot sign in (403), and every live access token, applicant token and
 * API key of it answers 403 from the next request on (the cached statuses are dropped after the write).
 * The reason, time and acting admin are kept in `settings` (`suspendedReason`, `suspendedAt`, `suspendedBy`).
 */
export async function suspendTenant({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason?: string | undefined };
}): Promise<TenantView> {
  const admin = platformAdminOf(ctx);
  if (input.id === PLATFORM_TENANT_ID) {
    throw new ValidationError("The platform tenant cannot be suspended", {
      id: ["The platform tenant cannot be suspended"],
    });
  }
  const marker = JSON.stringify({
    suspendedAt: new Date().toISOString(),
    suspendedReason: input.reason?.trim() || null,
    suspendedBy: admin.userId,
  });
  const tenant = await changeTenantStatus(ctx, {
    id: input.id,
    from: "active",
    to: "suspended",
    settings: sql`settings || ${marker}::jsonb`,
  });
  ctx.logger.info("tenant suspended", { tenantId: tenant.id, by: admin.userId });
  return tenant;
}
