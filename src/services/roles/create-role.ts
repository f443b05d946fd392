import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { assertCanGrant } from "./grant-guard";
import {
  normalisePermissions,
  type RoleView,
  type RoleViewRow,
  roleWriteError,
  selectRoleView,
  toRoleView,
} from "./role-view";

export interface CreateRoleInput {
  name: string;
  description?: string | undefined;
  permissions: string[];
}

/** Unknown permissions 422; permissions the caller does not hold 403; a taken name (any case) 409. */
export async function createRole({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateRoleInput;
}): Promise<RoleView> {
  const caller = callerOf(ctx);
  const t = caller.tenantId;
  const permissions = normalisePermissions(input.permissions);
  assertCanGrant(caller, permissions, "This role");
  const id = crypto.randomUUID();
  try {
    const [, view] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        insert into roles (id, tenant_id, name, description, permissions)
        values (${id}, ${t}, ${input.name.trim()}, ${input.description ?? ""}, ${sql.param(permissions)}::text[])`),
      db.execute<RoleViewRow>(selectRoleView(t, id)),
    ]);
    const row = view.rows[0];
    if (!row) throw new Error("created role not read back");
    return toRoleView(row);
  } catch (error) {
    throw roleWriteError(error);
  }
}
