import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import {
  type ConnectionView,
  type ConnectionViewRow,
  selectConnectionView,
  syncCallerOf,
  toConnectionView,
} from "./connection-view";

export async function getConnection({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<ConnectionView> {
  const { tenantId: t } = syncCallerOf(ctx, "sync:read");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ConnectionViewRow>(selectConnectionView(t, input.id)),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Connection not found");
  return toConnectionView(row);
}
