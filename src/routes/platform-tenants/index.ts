import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { authenticate, requirePlatformAdmin } from "../../http/auth";
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
import { createTenant, MIN_ADMIN_PASSWORD_LENGTH } from "../../services/tenants/create-tenant";
import { getTenant } from "../../services/tenants/get-tenant";
import { listTenants } from "../../services/tenants/list-tenants";
import { reactivateTenant } from "../../services/tenants/reactivate-tenant";
import { suspendTenant } from "../../services/tenants/suspend-tenant";

const TenantSchema = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    status: z.enum(["active", "suspended"]),
    suspendedAt: z.iso.datetime().nullable(),
    suspendedReason: z.string().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: "Tenant" });

const TenantAdminSchema = z
  .object({
    id: z.uuid(),
    email: z.string(),
    fullName: z.string(),
    superuser: z.literal(true),
    roleId: z.uuid().meta({ description: 'The "Administrator" role, holding every permission' }),
    createdAt: z.iso.datetime(),
  })
  .meta({ id: "TenantAdmin" });

const CreateTenantSchema = z
  .strictObject({
    slug: z
      .string()
      .regex(
        /^[a-zA-Z0-9][a-zA-Z0-9-]{1,62}$/,
        "Must be 2-63 letters, digits or dashes, not starting with a dash",
      )
      .meta({ example: "acme-trading", description: "Stored lower-cased; reserved names are refused" }),
    name: z.string().trim().min(1).max(200).meta({ example: "Acme Trading Ltd" }),
    adminEmail: z.email().max(254).meta({ example: "owner@acme.example" }),
    adminPassword: z.string().min(MIN_ADMIN_PASSWORD_LENGTH).max(1024),
    adminFullName: z.string().trim().min(1).max(200).optional(),
  })
  .meta({ id: "CreateTenantRequest" });

const ListTenantsQuerySchema = PageQuerySchema.extend({
  status: z.enum(["active", "suspended"]).optional(),
  search: z.string().trim().min(1).max(100).optional().meta({ description: "Substring of slug or name" }),
});

function platformOnly() {
  return [authenticate(), requirePlatformAdmin(), rateLimit("tenants")];
}

const createRouteDef = createRoute({
  method: "post",
  path: "/",
  tags: ["Platform tenants"],
  summary: "Register a tenant with its first administrator",
  description:
    "Platform administrators only. Creates the tenant, an `Administrator` role with every permission, the first " +
    "admin user (a superuser of the new tenant) and the role assignment in one transaction.",
  security: bearerSecurity,
  middleware: platformOnly(),
  request: { body: { required: true, content: { "application/json": { schema: CreateTenantSchema } } } },
  responses: {
    201: jsonContent(
      envelopeOf(z.object({ tenant: TenantSchema, adminUser: TenantAdminSchema })),
      "Tenant created",
    ),
    409: errorResponse("The slug is taken"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["Platform tenants"],
  summary: "List tenants",
  description: "Platform administrators only. Newest first; page/offset pagination.",
  security: bearerSecurity,
  middleware: platformOnly(),
  request: { query: ListTenantsQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(TenantSchema)), "A page of tenants"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["Platform tenants"],
  summary: "Get a tenant",
  security: bearerSecurity,
  middleware: platformOnly(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(TenantSchema), "The tenant"),
    404: errorResponse("No such tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const suspendRoute = createRoute({
  method: "post",
  path: "/{id}/suspend",
  tags: ["Platform tenants"],
  summary: "Suspend a tenant",
  description:
    "Sign-in answers 403 and every live access token, applicant token and API key of the tenant answers 403 " +
    "`This tenant is suspended` from the next request on. The platform tenant cannot be suspended (422).",
  security: bearerSecurity,
  middleware: platformOnly(),
  request: {
    params: IdParamSchema,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.strictObject({ reason: z.string().trim().max(500).optional() }),
        },
      },
    },
  },
  responses: {
    200: jsonContent(envelopeOf(TenantSchema), "Tenant suspended"),
    404: errorResponse("No such tenant"),
    412: errorResponse("The tenant is already suspended"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const reactivateRoute = createRoute({
  method: "post",
  path: "/{id}/reactivate",
  tags: ["Platform tenants"],
  summary: "Lift a tenant's suspension",
  security: bearerSecurity,
  middleware: platformOnly(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(TenantSchema), "Tenant active again"),
    404: errorResponse("No such tenant"),
    412: errorResponse("The tenant is not suspended"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/tenants. Platform administrators (superusers of the platform tenant) only. */
export const platformTenantsApp = newApp()
  .openapi(createRouteDef, async (c) => {
    const created = await createTenant({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, created), 201);
  })
  .openapi(listRoute, async (c) => {
    const page = await listTenants({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, page), 200);
  })
  .openapi(getRoute, async (c) => {
    const tenant = await getTenant({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, tenant), 200);
  })
  .openapi(suspendRoute, async (c) => {
    // The body is optional: without one (no Content-Type) the validated body is `{}`.
    const body = c.req.valid("json");
    const tenant = await suspendTenant({
      ctx: c.var.services,
      input: { ...c.req.valid("param"), reason: body.reason },
    });
    return c.json(successBody(c, tenant), 200);
  })
  .openapi(reactivateRoute, async (c) => {
    const tenant = await reactivateTenant({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, tenant), 200);
  });
