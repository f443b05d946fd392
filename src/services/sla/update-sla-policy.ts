import { sql } from "drizzle-orm";
import { type SlaTargets, SlaTargetsSchema } from "../../domain/sla";
import { NotFoundError } from "../../lib/errors";
import { type AuditEntry, auditRecords, auditStatement, changedFields } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import { parseInput } from "../tickets/ticket-input";
import { ticketTransaction } from "../tickets/ticket-transaction";
import { recomputeTicketSlaInTransaction } from "./recompute-ticket-sla";
import {
  auditFieldsOf,
  demotedDefaultEntries,
  rulesOf,
  SLA_POLICY_COLUMNS,
  type SlaPolicyRow,
  type SlaPolicyView,
  slaPolicyWriteError,
  toSlaPolicyView,
  type UpdateSlaPolicyInput,
  UpdateSlaPolicySchema,
} from "./sla-policy-model";

/** Fields whose change moves ticket clocks. */
const CLOCK_FIELDS = ["targets", "businessHoursOnly", "atRiskPercent", "isDefault"] as const;

/**
 * Changes an SLA policy (`tickets:admin`). When its targets, business-hours flag, at-risk share or default
 * flag change, the open tickets under it — and those that fall under it now, or leave it — are recomputed
 * in the same transaction: time already used is banked under the old rules, due times follow the new ones.
 */
export async function updateSlaPolicy({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: UpdateSlaPolicyInput & { id: string };
  requestId?: string | null;
}): Promise<SlaPolicyView> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const { id, ...patch } = input;
  const body = parseInput(UpdateSlaPolicySchema, patch, "SLA policy");
  const t = author.tenantId;
  const now = new Date().toISOString();

  try {
    const { view, records } = await ticketTransaction(
      ctx,
      t,
      async (tx) => {
        const current = await tx.execute<SlaPolicyRow>(sql`
        select ${SLA_POLICY_COLUMNS} from sla_policies where tenant_id = ${t} and id = ${id}::uuid for update`);
        const row = current.rows[0];
        if (!row) throw new NotFoundError("SLA policy not found");
        const before = toSlaPolicyView(row);
        const targets: SlaTargets = { ...before.targets };
        for (const [priority, target] of Object.entries(body.targets ?? {})) {
          if (target !== undefined) targets[priority as keyof SlaTargets] = target;
        }
        // Each priority was checked on its own; the merged whole is checked again (same rules, same messages).
        parseInput(SlaTargetsSchema, targets, "SLA policy targets");

        const demoted =
          body.isDefault === true && !before.isDefault
            ? await tx.execute<{ id: string }>(sql`
              update sla_policies set is_default = false, updated_at = ${now}::timestamptz
               where tenant_id = ${t} and is_default and id <> ${id}::uuid returning id`)
            : { rows: [] };
        const updated = await tx.execute<SlaPolicyRow>(sql`
        update sla_policies
           set name = ${body.name ?? before.name},
               description = ${body.description !== undefined ? body.description : before.description},
               is_default = ${body.isDefault ?? before.isDefault},
               targets = ${JSON.stringify(targets)}::jsonb,
               business_hours_only = ${body.businessHoursOnly ?? before.businessHoursOnly},
               at_risk_percent = ${body.atRiskPercent ?? before.atRiskPercent},
               updated_at = ${now}::timestamptz
         where tenant_id = ${t} and id = ${id}::uuid
        returning ${SLA_POLICY_COLUMNS}`);
        const updatedRow = updated.rows[0];
        if (!updatedRow) throw new Error("policy update returned no row");
        const after = toSlaPolicyView(updatedRow);

        const changes = changedFields(auditFieldsOf(before), auditFieldsOf(after));
        if (Object.keys(changes).length === 0) return { view: before, records: [] };
        const clocksMove = CLOCK_FIELDS.some((field) => field in changes);
        const ticketRecords = clocksMove
          ? await recomputeTicketSlaInTransaction(tx, {
              author,
              scope: { policyId: id },
              before: { policy: rulesOf(before) },
              now,
            })
          : [];
        const entries: AuditEntry[] = [
          { entityType: "sla_policy", entityId: id, action: "updated", changes },
          ...demotedDefaultEntries(demoted.rows),
        ];
        const policyRecords = auditRecords(author, entries, now);
        await tx.execute(auditStatement(t, policyRecords));
        return { view: after, records: [...policyRecords, ...ticketRecords] };
      },
      "change",
    );
    publishAuditFeed(ctx, t, records);
    if (records.length > 0) {
      ctx.logger.info("SLA policy updated", { tenantId: t, policyId: id, records: records.length });
    }
    return view;
  } catch (error) {
    throw slaPolicyWriteError(error);
  }
}
