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
import { NotFoundError } from "../../lib/errors";
import { assetsForOrderLines } from "../../services/product-assets/assets-for-order-lines";
import { listProductAssets } from "../../services/product-assets/list-product-assets";
import { syncProductAssets } from "../../services/product-assets/sync-product-assets";

/** `/api/v1/product-assets`: product pictures per variant/SKU, read from the stores' catalogues. */
export const productAssetsApp = newApp();
/** `/api/v1/orders/{id}/assets`: the picture for each line of an order (mounted beside the orders group). */
export const orderAssetsApp = newApp();

const tags = ["Product assets"];
const Iso = z.iso.datetime();
const reader = () => [authenticate(), requirePermission("orders:read"), rateLimit("default")];

const ProductImageSchema = z
  .object({
    url: z
      .string()
      .meta({ example: "https://cdn.shopify.com/s/files/1/0712/3456/7890/files/tee-black.jpg?v=1718203344" }),
    alt: z.string().nullable(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
  })
  .meta({ id: "ProductImage" });

const ProductAssetSchema = z
  .object({
    id: z.uuid(),
    connectionId: z.uuid(),
    externalProductId: z.string().meta({ example: "gid://shopify/Product/8801" }),
    externalVariantId: z.string().meta({ example: "gid://shopify/ProductVariant/45001" }),
    sku: z.string().nullable().meta({ example: "TW-TEE-BLK-M" }),
    title: z.string().meta({ example: "Organic Cotton Tee" }),
    variantTitle: z.string().nullable().meta({ example: "Black / M" }),
    imageUrl: z
      .string()
      .meta({ description: "The picture to show: the variant's own, else the product's featured one" }),
    imageAlt: z.string().nullable(),
    width: z.number().int().nullable(),
    height: z.number().int().nullable(),
    images: z
      .array(ProductImageSchema)
      .meta({ description: "Every picture of the variant, then of its product" }),
    sourceUpdatedAt: Iso.meta({ description: "The store's last change of the product or variant" }),
    updatedAt: Iso,
  })
  .meta({ id: "ProductAsset" });

const LineAssetSchema = z
  .object({
    externalLineId: z.string(),
    sku: z.string().nullable(),
    variantExternalId: z.string().nullable(),
    productExternalId: z.string().nullable(),
    title: z.string(),
    variantTitle: z.string().nullable(),
    quantity: z.number().int(),
    asset: ProductAssetSchema.nullable(),
    matchedBy: z
      .enum(["variant", "sku", "sku_other_store"])
      .nullable()
      .meta({
        description:
          "`variant`: this store's picture of the exact variant; `sku`: this store's, by SKU; " +
          "`sku_other_store`: another store's picture of the same SKU",
      }),
  })
  .meta({ id: "OrderLineAsset" });

const OrderAssetsSchema = z
  .object({
    orderId: z.uuid(),
    connectionId: z.uuid(),
    externalNumber: z.string().meta({ example: "#1001" }),
    lines: z.array(LineAssetSchema),
  })
  .meta({ id: "OrderAssets" });

const SyncRequestSchema = z
  .strictObject({
    connectionId: z.uuid().toLowerCase(),
    cursor: z.string().min(1).max(2000).nullable().optional().meta({
      description: "`nextCursor` of the previous call, to continue; omit to start from the beginning",
    }),
    maxPages: z
      .number()
      .int()
      .min(1)
      .max(10)
      .optional()
      .meta({ description: "Pages to read in this call (default 10)" }),
  })
  .meta({ id: "ProductAssetSyncRequest" });

const SyncResultSchema = z
  .object({
    connectionId: z.uuid(),
    pages: z.number().int(),
    variants: z.number().int(),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int().meta({ description: "Stored already with the same or a newer source time" }),
    withoutImage: z.number().int().meta({ description: "Variants without any picture (not stored)" }),
    removed: z.number().int().meta({
      description: "Stored pictures deleted because their variant has none at the store any more",
    }),
    rejected: z.object({
      count: z.number().int(),
      items: z.array(z.object({ productExternalId: z.string(), error: z.string() })),
    }),
    nextCursor: z.string().nullable(),
    done: z.boolean(),
  })
  .meta({ id: "ProductAssetSyncResult" });

productAssetsApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "Product pictures of a SKU",
    description: "Every store's stored pictures of the SKU (case-insensitive), newest first (at most 100).",
    security: bearerSecurity,
    middleware: reader(),
    request: {
      query: z.object({
        sku: z.string().trim().min(1).max(200).meta({ example: "TW-TEE-BLK-M" }),
        connectionId: z.uuid().toLowerCase().optional(),
      }),
    },
    responses: {
      200: jsonContent(envelopeOf(z.object({ items: z.array(ProductAssetSchema) })), "The SKU's pictures"),
      422: commonErrorResponses[422],
      ...authErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listProductAssets({
      ctx: c.var.services,
      input: { sku: q.sku, connectionId: q.connectionId },
    });
    return c.json(successBody(c, page), 200);
  },
);

productAssetsApp.openapi(
  createRoute({
    method: "post",
    path: "/sync",
    tags,
    summary: "Read a store's product pictures",
    description:
      "Reads the store's catalogue (every variant with its pictures) through the account's rate governor and " +
      "stores one asset per variant; a newer source time wins. Bounded: at most 10 pages (~20 s) per call — " +
      "call again with `nextCursor` until `done`.",
    security: bearerSecurity,
    middleware: [authenticate(), requirePermission("sync:admin"), rateLimit("default")],
    request: { body: { content: { "application/json": { schema: SyncRequestSchema } }, required: true } },
    responses: {
      200: jsonContent(envelopeOf(SyncResultSchema), "What was read and stored"),
      404: errorResponse("No such connection in this tenant"),
      412: errorResponse("Not a store, disabled, or its channel has no catalogue support"),
      502: errorResponse("The store refused or failed (`details.kind`, `details.upstream`)"),
      ...bodyErrors,
      ...authErrorResponses,
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const result = await syncProductAssets({
      ctx: c.var.services,
      input: {
        connectionId: body.connectionId,
        cursor: body.cursor ?? null,
        ...(body.maxPages === undefined ? {} : { maxPages: body.maxPages }),
      },
    });
    return c.json(successBody(c, result), 200);
  },
);

orderAssetsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/assets",
    tags,
    summary: "The picture for each line of an order",
    description:
      "For each line: the stored picture of its variant, else of its SKU (this store's first, then any store's).",
    security: bearerSecurity,
    middleware: reader(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(OrderAssetsSchema), "The order's lines with their pictures"),
      404: errorResponse("No such order in this tenant"),
      422: commonErrorResponses[422],
      ...authErrorResponses,
    },
  }),
  async (c) => {
    const { id } = c.req.valid("param");
    const [found] = await assetsForOrderLines({ ctx: c.var.services, input: { orderIds: [id] } });
    if (found === undefined) throw new NotFoundError("Order not found");
    return c.json(successBody(c, found), 200);
  },
);
