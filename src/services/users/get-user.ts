import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "./caller";
import { selectUserView, toUserView, type UserView, type UserViewRow } from "./user-view";

/**
 * The hot read: one statement in one round trip (user, role ids and names, organization name). A
 * soft-deleted user and another tenant's user are both simply not found.
 */
export async function getUser({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<UserView> {
  const caller = callerOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, caller.tenantId, (db) => [
    db.execute<UserViewRow>(selectUserView(caller.tenantId, input.id)),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("User not found");
  return toUserView(row);
}
