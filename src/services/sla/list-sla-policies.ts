import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import {
  SLA_POLICY_COLUMNS,
  type SlaPolicyRow,
  type SlaPolicyView,
  slaPolicyReader,
  toSlaPolicyView,
} from "./sla-policy-model";

/** The tenant's SLA policies, the default first, then by name (`tickets:read`). A tenant has a handful. */
export async function listSlaPolicies({ ctx }: { ctx: ServiceContext }): Promise<SlaPolicyView[]> {
  const t = slaPolicyReader(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SlaPolicyRow>(sql`
      select ${SLA_POLICY_COLUMNS} from sla_policies where tenant_id = ${t}
       order by is_default desc, lower(name), id limit 500`),
  ]);
  return result.rows.map(toSlaPolicyView);
}

export async function getSlaPolicy({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<SlaPolicyView> {
  const t = slaPolicyReader(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<SlaPolicyRow>(sql`
      select ${SLA_POLICY_COLUMNS} from sla_policies where tenant_id = ${t} and id = ${input.id}::uuid`),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("SLA policy not found");
  return toSlaPolicyView(row);
}
