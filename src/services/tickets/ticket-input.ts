/**
 * What callers may send to the ticket verbs. The routes document these exact schemas; the services parse
 * again (cheap) because internal callers — the chat handover, queue consumers — reach them without a route.
 */
import * as z from "zod";
import { ValidationError } from "../../lib/errors";
import { TICKET_CHANNELS, TICKET_PRIORITIES, TICKET_STATUSES } from "./ticket-rules";

const Uuid = z.uuid().toLowerCase();
export const SUBJECT_MAX = 250;
export const DESCRIPTION_MAX = 20_000;
export const COMMENT_MAX = 50_000;

export const TicketStatusSchema = z.enum(TICKET_STATUSES).meta({ id: "TicketStatus" });
export const TicketPrioritySchema = z.enum(TICKET_PRIORITIES).meta({ id: "TicketPriority" });
export const TicketChannelSchema = z.enum(TICKET_CHANNELS).meta({
  id: "TicketChannel",
  description: "Where the request came from",
});

const Subject = z.string().trim().min(1).max(SUBJECT_MAX).meta({ example: "Where is my order #1042?" });
const Description = z.string().trim().max(DESCRIPTION_MAX);
const Tags = z
  .array(z.string().max(100))
  .max(50)
  .meta({ description: "Labels; stored trimmed and lower-cased", example: ["shipping", "vip"] });

export const RequesterSchema = z
  .strictObject({
    email: z.email().max(254).toLowerCase().nullable().optional(),
    name: z.string().trim().max(200).nullable().optional(),
    phone: z
      .string()
      .trim()
      .max(50)
      .regex(/^[+0-9 ()./-]*$/, "Digits, spaces and + ( ) . / - only")
      .nullable()
      .optional(),
  })
  .meta({ id: "TicketRequester", example: { email: "ava.thompson@example.com", name: "Ava Thompson" } });

export const CreateTicketSchema = z
  .strictObject({
    subject: Subject,
    description: Description.optional().meta({
      example: "It was due last Friday and tracking has not moved.",
    }),
    priority: TicketPrioritySchema.optional().meta({ description: "Default `normal`" }),
    channel: TicketChannelSchema,
    requester: RequesterSchema,
    tags: Tags.optional(),
    teamId: Uuid.nullable()
      .optional()
      .meta({
        description:
          "The team that works it; with a round-robin or least-loaded team and no `assigneeId`, the " +
          "team's strategy assigns it at once",
      }),
    assigneeId: Uuid.nullable().optional(),
    orderIds: z.array(Uuid).max(20).optional().meta({ description: "The tenant's orders it is about" }),
    chatSessionId: Uuid.nullable().optional().meta({ description: "The chat it was handed over from" }),
  })
  .meta({ id: "CreateTicket" });
export type CreateTicketInput = z.input<typeof CreateTicketSchema>;

export const UpdateTicketSchema = z
  .strictObject({
    subject: Subject.optional(),
    description: Description.optional(),
    status: TicketStatusSchema.optional(),
    priority: TicketPrioritySchema.optional(),
    tags: Tags.optional().meta({ description: "Replaces the tags" }),
    teamId: Uuid.nullable()
      .optional()
      .meta({
        description:
          "Moves the ticket to another team (or none); SLA due times follow the new team's policy " +
          "and calendar. The assignee stays; use `/assign` to route it.",
      }),
    requester: RequesterSchema.optional().meta({ description: "Fields given replace the stored ones" }),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "Nothing to change" })
  .meta({ id: "UpdateTicket" });
export type UpdateTicketInput = z.input<typeof UpdateTicketSchema>;

export const AssignTicketSchema = z
  .strictObject({
    assigneeId: Uuid.nullable()
      .optional()
      .meta({ description: "An agent (an active user), or null to unassign" }),
    teamId: Uuid.optional().meta({ description: "Route to this team (with `strategy`, or the team's own)" }),
    strategy: z
      .enum(["manual", "round_robin", "least_loaded"])
      .optional()
      .meta({
        description:
          "How the team picks the agent; default: the team's `assignmentStrategy`. `manual` " +
          "queues the ticket on the team unassigned.",
      }),
  })
  .superRefine((body, issue) => {
    if (body.assigneeId === undefined && body.teamId === undefined) {
      issue.addIssue({ code: "custom", message: "Give assigneeId (or null), or teamId", path: [] });
    }
    if (body.strategy !== undefined && (body.teamId === undefined || body.assigneeId !== undefined)) {
      issue.addIssue({
        code: "custom",
        message: "A strategy picks the agent within teamId; leave assigneeId out",
        path: ["strategy"],
      });
    }
  })
  .meta({
    id: "AssignTicket",
    examples: [
      { assigneeId: "2b6f0c1e-8a4d-4e2f-9b1a-7c3d5e6f8a90" },
      { teamId: "5d2c7a90-1b3e-4f6a-8c9d-0e1f2a3b4c5d", strategy: "round_robin" },
      { assigneeId: null },
    ],
  });
export type AssignTicketInput = z.input<typeof AssignTicketSchema>;

export const CommentAuthorSchema = z
  .discriminatedUnion("type", [
    z.strictObject({ type: z.literal("agent"), userId: Uuid }),
    z.strictObject({
      type: z.literal("customer"),
      name: z.string().trim().max(200).nullable().optional(),
      email: z.email().max(254).toLowerCase().nullable().optional(),
    }),
    z.strictObject({ type: z.literal("bot"), name: z.string().trim().min(1).max(100) }),
    z.strictObject({ type: z.literal("system"), name: z.string().trim().min(1).max(100) }),
  ])
  .meta({ id: "TicketCommentAuthor" });
export type CommentAuthor = z.output<typeof CommentAuthorSchema>;

export const AddCommentSchema = z.strictObject({
  ticketId: Uuid,
  body: z.string().trim().min(1).max(COMMENT_MAX),
  public: z.boolean(),
  author: CommentAuthorSchema,
  emailMessageId: Uuid.nullable().optional(),
});
export type AddTicketCommentInput = z.input<typeof AddCommentSchema>;

/** Zod issues → the 422 envelope's `details` (`{ "field.path": [messages] }`), as the routes produce. */
export function parseInput<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const fields: Record<string, string[]> = {};
  for (const issue of parsed.error.issues) {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "_root";
    fields[path] ??= [];
    fields[path].push(issue.message);
  }
  throw new ValidationError(`Invalid ${where}`, fields);
}
