import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { errorBody, successBody } from "../../http/envelope";
import { envelopeOf, errorResponse, jsonContent } from "../../http/openapi";
import { checkHealth } from "../../services/health/check-health";

const DependencyCheckSchema = z.object({
  status: z.enum(["up", "down", "disabled"]),
  latencyMs: z.number().nullable(),
  error: z.string().optional(),
});

const HealthSchema = z
  .object({
    status: z.enum(["ok", "degraded", "down"]),
    checks: z.object({ postgres: DependencyCheckSchema, redis: DependencyCheckSchema }),
  })
  .meta({ id: "Health" });

const healthRoute = createRoute({
  method: "get",
  path: "/health",
  tags: ["Platform"],
  summary: "Liveness and dependency status",
  description:
    "200 while Postgres answers (Redis down only degrades); 503 when Postgres is unreachable, with the checks in `error.details`.",
  responses: {
    200: jsonContent(envelopeOf(HealthSchema), "Serving; `status` is `degraded` when the cache is down"),
    503: errorResponse("Postgres is unreachable"),
  },
});

export const healthApp = newApp().openapi(healthRoute, async (c) => {
  const report = await checkHealth({ ctx: c.var.services });
  c.header("Cache-Control", "no-store");
  if (report.status === "down") {
    return c.json(
      errorBody(c, {
        code: "SERVICE_UNAVAILABLE",
        message: "Postgres is unreachable",
        details: { ...report },
      }),
      503,
    );
  }
  return c.json(successBody(c, report), 200);
});
