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
import { approveApplication } from "../../services/applications/approve-application";
import { getApplication, listApplications } from "../../services/applications/list-applications";
import { rejectApplication } from "../../services/applications/reject-application";
import { ApplicationSchema } from "../auth/wechat";

const ApproveSchema = z
  .strictObject({
    email: z.email().max(254).optional(),
    username: z
      .string()
      .trim()
      .regex(/^[A-Za-z0-9._-]{1,64}$/, "1-64 letters, digits, dots, dashes or underscores")
      .optional(),
    fullName: z.string().trim().min(1).max(200).optional().meta({
      description: "Defaults to the name the applicant gave",
    }),
    roleIds: z.array(z.uuid()).max(50).optional().meta({
      description: "Roles to assign; a non-superuser reviewer may only grant permissions they hold",
    }),
    organizationId: z.uuid().optional(),
  })
  .meta({ id: "ApproveApplicationRequest" });

const RejectSchema = z
  .strictObject({ reason: z.string().trim().min(1).max(500) })
  .meta({ id: "RejectApplicationRequest" });

function reviewers() {
  return [authenticate(), requirePermission("applications:review"), rateLimit("applications")];
}

const listRoute = createRoute({
  method: "get",
  path: "/",
  tags: ["Staff applications"],
  summary: "List staff applications (WeChat sign-ups)",
  description: "Newest first; page/offset pagination; optional status filter.",
  security: bearerSecurity,
  middleware: reviewers(),
  request: {
    query: PageQuerySchema.extend({ status: z.enum(["pending", "approved", "rejected"]).optional() }),
  },
  responses: {
    200: jsonContent(envelopeOf(pageOf(ApplicationSchema)), "A page of applications"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const getRoute = createRoute({
  method: "get",
  path: "/{id}",
  tags: ["Staff applications"],
  summary: "Get a staff application",
  security: bearerSecurity,
  middleware: reviewers(),
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(ApplicationSchema), "The application"),
    404: errorResponse("No such application in this tenant"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

const approveRoute = createRoute({
  method: "post",
  path: "/{id}/approve",
  tags: ["Staff applications"],
  summary: "Approve: create the user and link the WeChat account",
  description:
    "Creates a password-less user (email and username optional), assigns the roles, links the applicant's WeChat " +
    "account and marks the application approved — in one transaction that locks the application, so a second " +
    "concurrent approval gets 409. The applicant's next WeChat sign-in returns a user session.",
  security: bearerSecurity,
  middleware: reviewers(),
  request: {
    params: IdParamSchema,
    body: { required: false, content: { "application/json": { schema: ApproveSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(ApplicationSchema), "Approved; `userId` is the new user"),
    404: errorResponse("No such application in this tenant"),
    409: errorResponse("Already reviewed, or the email/username is taken"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

const rejectRoute = createRoute({
  method: "post",
  path: "/{id}/reject",
  tags: ["Staff applications"],
  summary: "Reject a pending application",
  security: bearerSecurity,
  middleware: reviewers(),
  request: {
    params: IdParamSchema,
    body: { required: true, content: { "application/json": { schema: RejectSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(ApplicationSchema), "Rejected"),
    404: errorResponse("No such application in this tenant"),
    409: errorResponse("Already reviewed"),
    ...authErrorResponses,
    ...bodyErrors,
  },
});

/** Mounted at /api/v1/applications. */
export const applicationsApp = newApp()
  .openapi(listRoute, async (c) => {
    const page = await listApplications({ ctx: c.var.services, input: c.req.valid("query") });
    return c.json(successBody(c, page), 200);
  })
  .openapi(getRoute, async (c) => {
    const application = await getApplication({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, application), 200);
  })
  .openapi(approveRoute, async (c) => {
    const application = await approveApplication({
      ctx: c.var.services,
      input: { ...c.req.valid("json"), ...c.req.valid("param") },
    });
    return c.json(successBody(c, application), 200);
  })
  .openapi(rejectRoute, async (c) => {
    const application = await rejectApplication({
      ctx: c.var.services,
      input: { ...c.req.valid("json"), ...c.req.valid("param") },
    });
    return c.json(successBody(c, application), 200);
  });
