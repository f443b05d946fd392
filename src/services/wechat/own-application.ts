import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, NotFoundError, PreconditionFailedError, UnauthorizedError } from "../../lib/errors";
import {
  type ApplicationRow,
  type ApplicationView,
  applicationColumns,
  toApplicationView,
} from "../applications/application-view";
import type { Principal } from "../auth/principal";
import type { ServiceContext } from "../context";

type Applicant = Extract<Principal, { kind: "applicant" }>;

/** The routes under /auth/wechat/application serve applicant tokens only, and only their own application. */
function applicantOf(ctx: ServiceContext): Applicant {
  const principal = ctx.principal;
  if (!principal) throw new UnauthorizedError("Authentication required");
  if (principal.kind !== "applicant") {
    throw new ForbiddenError("Only for WeChat applicants awaiting approval");
  }
  return principal;
}

/** The applicant's own application: pending, approved (sign in again to get a user session) or rejected. */
export async function getOwnApplication({ ctx }: { ctx: ServiceContext }): Promise<ApplicationView> {
  const me = applicantOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, me.tenantId, (db) => [
    db.execute<ApplicationRow>(sql`
      select ${applicationColumns} from staff_applications
       where tenant_id = ${me.tenantId} and id = ${me.applicationId}::uuid`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Application not found");
  return toApplicationView(row);
}

export interface OwnApplicationUpdate {
  fullName?: string | undefined;
  phone?: string | undefined;
  note?: string | undefined;
}

/** While pending, the applicant describes themselves for the reviewer. A reviewed application is final (412). */
export async function updateOwnApplication({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: OwnApplicationUpdate;
}): Promise<ApplicationView> {
  const me = applicantOf(ctx);
  const sets = [sql`updated_at = now()`];
  if (input.fullName !== undefined) sets.push(sql`full_name = ${input.fullName.trim()}`);
  if (input.phone !== undefined) sets.push(sql`phone = ${input.phone.trim()}`);
  if (input.note !== undefined) sets.push(sql`note = ${input.note.trim()}`);
  const [updated, current] = await tenantBatch(ctx.db.http, me.tenantId, (db) => [
    db.execute<ApplicationRow>(sql`
      update staff_applications set ${sql.join(sets, sql`, `)}
       where tenant_id = ${me.tenantId} and id = ${me.applicationId}::uuid and status = 'pending'
      returning ${applicationColumns}`),
    db.execute<{ status: string }>(sql`
      select status from staff_applications where tenant_id = ${me.tenantId} and id = ${me.applicationId}::uuid`),
  ]);
  const row = updated.rows[0];
  if (row) return toApplicationView(row);
  const status = current.rows[0]?.status;
  if (!status) throw new NotFoundError("Application not found");
  throw new PreconditionFailedError(`The application was already ${status}`);
}
