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
import { STREAM_RESOURCES, SYNC_TRIGGERS } from "../../queues/hub-messages";
import { TimeBound } from "../../services/orders/time-range";
import { editSyncFailure } from "../../services/sync-failures/edit-sync-failure";
import {
  FAILURE_KINDS,
  FAILURE_RESOLUTIONS,
  FAILURE_STATUSES,
  SYNC_OPERATIONS,
} from "../../services/sync-failures/failure-view";
import { getSyncFailure } from "../../services/sync-failures/get-sync-failure";
import { listSyncFailures } from "../../services/sync-failures/list-sync-failures";
import { replaySyncFailure } from "../../services/sync-failures/replay-sync-failure";
import { BULK_REPLAY_LIMIT, replaySyncFailures } from "../../services/sync-failures/replay-sync-failures";
import { resolveSyncFailure } from "../../services/sync-failures/resolve-sync-failure";
import { getSyncJob } from "../../services/sync-jobs/get-sync-job";
import { listSyncJobs } from "../../services/sync-jobs/list-sync-jobs";
import { SYNC_JOB_STATUSES, SYNC_JOB_TYPES } from "../../services/sync-jobs/sync-job-view";
import { getSyncStatus, governorBreakerReader } from "../../services/sync-status/get-sync-status";
import { multiValueQuery } from "../orders";

const Iso = z.iso.datetime();
const Json = z.record(z.string(), z.unknown());
const ConnectionKind = z.enum(["channel", "erp"]);

const SyncJobSchema = z
  .object({
    id: z.uuid(),
    connectionId: z.uuid(),
    connection: z.object({ provider: z.string(), kind: ConnectionKind, displayName: z.string() }),
    type: z.enum(SYNC_JOB_TYPES),
    resource: z.string().meta({ example: "orders" }),
    trigger: z.enum(SYNC_TRIGGERS),
    status: z.enum(SYNC_JOB_STATUSES),
    attempts: z.number().int(),
    itemsProcessed: z.number().int(),
    pages: z.number().int(),
    params: Json,
    cursor: Json.nullable(),
    lastError: z.string().nullable(),
    startedAt: Iso.nullable(),
    finishedAt: Iso.nullable(),
    durationMs: z.number().int().nullable(),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "SyncJob" });

const SyncFailureSummarySchema = z
  .object({
    id: z.uuid(),
    connectionId: z.uuid().nullable(),
    operation: z.enum(SYNC_OPERATIONS),
    fingerprint: z.string().meta({ example: "push:7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b" }),
    orderId: z.uuid().nullable(),
    messageType: z.string().nullable().meta({ example: "orders.push" }),
    status: z.enum(FAILURE_STATUSES),
    resolution: z.enum(FAILURE_RESOLUTIONS).nullable(),
    errorKind: z.string().meta({ example: "exhausted" }),
    lastError: z.string(),
    occurrences: z.number().int(),
    replayCount: z.number().int(),
    lastReplayedAt: Iso.nullable(),
    resolvedAt: Iso.nullable(),
    resolvedBy: Json.nullable(),
    resolutionNote: z.string().nullable(),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "SyncFailureSummary" });

const SyncFailureSchema = SyncFailureSummarySchema.extend({
  payload: Json.meta({ description: "The queue message a replay sends (`erp-push` or `channel-pull` body)" }),
  errors: z.array(Json).meta({
    description:
      'Oldest first: `{ at, kind, error, attempts? }` per error, `{ at, kind: "edited", by }` per edit',
  }),
}).meta({ id: "SyncFailure" });

const BreakerSchema = z.object({
  endpoint: z.string(),
  state: z.enum(["closed", "open", "half_open"]),
  consecutiveFailures: z.number().int(),
  openUntil: Iso.nullable(),
});

const SyncStatusSchema = z
  .object({
    generatedAt: Iso,
    connections: z.array(
      z.object({
        connectionId: z.uuid(),
        provider: z.string(),
        kind: ConnectionKind,
        displayName: z.string(),
        enabled: z.boolean(),
        streams: z.array(
          z.object({
            resource: z.enum(STREAM_RESOURCES),
            lastSuccessAt: Iso.nullable(),
            lastRunAt: Iso.nullable(),
            lagSeconds: z
              .number()
              .int()
              .nullable()
              .meta({ description: "Now − last success; null if never" }),
            nextDueAt: Iso,
            leased: z.boolean(),
            consecutiveFailures: z.number().int(),
            lastError: z.string().nullable(),
          }),
        ),
        backlog: z.object({ pendingPushes: z.number().int(), pendingWritebacks: z.number().int() }),
        openFailures: z.object({
          pull: z.number().int(),
          push: z.number().int(),
          writeback: z.number().int(),
        }),
        lastJob: z
          .object({
            id: z.uuid(),
            type: z.enum(SYNC_JOB_TYPES),
            status: z.enum(SYNC_JOB_STATUSES),
            finishedAt: Iso.nullable(),
          })
          .nullable(),
        breakers: z.array(BreakerSchema).nullable().meta({
          description: "The upstream account's circuit breakers; null when its governor did not answer",
        }),
      }),
    ),
  })
  .meta({ id: "SyncStatus" });

const ListJobsQuerySchema = PageQuerySchema.extend({
  connectionId: z.uuid().toLowerCase().optional(),
  type: z.enum(SYNC_JOB_TYPES).optional(),
  status: z.enum(SYNC_JOB_STATUSES).optional(),
  trigger: z.enum(SYNC_TRIGGERS).optional(),
  from: TimeBound.optional().meta({ description: "Created at or after" }),
  to: TimeBound.optional().meta({ description: "Created at or before (a date keeps that whole UTC day)" }),
});

const ListFailuresQuerySchema = PageQuerySchema.extend({
  status: multiValueQuery(FAILURE_STATUSES, "Failure status; default `open,replaying`.").optional(),
  operation: z.enum(SYNC_OPERATIONS).optional(),
  connectionId: z.uuid().toLowerCase().optional(),
  errorKind: z.enum(FAILURE_KINDS).optional(),
  from: TimeBound.optional().meta({ description: "First recorded at or after" }),
  to: TimeBound.optional().meta({
    description: "First recorded at or before (a date keeps that whole UTC day)",
  }),
  search: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .meta({ description: "Case-insensitive substring of the last error" }),
});

const EditFailureSchema = z
  .strictObject({
    payload: Json.meta({
      description:
        "The whole message to replay: an `erp-push` message for a push failure, a `channel-pull` message for " +
        "pull and write-back failures, about the same tenant, order(s), connection or shipment",
    }),
  })
  .meta({ id: "EditSyncFailureRequest" });

const BulkReplaySchema = z
  .strictObject({
    status: z.enum(["open", "replaying"]).optional().meta({ description: "Default `open`" }),
    operation: z.enum(SYNC_OPERATIONS).optional(),
    connectionId: z.uuid().toLowerCase().optional(),
    errorKind: z.enum(FAILURE_KINDS).optional(),
    ids: z.array(z.uuid().toLowerCase()).min(1).max(BULK_REPLAY_LIMIT).optional(),
  })
  .meta({ id: "BulkReplaySyncFailuresRequest" });

const ResolveFailureSchema = z
  .strictObject({
    note: z.string().trim().min(1).max(1000).optional().meta({ example: "Fixed in the ERP by hand" }),
  })
  .meta({ id: "ResolveSyncFailureRequest" });

const tags = ["Sync"];
const read = () => [authenticate(), requirePermission("sync:read"), rateLimit("default")];
const admin = () => [authenticate(), requirePermission("sync:admin"), rateLimit("default")];

const listJobsRoute = createRoute({
  method: "get",
  path: "/jobs",
  tags,
  summary: "List sync jobs",
  description:
    "Every pull, backfill, push and write-back run, newest first, page by page. One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { query: ListJobsQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(SyncJobSchema)), "A page of sync jobs"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const getJobRoute = createRoute({
  method: "get",
  path: "/jobs/{id}",
  tags,
  summary: "Get a sync job",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(SyncJobSchema), "The sync job"),
    404: errorResponse("No such sync job in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const listFailuresRoute = createRoute({
  method: "get",
  path: "/failures",
  tags,
  summary: "List sync failures",
  description:
    "Work that failed for good (permanent errors, exhausted retries), newest first; unresolved ones " +
    "(`open`, `replaying`) unless `status` says otherwise. Items leave out the payload and the error " +
    "history. One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { query: ListFailuresQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(SyncFailureSummarySchema)), "A page of sync failures"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const getFailureRoute = createRoute({
  method: "get",
  path: "/failures/{id}",
  tags,
  summary: "Get a sync failure",
  description: "With the payload a replay would send and the error history. One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(SyncFailureSchema), "The sync failure"),
    404: errorResponse("No such sync failure in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const editFailureRoute = createRoute({
  method: "patch",
  path: "/failures/{id}",
  tags,
  summary: "Edit a failure's payload",
  description:
    "Replaces the message a replay will send. It must parse as a message of the failure's operation and " +
    "stay about the same work: same tenant; for a push the same order(s) and ERP connection; for a pull the " +
    "same connection; for a write-back the same shipment — else a 422 naming `payload.<field>`. The edit " +
    'is recorded in the error history as `{ at, kind: "edited", by }`. A resolved failure is a 409.',
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: EditFailureSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(SyncFailureSchema), "The failure with its new payload"),
    404: errorResponse("No such sync failure in this tenant"),
    409: errorResponse("The failure is resolved"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const replayFailureRoute = createRoute({
  method: "post",
  path: "/failures/{id}/replay",
  tags,
  summary: "Replay a failure",
  description:
    "Sends the payload back to its queue (push → `erp-push`, pull and write-back → `channel-pull`) with " +
    '`trigger: "replay"`, and marks the failure `replaying` (one more replay, its time). The failure is ' +
    "resolved as `replayed` when the work then succeeds, or opened again when it fails. A resolved failure " +
    "is a 409; a payload that no longer parses is a 422 (edit it first); a queue that refuses the message " +
    "is a 503 and leaves the failure as it was.",
  security: bearerSecurity,
  middleware: admin(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(SyncFailureSchema), "The failure, now replaying"),
    404: errorResponse("No such sync failure in this tenant"),
    409: errorResponse("The failure is resolved"),
    422: errorResponse("Malformed id, or the payload is not a valid message"),
    503: errorResponse("The queue did not accept the message; nothing changed"),
    ...authErrorResponses,
  },
});

const bulkReplayRoute = createRoute({
  method: "post",
  path: "/failures/replay",
  tags,
  summary: "Replay failures in bulk",
  description:
    `Replays up to ${BULK_REPLAY_LIMIT} matching failures (default status \`open\`), oldest first; call ` +
    "again for more. `skipped` counts what was asked for but not replayed: ids that are not an unresolved " +
    "failure of the filter, payloads that need editing, and messages the queue refused. A queue that " +
    "refuses everything is a 503.",
  security: bearerSecurity,
  middleware: admin(),
  request: { body: { required: true, content: { "application/json": { schema: BulkReplaySchema } } } },
  responses: {
    200: jsonContent(
      envelopeOf(z.object({ replayed: z.number().int(), skipped: z.number().int() })),
      "How many were replayed and skipped",
    ),
    503: errorResponse("The queue did not accept the messages"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const resolveFailureRoute = createRoute({
  method: "post",
  path: "/failures/{id}/resolve",
  tags,
  summary: "Resolve a failure by hand",
  description:
    "Closes the failure (resolution `manual`, by the caller, with an optional note). Already resolved: 409.",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: false, content: { "application/json": { schema: ResolveFailureSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(SyncFailureSchema), "The resolved failure"),
    404: errorResponse("No such sync failure in this tenant"),
    409: errorResponse("Already resolved"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const statusRoute = createRoute({
  method: "get",
  path: "/status",
  tags,
  summary: "Sync status per connection",
  description:
    "For every connection: each stream's last success, lag, next run and lease; the push and write-back " +
    "backlog; unresolved failures by operation; the last job; and the circuit breakers of its upstream " +
    "account (`null` when the rate governor did not answer). One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  responses: {
    200: jsonContent(envelopeOf(SyncStatusSchema), "The sync status"),
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/sync. */
export const syncApp = newApp()
  .openapi(listJobsRoute, async (c) => {
    const { from, to, ...query } = c.req.valid("query");
    const page = await listSyncJobs({ ctx: c.var.services, input: { ...query, created: { from, to } } });
    return c.json(successBody(c, page), 200);
  })
  .openapi(getJobRoute, async (c) => {
    const job = await getSyncJob({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, job), 200);
  })
  .openapi(listFailuresRoute, async (c) => {
    const { from, to, ...query } = c.req.valid("query");
    const page = await listSyncFailures({ ctx: c.var.services, input: { ...query, created: { from, to } } });
    return c.json(successBody(c, page), 200);
  })
  .openapi(bulkReplayRoute, async (c) => {
    const result = await replaySyncFailures({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, result), 200);
  })
  .openapi(getFailureRoute, async (c) => {
    const failure = await getSyncFailure({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, failure), 200);
  })
  .openapi(editFailureRoute, async (c) => {
    const failure = await editSyncFailure({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, payload: c.req.valid("json").payload },
    });
    return c.json(successBody(c, failure), 200);
  })
  .openapi(replayFailureRoute, async (c) => {
    const failure = await replaySyncFailure({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, failure), 200);
  })
  .openapi(resolveFailureRoute, async (c) => {
    const failure = await resolveSyncFailure({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, note: c.req.valid("json").note },
    });
    return c.json(successBody(c, failure), 200);
  })
  .openapi(statusRoute, async (c) => {
    const status = await getSyncStatus({
      ctx: c.var.services,
      input: { readBreakers: governorBreakerReader(c.env.RATE_GOVERNORS) },
    });
    return c.json(successBody(c, status), 200);
  });
