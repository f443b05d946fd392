import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { MAX_TARGET_MINUTES, SLA_PRIORITIES } from "../../domain/sla";
import { newApp } from "../../http/app";
import { authenticate, requirePermission } from "../../http/auth";
import { successBody } from "../../http/envelope";
import {
  authErrorResponses,
  bearerSecurity,
  bodyErrors,
  commonErrorResponses,
  envelopeOf,
  errorResponse,
  IdParamSchema,
  jsonContent,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { createSlaPolicy } from "../../services/sla/create-sla-policy";
import { deleteSlaPolicy } from "../../services/sla/delete-sla-policy";
import { getSlaReport, SlaReportQuerySchema } from "../../services/sla/get-sla-report";
import { getSlaPolicy, listSlaPolicies } from "../../services/sla/list-sla-policies";
import { CreateSlaPolicySchema, UpdateSlaPolicySchema } from "../../services/sla/sla-policy-model";
import { updateSlaPolicy } from "../../services/sla/update-sla-policy";

/** `/api/v1/sla`: SLA policies (first-response and resolution targets by priority) and the SLA report. */
export const slaApp = newApp();

const tags = ["SLA"];
const Iso = z.iso.datetime();
const reader = () => [authenticate(), requirePermission("tickets:read"), rateLimit("default")];
const admin = () => [authenticate(), requirePermission("tickets:admin"), rateLimit("default")];

const Minutes = z
  .number()
  .int()
  .nullable()
  .meta({ description: `Minutes of SLA time (1–${MAX_TARGET_MINUTES}); null = no target` });
const TargetSchema = z
  .object({ firstResponseMinutes: Minutes, resolutionMinutes: Minutes })
  .meta({ id: "SlaTarget" });

const SlaPolicySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    isDefault: z.boolean().meta({ description: "Applies to tickets whose team has no policy, or no team" }),
    targets: z.object(Object.fromEntries(SLA_PRIORITIES.map((p) => [p, TargetSchema]))).meta({
      example: {
        urgent: { firstResponseMinutes: 15, resolutionMinutes: 240 },
        high: { firstResponseMinutes: 60, resolutionMinutes: 480 },
        normal: { firstResponseMinutes: 240, resolutionMinutes: 1440 },
        low: { firstResponseMinutes: 480, resolutionMinutes: null },
      },
    }),
    businessHoursOnly: z.boolean(),
    atRiskPercent: z.number().int(),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "SlaPolicy" });

slaApp.openapi(
  createRoute({
    method: "get",
    path: "/policies",
    tags,
    summary: "List SLA policies",
    description: "The tenant's policies, the default first, then by name (`{ items }`).",
    security: bearerSecurity,
    middleware: reader(),
    responses: {
      200: jsonContent(envelopeOf(z.object({ items: z.array(SlaPolicySchema) })), "The policies"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const items = await listSlaPolicies({ ctx: c.var.services });
    return c.json(successBody(c, { items }), 200);
  },
);

slaApp.openapi(
  createRoute({
    method: "post",
    path: "/policies",
    tags,
    summary: "Create an SLA policy",
    description:
      "Targets per priority, counted in the ticket team's business hours (or around the clock). A new " +
      "default replaces the previous one, and the open tickets that fall under it get new due times.",
    security: bearerSecurity,
    middleware: admin(),
    request: { body: { required: true, content: { "application/json": { schema: CreateSlaPolicySchema } } } },
    responses: {
      201: jsonContent(envelopeOf(SlaPolicySchema), "The policy"),
      409: errorResponse("A policy with this name exists (or another was made the default at the same time)"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const policy = await createSlaPolicy({
      ctx: c.var.services,
      input: c.req.valid("json"),
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, policy), 201);
  },
);

slaApp.openapi(
  createRoute({
    method: "get",
    path: "/policies/{id}",
    tags,
    summary: "Get an SLA policy",
    security: bearerSecurity,
    middleware: reader(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(SlaPolicySchema), "The policy"),
      404: errorResponse("No such policy in this tenant"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const policy = await getSlaPolicy({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, policy), 200);
  },
);

slaApp.openapi(
  createRoute({
    method: "patch",
    path: "/policies/{id}",
    tags,
    summary: "Change an SLA policy",
    description:
      "Changing targets, `businessHoursOnly`, `atRiskPercent` or `isDefault` recomputes the due times of the " +
      "open tickets under the policy (time already used keeps the measure it was counted in), with an audit " +
      "row per ticket, in the same transaction.",
    security: bearerSecurity,
    middleware: admin(),
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: UpdateSlaPolicySchema } } },
    },
    responses: {
      200: jsonContent(envelopeOf(SlaPolicySchema), "The policy"),
      404: errorResponse("No such policy in this tenant"),
      409: errorResponse("A policy with this name exists (or another was made the default at the same time)"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const policy = await updateSlaPolicy({
      ctx: c.var.services,
      input: { ...c.req.valid("json"), id: c.req.valid("param").id },
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, policy), 200);
  },
);

slaApp.openapi(
  createRoute({
    method: "delete",
    path: "/policies/{id}",
    tags,
    summary: "Delete an unused SLA policy",
    description:
      "Only a policy no team uses and no ticket was measured against (the SLA report judges tickets by their " +
      "policy's targets); otherwise 409 with `details.teams` and `details.tickets`.",
    security: bearerSecurity,
    middleware: admin(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
      404: errorResponse("No such policy in this tenant"),
      409: errorResponse("The policy is in use"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const result = await deleteSlaPolicy({
      ctx: c.var.services,
      input: c.req.valid("param"),
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, result), 200);
  },
);

const Tally = z
  .object({
    met: z.number().int(),
    breached: z.number().int(),
    inProgress: z.number().int().meta({ description: "Not yet met and not overdue" }),
    percentMet: z.number().nullable().meta({ description: "met ÷ (met + breached) in %, one decimal" }),
  })
  .meta({ id: "SlaTally" });
const Counts = {
  tickets: z.number().int(),
  firstResponse: Tally,
  resolution: Tally,
  overall: z.object({ met: z.number().int(), breached: z.number().int(), percentMet: z.number().nullable() }),
};
const SlaReportSchema = z
  .object({
    from: z.string(),
    to: z.string(),
    groupBy: z.enum(["agent", "team"]),
    rows: z.array(
      z.object({
        agent: z
          .object({ id: z.uuid(), name: z.string().nullable(), email: z.string().nullable() })
          .nullable()
          .optional()
          .meta({ description: "With groupBy=agent: the current assignee (null = unassigned)" }),
        team: z
          .object({ id: z.uuid(), name: z.string() })
          .nullable()
          .optional()
          .meta({ description: "With groupBy=team: the current team (null = no team)" }),
        ...Counts,
      }),
    ),
    totals: z.object(Counts),
  })
  .meta({ id: "SlaReport" });

slaApp.openapi(
  createRoute({
    method: "get",
    path: "/report",
    tags,
    summary: "SLA report: share of targets met per agent or team",
    description:
      "Tickets created in the range that had a policy. A target is breached when the SLA sweep marked it, when " +
      "more than the target was used, or when it is still open past its due time; met when it stopped " +
      "(first response, or solved/closed) within the target; otherwise in progress. At most 366 days.",
    security: bearerSecurity,
    middleware: admin(),
    request: { query: SlaReportQuerySchema },
    responses: {
      200: jsonContent(envelopeOf(SlaReportSchema), "The report"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const report = await getSlaReport({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, report), 200);
  },
);
