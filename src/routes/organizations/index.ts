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
import { createOrganization } from "../../services/organizations/create-organization";
import { deleteOrganization } from "../../services/organizations/delete-organization";
import { getOrganization } from "../../services/organizations/get-organization";
import {
  getOrganizationTree,
  listOrganizations,
  ORGANIZATION_TREE_LIMIT,
} from "../../services/organizations/list-organizations";
import { ORGANIZATION_TYPES, type OrganizationNode } from "../../services/organizations/organization-view";
import { updateOrganization } from "../../services/organizations/update-organization";

/** `?tree=true|false` (`z.coerce.boolean` would read "false" as true). */
const BooleanQuery = z
  .enum(["true", "false"])
  .transform((v) => v === "true")
  .meta({ type: "boolean" });

const organizationFields = {
  id: z.uuid(),
  parentId: z.uuid().nullable(),
  name: z.string().meta({ example: "Shenzhen warehouse" }),
  type: z.enum(ORGANIZATION_TYPES),
  description: z.string().nullable(),
  memberCount: z.number().int().meta({ description: "Live users placed directly in this organization" }),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
};

export const OrganizationSchema = z.object(organizationFields).meta({ id: "Organization" });

const OrganizationNodeSchema: z.ZodType<OrganizationNode> = z
  .object({
    ...organizationFields,
    get children() {
      return z.array(OrganizationNodeSchema);
    },
  })
  .meta({ id: "OrganizationNode" });

const OrganizationTreeSchema = z
  .object({
    items: z.array(OrganizationNodeSchema).meta({ description: "The root organizations" }),
    total: z.number().int().meta({ description: "Organizations in the whole tree" }),
  })
  .meta({ id: "OrganizationTree" });

const NameSchema = z.string().trim().min(1).max(200);
const DescriptionSchema = z.string().max(2000);

const CreateOrganizationSchema = z
  .strictObject({
    name: NameSchema.meta({ example: "Shenzhen warehouse" }),
    type: z.enum(ORGANIZATION_TYPES).optional().meta({ description: "Default `department`" }),
    parentId: z.uuid().nullable().optional(),
    description: DescriptionSchema.nullable().optional(),
  })
  .meta({ id: "CreateOrganizationRequest" });

const UpdateOrganizationSchema = z
  .strictObject({
    name: NameSchema.optional(),
    type: z.enum(ORGANIZATION_TYPES).optional(),
    parentId: z
      .uuid()
      .nullable()
      .optional()
      .meta({ description: "Move under another organization; null = root" }),
    description: DescriptionSchema.nullable().optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: "Give at least one field to change" })
  .meta({ id: "UpdateOrganizationRequest" });

const ListOrganizationsQuerySchema = PageQuerySchema.extend({
  tree: BooleanQuery.optional().meta({
    description: `true: the whole chart as nested nodes (no paging; up to ${ORGANIZATION_TREE_LIMIT})`,
  }),
  parentId: z.uuid().optional().meta({ description: "Flat list only: the children of this organization" }),
});

const tags = ["Organizations"];
const read = () => [authenticate(), requirePermission("organizations:read"), rateLimit("organizations")];
const write = () => [authenticate(), requirePermission("organizations:write"), rateLimit("organizations")];

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List organizations (flat page or the whole tree)",
  description:
    "Without `tree`: a page of organizations by name. With `tree=true`: every organization nested under " +
    "its parent (`children`), roots first. One Postgres round trip either way.",
  security: bearerSecurity,
  middleware: read(),
  request: { query: ListOrganizationsQuerySchema },
  responses: {
    200: jsonContent(
      envelopeOf(z.union([pageOf(OrganizationSchema), OrganizationTreeSchema])),
      "A page of organizations, or the tree",
    ),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const createOrganizationRoute = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create an organization",
  description: "An unknown parent (or another tenant's) is a 422; a sibling with the same name a 409.",
  security: bearerSecurity,
  middleware: write(),
  request: {
    body: { required: true, content: { "application/json": { schema: CreateOrganizationSchema } } },
  },
  responses: {
    201: jsonContent(envelopeOf(OrganizationSchema), "Created"),
    409: errorResponse("A sibling with this name exists"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const getOrganizationRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Get an organization",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(OrganizationSchema), "The organization"),
    404: errorResponse("No such organization in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const updateOrganizationRoute = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Rename, retype or move an organization",
  description:
    "Moving an organization under itself or one of its descendants is a 422 on `parentId` (the database " +
    "guards the tree). An unknown parent is a 422; a sibling with the same name a 409.",
  security: bearerSecurity,
  middleware: write(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: UpdateOrganizationSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(OrganizationSchema), "Updated"),
    404: errorResponse("No such organization in this tenant"),
    409: errorResponse("A sibling with this name exists"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const deleteOrganizationRoute = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete an organization",
  description: "Only a leaf without live members: child organizations or members make it a 409.",
  security: bearerSecurity,
  middleware: write(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
    404: errorResponse("No such organization in this tenant"),
    409: errorResponse("It has child organizations or members"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/organizations. */
export const organizationsApp = newApp()
  .openapi(listRoute, async (c) => {
    const query = c.req.valid("query");
    if (query.tree) {
      const tree = await getOrganizationTree({ ctx: c.var.services });
      return c.json(successBody(c, tree), 200);
    }
    const page = await listOrganizations({ ctx: c.var.services, input: query });
    return c.json(successBody(c, page), 200);
  })
  .openapi(createOrganizationRoute, async (c) => {
    const organization = await createOrganization({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, organization), 201);
  })
  .openapi(getOrganizationRoute, async (c) => {
    const organization = await getOrganization({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, organization), 200);
  })
  .openapi(updateOrganizationRoute, async (c) => {
    const organization = await updateOrganization({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, patch: c.req.valid("json") },
    });
    return c.json(successBody(c, organization), 200);
  })
  .openapi(deleteOrganizationRoute, async (c) => {
    const result = await deleteOrganization({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, result), 200);
  });
