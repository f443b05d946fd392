import { installFallbacks, newApp, usePlatformMiddleware } from "./http/app";
import { docsApp } from "./routes/docs";
import { healthApp } from "./routes/health";
import { publicTenantsApp } from "./routes/tenants";

/** The HTTP surface: shared middleware, one sub-app per route group, the OpenAPI document, fallbacks. */
export function buildApp() {
  const app = newApp();
  usePlatformMiddleware(app);

  app.route("/", healthApp);
  app.route("/docs", docsApp);
  app.route("/api/v1/public/tenants", publicTenantsApp);

  app.doc31("/openapi.json", (c) => ({
    openapi: "3.1.0",
    info: {
      title: "Tradewind API",
      version: "0.1.0",
      description:
        "Edge backend for cross-border e-commerce sellers. Every JSON response uses the envelope " +
        "`{ success, data | error, meta: { requestId, timestamp } }`; `Server-Timing` reports Postgres and Redis round trips.",
    },
    servers: [{ url: new URL(c.req.url).origin }],
  }));

  installFallbacks(app);
  return app;
}
