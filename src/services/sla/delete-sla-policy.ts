import { sql } from "drizzle-orm";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { ConflictError, NotFoundError } from "../../lib/errors";
import { auditRecords, auditStatement } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import { ticketTransaction } from "../tickets/ticket-transaction";
import { auditFieldsOf, SLA_POLICY_COLUMNS, type SlaPolicyRow, toSlaPolicyView } from "./sla-policy-model";

interface PolicyUsageRow extends SlaPolicyRow {
  teams: number | string;
  tickets: number | string;
}

const IN_USE =
  "This SLA policy is in use; give its teams another policy first. A policy that has governed tickets is kept for the SLA report — rename it or stop using it instead";

/**
 * Deletes an SLA policy nothing refers to (`tickets:admin`): no team uses it and no ticket — open or
 * closed — was measured against it (the SLA report judges those tickets by its targets). Otherwise 409,
 * with the counts in `details`.
 */
export async function deleteSlaPolicy({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: { id: string };
  requestId?: string | null;
}): Promise<{ deleted: true }> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const t = author.tenantId;
  const now = new Date().toISOString();
  try {
    const records = await ticketTransaction(
      ctx,
      t,
      async (tx) => {
        const current = await tx.execute<PolicyUsageRow>(sql`
        select ${SLA_POLICY_COLUMNS},
               (select count(*) from support_teams s where s.tenant_id = p.tenant_id and s.sla_policy_id = p.id) as teams,
               (select count(*) from tickets k where k.tenant_id = p.tenant_id and k.sla_policy_id = p.id) as tickets
          from sla_policies p where p.tenant_id = ${t} and p.id = ${input.id}::uuid for update`);
        const row = current.rows[0];
        if (!row) throw new NotFoundError("SLA policy not found");
        const teams = Number(row.teams);
        const tickets = Number(row.tickets);
        if (teams > 0 || tickets > 0) throw new ConflictError(IN_USE, { details: { teams, tickets } });
        const before = toSlaPolicyView(row);
        const policyRecords = auditRecords(
          author,
          [
            {
              entityType: "sla_policy",
              entityId: input.id,
              action: "deleted",
              changes: Object.fromEntries(
                Object.entries(auditFieldsOf(before)).map(([field, value]) => [
                  field,
                  { before: value, after: null },
                ]),
              ),
            },
          ],
          now,
        );
        await tx.execute(sql`delete from sla_policies where tenant_id = ${t} and id = ${input.id}::uuid`);
        await tx.execute(auditStatement(t, policyRecords));
        return policyRecords;
      },
      "change",
    );
    publishAuditFeed(ctx, t, records);
    ctx.logger.info("SLA policy deleted", { tenantId: t, policyId: input.id });
    return { deleted: true };
  } catch (error) {
    // A ticket or team took the policy between the check and the delete.
    if (pgErrorOf(error)?.code === PG_FOREIGN_KEY_VIOLATION) throw new ConflictError(IN_USE);
    throw error;
  }
}
