import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import type { CreateOrganizationInput } from "./create-organization";
import {
  type OrganizationView,
  type OrganizationViewRow,
  organizationWriteError,
  selectOrganizationView,
  toOrganizationView,
} from "./organization-view";

export type UpdateOrganizationInput = Partial<CreateOrganizationInput>;

/**
 * Renames, retypes or moves an organization. A move under itself or one of its descendants is refused
 * by the database (trigger `organizations_no_cycle`, serialized per tenant) and answered 422 on
 * `parentId`; `parentId: null` makes it a root.
 */
export async function updateOrganization({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; patch: UpdateOrganizationInput };
}): Promise<OrganizationView> {
  const { tenantId: t } = callerOf(ctx);
  const { id, patch } = input;
  const sets: SQL[] = [sql`updated_at = now()`];
  if (patch.name !== undefined) sets.push(sql`name = ${patch.name.trim()}`);
  if (patch.type !== undefined) sets.push(sql`type = ${patch.type}`);
  if (patch.parentId !== undefined) sets.push(sql`parent_id = ${patch.parentId}`);
  if (patch.description !== undefined) sets.push(sql`description = ${patch.description}`);
  let row: OrganizationViewRow | undefined;
  try {
    const [, view] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(
        sql`update organizations set ${sql.join(sets, sql`, `)} where tenant_id = ${t} and id = ${id}`,
      ),
      db.execute<OrganizationViewRow>(selectOrganizationView(t, id)),
    ]);
    row = view.rows[0];
  } catch (error) {
    throw organizationWriteError(error);
  }
  if (!row) throw new NotFoundError("Organization not found");
  return toOrganizationView(row);
}
