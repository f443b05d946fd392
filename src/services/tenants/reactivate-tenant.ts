import { sql } from "drizzle-orm";
import type { ServiceContext } from "../context";
import { platformAdminOf } from "./platform-batch";
import { changeTenantStatus } from "./tenant-status";
import type { TenantView } from "./tenant-view";

/** Lifts a suspension: tokens that have not expired in the meantime work again at once. */
export async function reactivateTenant({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<TenantView> {
  const admin = platformAdminOf(ctx);
  const tenant = await changeTenantStatus(ctx, {
    id: input.id,
    from: "suspended",
    to: "active",
    settings: sql`settings - 'suspendedAt' - 'suspendedReason' - 'suspendedBy'`,
  });
  ctx.logger.info("tenant reactivated", { tenantId: tenant.id, by: admin.userId });
  return tenant;
}
