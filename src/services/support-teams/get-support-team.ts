import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import { type SupportTeamView, type TeamRow, teamViewStatement, toTeamView } from "./team-model";

/** One team with its members and loads; one round trip. */
export async function getSupportTeam({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<SupportTeamView> {
  const { tenantId: t } = ticketCaller(ctx, "tickets:read");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<TeamRow>(teamViewStatement(sql`st.tenant_id = ${t} and st.id = ${input.id}::uuid`)),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Support team not found");
  return toTeamView(row);
}

/** Every team of the tenant by name (teams are few: no paging), with members and loads; one round trip. */
export async function listSupportTeams({ ctx }: { ctx: ServiceContext }): Promise<SupportTeamView[]> {
  const { tenantId: t } = ticketCaller(ctx, "tickets:read");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<TeamRow>(teamViewStatement(sql`st.tenant_id = ${t}`)),
  ]);
  return result.rows.map(toTeamView);
}
