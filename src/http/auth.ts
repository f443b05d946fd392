import type { Context, MiddlewareHandler } from "hono";
import { ForbiddenError, RateLimitedError, UnauthorizedError } from "../lib/errors";
import { resolveApiKeyPrincipal } from "../services/auth/api-key-principal";
import type { Permission } from "../services/auth/permissions";
import { type Principal, requirePermissionOf, resolveUserPrincipal } from "../services/auth/principal";
import { loadKeyring, looksLikeApiKey, verifyAccessToken } from "../services/auth/tokens";
import type { ServiceContext } from "../services/context";
import { consumeRateLimit } from "../services/rate-limit/limiter";
import { runIdempotently, wantsIdempotency } from "./idempotency";
import { clientIp } from "./rate-limit";
import type { AppEnv } from "./types";

/**
 * Authenticates `Authorization: Bearer <access token | API key>` and puts the principal, tenant and actor
 * on the service context. Applicant tokens (WeChat sign-ups awaiting approval) pass only where a route
 * opts in with `{ allowApplicant: true }`.
 */
export function authenticate(options: { allowApplicant?: boolean } = {}): MiddlewareHandler<AppEnv> {
  return async function authenticate(c, next) {
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const token = match?.[1];
    if (!token) throw new UnauthorizedError("Authentication required");
    const ctx = c.var.services;
    let principal: Principal;
    try {
      if (looksLikeApiKey(token)) {
        principal = await resolveApiKeyPrincipal(ctx, token);
      } else {
        const ring = await loadKeyring(ctx.config.auth.signingKeys);
        const claims = await verifyAccessToken(ring, ctx.config.auth, token);
        principal = await resolveUserPrincipal(ctx, claims);
      }
    } catch (error) {
      if (error instanceof UnauthorizedError) await limitFailedAuthentication(c);
      throw error;
    }
    if (principal.kind === "applicant" && !options.allowApplicant) {
      throw new ForbiddenError("This account is awaiting approval");
    }
    bindPrincipal(ctx, principal);
    // Idempotency needs the caller (keys are per caller) and must wrap everything the write does.
    if (wantsIdempotency(c)) return runIdempotently(c, principal, next);
    await next();
  };
}

/**
 * Route-group limits run after authentication (they are per tenant), so failed authentications are
 * limited here instead: per client IP, with the `auth` group's rule. Past it, 429 instead of 401.
 */
async function limitFailedAuthentication(c: Context<AppEnv>): Promise<void> {
  const ctx = c.var.services;
  const rule = ctx.config.rateLimits.auth;
  const ip = clientIp(c);
  if (!rule || !ip) return;
  const outcome = await consumeRateLimit(ctx, { prefix: "rl:auth-failures", rule, identifier: ip });
  if (outcome && !outcome.allowed) {
    throw new RateLimitedError("Too many failed authentications from this address", outcome.resetSeconds);
  }
}

export function bindPrincipal(ctx: ServiceContext, principal: Principal): void {
  ctx.principal = principal;
  ctx.tenantId = principal.tenantId;
  ctx.actor =
    principal.kind === "user"
      ? { type: "user", userId: principal.userId }
      : principal.kind === "apiKey"
        ? { type: "apiKey", keyId: principal.keyId }
        : { type: "applicant", applicationId: principal.applicationId };
}

/** The one permission gate: `app.use("/users/*", requirePermission("users:read"))` or per route. */
export function requirePermission(permission: Permission): MiddlewareHandler<AppEnv> {
  return async function requirePermission(c, next) {
    requirePermissionOf(c.var.services.principal, permission);
    await next();
  };
}

/** Platform administration (tenants): a superuser of the platform tenant, never a tenant's own superuser. */
export function requirePlatformAdmin(): MiddlewareHandler<AppEnv> {
  return async function requirePlatformAdmin(c, next) {
    const principal = c.var.services.principal;
    if (!principal) throw new UnauthorizedError("Authentication required");
    if (principal.kind !== "user" || !principal.platformAdmin) {
      throw new ForbiddenError("Platform administrators only");
    }
    await next();
  };
}
