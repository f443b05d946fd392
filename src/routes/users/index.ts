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
import { createUser } from "../../services/users/create-user";
import { deleteUser } from "../../services/users/delete-user";
import { getUser } from "../../services/users/get-user";
import { listUsers, USER_SORTS } from "../../services/users/list-users";
import { setUserRoles } from "../../services/users/set-user-roles";
import { updateUser } from "../../services/users/update-user";

/** `?flag=true|false` (query strings carry text; `z.coerce.boolean` would read "false" as true). */
export const BooleanQuery = z
  .enum(["true", "false"])
  .transform((v) => v === "true")
  .meta({ type: "boolean" });

const RoleRefSchema = z.object({ id: z.uuid(), name: z.string() }).meta({ id: "RoleRef" });

export const UserSchema = z
  .object({
    id: z.uuid(),
    email: z.string().nullable().meta({ example: "ops@acme.example" }),
    username: z.string().nullable(),
    fullName: z.string().meta({ example: "Li Wei" }),
    phone: z.string().nullable(),
    active: z.boolean(),
    superuser: z.boolean(),
    organizationId: z.uuid().nullable(),
    organizationName: z.string().nullable(),
    roles: z.array(RoleRefSchema),
    hasPassword: z.boolean().meta({ description: "Whether the user can sign in with a password" }),
    lastLoginAt: z.iso.datetime().nullable(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: "User" });

const UsernameSchema = z
  .string()
  .trim()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$/, "2-64 letters, digits, dots, dashes or underscores")
  .meta({ example: "li.wei" });
const PhoneSchema = z
  .string()
  .trim()
  .regex(/^\+?[0-9 ()-]{3,32}$/, "A phone number: digits, spaces, dashes, parentheses, optional leading +")
  .meta({ example: "+86 138 0000 0000" });
const PasswordSchema = z.string().min(12, "At least 12 characters").max(1024);
const FullNameSchema = z.string().trim().min(1).max(200);

const CreateUserSchema = z
  .strictObject({
    email: z.email().max(254).optional().meta({ example: "ops@acme.example" }),
    username: UsernameSchema.optional(),
    fullName: FullNameSchema.meta({ example: "Li Wei" }),
    password: PasswordSchema.optional().meta({ description: "Omit for a user who signs in only via WeChat" }),
    phone: PhoneSchema.optional(),
    organizationId: z.uuid().optional(),
    roleIds: z.array(z.uuid()).max(50).optional(),
    active: z.boolean().optional().meta({ description: "Default true" }),
    superuser: z.boolean().optional().meta({ description: "Only a superuser may create a superuser" }),
  })
  .refine((v) => v.email !== undefined || v.username !== undefined, {
    message: "Give an email or a username",
    path: ["email"],
  })
  .meta({ id: "CreateUserRequest" });

const UpdateUserSchema = z
  .strictObject({
    fullName: FullNameSchema.optional(),
    email: z.email().max(254).optional(),
    username: UsernameSchema.optional(),
    phone: PhoneSchema.nullable().optional(),
    organizationId: z.uuid().nullable().optional(),
    active: z.boolean().optional(),
    superuser: z.boolean().optional(),
    password: PasswordSchema.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: "Give at least one field to change" })
  .meta({ id: "UpdateUserRequest" });

const SetUserRolesSchema = z
  .strictObject({ roleIds: z.array(z.uuid()).max(50) })
  .meta({ id: "SetUserRolesRequest" });

const ListUsersQuerySchema = PageQuerySchema.extend({
  search: z
    .string()
    .trim()
    .min(1)
    .max(100)
    .optional()
    .meta({ description: "Case-insensitive substring of full name, email or username" }),
  active: BooleanQuery.optional(),
  organizationId: z.uuid().optional(),
  roleId: z.uuid().optional(),
  superuser: BooleanQuery.optional(),
  sort: z
    .enum(USER_SORTS)
    .default("createdAt")
    .meta({ description: "Field to sort by; a leading `-` sorts descending" }),
});

const tags = ["Users"];
const read = () => [authenticate(), requirePermission("users:read"), rateLimit("users")];
const admin = () => [authenticate(), requirePermission("users:admin"), rateLimit("users")];

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List users",
  description:
    "Live (not deleted) users with their roles and organization, page by page (`page`, `pageSize`). " +
    "One Postgres round trip.",
  security: bearerSecurity,
  middleware: read(),
  request: { query: ListUsersQuerySchema },
  responses: {
    200: jsonContent(envelopeOf(pageOf(UserSchema)), "A page of users"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const createRouteDef = createRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create a user",
  description:
    "Needs an email or a username. Assigned roles must exist in the tenant (422) and hold only permissions " +
    "the caller holds (403). Only a superuser creates superusers (403). A live user with the same email or " +
    "username is a 409.",
  security: bearerSecurity,
  middleware: admin(),
  request: { body: { required: true, content: { "application/json": { schema: CreateUserSchema } } } },
  responses: {
    201: jsonContent(envelopeOf(UserSchema), "Created"),
    409: errorResponse("Email or username already taken"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const getRouteDef = createRoute({
  method: "get",
  path: "/{id}",
  tags,
  summary: "Get a user",
  description: "One Postgres round trip: the user, its roles and its organization.",
  security: bearerSecurity,
  middleware: read(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(UserSchema), "The user"),
    404: errorResponse("No such live user in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const updateRouteDef = createRoute({
  method: "patch",
  path: "/{id}",
  tags,
  summary: "Update a user",
  description:
    "Partial update. A new password or `active: false` ends the user's live tokens and sessions at once. " +
    "Only a superuser changes `superuser` or edits a superuser (403). Deactivating yourself or revoking " +
    "your own superuser status is a 409.",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: UpdateUserSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(UserSchema), "Updated"),
    404: errorResponse("No such live user in this tenant"),
    409: errorResponse("Email or username taken, or the change would lock you out"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const deleteRouteDef = createRoute({
  method: "delete",
  path: "/{id}",
  tags,
  summary: "Delete a user (soft)",
  description:
    "The user disappears from every read, cannot sign in, and its tokens and sessions die at once. " +
    "Deleting yourself is a 409; only a superuser deletes a superuser (403).",
  security: bearerSecurity,
  middleware: admin(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(z.object({ deleted: z.literal(true) })), "Deleted"),
    404: errorResponse("No such live user in this tenant"),
    409: errorResponse("You cannot delete yourself"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const setRolesRouteDef = createRoute({
  method: "put",
  path: "/{id}/roles",
  tags,
  summary: "Replace a user's roles",
  description:
    "Sets exactly these roles. Unknown role ids (or another tenant's) are a 422 naming them; a role with " +
    "a permission the caller does not hold is a 403. Takes effect from the user's next request.",
  security: bearerSecurity,
  middleware: admin(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: SetUserRolesSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(UserSchema), "The user with its new roles"),
    404: errorResponse("No such live user in this tenant"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

/** Mounted at /api/v1/users. */
export const usersApp = newApp()
  .openapi(listRoute, async (c) => {
    const page = await listUsers({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, page), 200);
  })
  .openapi(createRouteDef, async (c) => {
    const user = await createUser({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, user), 201);
  })
  .openapi(getRouteDef, async (c) => {
    const user = await getUser({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, user), 200);
  })
  .openapi(updateRouteDef, async (c) => {
    const user = await updateUser({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, patch: c.req.valid("json") },
    });
    return c.json(successBody(c, user), 200);
  })
  .openapi(deleteRouteDef, async (c) => {
    const result = await deleteUser({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, result), 200);
  })
  .openapi(setRolesRouteDef, async (c) => {
    const user = await setUserRoles({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, roleIds: c.req.valid("json").roleIds },
    });
    return c.json(successBody(c, user), 200);
  });
