import { sql } from "drizzle-orm";
import { PG_CHECK_VIOLATION, PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import { roles, userRoles, users } from "../../db/schema";
import { tenantBatch } from "../../db/tenant";
import { ConflictError, ValidationError } from "../../lib/errors";
import { hashPassword } from "../auth/password";
import { PERMISSIONS } from "../auth/permissions";
import type { ServiceContext } from "../context";
import { RESERVED_SLUGS } from "./check-slug-availability";
import { platformAdminOf } from "./platform-batch";
import { isoTime, type TenantRow, type TenantView, tenantColumns, toTenantView } from "./tenant-view";

export const SLUG_PATTERN = /^[a-z0-9][a-z0-9-]{1,62}$/;
export const MIN_ADMIN_PASSWORD_LENGTH = 12;
export const ADMINISTRATOR_ROLE_NAME = "Administrator";

export interface CreateTenantInput {
  slug: string;
  name: string;
  adminEmail: string;
  adminPassword: string;
  adminFullName?: string | undefined;
}

export interface TenantAdminView {
  id: string;
  email: string;
  fullName: string;
  superuser: true;
  roleId: string;
  createdAt: string;
}

export interface CreatedTenant {
  tenant: TenantView;
  adminUser: TenantAdminView;
}

/**
 * Registers a tenant with its first administrator: the tenant row, an "Administrator" role holding every
 * permission, the admin user (a superuser of the new tenant) and the role assignment — one batch, one
 * transaction, under the NEW tenant's RLS context (the ids are generated here, so the policies' with-check
 * `tenant_id = app.tenant_id` holds for every row). A taken slug is a 409 from the unique index, so two
 * concurrent registrations of one slug cannot both succeed.
 */
export async function createTenant({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateTenantInput;
}): Promise<CreatedTenant> {
  platformAdminOf(ctx);
  const slug = input.slug.trim().toLowerCase();
  if (!SLUG_PATTERN.test(slug)) {
    throw new ValidationError("Invalid slug", {
      slug: ["Must be 2-63 letters, digits or dashes, not starting with a dash"],
    });
  }
  if (RESERVED_SLUGS.has(slug)) {
    throw new ValidationError("This slug is reserved", { slug: [`'${slug}' is reserved`] });
  }
  if (input.adminPassword.length < MIN_ADMIN_PASSWORD_LENGTH) {
    throw new ValidationError("Password too short", {
      adminPassword: [`Must be at least ${MIN_ADMIN_PASSWORD_LENGTH} characters`],
    });
  }
  const email = input.adminEmail.trim().toLowerCase();
  const name = input.name.trim();
  const fullName = input.adminFullName?.trim() || "Administrator";
  const passwordHash = await hashPassword(input.adminPassword);
  const tenantId = crypto.randomUUID();
  const roleId = crypto.randomUUID();
  const userId = crypto.randomUUID();

  let result: Awaited<ReturnType<typeof insertAll>>;
  try {
    result = await insertAll();
  } catch (error) {
    const pg = pgErrorOf(error);
    if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "tenants_slug_key") {
      throw new ConflictError(`The slug '${slug}' is already taken`, { details: { slug } });
    }
    if (pg?.code === PG_CHECK_VIOLATION) {
      throw new ValidationError("Invalid tenant", { slug: ["Rejected by the database"] });
    }
    throw error;
  }
  const [tenantResult, , userResult] = result;
  const tenantRow = tenantResult.rows[0];
  const userRow = userResult[0];
  if (!tenantRow || !userRow) throw new Error("tenant creation returned no rows");
  ctx.logger.info("tenant created", { tenantId, slug });
  return {
    tenant: toTenantView(tenantRow),
    adminUser: {
      id: userRow.id,
      email: userRow.email ?? email,
      fullName: userRow.fullName,
      superuser: true,
      roleId,
      createdAt: isoTime(userRow.createdAt),
    },
  };

  function insertAll() {
    return tenantBatch(ctx.db.http, tenantId, (db) => [
      db.execute<TenantRow>(sql`
        insert into tenants (id, slug, name) values (${tenantId}, ${slug}, ${name})
        returning ${tenantColumns}`),
      db.insert(roles).values({
        id: roleId,
        tenantId,
        name: ADMINISTRATOR_ROLE_NAME,
        description: "Every permission; created with the tenant",
        permissions: [...PERMISSIONS],
      }),
      db
        .insert(users)
        .values({ id: userId, tenantId, email, fullName, passwordHash, superuser: true })
        .returning({
          id: users.id,
          email: users.email,
          fullName: users.fullName,
          createdAt: users.createdAt,
        }),
      db.insert(userRoles).values({ tenantId, userId, roleId }),
    ]);
  }
}
