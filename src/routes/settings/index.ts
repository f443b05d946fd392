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
  jsonContent,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { WECHAT_APP_ID_PATTERN } from "../../services/wechat/login-with-wechat";
import { getWechatSettings, putWechatSettings } from "../../services/wechat/wechat-settings";

const WechatSettingsSchema = z
  .object({
    appId: z.string().nullable().meta({ example: "wx8f3c2a1b9d7e6f50" }),
    secretSet: z
      .boolean()
      .meta({ description: "Whether an app secret is stored; the secret is never returned" }),
    updatedAt: z.iso.datetime().nullable(),
  })
  .meta({ id: "WechatSettings" });

const PutWechatSettingsSchema = z
  .strictObject({
    appId: z
      .string()
      .regex(WECHAT_APP_ID_PATTERN, "Must look like wx followed by 16 characters")
      .meta({ example: "wx8f3c2a1b9d7e6f50" }),
    appSecret: z
      .string()
      .regex(/^[0-9A-Za-z]{16,128}$/, "Must be 16-128 letters or digits")
      .meta({ description: "The mini-program's AppSecret; stored encrypted, never returned" }),
  })
  .meta({ id: "PutWechatSettingsRequest" });

function tenantAdmins() {
  return [authenticate(), requirePermission("tenant:admin"), rateLimit("settings")];
}

const getWechatRoute = createRoute({
  method: "get",
  path: "/wechat",
  tags: ["Settings"],
  summary: "The tenant's WeChat mini-program configuration",
  description: "Never returns the app secret: only whether one is set.",
  security: bearerSecurity,
  middleware: tenantAdmins(),
  responses: {
    200: jsonContent(envelopeOf(WechatSettingsSchema), "Configuration (appId null when not configured)"),
    ...authErrorResponses,
  },
});

const putWechatRoute = createRoute({
  method: "put",
  path: "/wechat",
  tags: ["Settings"],
  summary: "Configure the tenant's WeChat mini-program",
  description:
    "Checks the pair with WeChat first (getStableAccessToken, normal mode: the tenant's current access token " +
    "stays valid; the token obtained is discarded), so only a holder of the app secret can claim an app id. " +
    "Then stores the app id and the app secret (sealed with AES-256-GCM, bound to tenant and app id), " +
    "replacing any previous configuration. WeChat refusing the pair is a 422 naming the field to fix: " +
    "`appId` (unknown app id, or the mini-program's API IP whitelist is on: Cloudflare Workers have no fixed " +
    "egress IP, so the whitelist must be turned off) or `appSecret` (wrong or frozen secret). An app id " +
    "configured by another tenant is a 409. WeChat's API quota used up is a 429 with Retry-After; WeChat " +
    "unreachable or failing is a 502.",
  security: bearerSecurity,
  middleware: tenantAdmins(),
  request: {
    body: { required: true, content: { "application/json": { schema: PutWechatSettingsSchema } } },
  },
  responses: {
    200: jsonContent(envelopeOf(WechatSettingsSchema), "Verified with WeChat and stored"),
    409: errorResponse("Another tenant already configured this app id"),
    ...authErrorResponses,
    429: errorResponse(
      "Rate limit exceeded, or WeChat's API quota for this mini-program is used up; see Retry-After",
    ),
    400: commonErrorResponses[400],
    413: commonErrorResponses[413],
    415: commonErrorResponses[415],
    422: errorResponse(
      "Validation failed, or WeChat rejected the appId/appSecret pair (wrong app id or secret, frozen " +
        "secret, API IP whitelist enabled); `details` maps `appId` or `appSecret` to its messages",
    ),
    502: errorResponse("WeChat could not be reached or failed; nothing was stored"),
  },
});

/** Mounted at /api/v1/settings. */
export const settingsApp = newApp()
  .openapi(getWechatRoute, async (c) => {
    const settings = await getWechatSettings({ ctx: c.var.services });
    return c.json(successBody(c, settings), 200);
  })
  .openapi(putWechatRoute, async (c) => {
    const settings = await putWechatSettings({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, settings), 200);
  });
