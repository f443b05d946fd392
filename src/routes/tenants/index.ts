import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { successBody } from "../../http/envelope";
import { commonErrorResponses, envelopeOf, errorResponse, jsonContent } from "../../http/openapi";
import { getTenantPublicProfile } from "../../services/tenants/get-tenant-public-profile";

const TenantPublicProfileSchema = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    status: z.enum(["active", "suspended"]),
  })
  .meta({ id: "TenantPublicProfile" });

const profileRoute = createRoute({
  method: "get",
  path: "/{slug}",
  tags: ["Tenants"],
  summary: "Public profile of a tenant (login branding)",
  description:
    "No authentication. Serves the cached copy with `X-Degraded: cache` when Postgres is down. One Postgres round trip.",
  request: {
    params: z.object({
      slug: z
        .string()
        .regex(/^[a-zA-Z0-9][a-zA-Z0-9-]{1,62}$/, "Must be 2-63 letters, digits or dashes")
        .meta({ param: { name: "slug", in: "path" }, example: "acme" }),
    }),
  },
  responses: {
    200: jsonContent(envelopeOf(TenantPublicProfileSchema), "The tenant's public profile"),
    404: errorResponse("No tenant with this slug"),
    422: commonErrorResponses[422],
    503: errorResponse("Postgres is down and no cached copy exists"),
  },
});

/** Mounted at /api/v1/public/tenants. */
export const publicTenantsApp = newApp().openapi(profileRoute, async (c) => {
  const profile = await getTenantPublicProfile({ ctx: c.var.services, input: c.req.valid("param") });
  return c.json(successBody(c, profile), 200);
});
