import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { type AuditEntry, auditRecords, auditStatement } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import { parseInput } from "../tickets/ticket-input";
import { ticketTransaction } from "../tickets/ticket-transaction";
import { recomputeTicketSlaInTransaction } from "./recompute-ticket-sla";
import {
  auditFieldsOf,
  type CreateSlaPolicyInput,
  CreateSlaPolicySchema,
  demotedDefaultEntries,
  SLA_POLICY_COLUMNS,
  type SlaPolicyRow,
  type SlaPolicyView,
  slaPolicyWriteError,
  toSlaPolicyView,
} from "./sla-policy-model";

/**
 * Creates an SLA policy (`tickets:admin`). A new default takes over from the previous one in the same
 * transaction, and the open tickets that now fall under it (those whose team has no policy of its own, or
 * that have no team) get their due times recomputed with it; a policy that is not the default applies to
 * no ticket until a team is given it, so it is one batched insert.
 */
export async function createSlaPolicy({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: CreateSlaPolicyInput;
  requestId?: string | null;
}): Promise<SlaPolicyView> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const body = parseInput(CreateSlaPolicySchema, input, "SLA policy");
  const t = author.tenantId;
  const id = crypto.randomUUID();
  const now = new Date().toISOString();
  const isDefault = body.isDefault ?? false;
  const insert = sql`
    insert into sla_policies (id, tenant_id, name, description, is_default, targets, business_hours_only,
                              at_risk_percent, created_at, updated_at)
    values (${id}::uuid, ${t}::uuid, ${body.name}, ${body.description ?? null}, ${isDefault},
            ${JSON.stringify(body.targets)}::jsonb, ${body.businessHoursOnly ?? true}, ${body.atRiskPercent ?? 80},
            ${now}::timestamptz, ${now}::timestamptz)
    returning ${SLA_POLICY_COLUMNS}`;
  const createdEntry = (view: SlaPolicyView): AuditEntry => ({
    entityType: "sla_policy",
    entityId: id,
    action: "created",
    changes: Object.fromEntries(
      Object.entries(auditFieldsOf(view)).map(([field, after]) => [field, { before: null, after }]),
    ),
  });

  try {
    if (!isDefault) {
      // The audit row needs the stored values; they are exactly the input's (plus defaults), so it is
      // built up front and written in the same batch.
      const expected = toSlaPolicyView({
        id,
        name: body.name,
        description: body.description ?? null,
        is_default: false,
        targets: body.targets,
        business_hours_only: body.businessHoursOnly ?? true,
        at_risk_percent: body.atRiskPercent ?? 80,
        created_at: now,
        updated_at: now,
      });
      const records = auditRecords(author, [createdEntry(expected)], now);
      const [inserted] = await tenantBatch(ctx.db.http, t, (db) => [
        db.execute<SlaPolicyRow>(insert),
        db.execute(auditStatement(t, records)),
      ]);
      const row = inserted.rows[0];
      if (!row) throw new Error("policy insert returned no row");
      publishAuditFeed(ctx, t, records);
      ctx.logger.info("SLA policy created", { tenantId: t, policyId: id });
      return toSlaPolicyView(row);
    }

    const { view, records } = await ticketTransaction(
      ctx,
      t,
      async (tx) => {
        const demoted = await tx.execute<{ id: string }>(sql`
        update sla_policies set is_default = false, updated_at = ${now}::timestamptz
         where tenant_id = ${t} and is_default returning id`);
        const inserted = await tx.execute<SlaPolicyRow>(insert);
        const row = inserted.rows[0];
        if (!row) throw new Error("policy insert returned no row");
        const created = toSlaPolicyView(row);
        const ticketRecords = await recomputeTicketSlaInTransaction(tx, {
          author,
          scope: { policyId: id },
          now,
        });
        const policyRecords = auditRecords(
          author,
          [createdEntry(created), ...demotedDefaultEntries(demoted.rows)],
          now,
        );
        await tx.execute(auditStatement(t, policyRecords));
        return { view: created, records: [...policyRecords, ...ticketRecords] };
      },
      "change",
    );
    publishAuditFeed(ctx, t, records);
    ctx.logger.info("SLA policy created as default", { tenantId: t, policyId: id, records: records.length });
    return view;
  } catch (error) {
    throw slaPolicyWriteError(error);
  }
}
