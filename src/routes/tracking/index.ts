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
  jsonContent,
  PageQuerySchema,
  pageOf,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { getTracking } from "../../services/tracking/get-tracking";
import { listTrackings } from "../../services/tracking/list-trackings";
import { registerParcels } from "../../services/tracking/register-parcels";
import { PARCEL_STATUSES, REGISTRATION_STATUSES } from "../../services/tracking/tracking-view";
import { multiValueQuery } from "../orders";

/** `/api/v1/tracking`: parcels tracked through 17track — register numbers, read where a parcel is. */
export const trackingApp = newApp();

const tags = ["Tracking"];
const Iso = z.iso.datetime();
const reader = () => [authenticate(), requirePermission("tracking:read"), rateLimit("default")];
const writer = () => [authenticate(), requirePermission("tracking:write"), rateLimit("default")];

const ParcelEventSchema = z
  .object({
    timeUtc: Iso.nullable(),
    description: z.string().meta({ example: "Departed from the international exchange office" }),
    location: z.string().nullable().meta({ example: "Guangzhou" }),
    stage: z.string().nullable().meta({ example: "Departure" }),
    subStatus: z.string().nullable().meta({ example: "InTransit_Other" }),
  })
  .meta({ id: "ParcelEvent" });

const RegistrationSchema = z
  .object({
    status: z.enum(REGISTRATION_STATUSES).meta({
      description:
        "`pending`: queued or being retried; `registered`: 17track tracks it; `rejected`: 17track refused the " +
        "number (see lastError; register it again with a carrierCode); `failed`: retries ran out",
    }),
    carrierCode: z.number().int().nullable(),
    orderId: z.uuid().nullable(),
    shipmentId: z.uuid().nullable(),
    attempts: z.number().int(),
    lastError: z
      .object({
        kind: z.enum(["rejected", "retryable", "rate_limited", "auth", "permanent"]),
        message: z.string(),
        track17Code: z.number().int().nullable().meta({ example: -18019903 }),
        at: Iso,
      })
      .nullable(),
    nextAttemptAt: Iso.nullable().meta({ description: "When a pending registration is tried next" }),
    registeredAt: Iso.nullable(),
    createdAt: Iso,
  })
  .meta({ id: "ParcelRegistration" });

const ParcelSummarySchema = z
  .object({
    trackingNumber: z.string().meta({ example: "RR123456789CN" }),
    status: z.string().meta({
      description:
        "17track's main status (NotFound, InfoReceived, InTransit, Expired, AvailableForPickup, OutForDelivery, " +
        "DeliveryFailure, Delivered, Exception; Stopped), or `Pending` before 17track's first news, `Rejected` " +
        "when it refused the number",
      example: "InTransit",
    }),
    subStatus: z.string().nullable().meta({ example: "InTransit_Other" }),
    carrierCode: z.number().int().nullable().meta({ description: "17track carrier key", example: 3011 }),
    stopped: z.boolean().meta({ description: "17track stopped tracking it (delivered long ago, expired)" }),
    latestEvent: ParcelEventSchema.nullable(),
    lastEventAt: Iso.nullable(),
    updatedAt: Iso,
    registration: RegistrationSchema.nullable().meta({
      description: "Null when 17track pushed the parcel for a shipped number this tenant did not register",
    }),
  })
  .meta({ id: "ParcelSummary" });

const ParcelTrackingSchema = ParcelSummarySchema.extend({
  events: z.array(ParcelEventSchema).meta({ description: "The carrier's events, newest first" }),
}).meta({ id: "ParcelTracking" });

trackingApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List tracked parcels",
    description:
      "Every number the tenant registered and every parcel 17track pushed to it, most recently changed first, " +
      "page/offset. Items leave out the events timeline.",
    security: bearerSecurity,
    middleware: reader(),
    request: {
      query: PageQuerySchema.extend({
        status: multiValueQuery(PARCEL_STATUSES, "Parcel status.").optional(),
        orderId: z.uuid().toLowerCase().optional().meta({ description: "Parcels registered for this order" }),
      }),
    },
    responses: {
      200: jsonContent(envelopeOf(pageOf(ParcelSummarySchema)), "A page of parcels"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listTrackings({
      ctx: c.var.services,
      input: { page: q.page, pageSize: q.pageSize, status: q.status, orderId: q.orderId },
    });
    return c.json(successBody(c, page), 200);
  },
);

const TrackingNumber = z.string().min(1).max(100).meta({ example: "RR123456789CN" });

trackingApp.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Register tracking numbers with 17track",
    description:
      "Queues the numbers (spaces and dashes ignored, letters upper-cased) as pending registrations; the " +
      "registration cron sends them to 17track within a minute, 40 per request within its rate limit, and " +
      "17track then pushes every carrier event. Idempotent per number: one already tracked keeps its state; a " +
      "refused one is queued again (give the `carrierCode` 17track could not detect). The tenant's own " +
      "shipments are registered automatically.",
    security: bearerSecurity,
    middleware: writer(),
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z
              .strictObject({
                trackingNumber: TrackingNumber.optional(),
                trackingNumbers: z.array(TrackingNumber).min(1).max(100).optional(),
                carrierCode: z.number().int().positive().max(9_999_999).optional().meta({
                  description: "17track carrier key (3011 China Post, 100002 UPS, …); absent = auto-detect",
                }),
                orderId: z.uuid().toLowerCase().optional(),
              })
              .refine((b) => (b.trackingNumber === undefined) !== (b.trackingNumbers === undefined), {
                message: "Give either trackingNumber or trackingNumbers",
                path: ["trackingNumbers"],
              }),
          },
        },
      },
    },
    responses: {
      202: jsonContent(
        envelopeOf(
          z.object({
            items: z.array(
              z.object({
                trackingNumber: z.string(),
                created: z.boolean().meta({ description: "False when the tenant already tracked it" }),
                parcel: ParcelSummarySchema,
              }),
            ),
          }),
        ),
        "Queued; each parcel as it stands now",
      ),
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const items = await registerParcels({
      ctx: c.var.services,
      input: {
        trackingNumbers:
          body.trackingNumbers ?? (body.trackingNumber === undefined ? [] : [body.trackingNumber]),
        carrierCode: body.carrierCode,
        orderId: body.orderId,
      },
    });
    return c.json(successBody(c, { items }), 202);
  },
);

trackingApp.openapi(
  createRoute({
    method: "get",
    path: "/{trackingNumber}",
    tags,
    summary: "Where a parcel is",
    description:
      "Status, sub-status, carrier, latest event, the events timeline and the registration of one number, in " +
      "one Postgres round trip. Registered but no news from 17track yet: status `Pending`. A number this tenant " +
      "never registered (and 17track never pushed to it) is a 404 — reading never registers; POST does.",
    security: bearerSecurity,
    middleware: reader(),
    request: {
      params: z.object({
        trackingNumber: TrackingNumber.meta({ param: { name: "trackingNumber", in: "path" } }),
      }),
    },
    responses: {
      200: jsonContent(envelopeOf(ParcelTrackingSchema), "The parcel"),
      404: errorResponse("This tenant does not track the number"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const parcel = await getTracking({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, parcel), 200);
  },
);
