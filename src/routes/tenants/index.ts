import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { successBody } from "../../http/envelope";
import { commonErrorResponses, envelopeOf, errorResponse, jsonContent } from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { checkSlugAvailability } from "../../services/tenants/check-slug-availability";
import { getTenantPublicProfile } from "../../services/tenants/get-tenant-public-profile";

const TenantPublicProfileSchema = z
  .object({
    id: z.uuid(),
    slug: z.string(),
    name: z.string(),
    status: z.enum(["active", "suspended"]),
  })
  .meta({ id: "TenantPublicProfile" });

const SlugSchema = z
  .string()
  .regex(
    /^[a-zA-Z0-9][a-zA-Z0-9-]{1,62}$/,
    "Must be 2-63 letters, digits or dashes, not starting with a dash",
  );

const SlugAvailabilitySchema = z
  .object({
    slug: z.string(),
    available: z.boolean(),
    reason: z.enum(["taken", "reserved"]).optional(),
  })
  .meta({ id: "SlugAvailability" });

const slugAvailabilityRoute = createRoute({
  method: "post",
  path: "/slug-availability",
  tags: ["Tenants"],
  summary: "Is a tenant slug free to register?",
  description:
    "No authentication. For sign-up forms. One Postgres round trip. Rate-limited per IP (group `public`).",
  middleware: [rateLimit("public")],
  request: {
    body: {
      required: true,
      content: {
        "application/json": { schema: z.object({ slug: SlugSchema.meta({ example: "acme-trading" }) }) },
      },
    },
  },
  responses: {
    200: jsonContent(envelopeOf(SlugAvailabilitySchema), "Whether the slug can be registered, and why not"),
    400: commonErrorResponses[400],
    413: commonErrorResponses[413],
    415: commonErrorResponses[415],
    422: commonErrorResponses[422],
    429: errorResponse("Too many requests from this address; see Retry-After"),
  },
});

const profileRoute = createRoute({
  method: "get",
  path: "/{slug}",
  tags: ["Tenants"],
  summary: "Public profile of a tenant (login branding)",
  description:
    "No authentication. Serves the cached copy with `X-Degraded: cache` when Postgres is down. One Postgres round trip. " +
    "Rate-limited per IP (group `public`).",
  middleware: [rateLimit("public")],
  request: {
    params: z.object({
      slug: SlugSchema.meta({ param: { name: "slug", in: "path" }, example: "acme" }),
    }),
  },
  responses: {
    200: jsonContent(envelopeOf(TenantPublicProfileSchema), "The tenant's public profile"),
    404: errorResponse("No tenant with this slug"),
    422: commonErrorResponses[422],
    429: errorResponse("Too many requests from this address; see Retry-After"),
    503: errorResponse("Postgres is down and no cached copy exists"),
  },
});

/** Mounted at /api/v1/public/tenants. */
export const publicTenantsApp = newApp()
  .openapi(slugAvailabilityRoute, async (c) => {
    const result = await checkSlugAvailability({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, result), 200);
  })
  .openapi(profileRoute, async (c) => {
    const profile = await getTenantPublicProfile({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, profile), 200);
  });
