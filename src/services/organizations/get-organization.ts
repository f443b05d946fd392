import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import {
  type OrganizationView,
  type OrganizationViewRow,
  selectOrganizationView,
  toOrganizationView,
} from "./organization-view";

export async function getOrganization({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<OrganizationView> {
  const { tenantId: t } = callerOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<OrganizationViewRow>(selectOrganizationView(t, input.id)),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Organization not found");
  return toOrganizationView(row);
}
