import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { Order } from "../../domain/commerce";
import { ORDER_STATUSES } from "../../domain/order-state";
import { newApp } from "../../http/app";
import { authenticate, requirePermission } from "../../http/auth";
import { successBody } from "../../http/envelope";
import {
  authErrorResponses,
  bearerSecurity,
  commonErrorResponses,
  envelopeOf,
  errorResponse,
  jsonContent,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { OrderLookupInput } from "../../services/order-lookup/criteria";
import { lookUpOrders } from "../../services/order-lookup/look-up-orders";

/** `/api/v1/order-lookup`: a customer's orders across every store of the tenant. */
export const orderLookupApp = newApp();

const tags = ["Order lookup"];
const Iso = z.iso.datetime();

const ShipmentSummarySchema = z
  .object({
    carrier: z.string().meta({ example: "UPS" }),
    carrierCode: z.string().nullable(),
    trackingNumbers: z.array(z.string()).meta({ example: ["1Z999AA10123456784"] }),
    trackingUrl: z.string().nullable(),
    shippedAt: Iso,
  })
  .meta({ id: "LookupShipment" });

const LookedUpOrderSchema = z
  .object({
    orderId: z.uuid().nullable().meta({
      description: "Tradewind's id when the order is stored; null when only the store knows it yet",
    }),
    connectionId: z.uuid(),
    storeName: z.string().meta({ example: "Acme US" }),
    channel: z.string().meta({ example: "shopify" }),
    storeId: z.string().meta({ example: "acme.myshopify.com" }),
    status: z.enum(ORDER_STATUSES).nullable().meta({ description: "Tradewind's state of the stored order" }),
    source: z.enum(["channel", "stored"]).meta({
      description:
        "`channel`: the store's answer just now; `stored`: Tradewind's copy (newer, or the store did not answer)",
    }),
    order: Order.meta({ id: "ChannelOrder", description: "The order in Tradewind's commerce model" }),
    latestShipment: ShipmentSummarySchema.nullable(),
    trackingNumbers: z
      .array(z.string())
      .meta({ description: "Every tracking number of the order, newest first" }),
  })
  .meta({ id: "LookedUpOrder" });

const StoreLookupSchema = z
  .object({
    connectionId: z.uuid(),
    storeName: z.string(),
    provider: z.string().meta({ example: "shopify" }),
    status: z.enum(["ok", "failed", "timeout", "skipped"]).meta({
      description:
        "`ok`: searched; `failed`: the store refused or broke; `timeout`: no answer in time; `skipped`: " +
        "not searched (the store cannot search by one of the criteria given, e.g. TikTok Shop by email or phone)",
    }),
    error: z.string().optional(),
    found: z.number().int(),
    truncated: z
      .boolean()
      .meta({ description: "The store holds more matches than were read (the newest are shown)" }),
  })
  .meta({ id: "StoreLookup" });

const OrderLookupSchema = z
  .object({
    orders: z.array(LookedUpOrderSchema),
    stores: z.array(StoreLookupSchema),
    partial: z.boolean().meta({
      description: "A store failed or timed out: its orders may be missing (stored copies still show)",
    }),
    searchedAt: Iso.meta({ description: "When the stores were asked" }),
    cache: z.enum(["miss", "fresh", "stale"]).meta({
      description: "`stale`: an older answer, served at once while a refresh runs in the background",
    }),
    ageSeconds: z.number().int(),
  })
  .meta({ id: "OrderLookup" });

orderLookupApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "Look up a customer's orders across every store",
    description:
      "By order number, email or phone (at least one; every one given must match). Every enabled store is " +
      "searched at once through its rate governor, together with Tradewind's stored orders; one store down " +
      "still answers with the others (`partial`, per-store `stores[].status`). Shopify is searched by number, " +
      "email and phone; TikTok Shop only by order id (it masks buyers' emails and phones). Answers are cached " +
      "per tenant for 60 s, and served stale (refreshed in the background) for up to 15 min.",
    security: bearerSecurity,
    middleware: [authenticate(), requirePermission("orders:read"), rateLimit("default")],
    request: { query: OrderLookupInput },
    responses: {
      200: jsonContent(envelopeOf(OrderLookupSchema), "The orders found and how each store answered"),
      422: commonErrorResponses[422],
      ...authErrorResponses,
      503: errorResponse("Tradewind's database is unreachable and no cached answer exists"),
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const result = await lookUpOrders({ ctx: c.var.services, input: q });
    return c.json(successBody(c, result), 200);
  },
);
