import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import { type RoleView, type RoleViewRow, selectRoleView, toRoleView } from "./role-view";

export async function getRole({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<RoleView> {
  const { tenantId: t } = callerOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<RoleViewRow>(selectRoleView(t, input.id)),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Role not found");
  return toRoleView(row);
}
