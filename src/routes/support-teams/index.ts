import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
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
import { createSupportTeam } from "../../services/support-teams/create-support-team";
import { deleteSupportTeam } from "../../services/support-teams/delete-support-team";
import { getSupportTeam, listSupportTeams } from "../../services/support-teams/get-support-team";
import { setTeamMembers, updateTeamMember } from "../../services/support-teams/team-members";
import {
  ASSIGNMENT_STRATEGIES,
  CreateTeamSchema,
  SetMembersSchema,
  UpdateMemberSchema,
  UpdateTeamSchema,
} from "../../services/support-teams/team-model";
import { updateSupportTeam } from "../../services/support-teams/update-support-team";

/** `/api/v1/support-teams`: who works tickets, when (business calendar), how they are handed out, which SLA. */
export const supportTeamsApp = newApp();

const tags = ["Support teams"];
const Iso = z.iso.datetime();
const read = () => [authenticate(), requirePermission("tickets:read"), rateLimit("default")];
const admin = () => [authenticate(), requirePermission("tickets:admin"), rateLimit("default")];

const Window = z.tuple([z.string(), z.string()]);
const SupportTeamSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    timezone: z.string().meta({ example: "Europe/Berlin" }),
    businessHours: z
      .object({
        mon: z.array(Window),
        tue: z.array(Window),
        wed: z.array(Window),
        thu: z.array(Window),
        fri: z.array(Window),
        sat: z.array(Window),
        sun: z.array(Window),
      })
      .nullable()
      .meta({ description: "Local opening windows per weekday; null = around the clock" }),
    holidays: z.array(z.string()).meta({ example: ["2026-12-25"] }),
    assignmentStrategy: z.enum(ASSIGNMENT_STRATEGIES),
    slaPolicy: z.object({ id: z.uuid(), name: z.string() }).nullable().meta({
      description: "null = the tenant's default policy applies",
    }),
    members: z.array(
      z.object({
        userId: z.uuid(),
        name: z.string(),
        email: z.string().nullable(),
        position: z.number().int().meta({ description: "Rotation order (0 first)" }),
        available: z.boolean(),
        active: z.boolean().meta({ description: "false: the user was deactivated; gets no tickets" }),
        maxOpenTickets: z.number().int().nullable(),
        openTickets: z
          .number()
          .int()
          .meta({ description: "Open, pending and on-hold tickets assigned (any team)" }),
        lastAssignedAt: Iso.nullable(),
      }),
    ),
    activeTickets: z.number().int().meta({ description: "The team's open, pending and on-hold tickets" }),
    unassignedTickets: z.number().int(),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "SupportTeam" });

const notFound = errorResponse("No such support team in this tenant");
const body = <T extends z.ZodType>(schema: T) => ({
  body: { required: true, content: { "application/json": { schema } } },
});

supportTeamsApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List support teams",
    description: "Every team by name, with members and loads (`{ items }`). One Postgres round trip.",
    security: bearerSecurity,
    middleware: read(),
    responses: {
      200: jsonContent(envelopeOf(z.object({ items: z.array(SupportTeamSchema) })), "The teams"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const items = await listSupportTeams({ ctx: c.var.services });
    return c.json(successBody(c, { items }), 200);
  },
);

supportTeamsApp.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Create a support team",
    description:
      "Timezone (IANA), weekly business hours and holidays are the calendar its SLA clocks count in.",
    security: bearerSecurity,
    middleware: admin(),
    request: body(CreateTeamSchema),
    responses: {
      201: jsonContent(envelopeOf(SupportTeamSchema), "The team"),
      409: errorResponse("A team with this name exists"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const team = await createSupportTeam({
      ctx: c.var.services,
      input: c.req.valid("json"),
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, team), 201);
  },
);

supportTeamsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "Get a support team",
    security: bearerSecurity,
    middleware: read(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(SupportTeamSchema), "The team"),
      404: notFound,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const team = await getSupportTeam({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, team), 200);
  },
);

supportTeamsApp.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags,
    summary: "Change a support team",
    description:
      "A new timezone, hours, holidays or SLA policy recomputes the due times of the team's open, pending and " +
      "on-hold tickets in the same transaction (time already used keeps its measure).",
    security: bearerSecurity,
    middleware: admin(),
    request: { params: IdParamSchema, ...body(UpdateTeamSchema) },
    responses: {
      200: jsonContent(envelopeOf(SupportTeamSchema), "The team"),
      404: notFound,
      409: errorResponse("A team with this name exists"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const team = await updateSupportTeam({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, changes: c.req.valid("json") },
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, team), 200);
  },
);

supportTeamsApp.openapi(
  createRoute({
    method: "delete",
    path: "/{id}",
    tags,
    summary: "Delete a support team",
    description:
      "Refused (409) while it has open, pending or on-hold tickets; its solved and closed tickets are kept " +
      "without a team (`detachedTickets`).",
    security: bearerSecurity,
    middleware: admin(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(
        envelopeOf(z.object({ deleted: z.literal(true), detachedTickets: z.number().int() })),
        "Deleted",
      ),
      404: notFound,
      409: errorResponse("The team still has active tickets"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const result = await deleteSupportTeam({
      ctx: c.var.services,
      input: c.req.valid("param"),
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, result), 200);
  },
);

supportTeamsApp.openapi(
  createRoute({
    method: "put",
    path: "/{id}/members",
    tags,
    summary: "Set a team's members",
    description:
      "The whole membership in rotation order; each must be an active user of the tenant. Availability and cap " +
      "are kept for existing members when left out.",
    security: bearerSecurity,
    middleware: admin(),
    request: { params: IdParamSchema, ...body(SetMembersSchema) },
    responses: {
      200: jsonContent(envelopeOf(SupportTeamSchema), "The team"),
      404: notFound,
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const team = await setTeamMembers({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, members: c.req.valid("json").members },
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, team), 200);
  },
);

supportTeamsApp.openapi(
  createRoute({
    method: "patch",
    path: "/{id}/members/{userId}",
    tags,
    summary: "Set a member available or away",
    description:
      "Availability and cap of one member. Needs `tickets:admin`, or only `tickets:write` for your own membership.",
    security: bearerSecurity,
    middleware: [authenticate(), requirePermission("tickets:write"), rateLimit("default")],
    request: {
      params: IdParamSchema.extend({
        userId: z
          .uuid()
          .toLowerCase()
          .meta({ param: { name: "userId", in: "path" }, example: "2b6f0c1e-8a4d-4e2f-9b1a-7c3d5e6f8a90" }),
      }),
      ...body(UpdateMemberSchema),
    },
    responses: {
      200: jsonContent(envelopeOf(SupportTeamSchema), "The team"),
      404: errorResponse("No such team in this tenant, or the user is not a member"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const { id, userId } = c.req.valid("param");
    const team = await updateTeamMember({
      ctx: c.var.services,
      input: { id, userId, changes: c.req.valid("json") },
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, team), 200);
  },
);
