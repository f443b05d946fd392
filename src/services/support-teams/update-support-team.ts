import { sql } from "drizzle-orm";
import { NotFoundError } from "../../lib/errors";
import { type AuditRecord, auditRecords, auditStatement, changedFields } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { recomputeTicketSlaInTransaction } from "../sla/recompute-ticket-sla";
import { ticketCaller } from "../tickets/ticket-access";
import { parseInput } from "../tickets/ticket-input";
import { ticketTransaction } from "../tickets/ticket-transaction";
import {
  calendarOf,
  jsonOf,
  normaliseHolidays,
  readTeamView,
  type SupportTeamView,
  type TeamRow,
  teamWriteError,
  toTeamView,
  type UpdateTeamInput,
  UpdateTeamSchema,
} from "./team-model";

type LockedTeamRow = Pick<
  TeamRow,
  | "name"
  | "description"
  | "timezone"
  | "business_hours"
  | "holidays"
  | "assignment_strategy"
  | "sla_policy_id"
>;

/** What moves the SLA clocks of the team's tickets. */
const CLOCK_FIELDS = ["timezone", "businessHours", "holidays", "slaPolicyId"];

/**
 * Changes a team (`tickets:admin`). A change of its calendar (timezone, hours, holidays) or SLA policy
 * recomputes the due times of its open, pending and on-hold tickets in the same transaction — time already
 * used is kept as measured under the old calendar (src/services/sla/recompute-ticket-sla.ts) — so the team
 * and its tickets never disagree. Audit rows for the team and each recomputed ticket commit with it.
 */
export async function updateSupportTeam({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: { id: string; changes: UpdateTeamInput };
  requestId?: string | null;
}): Promise<SupportTeamView> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const body = parseInput(UpdateTeamSchema, input.changes, "request body");
  const t = author.tenantId;
  try {
    const { row, records } = await ticketTransaction(
      ctx,
      t,
      async (tx) => {
        const current = await tx.execute<LockedTeamRow>(sql`
        select name, description, timezone, business_hours, holidays, assignment_strategy, sla_policy_id
          from support_teams where tenant_id = ${t} and id = ${input.id}::uuid for update`);
        const locked = current.rows[0];
        if (!locked) throw new NotFoundError("Support team not found");
        const before = {
          name: locked.name,
          description: locked.description,
          timezone: locked.timezone,
          businessHours: locked.business_hours === null ? null : jsonOf(locked.business_hours),
          holidays: jsonOf(locked.holidays),
          assignmentStrategy: locked.assignment_strategy,
          slaPolicyId: locked.sla_policy_id,
        };
        const after = {
          name: body.name ?? before.name,
          description: body.description !== undefined ? body.description : before.description,
          timezone: body.timezone ?? before.timezone,
          businessHours: body.businessHours !== undefined ? body.businessHours : before.businessHours,
          holidays: body.holidays !== undefined ? normaliseHolidays(body.holidays) : before.holidays,
          assignmentStrategy: body.assignmentStrategy ?? before.assignmentStrategy,
          slaPolicyId: body.slaPolicyId !== undefined ? body.slaPolicyId : before.slaPolicyId,
        };
        const changes = changedFields(before, after);
        let records: AuditRecord[] = [];
        if (Object.keys(changes).length > 0) {
          const now = new Date().toISOString();
          records = auditRecords(
            author,
            [{ entityType: "support_team", entityId: input.id, action: "updated", changes }],
            now,
          );
          await tx.execute(sql`
          with changed as (
            update support_teams
               set name = ${after.name}, description = ${after.description}, timezone = ${after.timezone},
                   business_hours = ${after.businessHours === null ? null : JSON.stringify(after.businessHours)}::jsonb,
                   holidays = ${JSON.stringify(after.holidays)}::jsonb,
                   assignment_strategy = ${after.assignmentStrategy}, sla_policy_id = ${after.slaPolicyId}::uuid,
                   updated_at = ${now}::timestamptz
             where tenant_id = ${t} and id = ${input.id}::uuid
          ),
          audited as (${auditStatement(t, records)})
          select 1`);
          if (CLOCK_FIELDS.some((field) => field in changes)) {
            const recomputed = await recomputeTicketSlaInTransaction(tx, {
              author,
              scope: { teamId: input.id },
              before: { calendar: calendarOf(before) },
              now,
            });
            records = [...records, ...recomputed];
          }
        }
        return { row: await readTeamView(tx, t, input.id), records };
      },
      "change",
    );
    publishAuditFeed(ctx, t, records);
    return toTeamView(row);
  } catch (error) {
    return teamWriteError(error);
  }
}
