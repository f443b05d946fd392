import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { authenticate } from "../../http/auth";
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
import { loginWithWechat, WECHAT_APP_ID_PATTERN } from "../../services/wechat/login-with-wechat";
import { getOwnApplication, updateOwnApplication } from "../../services/wechat/own-application";
import { appIdFromReferer } from "../../services/wechat/referer";
import { clientInfo } from "./index";

const WechatLoginSchema = z
  .strictObject({
    code: z.string().min(1).max(256).meta({ description: "From `wx.login()`; single use, ~5 minutes" }),
    appId: z
      .string()
      .regex(WECHAT_APP_ID_PATTERN, "Must look like wx followed by 16 characters")
      .optional()
      .meta({
        example: "wx8f3c2a1b9d7e6f50",
        description:
          "The mini-program's app id. Optional from a mini-program: WeChat's `Referer: " +
          "https://servicewechat.com/{appid}/{version}/page-frame.html` names it.",
      }),
  })
  .meta({ id: "WechatLoginRequest" });

const ActiveLoginSchema = z
  .object({
    status: z.literal("active"),
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int(),
  })
  .meta({ id: "WechatLoginActive" });

const PendingLoginSchema = z
  .object({
    status: z.literal("pending"),
    accessToken: z.string().meta({
      description: "Applicant token: accepted only by GET/PATCH /auth/wechat/application (403 elsewhere)",
    }),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int(),
    applicationId: z.uuid(),
  })
  .meta({ id: "WechatLoginPending" });

export const ApplicationSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(["pending", "approved", "rejected"]),
    fullName: z.string().nullable(),
    phone: z.string().nullable(),
    note: z.string().nullable(),
    reason: z.string().nullable().meta({ description: "Why it was rejected" }),
    reviewerId: z.uuid().nullable(),
    reviewedAt: z.iso.datetime().nullable(),
    userId: z.uuid().nullable(),
    wechatIdentityId: z.uuid(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
  })
  .meta({ id: "StaffApplication" });

const UpdateApplicationSchema = z
  .strictObject({
    fullName: z.string().trim().min(1).max(200).optional(),
    phone: z
      .string()
      .trim()
      .regex(/^\+?[0-9 ()-]{5,32}$/, "Must be a phone number")
      .optional(),
    note: z.string().trim().max(1000).optional(),
  })
  .refine((v) => Object.keys(v).length > 0, { message: "Give at least one field" })
  .meta({ id: "UpdateOwnApplicationRequest" });

const loginRoute = createRoute({
  method: "post",
  path: "/",
  tags: ["Auth"],
  summary: "Sign in from the WeChat mini-program",
  description:
    "Exchanges a `wx.login` code at WeChat (code2Session). The app id resolves the tenant. A WeChat account linked " +
    "to an active user gets a session (`status: active`, token pair). A new account gets a pending staff " +
    "application and an applicant token (`status: pending`); a rejected one 403 with the reason. An unknown app id " +
    "and an invalid, expired or used code are the same 401. WeChat's minute quota (errcode 45011) is a 429 with " +
    "`Retry-After: 60`; other WeChat failures (busy after retries, timeouts, the tenant's credentials refused) are " +
    "a 502. WeChat's session key never leaves the server.",
  middleware: [rateLimit("auth")],
  request: { body: { required: true, content: { "application/json": { schema: WechatLoginSchema } } } },
  responses: {
    200: jsonContent(
      envelopeOf(z.discriminatedUnion("status", [ActiveLoginSchema, PendingLoginSchema])),
      "Signed in (active) or applied to join (pending)",
    ),
    401: errorResponse("Unknown app id, or the code is invalid, expired or used"),
    403: errorResponse(
      "Rejected application, deactivated user, WeChat blocked the account, or tenant suspended",
    ),
    429: errorResponse("Too many attempts, or WeChat's minute quota reached (see Retry-After)"),
    502: errorResponse("WeChat failed or refused the tenant's configuration"),
    400: commonErrorResponses[400],
    413: commonErrorResponses[413],
    415: commonErrorResponses[415],
    422: commonErrorResponses[422],
  },
});

const getApplicationRoute = createRoute({
  method: "get",
  path: "/application",
  tags: ["Auth"],
  summary: "The applicant's own staff application",
  description:
    "Applicant tokens only (from a pending WeChat sign-in). When approved, sign in with WeChat again.",
  security: bearerSecurity,
  middleware: [authenticate({ allowApplicant: true }), rateLimit("applicant")],
  responses: {
    200: jsonContent(envelopeOf(ApplicationSchema), "The application"),
    ...authErrorResponses,
  },
});

const patchApplicationRoute = createRoute({
  method: "patch",
  path: "/application",
  tags: ["Auth"],
  summary: "Describe yourself on your pending application",
  security: bearerSecurity,
  // Keyed per tenant once signed in: not the IP-keyed "auth" group of sign-in, which all applicants would share.
  middleware: [authenticate({ allowApplicant: true }), rateLimit("applicant")],
  request: {
    body: { required: true, content: { "application/json": { schema: UpdateApplicationSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(ApplicationSchema), "Updated"),
    412: errorResponse("The application was already reviewed"),
    ...authErrorResponses,
    400: commonErrorResponses[400],
    413: commonErrorResponses[413],
    415: commonErrorResponses[415],
    422: commonErrorResponses[422],
  },
});

/** Mounted at /api/v1/auth/wechat. */
export const wechatAuthApp = newApp()
  .openapi(loginRoute, async (c) => {
    const result = await loginWithWechat({
      ctx: c.var.services,
      input: { ...c.req.valid("json"), refererAppId: appIdFromReferer(c.req.header("referer")) },
      client: clientInfo(c),
    });
    return c.json(successBody(c, result), 200);
  })
  .openapi(getApplicationRoute, async (c) => {
    const application = await getOwnApplication({ ctx: c.var.services });
    return c.json(successBody(c, application), 200);
  })
  .openapi(patchApplicationRoute, async (c) => {
    const application = await updateOwnApplication({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, application), 200);
  });
