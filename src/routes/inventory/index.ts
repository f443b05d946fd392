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
  PageQuerySchema,
  pageOf,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { listInventory } from "../../services/inventory/list-inventory";

const Iso = z.iso.datetime();
const Sku = z.string().trim().min(1).max(200);

const InventoryLevelSchema = z
  .object({
    connectionId: z.uuid(),
    channel: z.string().meta({ example: "shopify" }),
    storeId: z.string().meta({ example: "acme.myshopify.com" }),
    sku: z.string().meta({ example: "TW-TEE-BLK-M" }),
    locationId: z.string().meta({
      description: "The channel's location id (Shopify: the location GID)",
      example: "gid://shopify/Location/76543210",
    }),
    available: z.number().int().meta({
      description: "Units that can still be sold there; negative when oversold",
      example: 31,
    }),
    sourceUpdatedAt: Iso.meta({ description: "The channel's own time of this quantity" }),
    updatedAt: Iso.meta({ description: "When Tradewind last saw this level change" }),
  })
  .meta({ id: "InventoryLevel" });

const ListInventoryQuerySchema = PageQuerySchema.extend({
  connectionId: z.uuid().toLowerCase().optional(),
  sku: Sku.optional().meta({ description: "Exactly this SKU (case-sensitive)" }),
  skuPrefix: Sku.optional().meta({
    description: "SKUs starting with this text (case-sensitive)",
    example: "TW-TEE-",
  }),
  locationId: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .optional()
    .meta({ example: "gid://shopify/Location/76543210" }),
});

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["Inventory"],
  summary: "List inventory levels",
  description:
    "Stock per SKU and location as last pulled from each channel connection whose settings include the " +
    "`inventory` resource (every run reads the channel's whole catalogue). Sorted by SKU, then location; " +
    "page by page (`page`, `pageSize`); filters combine. One Postgres round trip.",
  security: bearerSecurity,
  middleware: [authenticate(), requirePermission("orders:read"), rateLimit("default")],
  request: { query: ListInventoryQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(InventoryLevelSchema)), "A page of inventory levels"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/inventory. */
export const inventoryApp = newApp().openapi(listRoute, async (c) => {
  const page = await listInventory({ ctx: c.var.services, input: c.req.valid("query") });
  return c.json(successBody(c, page), 200);
});
