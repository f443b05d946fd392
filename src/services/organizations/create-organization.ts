import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import {
  type OrganizationType,
  type OrganizationView,
  type OrganizationViewRow,
  organizationWriteError,
  selectOrganizationView,
  toOrganizationView,
} from "./organization-view";

export interface CreateOrganizationInput {
  name: string;
  type?: OrganizationType | undefined;
  parentId?: string | null | undefined;
  description?: string | null | undefined;
}

/** A parent in another tenant or unknown is a 422 (tenant-scoped FK); a sibling with the same name 409. */
export async function createOrganization({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: CreateOrganizationInput;
}): Promise<OrganizationView> {
  const { tenantId: t } = callerOf(ctx);
  const id = crypto.randomUUID();
  try {
    const [, view] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        insert into organizations (id, tenant_id, parent_id, name, type, description)
        values (${id}, ${t}, ${input.parentId ?? null}, ${input.name.trim()}, ${input.type ?? "department"},
                ${input.description ?? null})`),
      db.execute<OrganizationViewRow>(selectOrganizationView(t, id)),
    ]);
    const row = view.rows[0];
    if (!row) throw new Error("created organization not read back");
    return toOrganizationView(row);
  } catch (error) {
    throw organizationWriteError(error);
  }
}
