import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { auditRecords, auditStatement } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import { parseInput } from "../tickets/ticket-input";
import {
  type CreateTeamInput,
  CreateTeamSchema,
  normaliseHolidays,
  type SupportTeamView,
  type TeamRow,
  teamViewStatement,
  teamWriteError,
  toTeamView,
} from "./team-model";

/** Creates a support team (`tickets:admin`) with its audit row; one round trip (write and read in one batch). */
export async function createSupportTeam({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: CreateTeamInput;
  requestId?: string | null;
}): Promise<SupportTeamView> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const body = parseInput(CreateTeamSchema, input, "support team");
  const t = author.tenantId;
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  const team = {
    name: body.name,
    description: body.description ?? null,
    timezone: body.timezone ?? "UTC",
    businessHours: body.businessHours ?? null,
    holidays: normaliseHolidays(body.holidays ?? []),
    assignmentStrategy: body.assignmentStrategy ?? "manual",
    slaPolicyId: body.slaPolicyId ?? null,
  };
  const records = auditRecords(
    author,
    [
      {
        entityType: "support_team",
        entityId: id,
        action: "created",
        changes: Object.fromEntries(
          Object.entries(team).map(([field, after]) => [field, { before: null, after }]),
        ),
      },
    ],
    now,
  );
  try {
    const [, view] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute(sql`
        with created as (
          insert into support_teams (id, tenant_id, name, description, timezone, business_hours, holidays,
                                     assignment_strategy, sla_policy_id, created_at, updated_at)
          values (${id}::uuid, ${t}::uuid, ${team.name}, ${team.description}, ${team.timezone},
                  ${team.businessHours === null ? null : JSON.stringify(team.businessHours)}::jsonb,
                  ${JSON.stringify(team.holidays)}::jsonb, ${team.assignmentStrategy}, ${team.slaPolicyId}::uuid,
                  ${now}::timestamptz, ${now}::timestamptz)
          returning id
        ),
        audited as (${auditStatement(t, records)})
        select id from created`),
      db.execute<TeamRow>(teamViewStatement(sql`st.tenant_id = ${t} and st.id = ${id}::uuid`)),
    ]);
    const row = view.rows[0];
    if (!row) throw new Error("created team not readable");
    publishAuditFeed(ctx, t, records);
    return toTeamView(row);
  } catch (error) {
    return teamWriteError(error);
  }
}
