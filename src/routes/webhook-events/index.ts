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
import { TimeBound } from "../../services/orders/time-range";
import {
  createWebhookEndpoint,
  deleteWebhookEndpoint,
  listWebhookEndpoints,
  rotateWebhookEndpointSecret,
  updateWebhookEndpoint,
} from "../../services/webhooks/webhook-endpoints";
import {
  getWebhookEvent,
  listWebhookEvents,
  replayWebhookEvent,
} from "../../services/webhooks/webhook-events";
import { WEBHOOK_SOURCES, WEBHOOK_STATUSES } from "../../services/webhooks/webhook-model";
import { listWebhookSources } from "../../services/webhooks/webhook-sources";
import { multiValueQuery } from "../orders";

/** `/api/v1/webhooks`: the received events (the webhook log and its dead letters) and generic endpoints. */
export const webhooksApp = newApp();

const tags = ["Webhooks"];
const Iso = z.iso.datetime();
const Json = z.record(z.string(), z.unknown());
const reader = () => [authenticate(), requirePermission("webhooks:read"), rateLimit("default")];
const admin = () => [authenticate(), requirePermission("webhooks:admin"), rateLimit("default")];

const WebhookEventSchema = z
  .object({
    id: z.uuid(),
    source: z.enum(WEBHOOK_SOURCES),
    connectionId: z.uuid().nullable(),
    endpointId: z.uuid().nullable(),
    providerEventId: z.string().meta({ example: "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043" }),
    topic: z.string().meta({ example: "orders/updated" }),
    status: z.enum(WEBHOOK_STATUSES).meta({
      description:
        "`received`: stored, waiting for or in processing; `processed`: applied; `ignored`: nothing to do " +
        "(topic not handled, connection disabled); `failed`: a dead letter (malformed, refused, or retries exhausted) — replay it after a fix",
    }),
    receivedAt: Iso,
    triggeredAt: Iso.nullable().meta({
      description: "The sender's own time for the event, where it sends one",
    }),
    processedAt: Iso.nullable(),
    attempts: z.number().int(),
    replayCount: z.number().int(),
    bodyBytes: z.number().int(),
    lastError: Json.nullable(),
    outcome: Json.nullable().meta({ description: "What processing did (orders changed, parcel status, …)" }),
  })
  .meta({ id: "WebhookEvent" });

const WebhookEventDetailSchema = WebhookEventSchema.extend({
  headers: z
    .record(z.string(), z.string())
    .meta({ description: "The headers that matter (never signatures)" }),
  body: z
    .string()
    .meta({ description: "The raw body exactly as received (base64 when `bodyEncoding` says so)" }),
  bodyEncoding: z.enum(["utf8", "base64"]),
  bodySha256: z.string(),
  verification: Json.meta({ description: "Scheme and which secret verified it (`current` or `previous`)" }),
}).meta({ id: "WebhookEventDetail" });

const ListEventsQuerySchema = z.object({
  source: z.enum(WEBHOOK_SOURCES).optional(),
  topic: z.string().trim().min(1).max(200).optional().meta({ example: "orders/create" }),
  status: multiValueQuery(
    WEBHOOK_STATUSES,
    "One status or several (`status=failed&status=received`)",
  ).optional(),
  connectionId: z.uuid().toLowerCase().optional(),
  endpointId: z.uuid().toLowerCase().optional(),
  from: TimeBound.optional().meta({ description: "Received at or after (inclusive)" }),
  to: TimeBound.optional().meta({
    description: "Received at or before (inclusive; a date covers the whole day)",
  }),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional().meta({ description: "`nextCursor` of the previous page" }),
});

const EventPageSchema = z
  .object({ items: z.array(WebhookEventSchema), nextCursor: z.string().nullable() })
  .meta({ id: "WebhookEventPage" });

webhooksApp.openapi(
  createRoute({
    method: "get",
    path: "/events",
    tags,
    summary: "List received webhook events",
    description:
      "Newest first, cursor-paged (`{ items, nextCursor }`). Filter by source, topic, status, connection, " +
      "endpoint and received time. `status=failed` lists the dead letters.",
    security: bearerSecurity,
    middleware: reader(),
    request: { query: ListEventsQuerySchema },
    responses: {
      200: jsonContent(envelopeOf(EventPageSchema), "A page of events"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listWebhookEvents({
      ctx: c.var.services,
      input: {
        source: q.source,
        topic: q.topic,
        status: q.status,
        connectionId: q.connectionId,
        endpointId: q.endpointId,
        received: { from: q.from, to: q.to },
        limit: q.limit,
        cursor: q.cursor,
      },
    });
    return c.json(successBody(c, page), 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: "get",
    path: "/events/{id}",
    tags,
    summary: "Get a webhook event with its raw body",
    security: bearerSecurity,
    middleware: reader(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(WebhookEventDetailSchema), "The event"),
      404: errorResponse("No such event in this tenant"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const event = await getWebhookEvent({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, event), 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: "post",
    path: "/events/{id}/replay",
    tags,
    summary: "Process a webhook event again",
    description:
      "Puts the event back to `received` and on the queue (a dead letter after its cause was fixed, or any " +
      "event). Safe to repeat: an order or level is only changed by data newer than what is stored.",
    security: bearerSecurity,
    middleware: admin(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(WebhookEventSchema), "The event, queued again"),
      404: errorResponse("No such event in this tenant"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const event = await replayWebhookEvent({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, event), 200);
  },
);

const WebhookSourceSchema = z
  .object({
    source: z.enum(["shopify", "tiktok", "generic"]),
    connectionId: z.uuid().nullable(),
    endpointId: z.uuid().nullable(),
    name: z.string(),
    receiverPath: z.string().meta({ example: "/webhooks/shopify/2f1c0a7e-5b1d-4b1e-9d59-0d3c2f6b8e10" }),
    enabled: z.boolean(),
    subscription: Json.nullable().meta({
      description: "Channel subscriptions as last synced (see Connection.webhooks)",
    }),
    lastReceivedAt: Iso.nullable(),
    last24h: z.object({
      received: z.number().int(),
      processed: z.number().int(),
      failed: z.number().int().meta({ description: "Dead letters: see GET /events?status=failed" }),
      pending: z.number().int(),
      rejected: z.number().int().nullable().meta({
        description:
          "Deliveries refused (bad signature or stale): alert on a rise (a wrong secret after a rotation, or probing); null without Redis",
      }),
    }),
  })
  .meta({ id: "WebhookSource" });

webhooksApp.openapi(
  createRoute({
    method: "get",
    path: "/sources",
    tags,
    summary: "Webhook sources and their last 24 hours",
    description:
      "Every channel connection that delivers webhooks and every generic endpoint, with deliveries received, " +
      "processed, failed, pending and refused in the last 24 hours.",
    security: bearerSecurity,
    middleware: reader(),
    responses: {
      200: jsonContent(envelopeOf(z.object({ items: z.array(WebhookSourceSchema) })), "The sources"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const items = await listWebhookSources({ ctx: c.var.services });
    return c.json(successBody(c, { items }), 200);
  },
);

const EndpointSchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    description: z.string().nullable(),
    connectionId: z.uuid().nullable(),
    enabled: z.boolean(),
    url: z
      .url()
      .nullable()
      .meta({ description: "Give this to the partner (null until PUBLIC_BASE_URL is set)" }),
    path: z.string().meta({ example: "/webhooks/generic/2f1c…" }),
    rotation: z.object({ previousSecretExpiresAt: Iso }).nullable(),
    createdAt: Iso,
    updatedAt: Iso,
  })
  .meta({ id: "WebhookEndpoint" });

const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().meta({
    description: "The Standard Webhooks signing secret (`whsec_…`): shown only now",
    example: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  }),
}).meta({ id: "WebhookEndpointWithSecret" });

const Secret = z
  .string()
  .min(10)
  .max(200)
  .meta({ description: "Bring your own `whsec_…` (else one is generated)" });

webhooksApp.openapi(
  createRoute({
    method: "get",
    path: "/endpoints",
    tags,
    summary: "List generic (Standard Webhooks) endpoints",
    security: bearerSecurity,
    middleware: reader(),
    responses: {
      200: jsonContent(envelopeOf(z.object({ items: z.array(EndpointSchema) })), "The tenant's endpoints"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const items = await listWebhookEndpoints({ ctx: c.var.services });
    return c.json(successBody(c, { items }), 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: "post",
    path: "/endpoints",
    tags,
    summary: "Create a generic endpoint",
    description: "For an ERP or partner system that signs its callbacks with Standard Webhooks.",
    security: bearerSecurity,
    middleware: admin(),
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z.strictObject({
              name: z.string().trim().min(1).max(200),
              description: z.string().max(1000).nullable().optional(),
              connectionId: z.uuid().nullable().optional(),
              secret: Secret.optional(),
            }),
          },
        },
      },
    },
    responses: {
      201: jsonContent(envelopeOf(EndpointWithSecretSchema), "Created; the secret is shown only now"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const endpoint = await createWebhookEndpoint({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, endpoint), 201);
  },
);

webhooksApp.openapi(
  createRoute({
    method: "patch",
    path: "/endpoints/{id}",
    tags,
    summary: "Rename, describe, enable or disable an endpoint",
    security: bearerSecurity,
    middleware: admin(),
    request: {
      params: IdParamSchema,
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z.strictObject({
              name: z.string().trim().min(1).max(200).optional(),
              description: z.string().max(1000).nullable().optional(),
              enabled: z.boolean().optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: jsonContent(envelopeOf(EndpointSchema), "The endpoint"),
      404: errorResponse("No such endpoint in this tenant"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const endpoint = await updateWebhookEndpoint({
      ctx: c.var.services,
      input: { ...c.req.valid("json"), id: c.req.valid("param").id },
    });
    return c.json(successBody(c, endpoint), 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: "post",
    path: "/endpoints/{id}/rotate-secret",
    tags,
    summary: "Rotate an endpoint's signing secret",
    description:
      "A new secret (returned once); the old one keeps verifying for `graceHours` (default 24; 0 = stop now), " +
      "so the partner can switch without a lost delivery.",
    security: bearerSecurity,
    middleware: admin(),
    request: {
      params: IdParamSchema,
      body: {
        required: false,
        content: {
          "application/json": {
            schema: z.strictObject({
              graceHours: z.number().int().min(0).max(168).optional(),
              secret: Secret.optional(),
            }),
          },
        },
      },
    },
    responses: {
      200: jsonContent(envelopeOf(EndpointWithSecretSchema), "The endpoint with its new secret"),
      404: errorResponse("No such endpoint in this tenant"),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const body = c.req.valid("json") ?? {};
    const endpoint = await rotateWebhookEndpointSecret({
      ctx: c.var.services,
      input: { ...body, id: c.req.valid("param").id },
    });
    return c.json(successBody(c, endpoint), 200);
  },
);

webhooksApp.openapi(
  createRoute({
    method: "delete",
    path: "/endpoints/{id}",
    tags,
    summary: "Delete an endpoint (and its events)",
    security: bearerSecurity,
    middleware: admin(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
      404: errorResponse("No such endpoint in this tenant"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const result = await deleteWebhookEndpoint({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, result), 200);
  },
);
