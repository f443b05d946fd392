/**
 * SLA policies as the API speaks them: the input schemas (the routes document exactly these; the services
 * parse again because internal callers reach them without a route), the view, and the row mapping.
 */
import { sql } from "drizzle-orm";
import * as z from "zod";
import { PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import {
  AtRiskPercentSchema,
  SLA_PRIORITIES,
  type SlaPolicyRules,
  type SlaPriority,
  SlaTargetSchema,
  type SlaTargets,
  SlaTargetsSchema,
} from "../../domain/sla";
import { ConflictError } from "../../lib/errors";
import type { AuditEntry } from "../audit/audit-entry";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";

const Name = z.string().trim().min(1).max(200).meta({ example: "Standard support" });
const Description = z.string().trim().max(1000).nullable();
const BusinessHoursOnly = z.boolean().meta({
  description:
    "Count only the ticket team's business hours (its timezone, weekly hours and holidays); false = around the clock",
});
const IsDefault = z.boolean().meta({
  description:
    "The tenant's default: applies to tickets whose team has no policy (or no team). Making one default " +
    "unsets the previous default",
});

export const CreateSlaPolicySchema = z
  .strictObject({
    name: Name,
    description: Description.optional(),
    targets: SlaTargetsSchema,
    businessHoursOnly: BusinessHoursOnly.optional().meta({ description: "Default true" }),
    atRiskPercent: AtRiskPercentSchema.optional().meta({
      description: "A target is at risk once this share of it is used (1–99, default 80)",
    }),
    isDefault: IsDefault.optional(),
  })
  .meta({ id: "CreateSlaPolicy" });
export type CreateSlaPolicyInput = z.input<typeof CreateSlaPolicySchema>;

export const UpdateSlaPolicySchema = z
  .strictObject({
    name: Name.optional(),
    description: Description.optional(),
    targets: z
      .strictObject(
        Object.fromEntries(SLA_PRIORITIES.map((p) => [p, SlaTargetSchema.optional()])) as Record<
          SlaPriority,
          z.ZodOptional<typeof SlaTargetSchema>
        >,
      )
      .optional()
      .meta({ description: "The priorities given replace theirs; the others keep their targets" }),
    businessHoursOnly: BusinessHoursOnly.optional(),
    atRiskPercent: AtRiskPercentSchema.optional(),
    isDefault: IsDefault.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "Nothing to change" })
  .meta({ id: "UpdateSlaPolicy" });
export type UpdateSlaPolicyInput = z.input<typeof UpdateSlaPolicySchema>;

export interface SlaPolicyView {
  id: string;
  name: string;
  description: string | null;
  isDefault: boolean;
  targets: SlaTargets;
  businessHoursOnly: boolean;
  atRiskPercent: number;
  createdAt: string;
  updatedAt: string;
}

export interface SlaPolicyRow extends Record<string, unknown> {
  id: string;
  name: string;
  description: string | null;
  is_default: boolean;
  targets: SlaTargets | string;
  business_hours_only: boolean;
  at_risk_percent: number;
  created_at: string | Date;
  updated_at: string | Date;
}

export const SLA_POLICY_COLUMNS = sql.raw(
  "id, name, description, is_default, targets, business_hours_only, at_risk_percent, created_at, updated_at",
);

export function toSlaPolicyView(row: SlaPolicyRow): SlaPolicyView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    isDefault: row.is_default,
    targets: typeof row.targets === "string" ? (JSON.parse(row.targets) as SlaTargets) : row.targets,
    businessHoursOnly: row.business_hours_only,
    atRiskPercent: Number(row.at_risk_percent),
    createdAt: new Date(row.created_at).toISOString(),
    updatedAt: new Date(row.updated_at).toISOString(),
  };
}

/** The rules the SLA clocks read. */
export function rulesOf(view: SlaPolicyView): SlaPolicyRules {
  return {
    id: view.id,
    targets: view.targets,
    businessHoursOnly: view.businessHoursOnly,
    atRiskPercent: view.atRiskPercent,
  };
}

/** The fields an audit row of a policy records. */
export function auditFieldsOf(view: SlaPolicyView): Record<string, unknown> {
  return {
    name: view.name,
    description: view.description,
    isDefault: view.isDefault,
    targets: view.targets,
    businessHoursOnly: view.businessHoursOnly,
    atRiskPercent: view.atRiskPercent,
  };
}

/** The audit entries of the policies a new default took over from (at most one, unless data was edited by hand). */
export function demotedDefaultEntries(demoted: readonly { id: string }[]): AuditEntry[] {
  return demoted.map((d) => ({
    entityType: "sla_policy",
    entityId: d.id,
    action: "updated",
    changes: { isDefault: { before: true, after: false } },
  }));
}

/** Unique-index violations of a policy write, as the caller's errors. */
export function slaPolicyWriteError(error: unknown): unknown {
  const pg = pgErrorOf(error);
  if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "sla_policies_tenant_name_key") {
    return new ConflictError("An SLA policy with this name already exists", { details: { field: "name" } });
  }
  if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "sla_policies_one_default_key") {
    // Two requests made different policies the default at the same moment; the other one won.
    return new ConflictError("Another policy was made the default at the same time; try again", {
      details: { field: "isDefault" },
    });
  }
  return error;
}

/** Reading policies needs `tickets:read`. */
export function slaPolicyReader(ctx: ServiceContext): string {
  const { tenantId, principal } = callerOf(ctx);
  requirePermissionOf(principal, "tickets:read");
  return tenantId;
}
