import { type SQL, sql } from "drizzle-orm";
import { PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantTransaction } from "../../db/tenant";
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from "../../lib/errors";
import { isPermission } from "../auth/permissions";
import { hasPermission } from "../auth/principal";
import type { ServiceContext } from "../context";
import { uniqueIds } from "../users/role-assignment";
import {
  type ApplicationRow,
  type ApplicationView,
  applicationColumns,
  toApplicationView,
} from "./application-view";
import { reviewerTenant } from "./list-applications";

export interface ApproveApplicationInput {
  id: string;
  email?: string | undefined;
  username?: string | undefined;
  fullName?: string | undefined;
  roleIds?: string[] | undefined;
  organizationId?: string | undefined;
}

/**
 * Approves a pending application: creates the user (no password — they sign in with WeChat; email and
 * username are optional), assigns the roles, links the WeChat identity to the user and marks the
 * application approved by the reviewer — one interactive transaction that locks the application row
 * first (`FOR UPDATE`), so of two reviewers approving at once exactly one succeeds and the other gets 409.
 *
 * A reviewer who is not a superuser can only hand out roles whose permissions they hold themselves,
 * otherwise `applications:review` would be a way to mint administrators.
 */
export async function approveApplication({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ApproveApplicationInput;
}): Promise<ApplicationView> {
  const tenantId = reviewerTenant(ctx);
  const principal = ctx.principal;
  if (!principal) throw new ForbiddenError("Not allowed");
  const reviewerId = principal.kind === "user" ? principal.userId : null;
  const roleIds = uniqueIds(input.roleIds);
  const email = input.email?.trim().toLowerCase() || null;
  const username = input.username?.trim() || null;
  const userId = crypto.randomUUID();

  try {
    const row = await tenantTransaction(ctx.db, tenantId, async (tx) => {
      const locked = await tx.execute<{
        status: string;
        wechat_identity_id: string;
        full_name: string | null;
        phone: string | null;
        identity_user_id: string | null;
        roles: { id: string; permissions: string[] }[];
      }>(sql`
        select a.status, a.wechat_identity_id, a.full_name, a.phone, i.user_id as identity_user_id,
               (select coalesce(json_agg(json_build_object('id', r.id, 'permissions', r.permissions)), '[]'::json)
                  from roles r where r.tenant_id = a.tenant_id and r.id = any(${uuidArray(roleIds)})) as roles
          from staff_applications a
          join wechat_identities i on i.tenant_id = a.tenant_id and i.id = a.wechat_identity_id
         where a.tenant_id = ${tenantId} and a.id = ${input.id}::uuid
           for update of a`);
      const application = locked.rows[0];
      if (!application) throw new NotFoundError("Application not found");
      if (application.status !== "pending") {
        throw new ConflictError(`The application was already ${application.status}`, {
          details: { status: application.status },
        });
      }
      if (application.identity_user_id) {
        throw new ConflictError("This WeChat account is already linked to a user");
      }
      const found = new Map(application.roles.map((r) => [r.id, r.permissions]));
      const missing = roleIds.filter((id) => !found.has(id));
      if (missing.length > 0) {
        throw new ValidationError("Unknown roles", { roleIds: missing.map((id) => `No role ${id}`) });
      }
      const beyond = [...new Set([...found.values()].flat())].filter(
        (p) => isPermission(p) && !hasPermission(principal, p),
      );
      if (beyond.length > 0) {
        throw new ForbiddenError("The roles grant permissions the reviewer does not hold", {
          details: { permissions: beyond },
        });
      }

      const fullName = input.fullName?.trim() || application.full_name || "";
      // Data-modifying CTEs all run to completion, read or not; FK checks see the new user at statement end.
      const written = await tx.execute<ApplicationRow>(sql`
        with new_user as (
          insert into users (id, tenant_id, email, username, full_name, phone, organization_id)
          values (${userId}, ${tenantId}, ${email}, ${username}, ${fullName}, ${application.phone},
                  ${input.organizationId ?? null}::uuid)
          returning id
        ),
        assigned as (
          insert into user_roles (tenant_id, user_id, role_id)
          select ${tenantId}, nu.id, r from new_user nu, unnest(${uuidArray(roleIds)}) r
          returning role_id
        ),
        linked as (
          update wechat_identities set user_id = ${userId}
           where tenant_id = ${tenantId} and id = ${application.wechat_identity_id}
          returning id
        )
        update staff_applications
           set status = 'approved', reviewer_id = ${reviewerId}, reviewed_at = now(),
               user_id = (select id from new_user), updated_at = now()
         where tenant_id = ${tenantId} and id = ${input.id}::uuid
           and exists (select 1 from linked)
        returning ${applicationColumns}`);
      const approved = written.rows[0];
      if (!approved) throw new Error("approval wrote nothing");
      return approved;
    });
    ctx.logger.info("staff application approved", { tenantId, applicationId: row.id, userId });
    return toApplicationView(row);
  } catch (error) {
    const pg = pgErrorOf(error);
    if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "users_tenant_email_key") {
      throw new ConflictError("A user with this email already exists", { details: { email } });
    }
    if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "users_tenant_username_key") {
      throw new ConflictError("A user with this username already exists", { details: { username } });
    }
    if (pg?.code === PG_FOREIGN_KEY_VIOLATION && pg.constraint === "users_organization_fk") {
      throw new ValidationError("Unknown organization", { organizationId: ["No such organization"] });
    }
    throw error;
  }
}

function uuidArray(values: readonly string[]): SQL {
  if (values.length === 0) return sql`'{}'::uuid[]`;
  return sql`array[${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )}]::uuid[]`;
}
