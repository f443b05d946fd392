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
  PageQuerySchema,
  pageOf,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { listTicketAudit } from "../../services/audit/list-audit-log";
import { addTicketComment } from "../../services/tickets/add-ticket-comment";
import { assignTicket } from "../../services/tickets/assign-ticket";
import { createTicket } from "../../services/tickets/create-ticket";
import { getTicket } from "../../services/tickets/get-ticket";
import { listTicketComments } from "../../services/tickets/list-ticket-comments";
import { listTickets, TICKET_SORTS } from "../../services/tickets/list-tickets";
import {
  AssignTicketSchema,
  COMMENT_MAX,
  type CommentAuthor,
  CreateTicketSchema,
  TicketChannelSchema,
  TicketPrioritySchema,
  TicketStatusSchema,
  UpdateTicketSchema,
} from "../../services/tickets/ticket-input";
import { TICKET_CHANNELS, TICKET_PRIORITIES, TICKET_STATUSES } from "../../services/tickets/ticket-rules";
import { updateTicket } from "../../services/tickets/update-ticket";
import { AuditPageSchema, AuditPagingQuery } from "../audit";
import { multiValueQuery } from "../orders";

/** `/api/v1/tickets`: customer requests, their conversation, assignment and history. */
export const ticketsApp = newApp();

const tags = ["Tickets"];
const Iso = z.iso.datetime();
const read = () => [authenticate(), requirePermission("tickets:read"), rateLimit("default")];
const write = () => [authenticate(), requirePermission("tickets:write"), rateLimit("default")];

const SlaTargetSchema = z
  .object({
    dueAt: Iso.nullable().meta({ description: "null: no target, met, or the clock is paused or stopped" }),
    elapsedSeconds: z.number().int().meta({
      description:
        "SLA time used as of the last change (business seconds when the policy counts business hours)",
    }),
    status: z
      .enum(["ok", "at_risk", "breached"])
      .nullable()
      .meta({ description: "null: the policy sets no such target" }),
    breached: z.boolean(),
    atRisk: z.boolean(),
    breachedAt: Iso.nullable().meta({ description: "When the SLA sweep recorded the breach" }),
    atRiskAt: Iso.nullable().meta({ description: "When the SLA sweep recorded the at-risk warning" }),
  })
  .meta({ id: "TicketSlaTarget" });

const TicketSummarySchema = z
  .object({
    id: z.uuid(),
    number: z
      .number()
      .int()
      .meta({ description: "The tenant's human ticket number (#1, #2, …)", example: 1042 }),
    subject: z.string(),
    status: TicketStatusSchema,
    priority: TicketPrioritySchema,
    channel: TicketChannelSchema,
    requester: z.object({
      email: z.string().nullable(),
      name: z.string().nullable(),
      phone: z.string().nullable(),
    }),
    assignee: z.object({ id: z.uuid(), name: z.string(), email: z.string().nullable() }).nullable(),
    team: z.object({ id: z.uuid(), name: z.string() }).nullable(),
    tags: z.array(z.string()),
    chatSessionId: z.uuid().nullable(),
    sla: z.object({
      policyId: z.uuid().nullable(),
      paused: z.boolean().meta({ description: "Pending on the customer: the clocks do not run" }),
      pausedAt: Iso.nullable(),
      firstResponse: SlaTargetSchema,
      resolution: SlaTargetSchema,
    }),
    firstRespondedAt: Iso.nullable(),
    solvedAt: Iso.nullable(),
    closedAt: Iso.nullable(),
    version: z.number().int().meta({ description: "Bumped by every change; send it back in `If-Match`" }),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "TicketSummary" });

const TicketSchema = TicketSummarySchema.extend({
  description: z.string(),
  createdBy: z
    .record(z.string(), z.unknown())
    .nullable()
    .meta({ example: { type: "system", name: "chat" } }),
  commentCount: z.number().int(),
  orders: z.array(
    z.object({
      id: z.uuid(),
      externalNumber: z.string().meta({ example: "#1042" }),
      channel: z.string(),
      storeId: z.string(),
      status: z.string(),
      currency: z.string(),
      totalMinor: z.number().int(),
      placedAt: Iso,
    }),
  ),
}).meta({ id: "Ticket" });

const CommentSchema = z
  .object({
    id: z.uuid(),
    ticketId: z.uuid(),
    public: z.boolean().meta({ description: "A reply the customer sees; false = an internal note" }),
    author: z.object({
      type: z.enum(["agent", "customer", "bot", "system"]),
      userId: z.uuid().nullable(),
      name: z.string().nullable(),
      email: z.string().nullable(),
    }),
    body: z.string(),
    emailMessageId: z.uuid().nullable(),
    createdAt: Iso,
  })
  .meta({ id: "TicketComment" });

const AssigneeFilter = z
  .union([z.literal("me"), z.literal("none"), z.uuid().toLowerCase()])
  .meta({ description: "An agent's user id, `me`, or `none` (unassigned)" });

const ListQuerySchema = PageQuerySchema.extend({
  status: multiValueQuery(TICKET_STATUSES, "Ticket status.").optional(),
  priority: multiValueQuery(TICKET_PRIORITIES, "Priority.").optional(),
  channel: multiValueQuery(TICKET_CHANNELS, "Channel of origin.").optional(),
  assignee: AssigneeFilter.optional(),
  team: z
    .union([z.literal("none"), z.uuid().toLowerCase()])
    .optional()
    .meta({ description: "A team id, or `none` (no team)" }),
  tag: z
    .union([z.string(), z.array(z.string())])
    .transform((raw) => (Array.isArray(raw) ? raw : [raw]).map((v) => v.trim()).filter((v) => v !== ""))
    .pipe(z.array(z.string().max(100)).min(1).max(10))
    .optional()
    .meta({
      type: "array",
      items: { type: "string" },
      description: "Tickets with every tag given (repeat for several)",
    }),
  search: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .meta({
      description:
        "Words of the subject or description (each matches as a prefix: `refu ord` finds “refund for order”), or " +
        "the requester's email (by prefix when the search contains `@`)",
    }),
  sort: z.enum(TICKET_SORTS).default("-updatedAt").meta({
    description:
      "A leading `-` sorts descending. `priority` ranks urgent > high > normal > low; `dueAt` is the next SLA deadline",
  }),
});

const IfMatchHeader = z.object({
  "if-match": z
    .string()
    .regex(/^\s*(\*|(W\/)?"?\d{1,9}"?)\s*$/, 'The ticket version as an ETag, e.g. "3"')
    .optional()
    .meta({ description: "The `version` (ETag) read; 412 when the ticket changed since" }),
});

/** `"3"`, `W/"3"`, `3` → 3; `*` or absent → no condition. */
function expectedVersionOf(header: string | undefined): number | undefined {
  const digits = header?.match(/\d+/)?.[0];
  return header === undefined || header.trim() === "*" || digits === undefined ? undefined : Number(digits);
}

const etagOf = (version: number) => `"${version}"`;
const notFound = errorResponse("No such ticket in this tenant");

ticketsApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List tickets",
    description:
      "Page by page (`page`, `pageSize`; `{ items, total, page, pageSize, totalPages }`), most recently updated " +
      "first by default. Filters combine with AND; multi-value ones match any of their values. One Postgres round trip.",
    security: bearerSecurity,
    middleware: read(),
    request: { query: ListQuerySchema },
    responses: {
      200: jsonContent(envelopeOf(pageOf(TicketSummarySchema)), "A page of tickets"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const page = await listTickets({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, page), 200);
  },
);

ticketsApp.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Open a ticket",
    description:
      "Numbers it (#1, #2, … per tenant), sets its SLA due times from its team's policy and calendar (else the " +
      "tenant's default policy), links the orders given, and — for a round-robin or least-loaded team and no " +
      "`assigneeId` — assigns it. Accepts `Idempotency-Key`.",
    security: bearerSecurity,
    middleware: write(),
    request: { body: { required: true, content: { "application/json": { schema: CreateTicketSchema } } } },
    responses: {
      201: jsonContent(envelopeOf(TicketSchema), "The ticket"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const ticket = await createTicket({
      ctx: c.var.services,
      input: c.req.valid("json"),
      requestId: c.var.requestId,
    });
    c.header("ETag", etagOf(ticket.version));
    return c.json(successBody(c, ticket), 201);
  },
);

ticketsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "Get a ticket",
    description:
      "With its SLA due times and breach / at-risk state, linked orders and comment count; `ETag` is its " +
      "version. One Postgres round trip.",
    security: bearerSecurity,
    middleware: read(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(TicketSchema), "The ticket"),
      404: notFound,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const ticket = await getTicket({ ctx: c.var.services, input: c.req.valid("param") });
    c.header("ETag", etagOf(ticket.version));
    return c.json(successBody(c, ticket), 200);
  },
);

ticketsApp.openapi(
  createRoute({
    method: "patch",
    path: "/{id}",
    tags,
    summary: "Change a ticket",
    description:
      "Status (any move, e.g. solved → open reopens; `closed` is final: changing a closed ticket is a 412), " +
      "priority, tags, team, subject, description, requester. Status, priority and team changes recompute the " +
      "SLA due times. Send `If-Match` with the version you read to refuse the change (412) if someone changed " +
      "the ticket meanwhile. Every change is in the audit log with its before and after.",
    security: bearerSecurity,
    middleware: write(),
    request: {
      params: IdParamSchema,
      headers: IfMatchHeader,
      body: { required: true, content: { "application/json": { schema: UpdateTicketSchema } } },
    },
    responses: {
      200: jsonContent(envelopeOf(TicketSchema), "The ticket"),
      404: notFound,
      412: errorResponse("The ticket is closed, or its version is not the one in If-Match"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const ticket = await updateTicket({
      ctx: c.var.services,
      input: {
        id: c.req.valid("param").id,
        changes: c.req.valid("json"),
        expectedVersion: expectedVersionOf(c.req.valid("header")["if-match"]),
      },
      requestId: c.var.requestId,
    });
    c.header("ETag", etagOf(ticket.version));
    return c.json(successBody(c, ticket), 200);
  },
);

ticketsApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/assign",
    tags,
    summary: "Assign a ticket",
    description:
      "`{ assigneeId }` gives it to an agent, `{ assigneeId: null }` unassigns it, `{ teamId, strategy? }` " +
      "routes it to a team whose strategy (or the one given) picks the agent: `round_robin` (members in turn), " +
      "`least_loaded` (fewest open tickets; ties to whoever waited longest), `manual` (it waits on the team). " +
      "Unavailable members and those at their cap are passed over; with nobody left it waits on the team " +
      "unassigned. Concurrent assignments queue on the team, so none gets the same turn or skips a member.",
    security: bearerSecurity,
    middleware: write(),
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: AssignTicketSchema } } },
    },
    responses: {
      200: jsonContent(envelopeOf(TicketSchema), "The ticket"),
      404: notFound,
      412: errorResponse("The ticket is closed"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const ticket = await assignTicket({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, assignment: c.req.valid("json") },
      requestId: c.var.requestId,
    });
    c.header("ETag", etagOf(ticket.version));
    return c.json(successBody(c, ticket), 200);
  },
);

const NewCommentSchema = z
  .strictObject({
    body: z.string().trim().min(1).max(COMMENT_MAX),
    public: z.boolean().default(true).meta({ description: "false = an internal note (agents only)" }),
    author: z
      .strictObject({
        type: z.literal("customer"),
        name: z.string().trim().max(200).nullable().optional(),
        email: z.email().max(254).toLowerCase().nullable().optional(),
      })
      .optional()
      .meta({
        description:
          "Only to relay the customer's own message (an integration); default: the signed-in agent, or " +
          "`system` for an API key",
      }),
  })
  .meta({ id: "NewTicketComment" });

ticketsApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/comments",
    tags,
    summary: "Reply or add an internal note",
    description:
      "The first public reply by an agent is the ticket's first response (its first-response SLA is met); a " +
      "customer's reply to a pending or solved ticket reopens it. A closed ticket takes no comments (412).",
    security: bearerSecurity,
    middleware: write(),
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: NewCommentSchema } } },
    },
    responses: {
      201: jsonContent(envelopeOf(CommentSchema), "The comment"),
      404: notFound,
      412: errorResponse("The ticket is closed"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const ctx = c.var.services;
    const principal = ctx.principal;
    const author: CommentAuthor =
      body.author ??
      (principal?.kind === "user"
        ? { type: "agent", userId: principal.userId }
        : { type: "system", name: "api" });
    const comment = await addTicketComment({
      ctx,
      input: { ticketId: c.req.valid("param").id, body: body.body, public: body.public, author },
      requestId: c.var.requestId,
    });
    return c.json(successBody(c, comment), 201);
  },
);

ticketsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/comments",
    tags,
    summary: "A ticket's conversation",
    description:
      "Oldest first, cursor-paged (`{ items, nextCursor }`); `public=true` keeps the replies, `public=false` the " +
      "internal notes. One Postgres round trip.",
    security: bearerSecurity,
    middleware: read(),
    request: {
      params: IdParamSchema,
      query: AuditPagingQuery.extend({
        public: z
          .enum(["true", "false"])
          .transform((v) => v === "true")
          .optional(),
      }),
    },
    responses: {
      200: jsonContent(
        envelopeOf(
          z
            .object({ items: z.array(CommentSchema), nextCursor: z.string().nullable() })
            .meta({ id: "TicketCommentPage" }),
        ),
        "A page of comments",
      ),
      404: notFound,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listTicketComments({
      ctx: c.var.services,
      input: { ticketId: c.req.valid("param").id, limit: q.limit, cursor: q.cursor, public: q.public },
    });
    return c.json(successBody(c, page), 200);
  },
);

ticketsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/audit",
    tags,
    summary: "A ticket's history",
    description:
      "Every change to the ticket and its comments (who, when, before and after), newest first, cursor-paged. " +
      "One Postgres round trip.",
    security: bearerSecurity,
    middleware: read(),
    request: { params: IdParamSchema, query: AuditPagingQuery },
    responses: {
      200: jsonContent(envelopeOf(AuditPageSchema), "A page of audit records"),
      404: notFound,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listTicketAudit({
      ctx: c.var.services,
      input: { ticketId: c.req.valid("param").id, limit: q.limit, cursor: q.cursor },
    });
    return c.json(successBody(c, page), 200);
  },
);
