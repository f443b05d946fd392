import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import {
  type SyncFailureDetail,
  type SyncFailureDetailRow,
  selectSyncFailure,
  toSyncFailureDetail,
} from "./failure-view";

/** One failure with its payload and error history: one round trip. */
export async function getSyncFailure({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<SyncFailureDetail> {
  const t = callerOf(ctx).tenantId;
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SyncFailureDetailRow>(selectSyncFailure(t, input.id)),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Sync failure not found");
  return toSyncFailureDetail(row);
}
