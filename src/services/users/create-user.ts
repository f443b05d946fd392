import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, ValidationError } from "../../lib/errors";
import { hashPassword } from "../auth/password";
import type { ServiceContext } from "../context";
import { publishDomainEvent } from "../events/publish-domain-event";
import {
  callerOf,
  REQUESTED_ROLES_JSON,
  requestedRolesAssignable,
  requestedRolesCte,
  requestedRolesOf,
} from "./caller";
import { type AssignableRoleRow, checkAssignableRoles, insertUserRoles, uniqueIds } from "./role-assignment";
import { selectUserView, toUserView, type UserView, type UserViewRow } from "./user-view";
import { userWriteError } from "./write-errors";

export interface CreateUserInput {
  email?: string | undefined;
  username?: string | undefined;
  fullName: string;
  password?: string | undefined;
  phone?: string | undefined;
  organizationId?: string | undefined;
  roleIds?: string[] | undefined;
  active?: boolean | undefined;
  superuser?: boolean | undefined;
}

/** A password must not be the login itself. */
export function assertPasswordNotLogin(
  password: string | undefined,
  logins: { email?: string | null | undefined; username?: string | null | undefined },
): void {
  if (password === undefined) return;
  const lowered = password.toLowerCase();
  if (logins.email && lowered === logins.email.toLowerCase()) {
    throw new ValidationError("Weak password", { password: ["Must not be the email address"] });
  }
  if (logins.username && lowered === logins.username.toLowerCase()) {
    throw new ValidationError("Weak password", { password: ["Must not be the username"] });
  }
}

interface CreateRow extends Record<string, unknown> {
  roles: AssignableRoleRow[] | string | null;
  inserted: boolean;
}

/**
 * Creates a user (and its roles) in one batched transaction, one round trip. Only a superuser creates
 * superusers; the insert is guarded by the role checks in SQL, and a refusal is reported after it
 * (unknown roles → 422, more than the caller holds → 403). Publishes `user.created`.
 */
export async function createUser({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateUserInput;
}): Promise<UserView> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  if (input.superuser && !caller.superuser)
    throw new ForbiddenError("Only a superuser can create superusers");
  const email = input.email?.trim().toLowerCase();
  const username = input.username?.trim();
  if (!email && !username) {
    throw new ValidationError("A user needs an email or a username", {
      email: ["Give an email or a username"],
    });
  }
  assertPasswordNotLogin(input.password, { email, username });
  const roleIds = uniqueIds(input.roleIds);
  const passwordHash = input.password === undefined ? null : await hashPassword(input.password);

  const id = crypto.randomUUID();
  let checked: CreateRow | undefined;
  let created: UserViewRow | undefined;
  try {
    // The user is inserted only if its roles pass the checks, in the statement that reads them; the
    // statement returns those roles so a refusal is reported from what it saw. The role insert is a
    // no-op when no roles are given (or the user was not inserted); one fixed batch shape either way.
    const [insert, , view] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<CreateRow>(sql`
        with ${requestedRolesCte(t, roleIds)},
        inserted as (
          insert into users (id, tenant_id, email, username, full_name, phone, password_hash, active, superuser, organization_id)
          select ${id}::uuid, ${t}::uuid, ${email ?? null}::text, ${username ?? null}::text, ${input.fullName.trim()}::text,
                 ${input.phone ?? null}::text, ${passwordHash}::text, ${input.active ?? true}::boolean,
                 ${input.superuser ?? false}::boolean, ${input.organizationId ?? null}::uuid
           where ${requestedRolesAssignable(caller, roleIds)}
          returning id
        )
        select ${REQUESTED_ROLES_JSON} as roles, exists (select 1 from inserted) as inserted`),
      db.execute(insertUserRoles(caller, id, roleIds)),
      db.execute<UserViewRow>(selectUserView(t, id)),
    ]);
    checked = insert.rows[0];
    created = view.rows[0];
  } catch (error) {
    throw userWriteError(error);
  }
  if (!checked) throw new Error("user insert returned no row");
  checkAssignableRoles(caller, roleIds, requestedRolesOf(checked.roles));
  if (!checked.inserted || !created) throw new Error("created user not read back");
  publishDomainEvent({ ctx, input: { type: "user.created", data: { userId: id } } });
  return toUserView(created);
}
