import { OpenAPIHono } from "@hono/zod-openapi";
import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { secureHeaders } from "hono/secure-headers";
import { MethodNotAllowedError, NotFoundError, PayloadTooLargeError } from "../lib/errors";
import { acceptRequestId } from "../lib/ids";
import { IoMetrics, runWithMetrics } from "../lib/metrics";
import { createServiceContext } from "../services/context";
import { webhookBodyLimit } from "../services/webhooks/webhook-model";
import { handleError } from "./errors";
import type { AppEnv } from "./types";
import { toValidationError } from "./validation";

const TARGET_NAMES: Record<string, string> = {
  json: "request body",
  form: "form body",
  query: "query parameters",
  param: "path parameters",
  header: "headers",
  cookie: "cookies",
};

/**
 * Every sub-app and every test app starts here, so validation failures look the same everywhere:
 * a 422 `VALIDATION_ERROR` whose details map each field to its messages.
 */
export function newApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success)
        throw toValidationError(result.error, TARGET_NAMES[result.target] ?? result.target);
    },
  });
}

function waitUntilOf(c: Context<AppEnv>): (promise: Promise<unknown>) => void {
  try {
    const ctx = c.executionCtx;
    return (promise) => ctx.waitUntil(promise);
  } catch {
    // app.request() in unit tests has no ExecutionContext; still never leave a rejection unhandled.
    return (promise) => {
      promise.catch(() => undefined);
    };
  }
}

/**
 * Outermost middleware: request id, the per-request service container, round-trip metrics, and the one
 * log line per request. Runs around onError's response too, so errors get the same headers.
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    const startedAt = performance.now();
    const requestId = acceptRequestId(c.req.header("x-request-id"));
    const metrics = new IoMetrics();
    c.set("requestId", requestId);
    const services = createServiceContext({
      env: c.env,
      waitUntil: waitUntilOf(c),
      metrics,
      logFields: { requestId },
    });
    c.set("services", services);
    await runWithMetrics(metrics, next);
    c.header("X-Request-Id", requestId);
    c.header("Server-Timing", metrics.serverTiming());
    if (services.degraded.size > 0) c.header("X-Degraded", [...services.degraded].join(", "));
    const status = c.res.status;
    const url = new URL(c.req.url);
    // 4xx are the caller's doing and routine; only 5xx are ours to be alarmed about.
    services.logger[status >= 500 ? "error" : "info"]("request", {
      method: c.req.method,
      path: url.pathname,
      status,
      durationMs: Math.round((performance.now() - startedAt) * 10) / 10,
      tenantId: services.tenantId,
      db: { ms: Math.round(metrics.dbMs * 10) / 10, rt: metrics.dbRoundTrips },
      cache: { ms: Math.round(metrics.cacheMs * 10) / 10, rt: metrics.cacheRoundTrips },
      ...(metrics.cacheWriteFailures > 0 ? { cacheWriteFailures: metrics.cacheWriteFailures } : {}),
    });
  };
}

/**
 * Rejects bodies over MAX_BODY_BYTES, by Content-Length when given, else while streaming. Webhook receivers
 * accept up to their provider's maximum instead (WEBHOOK_BODY_LIMITS).
 */
export function limitBody(): MiddlewareHandler<AppEnv> {
  return async function limitBody(c, next) {
    const maxSize = webhookBodyLimit(c.req.path) ?? c.var.services.config.maxBodyBytes;
    return bodyLimit({
      maxSize,
      onError: () => {
        throw new PayloadTooLargeError(`Request body exceeds ${maxSize} bytes`, {
          details: { maxBytes: maxSize },
        });
      },
    })(c, next);
  };
}

/** CORS from `CORS_ORIGINS`: an allow-list, `*`, or nothing (no cross-origin access). */
export function corsFromConfig(): MiddlewareHandler<AppEnv> {
  return async function corsFromConfig(c, next) {
    const origins = c.var.services.config.corsOrigins;
    if (origins.length === 0) return next();
    return cors({
      origin: origins.includes("*") ? "*" : (origin) => (origins.includes(origin) ? origin : null),
      allowHeaders: ["Authorization", "Content-Type", "X-Request-Id", "Idempotency-Key"],
      exposeHeaders: ["X-Request-Id", "Server-Timing", "X-Degraded", "Retry-After"],
      credentials: !origins.includes("*"),
      maxAge: 600,
    })(c, next);
  };
}

const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'";

/** Secure headers per `SECURE_HEADERS`; routes that serve HTML (docs) set their own CSP first. */
export function secureHeadersFromConfig(): MiddlewareHandler<AppEnv> {
  return async function secureHeadersFromConfig(c, next) {
    const config = c.var.services.config;
    if (!config.secureHeaders) return next();
    await secureHeaders({
      strictTransportSecurity: `max-age=${config.hstsMaxAge}; includeSubDomains`,
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
      crossOriginResourcePolicy: "same-site",
      crossOriginOpenerPolicy: "same-origin",
    })(c, next);
    if (!c.res.headers.has("Content-Security-Policy")) c.header("Content-Security-Policy", API_CSP);
  };
}

/** The shared middleware chain, in order; the app and tests that build their own apps both use it. */
export function usePlatformMiddleware(app: OpenAPIHono<AppEnv>): void {
  app.use(requestContext());
  app.use(corsFromConfig());
  app.use(secureHeadersFromConfig());
  app.use(limitBody());
}

interface RouteEntry {
  method: string;
  pattern: RegExp;
}

/** Turns Hono route paths (`/a/:id`, `/a/:id{[0-9]+}`, `/a/*`) into anchored regexes. */
function compileRoutes(routes: readonly { method: string; path: string }[]): RouteEntry[] {
  return routes
    .filter((r) => r.method !== "ALL")
    .map((r) => {
      let source = "";
      for (const segment of r.path.split("/").filter(Boolean)) {
        if (segment === "*") source += "(?:/.*)?";
        else if (segment.startsWith(":")) {
          const custom = /\{(.+)\}$/.exec(segment);
          source += `/${custom ? `(?:${custom[1]})` : "[^/]+"}`;
        } else source += `/${segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}`;
      }
      return { method: r.method, pattern: new RegExp(`^${source || "/"}/?$`) };
    });
}

/**
 * 404 for unknown paths; 405 with `Allow` when the path exists under other methods. Returned, not
 * thrown: Hono calls notFound outside the handler's try, and a throw would skip requestContext's headers.
 */
export function installFallbacks(app: OpenAPIHono<AppEnv>): void {
  let compiled: RouteEntry[] | undefined;
  app.notFound((c) => {
    compiled ??= compileRoutes(app.routes);
    const path = c.req.path;
    const allow = [...new Set(compiled.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allow.length > 0 && !allow.includes(c.req.method)) {
      if (allow.includes("GET")) allow.push("HEAD");
      return handleError(
        new MethodNotAllowedError(`Method ${c.req.method} is not allowed on ${path}`, allow),
        c,
      );
    }
    return handleError(new NotFoundError(`No route for ${c.req.method} ${path}`), c);
  });
  app.onError(handleError);
}
