import { installFallbacks, newApp, usePlatformMiddleware } from "./http/app";
import { apiKeysApp } from "./routes/api-keys";
import { applicationsApp } from "./routes/applications";
import { auditApp } from "./routes/audit";
import { authApp } from "./routes/auth";
import { wellKnownApp } from "./routes/auth/jwks";
import { wechatAuthApp } from "./routes/auth/wechat";
import { chatsApp, publicChatApp } from "./routes/chat";
import { connectionsApp } from "./routes/connections";
import { docsApp } from "./routes/docs";
import { emailsApp, emailTemplatesApp } from "./routes/email";
import { healthApp } from "./routes/health";
import { inventoryApp } from "./routes/inventory";
import { mappingsApp } from "./routes/mappings";
import { orderLookupApp } from "./routes/order-lookup";
import { ordersApp } from "./routes/orders";
import { organizationsApp } from "./routes/organizations";
import { platformTenantsApp } from "./routes/platform-tenants";
import { orderAssetsApp, productAssetsApp } from "./routes/product-assets";
import { rolesApp } from "./routes/roles";
import { settingsApp } from "./routes/settings";
import { slaApp } from "./routes/sla";
import { supportTeamsApp } from "./routes/support-teams";
import { syncApp } from "./routes/sync";
import { publicTenantsApp } from "./routes/tenants";
import { ticketsApp } from "./routes/tickets";
import { trackingApp } from "./routes/tracking";
import { usersApp } from "./routes/users";
import { webhooksApp } from "./routes/webhook-events";
import { webhookReceiversApp } from "./routes/webhooks";

/** The HTTP surface: shared middleware, one sub-app per route group, the OpenAPI document, fallbacks. */
export function buildApp() {
  const app = newApp();
  usePlatformMiddleware(app);

  app.route("/", healthApp);
  app.route("/docs", docsApp);
  app.route("/.well-known", wellKnownApp);
  app.route("/api/v1/public/tenants", publicTenantsApp);
  app.route("/api/v1/auth/wechat", wechatAuthApp);
  app.route("/api/v1/auth", authApp);
  app.route("/api/v1/users", usersApp);
  app.route("/api/v1/roles", rolesApp);
  app.route("/api/v1/organizations", organizationsApp);
  app.route("/api/v1/applications", applicationsApp);
  app.route("/api/v1/api-keys", apiKeysApp);
  app.route("/api/v1/settings", settingsApp);
  app.route("/api/v1/tenants", platformTenantsApp);
  app.route("/api/v1/connections", connectionsApp);
  app.route("/api/v1/mappings", mappingsApp);
  app.route("/api/v1/orders", ordersApp);
  app.route("/api/v1/orders", orderAssetsApp);
  app.route("/api/v1/order-lookup", orderLookupApp);
  app.route("/api/v1/product-assets", productAssetsApp);
  app.route("/api/v1/inventory", inventoryApp);
  app.route("/api/v1/sync", syncApp);
  app.route("/api/v1/webhooks", webhooksApp);
  app.route("/api/v1/tickets", ticketsApp);
  app.route("/api/v1/emails", emailsApp);
  app.route("/api/v1/email-templates", emailTemplatesApp);
  app.route("/api/v1/support-teams", supportTeamsApp);
  app.route("/api/v1/audit", auditApp);
  app.route("/api/v1/sla", slaApp);
  app.route("/api/v1/tracking", trackingApp);
  app.route("/api/v1/public/chat/sessions", publicChatApp);
  app.route("/api/v1/chats", chatsApp);
  app.route("/webhooks", webhookReceiversApp);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT or API key (tw_sk_…)",
  });
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
