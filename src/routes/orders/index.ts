import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { ORDER_STATUSES } from "../../domain/order-state";
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
import { getOrder } from "../../services/orders/get-order";
import { holdOrder } from "../../services/orders/hold-order";
import { listOrders, ORDER_SORTS } from "../../services/orders/list-orders";
import { recordInvoice } from "../../services/orders/record-invoice";
import { releaseOrder } from "../../services/orders/release-order";
import { TimeBound } from "../../services/orders/time-range";

/**
 * A query parameter that takes several values: repeated (`?status=a&status=b`) or comma-separated
 * (`?status=a,b`).
 */
export function multiValueQuery<const T extends readonly [string, ...string[]]>(
  values: T,
  description: string,
) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((raw) =>
      (Array.isArray(raw) ? raw : [raw])
        .flatMap((v) => v.split(","))
        .map((v) => v.trim())
        .filter((v) => v !== ""),
    )
    .pipe(
      z
        .array(z.enum(values))
        .min(1)
        .max(values.length * 2),
    )
    .meta({
      // Documented as what it accepts: a list of the values (a single or comma-separated value works too).
      type: "array",
      items: { type: "string", enum: [...values] },
      description: `${description} Repeat the parameter or comma-separate for several.`,
    });
}

const OrderStatusSchema = z.enum(ORDER_STATUSES).meta({ id: "OrderStatus" });
const Iso = z.iso.datetime();

const OrderSummarySchema = z
  .object({
    id: z.uuid(),
    channel: z.string().meta({ example: "shopify" }),
    storeId: z.string().meta({ example: "acme.myshopify.com" }),
    connectionId: z.uuid(),
    externalId: z.string().meta({ example: "gid://shopify/Order/5512345678901" }),
    externalNumber: z.string().meta({ example: "#1001" }),
    status: OrderStatusSchema,
    currency: z.string().meta({ example: "USD" }),
    totalMinor: z.number().int().meta({ description: "Total in minor units (cents)", example: 12999 }),
    customer: z.object({ email: z.string().nullable(), name: z.string().nullable() }),
    placedAt: Iso,
    channelUpdatedAt: Iso.meta({ description: "The channel's own last-modified time" }),
    updatedAt: Iso,
  })
  .meta({ id: "OrderSummary" });

const OrderDetailSchema = OrderSummarySchema.extend({
  version: z.number().int().meta({ description: "Bumped by every accepted change from the channel" }),
  createdAt: Iso,
  data: z.record(z.string(), z.unknown()).meta({ description: "The full order (commerce `Order` DTO)" }),
  transitions: z.array(
    z.object({
      from: OrderStatusSchema.nullable(),
      to: OrderStatusSchema,
      actor: z.record(z.string(), z.unknown()).meta({ example: { type: "user", userId: "…" } }),
      reason: z.string(),
      at: Iso,
    }),
  ),
  erpLedger: z
    .object({
      erpConnectionId: z.uuid(),
      reference: z.string(),
      status: z.enum(["pending", "in_flight", "created", "rejected"]),
      erpOrderId: z.string().nullable(),
      attempts: z.number().int(),
      lastError: z.string().nullable(),
      lastAttemptAt: Iso.nullable(),
      confirmedAt: Iso.nullable(),
    })
    .nullable()
    .meta({ description: "The push to the ERP; null until the order is queued for one" }),
  shipments: z.array(
    z.object({
      id: z.uuid(),
      externalId: z.string(),
      carrier: z.string(),
      carrierCode: z.string().nullable(),
      trackingNumbers: z.array(z.string()),
      trackingUrl: z.string().nullable(),
      lines: z.array(z.record(z.string(), z.unknown())),
      shippedAt: Iso,
      writebackStatus: z.enum(["pending", "done", "failed"]),
      channelFulfillmentId: z.string().nullable(),
      writtenBackAt: Iso.nullable(),
      lastError: z.string().nullable(),
    }),
  ),
  invoices: z.array(
    z.object({
      id: z.uuid(),
      source: z.string(),
      externalId: z.string(),
      number: z.string(),
      currency: z.string(),
      totalMinor: z.number().int(),
      issuedAt: Iso,
    }),
  ),
}).meta({ id: "OrderDetail" });

const ListOrdersQuerySchema = PageQuerySchema.extend({
  status: multiValueQuery(ORDER_STATUSES, "Order status.").optional(),
  channel: z.string().trim().min(1).max(50).optional().meta({ example: "shopify" }),
  connectionId: z.uuid().toLowerCase().optional(),
  storeId: z.string().trim().min(1).max(200).optional(),
  placedFrom: TimeBound.optional(),
  placedTo: TimeBound.optional().meta({ description: "Inclusive: a date keeps that whole UTC day" }),
  search: z.string().trim().min(1).max(100).optional().meta({
    description: "Case-insensitive substring of the order number or the customer's email, name or phone",
  }),
  sort: z
    .enum(ORDER_SORTS)
    .default("-placedAt")
    .meta({ description: "Field to sort by; a leading `-` sorts descending" }),
});

const ReasonSchema = z.string().trim().min(1).max(500);
const HoldSchema = z
  .strictObject({ reason: ReasonSchema.meta({ example: "Address needs checking with the customer" }) })
  .meta({ id: "HoldOrderRequest" });
const ReleaseSchema = z
  .strictObject({ reason: ReasonSchema.optional().meta({ example: "Customer confirmed the address" }) })
  .meta({ id: "ReleaseOrderRequest" });

const tags = ["Orders"];
const InvoiceSchema = z
  .strictObject({
    number: z.string().trim().min(1).max(100).meta({ example: "INV-2026-0042" }),
    externalId: z.string().trim().min(1).max(200).optional().meta({
      description: "The invoicing system's id; default: the number. The same one twice records once.",
    }),
    source: z
      .string()
      .trim()
      .min(1)
      .max(50)
      .optional()
      .meta({ example: "xero", description: "Default: manual" }),
    currency: z.string().regex(/^[A-Z]{3}$/, "ISO 4217 code, e.g. USD"),
    totalMinor: z.number().int().safe().meta({ description: "Integer minor units (cents)", example: 4599 }),
    issuedAt: z.iso.datetime({ offset: true }),
  })
  .meta({ id: "RecordInvoice" });

const read = () => [authenticate(), requirePermission("orders:read"), rateLimit("default")];
const write = () => [authenticate(), requirePermission("orders:write"), rateLimit("default")];

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List orders",
  description:
    "Orders from every channel, newest placed first by default, page by page (`page`, `pageSize`). " +
    "One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { query: ListOrdersQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(OrderSummarySchema)), "A page of orders"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const getRouteDef = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Get an order",
  description:
    "The order with the channel's full data, its state transitions (oldest first), its ERP push ledger, " +
    "shipments and invoices. One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(OrderDetailSchema), "The order"),
    404: errorResponse("No such order in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const holdRouteDef = createRoute({
  method: "post",
  path: "/{id}/hold",
  tags,
  summary: "Hold an order",
  description:
    "Stops the order (`on_hold`): it is neither pushed to the ERP nor written back while held. Legal from " +
    "`created`, `synced` and `failed`; from any other status a 412 `PRECONDITION_FAILED` whose details name " +
    "`from` and `to`. The move is recorded with the caller and the reason in the same transaction, and of " +
    "two concurrent holds exactly one succeeds.",
  security: bearerSecurity,
  middleware: write(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: HoldSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(OrderDetailSchema), "The order, now on hold"),
    404: errorResponse("No such order in this tenant"),
    412: errorResponse("The order's status does not allow this move"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const releaseRouteDef = createRoute({
  method: "post",
  path: "/{id}/release",
  tags,
  summary: "Release a held order",
  description:
    "Returns a held order to where it was going: `synced` when the ERP already created it (push ledger " +
    "`created`), else `created` so it is pushed. An order that is not on hold is a 412.",
  security: bearerSecurity,
  middleware: write(),
  request: {
    params: IdParamSchema,
    body: { required: false, content: { "application/json": { schema: ReleaseSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(OrderDetailSchema), "The order, released"),
    404: errorResponse("No such order in this tenant"),
    412: errorResponse("The order is not on hold"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const invoiceRouteDef = createRoute({
  method: "post",
  path: "/{id}/invoices",
  tags,
  summary: "Record an invoice",
  description:
    "Records the order's invoice (from an accounting system or a person; Lingxing has no sales invoices). " +
    "A `shipped` order moves to `invoiced` in the same transaction; a `synced` one keeps the invoice and " +
    "moves once its shipment is written back. Any other status is a 412. Recording the same invoice again " +
    "(same source and external id) changes nothing.",
  security: bearerSecurity,
  middleware: write(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: InvoiceSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(OrderDetailSchema), "The order with its invoices"),
    404: errorResponse("No such order in this tenant"),
    412: errorResponse("The order's status does not allow an invoice"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

/** Mounted at /api/v1/orders. */
export const ordersApp = newApp()
  .openapi(listRoute, async (c) => {
    const { placedFrom, placedTo, ...query } = c.req.valid("query");
    const page = await listOrders({
      ctx: c.var.services,
      input: { ...query, placed: { from: placedFrom, to: placedTo } },
    });
    return c.json(successBody(c, page), 200);
  })
  .openapi(getRouteDef, async (c) => {
    const order = await getOrder({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, order), 200);
  })
  .openapi(holdRouteDef, async (c) => {
    const order = await holdOrder({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, reason: c.req.valid("json").reason },
    });
    return c.json(successBody(c, order), 200);
  })
  .openapi(releaseRouteDef, async (c) => {
    const order = await releaseOrder({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, reason: c.req.valid("json").reason },
    });
    return c.json(successBody(c, order), 200);
  })
  .openapi(invoiceRouteDef, async (c) => {
    const body = c.req.valid("json");
    const order = await recordInvoice({
      ctx: c.var.services,
      input: { ...body, externalId: body.externalId ?? body.number, orderId: c.req.valid("param").id },
    });
    return c.json(successBody(c, order), 200);
  });
