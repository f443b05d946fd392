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
import { PROVIDER_NAMES, PROVIDERS, type Provider } from "../../services/connections/connection-config";
import { createConnection } from "../../services/connections/create-connection";
import { deleteConnection } from "../../services/connections/delete-connection";
import { getConnection } from "../../services/connections/get-connection";
import { listConnections } from "../../services/connections/list-connections";
import { updateConnection } from "../../services/connections/update-connection";
import { createMapping } from "../../services/mappings/create-mapping";
import { listMappings } from "../../services/mappings/list-mappings";
import { MAX_MAPPINGS_PER_PUT, putMappings } from "../../services/mappings/put-mappings";
import { triggerConnectionSync } from "../../services/sync/trigger-sync";
import { MappingInputSchema, MappingKindSchema, MappingSchema } from "../mappings";

/** `?flag=true|false` (query strings carry text; `z.coerce.boolean` would read "false" as true). */
const BooleanQuery = z
  .enum(["true", "false"])
  .transform((v) => v === "true")
  .meta({ type: "boolean" });

const ProviderSchema = z.enum(PROVIDER_NAMES as [Provider, ...Provider[]]).meta({
  description: Object.entries(PROVIDERS)
    .map(([name, spec]) => `\`${name}\` (${spec.kind})`)
    .join(", "),
  example: "shopify",
});

function pascal(name: string): string {
  return name.charAt(0).toUpperCase() + name.slice(1);
}

/**
 * The per-provider shapes, registered as components so the document shows what each provider needs. The
 * request fields below stay plain objects: the service validates them against the provider named in the
 * same body (or stored on the connection), with `credentials.*` / `settings.*` field paths in the 422.
 */
const providerComponents = Object.entries(PROVIDERS).flatMap(([name, spec]) => [
  { name: `${pascal(name)}Credentials`, schema: componentOf(spec.credentials) },
  { name: `${pascal(name)}Settings`, schema: componentOf(spec.settings) },
]);

/** The request-side JSON Schema of a provider schema, as an OpenAPI component. */
function componentOf(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _dialect, ...component } = z.toJSONSchema(schema, { io: "input" });
  return component;
}
const refsTo = (suffix: "Credentials" | "Settings") =>
  Object.keys(PROVIDERS).map((name) => ({ $ref: `#/components/schemas/${pascal(name)}${suffix}` }));

const CredentialsInputSchema = z.record(z.string(), z.unknown()).meta({
  description:
    "The provider's credentials, by provider: " +
    Object.keys(PROVIDERS)
      .map((name) => `${name} → ${pascal(name)}Credentials`)
      .join(", ") +
    ". Write-only: sealed with AES-256-GCM at rest, never returned.",
  oneOf: refsTo("Credentials"),
});

const SettingsInputSchema = z.record(z.string(), z.unknown()).meta({
  description:
    "Sync settings, by provider: " +
    Object.keys(PROVIDERS)
      .map((name) => `${name} → ${pascal(name)}Settings`)
      .join(", ") +
    ". Omitted fields take their defaults.",
  anyOf: refsTo("Settings"),
});

const SyncStreamSchema = z
  .object({
    resource: z.enum(["orders", "inventory", "shipments", "push_backlog"]),
    intervalSeconds: z.number().int(),
    nextDueAt: z.iso.datetime(),
    lastRunAt: z.iso.datetime().nullable(),
    lastSuccessAt: z.iso.datetime().nullable(),
    lastError: z.string().nullable(),
    consecutiveFailures: z.number().int(),
    leased: z.boolean().meta({ description: "A run holds the stream right now" }),
  })
  .meta({ id: "SyncStream" });

export const ConnectionSchema = z
  .object({
    id: z.uuid(),
    kind: z.enum(["channel", "erp", "ai", "email"]),
    provider: z.string().meta({ example: "shopify" }),
    account: z.string().meta({
      description: "The upstream's own id of the account: shop domain, ERP app id",
      example: "acme.myshopify.com",
    }),
    displayName: z.string().meta({ example: "Acme US store" }),
    enabled: z.boolean(),
    settings: z.record(z.string(), z.unknown()).meta({ description: "As stored, defaults filled in" }),
    erpConnectionId: z.uuid().nullable().meta({
      description: "For a channel: the ERP connection its orders are pushed to (null: stored only)",
    }),
    credentials: z
      .object({
        set: z.literal(true),
        keyId: z.string().meta({ description: "Id of the CREDENTIALS_KEYS key that sealed them" }),
      })
      .meta({ description: "Never the values" }),
    streams: z.array(SyncStreamSchema),
    webhooks: z
      .object({
        receiverPath: z.string().meta({
          description: "Where the channel delivers (under PUBLIC_BASE_URL)",
          example: "/webhooks/shopify/2f1c0a7e-5b1d-4b1e-9d59-0d3c2f6b8e10",
        }),
        state: z
          .record(z.string(), z.unknown())
          .nullable()
          .meta({
            description:
              "Subscriptions at the channel as last synced: `{ status: registered, callbackUrl, topics, syncedAt }`, " +
              "`{ status: not_registered, reason }` or `{ status: failed, error }`; null until the first sync",
          }),
      })
      .nullable()
      .meta({ description: "For a channel: its webhook receiver; null for an ERP" }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: "Connection" });

const DisplayNameSchema = z.string().trim().min(1).max(200);

const CreateConnectionSchema = z
  .strictObject({
    provider: ProviderSchema,
    account: z.string().min(1).max(300).meta({
      description: "Normalised by the provider's rule (e.g. a Shopify shop domain is lower-cased)",
      example: "acme.myshopify.com",
    }),
    displayName: DisplayNameSchema.meta({ example: "Acme US store" }),
    credentials: CredentialsInputSchema,
    settings: SettingsInputSchema.optional(),
    erpConnectionId: z.uuid().toLowerCase().nullable().optional().meta({
      description: "Channels only: an ERP connection of the tenant to push orders to",
    }),
    enabled: z.boolean().optional().meta({ description: "Default true" }),
  })
  .meta({ id: "CreateConnectionRequest" });

const UpdateConnectionSchema = z
  .strictObject({
    displayName: DisplayNameSchema.optional(),
    enabled: z.boolean().optional(),
    settings: SettingsInputSchema.optional().meta({
      description: "Merged over the stored settings (top-level fields), then validated whole",
    }),
    credentials: CredentialsInputSchema.optional().meta({
      description: "Replaces the stored credentials whole; sealed afresh, never returned",
    }),
    erpConnectionId: z.uuid().toLowerCase().nullable().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: "Give at least one field to change" })
  .meta({ id: "UpdateConnectionRequest" });

const ListConnectionsQuerySchema = PageQuerySchema.extend({
  kind: z.enum(["channel", "erp", "ai", "email"]).optional(),
  provider: ProviderSchema.optional(),
  enabled: BooleanQuery.optional(),
});

const ListMappingsQuerySchema = PageQuerySchema.extend({
  kind: MappingKindSchema.optional(),
  search: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .meta({ description: "Case-insensitive substring of the source" }),
});

const PutMappingsSchema = z
  .strictObject({ mappings: z.array(MappingInputSchema).min(1).max(MAX_MAPPINGS_PER_PUT) })
  .meta({ id: "PutMappingsRequest" });

const PutMappingsResultSchema = z
  .object({
    created: z.number().int(),
    updated: z.number().int().meta({ description: "Existing mappings whose target or note changed" }),
    unchanged: z.number().int(),
  })
  .meta({ id: "PutMappingsResult" });

const tags = ["Connections"];
const read = () => [authenticate(), requirePermission("sync:read"), rateLimit("default")];
const admin = () => [authenticate(), requirePermission("sync:admin"), rateLimit("default")];
const notFound = errorResponse("No such connection in this tenant");

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List connections",
  description:
    "Sales channels and ERPs of the tenant with their sync streams (ERPs first, then by name). Credentials " +
    "are never returned. One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { query: ListConnectionsQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(ConnectionSchema)), "A page of connections"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const createConnectionRoute = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Connect a sales channel or an ERP",
  description:
    "Credentials and settings are validated against the provider's schemas (422 naming each field, e.g. " +
    "`credentials.accessToken`, `settings.intervalMinutes`); credentials are sealed (AES-256-GCM, bound to " +
    "tenant and connection) and never returned. The connection's sync streams are created with it, due at " +
    "once; a channel's orders start from `settings.backfillFrom`, else 30 days back. The same account of a " +
    "provider twice is a 409. `erpConnectionId` must be an ERP connection of the tenant (422).",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    body: { required: true, content: { "application/json": { schema: CreateConnectionSchema } } },
  },
  responses: {
    201: jsonContent(envelopeOf(ConnectionSchema), "Connected"),
    409: errorResponse("This provider's account is already connected in this tenant"),
    503: errorResponse("Credential storage is not configured (CREDENTIALS_KEYS)"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const getConnectionRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Get a connection",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(ConnectionSchema), "The connection and its streams"),
    404: notFound,
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const updateConnectionRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Update a connection",
  description:
    "Settings are merged over the stored ones and validated whole; the streams follow in the same " +
    "transaction (new resources start now, dropped ones are removed, a new interval applies from now). " +
    "Credentials are replaced whole and sealed afresh. Disabling stops scheduled runs. A lost race with " +
    "another edit is retried; past a few, 409.",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: UpdateConnectionSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(ConnectionSchema), "Updated"),
    404: notFound,
    409: errorResponse("The connection kept changing under this edit; try again"),
    503: errorResponse("Credential storage is not configured (CREDENTIALS_KEYS)"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const deleteConnectionRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a connection",
  description:
    "Removes the connection and everything synced through it: its streams, jobs and failures, and its " +
    "mappings (ERP) or the orders pulled through it (channel). An ERP connection that channels still push " +
    "to is a 409 naming them.",
  security: bearerSecurity,
  middleware: admin(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
    404: notFound,
    409: errorResponse("Channels still push to this ERP connection (`details.channelConnectionIds`)"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const listMappingsRoute = createRoute({
  method: "get",
  path: "/{id}/mappings",
  tags: ["Mappings"],
  summary: "List an ERP connection's mappings",
  description: "By kind, then source. A sales channel has no mappings (422). One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema, query: ListMappingsQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(MappingSchema)), "A page of mappings"),
    404: notFound,
    422: errorResponse("Validation failed, or the connection is a sales channel"),
    ...authErrorResponses,
  },
});

const createMappingRoute = createRoute({
  method: "post",
  path: "/{id}/mappings",
  tags: ["Mappings"],
  summary: "Add a mapping to an ERP connection",
  description: "A source is mapped once per kind (409). Only ERP connections have mappings (422).",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: MappingInputSchema } } },
  },
  responses: {
    201: jsonContent(envelopeOf(MappingSchema), "Created"),
    404: notFound,
    409: errorResponse("This source already has a mapping of this kind"),
    ...authErrorResponses,
    ...bodyErrors,
    422: errorResponse("Validation failed, or the connection is a sales channel"),
  },
});

const putMappingsRoute = createRoute({
  method: "put",
  path: "/{id}/mappings",
  tags: ["Mappings"],
  summary: "Create or replace many mappings",
  description:
    `Up to ${MAX_MAPPINGS_PER_PUT} mappings in one statement (e.g. an import). Each one given replaces the ` +
    "stored mapping of its kind and source (target and note; an omitted note clears it); mappings not given " +
    "stay. The same kind and source twice in one request is a 422.",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: PutMappingsSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(PutMappingsResultSchema), "Applied"),
    404: notFound,
    ...authErrorResponses,
    ...bodyErrors,
    422: errorResponse("Validation failed, repeated entries, or the connection is a sales channel"),
  },
});

const TriggerSyncSchema = z
  .strictObject({
    since: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: "Backfill the channel's orders updated since this instant (channels only)" }),
    mode: z
      .enum(["auto", "paged", "bulk"])
      .optional()
      .meta({ description: "Backfill path: `auto` (default) uses the bulk export beyond 7 days" }),
  })
  .meta({ id: "TriggerSync" });

const TriggeredJobsSchema = z
  .object({
    jobs: z.array(
      z.object({
        id: z.uuid(),
        type: z.enum(["pull", "backfill", "push", "writeback"]),
        resource: z.string(),
        status: z.literal("queued"),
      }),
    ),
  })
  .meta({ id: "TriggeredSyncJobs" });

const triggerSyncRoute = createRoute({
  method: "post",
  path: "/{id}/sync",
  tags,
  summary: "Sync now, or backfill",
  description:
    "Without `since`: runs every stream of the connection now (a channel's order pull; an ERP's shipment " +
    "write-back and push backlog), besides its schedule. With `since`: backfills the channel's orders " +
    "updated since then, apart from the scheduled stream's checkpoint. Each run is a `sync_jobs` row " +
    "(`GET /api/v1/sync/jobs/{id}`), created `queued` before this answers 202.",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: false, content: { "application/json": { schema: TriggerSyncSchema } } },
  },
  responses: {
    202: jsonContent(envelopeOf(TriggeredJobsSchema), "The queued jobs"),
    404: notFound,
    503: errorResponse("The sync queue is unavailable"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

/** Mounted at /api/v1/connections. */
export const connectionsApp = newApp();
for (const { name, schema } of providerComponents) {
  connectionsApp.openAPIRegistry.registerComponent("schemas", name, schema);
}

connectionsApp
  .openapi(listRoute, async (c) => {
    const page = await listConnections({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, page), 200);
  })
  .openapi(createConnectionRoute, async (c) => {
    const connection = await createConnection({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, connection), 201);
  })
  .openapi(getConnectionRoute, async (c) => {
    const connection = await getConnection({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, connection), 200);
  })
  .openapi(updateConnectionRoute, async (c) => {
    const connection = await updateConnection({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, patch: c.req.valid("json") },
    });
    return c.json(successBody(c, connection), 200);
  })
  .openapi(deleteConnectionRoute, async (c) => {
    const result = await deleteConnection({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, result), 200);
  })
  .openapi(listMappingsRoute, async (c) => {
    const page = await listMappings({
      ctx: c.var.services,
      input: { connectionId: c.req.valid("param").id, ...c.req.valid("query") },
    });
    return c.json(successBody(c, page), 200);
  })
  .openapi(createMappingRoute, async (c) => {
    const mapping = await createMapping({
      ctx: c.var.services,
      input: { connectionId: c.req.valid("param").id, mapping: c.req.valid("json") },
    });
    return c.json(successBody(c, mapping), 201);
  })
  .openapi(putMappingsRoute, async (c) => {
    const result = await putMappings({
      ctx: c.var.services,
      input: { connectionId: c.req.valid("param").id, mappings: c.req.valid("json").mappings },
    });
    return c.json(successBody(c, result), 200);
  })
  .openapi(triggerSyncRoute, async (c) => {
    const body = c.req.valid("json");
    const result = await triggerConnectionSync({
      ctx: c.var.services,
      input: {
        connectionId: c.req.valid("param").id,
        ...(body?.since === undefined ? {} : { since: body.since }),
        ...(body?.mode === undefined ? {} : { mode: body.mode }),
      },
    });
    return c.json(successBody(c, result), 202);
  });
