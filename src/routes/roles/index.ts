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
import { PERMISSIONS } from "../../services/auth/permissions";
import { createRole } from "../../services/roles/create-role";
import { deleteRole } from "../../services/roles/delete-role";
import { getRole } from "../../services/roles/get-role";
import { listRoles } from "../../services/roles/list-roles";
import { updateRole } from "../../services/roles/update-role";

export const RoleSchema = z
  .object({
    id: z.uuid(),
    name: z.string().meta({ example: "Warehouse staff" }),
    description: z.string(),
    permissions: z.array(z.string()).meta({ example: ["orders:read", "tickets:write"] }),
    memberCount: z.number().int().meta({ description: "Live users holding the role" }),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: "Role" });

/**
 * Permission names are checked in the service against the catalog, so the 422 names each unknown one;
 * the catalog is still listed here for the reader of the document.
 */
const PermissionListSchema = z
  .array(z.string().min(1).max(100))
  .max(PERMISSIONS.length * 2)
  .meta({ description: `Each one of: ${PERMISSIONS.join(", ")}`, example: ["orders:read"] });
const RoleNameSchema = z.string().trim().min(1).max(100);
const DescriptionSchema = z.string().max(1000);

const CreateRoleSchema = z
  .strictObject({
    name: RoleNameSchema.meta({ example: "Warehouse staff" }),
    description: DescriptionSchema.optional(),
    permissions: PermissionListSchema,
  })
  .meta({ id: "CreateRoleRequest" });

const UpdateRoleSchema = z
  .strictObject({
    name: RoleNameSchema.optional(),
    description: DescriptionSchema.optional(),
    permissions: PermissionListSchema.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: "Give at least one field to change" })
  .meta({ id: "UpdateRoleRequest" });

const tags = ["Roles"];
const read = () => [authenticate(), requirePermission("roles:read"), rateLimit("roles")];
const admin = () => [authenticate(), requirePermission("roles:admin"), rateLimit("roles")];

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List roles",
  description: "Roles by name, with how many live users hold each. One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { query: PageQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(RoleSchema)), "A page of roles"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const createRoleRoute = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a role",
  description:
    "Every permission must be in the catalog (422 naming the unknown ones). A non-superuser can only put " +
    "permissions it holds into a role (403). Names are unique per tenant, case-insensitively (409).",
  security: bearerSecurity,
  middleware: admin(),
  request: { body: { required: true, content: { "application/json": { schema: CreateRoleSchema } } } },
  responses: {
    201: jsonContent(envelopeOf(RoleSchema), "Created"),
    409: errorResponse("A role with this name exists"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const getRoleRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Get a role",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(RoleSchema), "The role"),
    404: errorResponse("No such role in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const updateRoleRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Update a role",
  description:
    "A change of permissions holds from each member's next request. A non-superuser may edit only roles " +
    "whose permissions it holds, and give them only permissions it holds (403).",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: UpdateRoleSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(RoleSchema), "Updated"),
    404: errorResponse("No such role in this tenant"),
    409: errorResponse("A role with this name exists"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const deleteRoleRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a role",
  description:
    "Members lose the role (and its permissions) from their next request. A non-superuser may delete only " +
    "roles whose permissions it holds (403).",
  security: bearerSecurity,
  middleware: admin(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
    404: errorResponse("No such role in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/roles. */
export const rolesApp = newApp()
  .openapi(listRoute, async (c) => {
    const page = await listRoles({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, page), 200);
  })
  .openapi(createRoleRoute, async (c) => {
    const role = await createRole({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, role), 201);
  })
  .openapi(getRoleRoute, async (c) => {
    const role = await getRole({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, role), 200);
  })
  .openapi(updateRoleRoute, async (c) => {
    const role = await updateRole({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, patch: c.req.valid("json") },
    });
    return c.json(successBody(c, role), 200);
  })
  .openapi(deleteRoleRoute, async (c) => {
    const result = await deleteRole({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, result), 200);
  });
