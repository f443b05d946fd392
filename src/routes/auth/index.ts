import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import * as z from "zod";
import { newApp } from "../../http/app";
import { authenticate } from "../../http/auth";
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
import { clientIp, rateLimit } from "../../http/rate-limit";
import type { AppEnv } from "../../http/types";
import { normaliseIp } from "../../services/auth/issue-session";
import { loginWithPassword } from "../../services/auth/login";
import { refreshSession } from "../../services/auth/refresh";
import { listSessions, logout, logoutAll, revokeSession } from "../../services/auth/sessions";

export const TokenPairSchema = z
  .object({
    accessToken: z.string(),
    refreshToken: z.string(),
    tokenType: z.literal("Bearer"),
    expiresIn: z.number().int().meta({ description: "Access-token lifetime in seconds" }),
  })
  .meta({ id: "TokenPair" });

const LoginSchema = z
  .strictObject({
    tenant: z
      .string()
      .min(1)
      .max(63)
      .meta({ example: "demo", description: '"platform" for platform admins' }),
    email: z.email().max(254).optional().meta({ example: "admin@demo.local" }),
    username: z.string().min(1).max(64).optional(),
    password: z.string().min(1).max(1024).meta({ example: "tradewind-demo-password" }),
    deviceLabel: z.string().max(100).optional().meta({ example: "Ops laptop" }),
  })
  .refine((v) => (v.email === undefined) !== (v.username === undefined), {
    message: "Give exactly one of email or username",
    path: ["email"],
  })
  .meta({ id: "LoginRequest" });

const SessionSchema = z
  .object({
    id: z.uuid(),
    method: z.string(),
    deviceLabel: z.string().nullable(),
    userAgent: z.string().nullable(),
    ip: z.string().nullable(),
    createdAt: z.iso.datetime(),
    lastUsedAt: z.iso.datetime(),
    expiresAt: z.iso.datetime(),
    current: z.boolean(),
  })
  .meta({ id: "Session" });

export function clientInfo(c: Context<AppEnv>) {
  return { ip: normaliseIp(clientIp(c)), userAgent: c.req.header("user-agent") ?? null };
}

const loginRoute = createRoute({
  method: "post",
  path: "/login",
  tags: ["Auth"],
  summary: "Sign in with a password",
  description:
    "Returns an access token (JWT, 15 minutes by default) and a refresh token. Unknown tenant, unknown user and wrong " +
    "password all answer the same 401. Failed attempts are limited per account and per IP with progressive lockout (429).",
  middleware: [rateLimit("auth")],
  request: { body: { required: true, content: { "application/json": { schema: LoginSchema } } } },
  responses: {
    200: jsonContent(envelopeOf(TokenPairSchema), "Signed in"),
    401: errorResponse("Invalid tenant, login or password"),
    403: errorResponse("The tenant is suspended"),
    429: authErrorResponses[429],
    ...bodyErrors,
  },
});

const refreshRoute = createRoute({
  method: "post",
  path: "/refresh",
  tags: ["Auth"],
  summary: "Rotate a refresh token",
  description:
    "Spends the refresh token and returns a new pair. Presenting a spent token again revokes the whole session " +
    "(reuse detection), except within a short grace window for concurrent refreshes from one client.",
  middleware: [rateLimit("auth")],
  request: {
    body: {
      required: true,
      content: {
        "application/json": { schema: z.strictObject({ refreshToken: z.string().min(1).max(200) }) },
      },
    },
  },
  responses: {
    200: jsonContent(envelopeOf(TokenPairSchema), "New token pair"),
    401: errorResponse("Invalid, expired, revoked or reused refresh token"),
    429: authErrorResponses[429],
    ...bodyErrors,
  },
});

const logoutRoute = createRoute({
  method: "post",
  path: "/logout",
  tags: ["Auth"],
  summary: "Sign out this session",
  security: bearerSecurity,
  middleware: [authenticate(), rateLimit("default")],
  responses: {
    200: jsonContent(envelopeOf(z.object({ signedOut: z.literal(true) })), "Signed out"),
    ...authErrorResponses,
  },
});

const logoutAllRoute = createRoute({
  method: "post",
  path: "/logout-all",
  tags: ["Auth"],
  summary: "Sign out every session of the user",
  description: "Revokes every refresh token and kills every live access token of the user at once.",
  security: bearerSecurity,
  middleware: [authenticate(), rateLimit("default")],
  responses: {
    200: jsonContent(envelopeOf(z.object({ sessionsRevoked: z.number().int() })), "Signed out everywhere"),
    ...authErrorResponses,
  },
});

const sessionsRoute = createRoute({
  method: "get",
  path: "/sessions",
  tags: ["Auth"],
  summary: "List the user's signed-in sessions (devices)",
  security: bearerSecurity,
  middleware: [authenticate(), rateLimit("default")],
  responses: {
    200: jsonContent(
      envelopeOf(z.object({ items: z.array(SessionSchema) })),
      "Active sessions, most recent first",
    ),
    ...authErrorResponses,
  },
});

const revokeSessionRoute = createRoute({
  method: "delete",
  path: "/sessions/{id}",
  tags: ["Auth"],
  summary: "Sign out one device",
  security: bearerSecurity,
  middleware: [authenticate(), rateLimit("default")],
  request: { params: IdParamSchema },
  responses: {
    200: jsonContent(envelopeOf(z.object({ revoked: z.literal(true) })), "Session revoked"),
    404: errorResponse("No such active session of this user"),
    422: commonErrorResponses[422],
    ...authErrorResponses,
  },
});

/** Mounted at /api/v1/auth. */
export const authApp = newApp()
  .openapi(loginRoute, async (c) => {
    const tokens = await loginWithPassword({
      ctx: c.var.services,
      input: c.req.valid("json"),
      client: clientInfo(c),
    });
    return c.json(successBody(c, tokens), 200);
  })
  .openapi(refreshRoute, async (c) => {
    const tokens = await refreshSession({
      ctx: c.var.services,
      input: c.req.valid("json"),
      client: clientInfo(c),
    });
    return c.json(successBody(c, tokens), 200);
  })
  .openapi(logoutRoute, async (c) => {
    await logout({ ctx: c.var.services });
    return c.json(successBody(c, { signedOut: true as const }), 200);
  })
  .openapi(logoutAllRoute, async (c) => {
    const result = await logoutAll({ ctx: c.var.services });
    return c.json(successBody(c, result), 200);
  })
  .openapi(sessionsRoute, async (c) => {
    const items = await listSessions({ ctx: c.var.services });
    return c.json(successBody(c, { items }), 200);
  })
  .openapi(revokeSessionRoute, async (c) => {
    await revokeSession({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, { revoked: true as const }), 200);
  });
