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
  errorResponse,
  IdParamSchema,
  jsonContent,
  PageQuerySchema,
  pageOf,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { createApiKey } from "../../services/api-keys/create-api-key";
import { listApiKeys } from "../../services/api-keys/list-api-keys";
import { revokeApiKey } from "../../services/api-keys/revoke-api-key";
import { PERMISSIONS } from "../../services/auth/permissions";

const ApiKeySchema = z
  .object({
    id: z.uuid(),
    name: z.string(),
    prefix: z.string().meta({ example: "tw_sk_4fQx9a", description: "First characters of the key" }),
    scopes: z.array(z.string()),
    createdBy: z.uuid().nullable(),
    createdAt: z.iso.datetime(),
    expiresAt: z.iso.datetime().nullable(),
    lastUsedAt: z.iso.datetime().nullable().meta({ description: "Accurate to about a minute" }),
    revokedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: "ApiKey" });

const CreatedApiKeySchema = ApiKeySchema.extend({
  key: z.string().meta({
    example: "tw_sk_4fQx9a…",
    description:
      "The whole key, shown ONCE: only its SHA-256 is stored. Send it as `Authorization: Bearer <key>`.",
  }),
}).meta({ id: "CreatedApiKey" });

const CreateApiKeySchema = z
  .strictObject({
    name: z.string().trim().min(1).max(100).meta({ example: "ERP callback" }),
    scopes: z
      .array(z.enum(PERMISSIONS))
      .min(1)
      .max(PERMISSIONS.length)
      .meta({ description: "Permissions the key holds; each must also be held by the caller" }),
    expiresAt: z.iso
      .datetime({ offset: true })
      .optional()
      .meta({ description: "Must be in the future; absent = never expires" }),
  })
  .meta({ id: "CreateApiKeyRequest" });

function keyAdmins() {
  return [authenticate(), requirePermission("api_keys:admin"), rateLimit("api-keys")];
}

const createKeyRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["API keys"],
  summary: "Create an API key",
  description:
    "Returns the key once. Scopes must be known permissions (422) that the caller holds itself (403).",
  security: bearerSecurity,
  middleware: keyAdmins(),
  request: { body: { required: true, content: { "application/json": { schema: CreateApiKeySchema } } } },
  responses: {
    201: jsonContent(envelopeOf(CreatedApiKeySchema), "Key created; store it now"),
    ...authErrorResponses,
    400: commonErrorResponses[400],
    413: commonErrorResponses[413],
    415: commonErrorResponses[415],
    422: commonErrorResponses[422],
  },
});

const listKeysRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["API keys"],
  summary: "List the tenant's API keys",
  description: "Newest first, revoked keys included. Never returns a key or its hash.",
  security: bearerSecurity,
  middleware: keyAdmins(),
  request: { query: PageQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(ApiKeySchema)), "A page of keys"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const revokeKeyRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags: ["API keys"],
  summary: "Revoke an API key",
  description: "The key stops authenticating at once. Revoking a revoked key changes nothing.",
  security: bearerSecurity,
  middleware: keyAdmins(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(ApiKeySchema), "Key revoked"),
    404: errorResponse("No such key in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/api-keys. */
export const apiKeysApp = newApp()
  .openapi(createKeyRoute, async (c) => {
    const created = await createApiKey({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, created), 201);
  })
  .openapi(listKeysRoute, async (c) => {
    const page = await listApiKeys({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, page), 200);
  })
  .openapi(revokeKeyRoute, async (c) => {
    const key = await revokeApiKey({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, key), 200);
  });
