import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import {
  type ApplicationRow,
  type ApplicationView,
  applicationColumns,
  toApplicationView,
} from "./application-view";
import { reviewerTenant } from "./list-applications";

/**
 * Refuses a pending application; the applicant's next WeChat sign-in answers 403 with the reason.
 * One round trip: the guarded update, and a re-read telling "no such application" (404) from
 * "already reviewed" (409, as for a second approval).
 */
export async function rejectApplication({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; reason: string };
}): Promise<ApplicationView> {
  const tenantId = reviewerTenant(ctx);
  const reviewerId = ctx.principal?.kind === "user" ? ctx.principal.userId : null;
  const [updated, current] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ApplicationRow>(sql`
      update staff_applications
         set status = 'rejected', reason = ${input.reason.trim()}, reviewer_id = ${reviewerId},
             reviewed_at = now(), updated_at = now()
       where tenant_id = ${tenantId} and id = ${input.id}::uuid and status = 'pending'
      returning ${applicationColumns}`),
    db.execute<{ status: string }>(
      sql`select status from staff_applications where tenant_id = ${tenantId} and id = ${input.id}::uuid`,
    ),
  ]);
  const row = updated.rows[0];
  if (row) {
    ctx.logger.info("staff application rejected", { tenantId, applicationId: row.id });
    return toApplicationView(row);
  }
  const status = current.rows[0]?.status;
  if (!status) throw new NotFoundError("Application not found");
  throw new ConflictError(`The application was already ${status}`, { details: { status } });
}
