import * as z from "zod";

/**
 * Raw Shopify Admin GraphQL payloads, exactly as the documents in `queries.ts` select them. Unknown keys
 * are stripped; a payload that does not match is a Shopify change we have not adopted, not something to
 * retry.
 *
 * Money: every amount is a `MoneyBag` (`shopMoney` in the shop's currency, `presentmentMoney` in the
 * buyer's). Tradewind reads `shopMoney` only, so one order never mixes currencies. Amounts are decimal
 * strings ("12.5", "1500.0").
 */

const money = z.object({ amount: z.string(), currencyCode: z.string() });
export const moneyBagSchema = z.object({ shopMoney: money });
export type ShopifyMoneyBag = z.infer<typeof moneyBagSchema>;

const nullableString = z.string().nullable();

export const mailingAddressSchema = z.object({
  name: nullableString,
  company: nullableString,
  address1: nullableString,
  address2: nullableString,
  city: nullableString,
  province: nullableString,
  provinceCode: nullableString,
  zip: nullableString,
  countryCodeV2: nullableString,
  phone: nullableString,
});
export type ShopifyMailingAddress = z.infer<typeof mailingAddressSchema>;

export const taxLineSchema = z.object({
  title: z.string(),
  /** Fraction (0.0725), null when Shopify has none (e.g. manual tax). */
  rate: z.number().nullable(),
  priceSet: moneyBagSchema,
});
export type ShopifyTaxLine = z.infer<typeof taxLineSchema>;

export const lineItemSchema = z.object({
  id: z.string(),
  sku: nullableString,
  title: z.string(),
  variantTitle: nullableString,
  /** As ordered. */
  quantity: z.number().int(),
  /** After removals (order edits, refunds with restock): what is still to ship. */
  currentQuantity: z.number().int(),
  originalUnitPriceSet: moneyBagSchema,
  totalDiscountSet: moneyBagSchema,
  taxLines: z.array(taxLineSchema),
  variant: z.object({ id: z.string() }).nullable(),
  product: z.object({ id: z.string() }).nullable(),
});
export type ShopifyLineItem = z.infer<typeof lineItemSchema>;

export const shippingLineSchema = z.object({
  id: nullableString,
  title: z.string(),
  code: nullableString,
  originalPriceSet: moneyBagSchema,
});
export type ShopifyShippingLine = z.infer<typeof shippingLineSchema>;

export const pageInfoSchema = z.object({ hasNextPage: z.boolean(), endCursor: nullableString });
export type ShopifyPageInfo = z.infer<typeof pageInfoSchema>;

/** An order's own fields: everything but its connections (what a bulk export puts on the order's line). */
export const orderCoreSchema = z.object({
  id: z.string(),
  name: z.string(),
  email: nullableString,
  phone: nullableString,
  createdAt: z.string(),
  updatedAt: z.string(),
  processedAt: nullableString,
  cancelledAt: nullableString,
  cancelReason: nullableString,
  note: nullableString,
  tags: z.array(z.string()),
  discountCodes: z.array(z.string()),
  /** The shop's currency: the one every `shopMoney` is in. */
  currencyCode: z.string(),
  displayFinancialStatus: nullableString,
  displayFulfillmentStatus: nullableString,
  customer: z.object({ id: z.string(), displayName: nullableString }).nullable(),
  shippingAddress: mailingAddressSchema.nullable(),
  billingAddress: mailingAddressSchema.nullable(),
  currentSubtotalPriceSet: moneyBagSchema,
  currentShippingPriceSet: moneyBagSchema,
  currentTotalTaxSet: moneyBagSchema,
  currentTotalDiscountsSet: moneyBagSchema,
  currentTotalPriceSet: moneyBagSchema,
  currentTaxLines: z.array(taxLineSchema),
});
export type ShopifyOrderCore = z.infer<typeof orderCoreSchema>;

/** An order with all its lines gathered, whichever way they arrived (inline page, follow-up pages, bulk). */
export type ShopifyOrder = ShopifyOrderCore & {
  lineItems: ShopifyLineItem[];
  shippingLines: ShopifyShippingLine[];
};

export const pageOrderSchema = orderCoreSchema.extend({
  shippingLines: z.object({ pageInfo: pageInfoSchema, nodes: z.array(shippingLineSchema) }),
  lineItems: z.object({ pageInfo: pageInfoSchema, nodes: z.array(lineItemSchema) }),
});
export type ShopifyPageOrder = z.infer<typeof pageOrderSchema>;

/**
 * Nodes are checked one by one (`pageOrderSchema`) by the client, so one order of an unexpected shape is
 * reported on its own instead of failing — and forever blocking — the page it sits on.
 */
export const ordersPageDataSchema = z.object({
  orders: z.object({
    pageInfo: pageInfoSchema,
    nodes: z.array(
      z.looseObject({ id: z.string(), name: z.string().optional(), updatedAt: z.string().optional() }),
    ),
  }),
});
export type ShopifyOrdersPageData = z.infer<typeof ordersPageDataSchema>;

export const orderLineItemsDataSchema = z.object({
  order: z
    .object({
      id: z.string(),
      lineItems: z.object({ pageInfo: pageInfoSchema, nodes: z.array(lineItemSchema) }),
    })
    .nullable(),
});

/** `UnsignedInt64` is serialised as a string ("1234"). */
const unsignedInt64 = z.union([z.string().regex(/^\d+$/), z.number().int().nonnegative()]).transform(Number);

export const BULK_OPERATION_STATUSES = [
  "CREATED",
  "RUNNING",
  "COMPLETED",
  "FAILED",
  "CANCELING",
  "CANCELED",
  "EXPIRED",
] as const;

export const bulkOperationSchema = z.object({
  id: z.string(),
  status: z.enum(BULK_OPERATION_STATUSES),
  errorCode: nullableString,
  objectCount: unsignedInt64,
  rootObjectCount: unsignedInt64,
  url: nullableString,
  partialDataUrl: nullableString,
  createdAt: z.string(),
  completedAt: nullableString,
});
export type ShopifyBulkOperation = z.infer<typeof bulkOperationSchema>;

export const bulkOperationDataSchema = z.object({ bulkOperation: bulkOperationSchema.nullable() });

const userErrorSchema = z.object({
  field: z.array(z.string()).nullable(),
  message: z.string(),
  code: nullableString.optional(),
});
export type ShopifyUserError = z.infer<typeof userErrorSchema>;

export const bulkOperationRunQueryDataSchema = z.object({
  bulkOperationRunQuery: z.object({
    bulkOperation: z.object({ id: z.string(), status: z.enum(BULK_OPERATION_STATUSES) }).nullable(),
    userErrors: z.array(userErrorSchema),
  }),
});

const trackingInfoSchema = z.object({ company: nullableString, number: nullableString, url: nullableString });

export const FULFILLMENT_ORDER_STATUSES = [
  "OPEN",
  "IN_PROGRESS",
  "SCHEDULED",
  "ON_HOLD",
  "INCOMPLETE",
  "CANCELLED",
  "CLOSED",
] as const;

export const fulfillmentStateDataSchema = z.object({
  order: z
    .object({
      id: z.string(),
      displayFulfillmentStatus: nullableString,
      fulfillments: z.array(
        z.object({
          id: z.string(),
          status: z.string(),
          createdAt: z.string(),
          trackingInfo: z.array(trackingInfoSchema),
        }),
      ),
      fulfillmentOrders: z.object({
        pageInfo: pageInfoSchema,
        nodes: z.array(
          z.object({
            id: z.string(),
            status: z.enum(FULFILLMENT_ORDER_STATUSES),
            assignedLocation: z.object({ location: z.object({ id: z.string() }).nullable() }),
            lineItems: z.object({
              pageInfo: pageInfoSchema,
              nodes: z.array(
                z.object({
                  id: z.string(),
                  remainingQuantity: z.number().int(),
                  totalQuantity: z.number().int(),
                  lineItem: z.object({ id: z.string() }),
                }),
              ),
            }),
          }),
        ),
      }),
    })
    .nullable(),
});
export type ShopifyFulfillmentState = NonNullable<z.infer<typeof fulfillmentStateDataSchema>["order"]>;

export const fulfillmentCreateDataSchema = z.object({
  fulfillmentCreate: z.object({
    fulfillment: z
      .object({ id: z.string(), status: z.string(), trackingInfo: z.array(trackingInfoSchema) })
      .nullable(),
    userErrors: z.array(userErrorSchema),
  }),
});

export const throttleStatusSchema = z.object({
  maximumAvailable: z.number(),
  currentlyAvailable: z.number(),
  restoreRate: z.number(),
});

/** `extensions.cost`, on every Admin GraphQL answer (THROTTLED ones included, with `actualQueryCost: null`). */
export const costExtensionSchema = z.object({
  requestedQueryCost: z.number().nullable().optional(),
  actualQueryCost: z.number().nullable().optional(),
  throttleStatus: throttleStatusSchema.optional(),
});
export type ShopifyQueryCost = z.infer<typeof costExtensionSchema>;

export const graphqlErrorSchema = z.object({
  message: z.string(),
  extensions: z.looseObject({ code: z.string().optional() }).optional(),
});
export type ShopifyGraphqlError = z.infer<typeof graphqlErrorSchema>;

/** The GraphQL envelope: `data` and `errors` may come together (partial success). */
export const graphqlResponseSchema = z.object({
  data: z.unknown().optional(),
  errors: z.array(graphqlErrorSchema).optional(),
  extensions: z.looseObject({ cost: costExtensionSchema.optional() }).optional(),
});
export type ShopifyGraphqlResponse = z.infer<typeof graphqlResponseSchema>;

/** One named quantity of a level; `updatedAt` is null for a state that never changed. */
export const inventoryQuantitySchema = z.object({
  name: z.string(),
  quantity: z.number().int(),
  updatedAt: nullableString,
});

export const inventoryLevelSchema = z.object({
  /** "gid://shopify/InventoryLevel/523463154?inventory_item_id=43729076". */
  id: z.string(),
  updatedAt: z.string(),
  location: z.object({ id: z.string() }),
  quantities: z.array(inventoryQuantitySchema),
});
export type ShopifyInventoryLevel = z.infer<typeof inventoryLevelSchema>;

const inventoryLevelsSchema = z.object({ pageInfo: pageInfoSchema, nodes: z.array(inventoryLevelSchema) });

export const pageInventoryItemSchema = z.object({
  id: z.string(),
  /** Merchants may leave it blank (null or ""). Shopify does not make it unique either. */
  sku: nullableString,
  /** False: Shopify does not count this item's stock (it sells regardless of quantities). */
  tracked: z.boolean(),
  inventoryLevels: inventoryLevelsSchema,
});
export type ShopifyPageInventoryItem = z.infer<typeof pageInventoryItemSchema>;

/** An inventory item with all its levels gathered (inline page plus follow-up pages). */
export type ShopifyInventoryItem = Omit<ShopifyPageInventoryItem, "inventoryLevels"> & {
  inventoryLevels: ShopifyInventoryLevel[];
};

export const inventoryItemsPageDataSchema = z.object({
  inventoryItems: z.object({ pageInfo: pageInfoSchema, nodes: z.array(pageInventoryItemSchema) }),
});

export const inventoryItemLevelsDataSchema = z.object({
  inventoryItem: z.object({ id: z.string(), inventoryLevels: inventoryLevelsSchema }).nullable(),
});

/** `nodes(ids:)`: one entry per id asked, null for ids Shopify does not know (or may not show this app). */
export const ordersByIdDataSchema = z.object({
  nodes: z.array(z.looseObject({ __typename: z.string(), id: z.string().optional() }).nullable()),
});

export const inventoryItemsByIdDataSchema = z.object({
  nodes: z.array(
    z
      .looseObject({
        __typename: z.string(),
        id: z.string().optional(),
        sku: nullableString.optional(),
        tracked: z.boolean().optional(),
      })
      .nullable(),
  ),
});

/*
 * Webhook subscriptions (Admin API 2025-04 and later): the destination is one `uri` string (HTTPS URL,
 * `pubsub://project:topic` or an EventBridge ARN); the older `callbackUrl` and `endpoint` union are gone.
 */

export const WEBHOOK_SUBSCRIPTION_FORMATS = ["JSON", "XML"] as const;

export const webhookSubscriptionSchema = z.object({
  id: z.string(),
  /** `WebhookSubscriptionTopic` enum, e.g. ORDERS_CREATE. */
  topic: z.string(),
  uri: z.string(),
  format: z.enum(WEBHOOK_SUBSCRIPTION_FORMATS),
  /** Search-syntax filter; null or "" = every event of the topic. */
  filter: nullableString,
  /** Top-level fields kept in the payload; empty = all of them. */
  includeFields: z.array(z.string()),
});
export type ShopifyWebhookSubscription = z.infer<typeof webhookSubscriptionSchema>;

export const webhookSubscriptionsPageDataSchema = z.object({
  webhookSubscriptions: z.object({ pageInfo: pageInfoSchema, nodes: z.array(webhookSubscriptionSchema) }),
});

export const webhookSubscriptionCreateDataSchema = z.object({
  webhookSubscriptionCreate: z.object({
    webhookSubscription: webhookSubscriptionSchema.nullable(),
    userErrors: z.array(userErrorSchema),
  }),
});

export const webhookSubscriptionUpdateDataSchema = z.object({
  webhookSubscriptionUpdate: z.object({
    webhookSubscription: webhookSubscriptionSchema.nullable(),
    userErrors: z.array(userErrorSchema),
  }),
});

export const webhookSubscriptionDeleteDataSchema = z.object({
  webhookSubscriptionDelete: z.object({
    deletedWebhookSubscriptionId: nullableString,
    userErrors: z.array(userErrorSchema),
  }),
});

/*
 * Webhook bodies. Shopify serialises them like the REST Admin API of the subscription's API version:
 * snake_case, numeric ids (with `admin_graphql_api_id` beside the resource's own), money as decimal strings
 * with `*_set` bags (`shop_money`, `presentment_money`), timestamps in the shop's time zone. Unknown keys are
 * stripped; absent optional keys read as null.
 */

/**
 * A REST numeric id as digits. Real ids fit in a double today, but Shopify's documented examples do not
 * (820982911946154508): a body parsed with `JSON.parse` alone has already lost such an id, so one beyond
 * 2^53 is refused rather than turned into the wrong GID (`parseShopifyWebhookBody` keeps them as strings).
 */
export const restIdSchema = z.union([z.number(), z.string()]).transform((value, ctx) => {
  if (typeof value === "string") {
    if (/^\d+$/.test(value)) return value;
    ctx.addIssue({ code: "custom", message: `"${value}" is not a numeric id` });
    return z.NEVER;
  }
  if (Number.isSafeInteger(value) && value > 0) return String(value);
  ctx.addIssue({
    code: "custom",
    message: `${value} is not an exact positive integer id (parse the body with parseShopifyWebhookBody)`,
  });
  return z.NEVER;
});

const nullish = z
  .string()
  .nullish()
  .transform((value) => value ?? null);
const restMoneySchema = z.object({ amount: z.union([z.string(), z.number()]), currency_code: z.string() });
export const restMoneyBagSchema = z.object({ shop_money: restMoneySchema });
export type ShopifyRestMoneyBag = z.infer<typeof restMoneyBagSchema>;

export const restAddressSchema = z.object({
  name: nullish,
  first_name: nullish,
  last_name: nullish,
  company: nullish,
  address1: nullish,
  address2: nullish,
  city: nullish,
  province: nullish,
  province_code: nullish,
  zip: nullish,
  country_code: nullish,
  phone: nullish,
});
export type ShopifyRestAddress = z.infer<typeof restAddressSchema>;

export const restTaxLineSchema = z.object({
  title: z.string(),
  rate: z
    .number()
    .nullish()
    .transform((value) => value ?? null),
  price_set: restMoneyBagSchema,
});

export const restLineItemSchema = z.object({
  id: restIdSchema,
  admin_graphql_api_id: z.string().optional(),
  sku: nullish,
  title: z.string(),
  variant_title: nullish,
  quantity: z.number().int(),
  current_quantity: z.number().int(),
  price_set: restMoneyBagSchema,
  total_discount_set: restMoneyBagSchema,
  tax_lines: z.array(restTaxLineSchema),
  product_id: restIdSchema.nullish().transform((value) => value ?? null),
  variant_id: restIdSchema.nullish().transform((value) => value ?? null),
});

export const restShippingLineSchema = z.object({
  id: restIdSchema.nullish().transform((value) => value ?? null),
  title: z.string(),
  code: nullish,
  price_set: restMoneyBagSchema,
  /** Removed by an order edit: the GraphQL `shippingLines` connection leaves these out by default. */
  is_removed: z.boolean().optional(),
});

export const restCustomerSchema = z.object({
  id: restIdSchema,
  admin_graphql_api_id: z.string().optional(),
  first_name: nullish,
  last_name: nullish,
  email: nullish,
  phone: nullish,
});

export const restOrderSchema = z.object({
  id: restIdSchema,
  admin_graphql_api_id: z.string().optional(),
  name: z.string(),
  email: nullish,
  phone: nullish,
  created_at: z.string(),
  updated_at: z.string(),
  processed_at: nullish,
  cancelled_at: nullish,
  cancel_reason: nullish,
  note: nullish,
  /** "vip, wholesale": one string, comma separated. */
  tags: z
    .string()
    .nullish()
    .transform((value) => value ?? ""),
  discount_codes: z.array(z.object({ code: z.string() })),
  /** The shop's currency (the buyer's is `presentment_currency`). */
  currency: z.string(),
  financial_status: nullish,
  fulfillment_status: nullish,
  customer: restCustomerSchema.nullish().transform((value) => value ?? null),
  shipping_address: restAddressSchema.nullish().transform((value) => value ?? null),
  billing_address: restAddressSchema.nullish().transform((value) => value ?? null),
  current_subtotal_price_set: restMoneyBagSchema,
  current_shipping_price_set: restMoneyBagSchema,
  current_total_tax_set: restMoneyBagSchema,
  current_total_discounts_set: restMoneyBagSchema,
  current_total_price_set: restMoneyBagSchema,
  tax_lines: z.array(restTaxLineSchema),
  line_items: z.array(restLineItemSchema),
  shipping_lines: z.array(restShippingLineSchema),
  refunds: z.array(z.unknown()).optional(),
});
export type ShopifyRestOrder = z.infer<typeof restOrderSchema>;

export const restRefundSchema = z.object({
  id: restIdSchema,
  admin_graphql_api_id: z.string().optional(),
  order_id: restIdSchema,
});

export const restInventoryLevelSchema = z.object({
  inventory_item_id: restIdSchema,
  location_id: restIdSchema,
  /** Null when the item's stock is not tracked. */
  available: z.number().int().nullable(),
  updated_at: z.string(),
});

export const restShopSchema = z.object({ myshopify_domain: z.string().min(1) });

/*
 * Products with their pictures (product assets). Media is an interface: only `MediaImage` nodes carry
 * `id`, `alt` and `image` (other kinds answer their `__typename` alone). `image` is null while Shopify is
 * still processing an upload.
 */

export const shopifyImageSchema = z.object({
  url: z.string(),
  altText: nullableString,
  width: z.number().int().nullable(),
  height: z.number().int().nullable(),
});

export const mediaNodeSchema = z.object({
  __typename: z.string(),
  id: z.string().optional(),
  alt: nullableString.optional(),
  image: shopifyImageSchema.nullable().optional(),
});
export type ShopifyMediaNode = z.infer<typeof mediaNodeSchema>;

const mediaConnectionSchema = z.object({ nodes: z.array(mediaNodeSchema) });

export const productVariantSchema = z.object({
  id: z.string(),
  /** Merchants may leave it blank (null or ""). */
  sku: nullableString,
  /** "Black / M"; "Default Title" for a product with one variant. */
  title: z.string(),
  updatedAt: z.string(),
  media: mediaConnectionSchema,
});
export type ShopifyProductVariant = z.infer<typeof productVariantSchema>;

const productVariantsSchema = z.object({ pageInfo: pageInfoSchema, nodes: z.array(productVariantSchema) });

export const pageProductSchema = z.object({
  id: z.string(),
  title: z.string(),
  updatedAt: z.string(),
  featuredMedia: mediaNodeSchema.nullable(),
  media: mediaConnectionSchema,
  variants: productVariantsSchema,
});
export type ShopifyPageProduct = z.infer<typeof pageProductSchema>;

/** A product with all its variants gathered (inline page plus follow-up pages). */
export type ShopifyProduct = Omit<ShopifyPageProduct, "variants"> & { variants: ShopifyProductVariant[] };

/** Nodes are checked one by one by the client, so one product of an unexpected shape is reported alone. */
export const productsPageDataSchema = z.object({
  products: z.object({
    pageInfo: pageInfoSchema,
    nodes: z.array(z.looseObject({ id: z.string() })),
  }),
});

export const productVariantsDataSchema = z.object({
  product: z.object({ id: z.string(), variants: productVariantsSchema }).nullable(),
});

/**
 * `extensions.search`: how Shopify read each search argument. A term it could not use is listed in
 * `warnings` and silently left out of the search, which then answers as if it had not been given.
 */
export const searchExtensionSchema = z.array(
  z.looseObject({
    path: z.array(z.union([z.string(), z.number()])).optional(),
    query: z.string().optional(),
    warnings: z
      .array(z.looseObject({ field: z.string().optional(), message: z.string().optional() }))
      .optional(),
  }),
);

/** A lookup's first step: the ids of the matching orders, newest first. */
export const orderLookupIdsDataSchema = z.object({
  orders: z.object({ pageInfo: pageInfoSchema, nodes: z.array(z.object({ id: z.string() })) }),
});
