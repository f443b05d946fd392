import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { jwks, loadKeyring } from "../../services/auth/tokens";

const JwksSchema = z
  .object({ keys: z.array(z.record(z.string(), z.unknown())) })
  .meta({ id: "JsonWebKeySet", description: "RFC 7517 key set (public parts only)" });

const jwksRoute = createRoute({
  method: "get",
  path: "/jwks.json",
  tags: ["Auth"],
  summary: "Public keys that verify Tradewind access tokens",
  description: "A bare RFC 7517 JWK Set (not enveloped), as JWT libraries expect. Cached for 5 minutes.",
  responses: { 200: { content: { "application/json": { schema: JwksSchema } }, description: "The key set" } },
});

/** Mounted at /.well-known. */
export const wellKnownApp = newApp().openapi(jwksRoute, async (c) => {
  const ring = await loadKeyring(c.var.services.config.auth.signingKeys);
  c.header("Cache-Control", "public, max-age=300");
  return c.json(jwks(ring), 200);
});
