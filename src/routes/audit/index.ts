import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { authenticate, requirePermission } from "../../http/auth";
import { successBody } from "../../http/envelope";
import {
  authErrorResponses,
  bearerSecurity,
  commonErrorResponses,
  envelopeOf,
  jsonContent,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { FEED_LENGTH } from "../../services/audit/audit-feed";
import { getRecentActivity } from "../../services/audit/get-recent-activity";
import { listAuditLog } from "../../services/audit/list-audit-log";
import { TimeBound } from "../../services/orders/time-range";

/** `/api/v1/audit`: who changed what in customer service, per actor or record, and the recent-activity feed. */
export const auditApp = newApp();

const tags = ["Audit"];

export const AuditRecordSchema = z
  .object({
    id: z.uuid(),
    entityType: z.string().meta({
      example: "ticket",
      description: "`ticket`, `ticket_comment`, `support_team`, `sla_policy`, …",
    }),
    entityId: z.uuid(),
    action: z.string().meta({
      example: "updated",
      description:
        "`created`, `updated`, `assigned`, `commented`, `deleted`, `members_changed`, `sla_recomputed`, …",
    }),
    actor: z
      .record(z.string(), z.unknown())
      .meta({ example: { type: "user", userId: "2b6f0c1e-8a4d-4e2f-9b1a-7c3d5e6f8a90" } }),
    actorKey: z.string().meta({ example: "user:2b6f0c1e-8a4d-4e2f-9b1a-7c3d5e6f8a90" }),
    changes: z
      .record(z.string(), z.object({ before: z.unknown(), after: z.unknown() }))
      .meta({ example: { status: { before: "open", after: "pending" } } }),
    requestId: z.string().nullable().meta({ description: "The API request that made the change, if any" }),
    occurredAt: z.iso.datetime(),
  })
  .meta({ id: "AuditRecord" });

export const AuditPageSchema = z
  .object({ items: z.array(AuditRecordSchema), nextCursor: z.string().nullable() })
  .meta({ id: "AuditPage" });

export const AuditPagingQuery = z.object({
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional().meta({ description: "`nextCursor` of the previous page" }),
});

/** `user:<uuid>`, `apiKey:<uuid>`, `system:<name>`, `webhook:<source>`. */
const ACTOR_KEY = /^(user|apiKey|applicant):[0-9a-fA-F-]{36}$|^(system|webhook):[A-Za-z0-9._-]{1,64}$/;

auditApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "Query the audit log",
    description:
      "Every audited change (tickets, comments, assignments, teams, SLA policies), newest first, cursor-paged " +
      "(`{ items, nextCursor }`). Filter by who (`actor=user:<id>`, `apiKey:<id>`, `system:chat`), by what " +
      "(`entity=ticket`, `entityId`), by `action` and time. Needs `tickets:admin`. One Postgres round trip.",
    security: bearerSecurity,
    middleware: [authenticate(), requirePermission("tickets:admin"), rateLimit("default")],
    request: {
      query: AuditPagingQuery.extend({
        actor: z
          .string()
          .regex(ACTOR_KEY, "Use user:<id>, apiKey:<id>, system:<name> or webhook:<source>")
          .optional()
          .meta({ example: "user:2b6f0c1e-8a4d-4e2f-9b1a-7c3d5e6f8a90" }),
        entity: z
          .string()
          .regex(/^[a-z_]{1,40}$/, "An entity type such as ticket or support_team")
          .optional()
          .meta({ example: "ticket" }),
        entityId: z.uuid().toLowerCase().optional(),
        action: z
          .string()
          .regex(/^[a-z_]{1,40}$/, "An action such as updated or assigned")
          .optional(),
        from: TimeBound.optional().meta({ description: "At or after (inclusive)" }),
        to: TimeBound.optional().meta({
          description: "At or before (inclusive; a date covers the whole day)",
        }),
      }),
    },
    responses: {
      200: jsonContent(envelopeOf(AuditPageSchema), "A page of audit records"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listAuditLog({
      ctx: c.var.services,
      input: {
        actorKey: q.actor,
        entityType: q.entity,
        entityId: q.entityId,
        action: q.action,
        occurred: { from: q.from, to: q.to },
        limit: q.limit,
        cursor: q.cursor,
      },
    });
    return c.json(successBody(c, page), 200);
  },
);

auditApp.openapi(
  createRoute({
    method: "get",
    path: "/recent",
    tags,
    summary: "Recent activity",
    description:
      "The tenant's newest audited changes for an activity feed, newest first, served from Redis " +
      `(\`audit:recent:<tenant>\`, the last ${FEED_LENGTH}); \`source\` says \`database\` when Redis was ` +
      "unreachable or held fewer records than asked and Postgres answered instead. The feed is written just " +
      "after each change commits, so it may trail it by a moment.",
    security: bearerSecurity,
    middleware: [authenticate(), requirePermission("tickets:read"), rateLimit("default")],
    request: { query: z.object({ limit: z.coerce.number().int().min(1).max(FEED_LENGTH).default(50) }) },
    responses: {
      200: jsonContent(
        envelopeOf(
          z
            .object({ items: z.array(AuditRecordSchema), source: z.enum(["cache", "database"]) })
            .meta({ id: "RecentActivity" }),
        ),
        "The newest audit records",
      ),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const activity = await getRecentActivity({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, activity), 200);
  },
);
