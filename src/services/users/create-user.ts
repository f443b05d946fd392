import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ForbiddenError, ValidationError } from "../../lib/errors";
import { hashPassword } from "../auth/password";
import type { ServiceContext } from "../context";
import { publishDomainEvent } from "../events/publish-domain-event";
import { callerOf } from "./caller";
import {
  type AssignableRoleRow,
  checkAssignableRoles,
  insertUserRoles,
  selectRolesByIds,
  uniqueIds,
} from "./role-assignment";
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

/**
 * Creates a user (and its roles) in one batched transaction. Only a superuser creates superusers; roles
 * are checked first (unknown → 422, more than the caller holds → 403). Publishes `user.created`.
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
  const [roles, passwordHash] = await Promise.all([
    roleIds.length === 0
      ? Promise.resolve<AssignableRoleRow[]>([])
      : tenantBatch(ctx.db.http, t, (db) => [
          db.execute<AssignableRoleRow>(selectRolesByIds(t, roleIds)),
        ]).then(([r]) => r.rows),
    input.password === undefined ? Promise.resolve(null) : hashPassword(input.password),
  ]);
  checkAssignableRoles(caller, roleIds, roles);

  const id = crypto.randomUUID();
  let created: UserViewRow | undefined;
  try {
    // The role insert is a no-op when no roles are given; one fixed batch shape either way.
    const [, , view] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        insert into users (id, tenant_id, email, username, full_name, phone, password_hash, active, superuser, organization_id)
        values (${id}, ${t}, ${email ?? null}, ${username ?? null}, ${input.fullName.trim()}, ${input.phone ?? null},
                ${passwordHash}, ${input.active ?? true}, ${input.superuser ?? false}, ${input.organizationId ?? null})`),
      db.execute(insertUserRoles(caller, id, roleIds)),
      db.execute<UserViewRow>(selectUserView(t, id)),
    ]);
    created = view.rows[0];
  } catch (error) {
    throw userWriteError(error);
  }
  if (!created) throw new Error("created user not read back");
  publishDomainEvent({ ctx, input: { type: "user.created", data: { userId: id } } });
  return toUserView(created);
}
