import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { createRoute } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import * as z from "zod";
import { installFallbacks, newApp, usePlatformMiddleware } from "../../src/http/app";
import { successBody } from "../../src/http/envelope";
import {
  AppError,
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  ServiceUnavailableError,
  UnauthorizedError,
  UpstreamError,
  ValidationError,
} from "../../src/lib/errors";
import { BASE, call, type Envelope, envelope } from "../support/harness";

const REQUEST_ID = /^req_[0-9A-Z]{26}$/;
const SERVER_TIMING = /^db;dur=\d+(\.\d)?;desc="\d+ rt", cache;dur=\d+(\.\d)?;desc="\d+ rt"$/;

/** Throws each kind of error through the real middleware chain and onError. */
function errorApp() {
  const app = newApp();
  usePlatformMiddleware(app);
  const errors: Record<string, () => Error> = {
    bad: () => new BadRequestError("Bad thing"),
    validation: () => new ValidationError("Invalid body", { email: ["Invalid email"] }),
    unauthorized: () => new UnauthorizedError("Sign in first"),
    forbidden: () => new ForbiddenError("Not yours"),
    missing: () => new NotFoundError("No such order"),
    conflict: () => new ConflictError("Already exists"),
    precondition: () => new PreconditionFailedError("Cannot ship a cancelled order"),
    limited: () => new RateLimitedError("Slow down", 7),
    upstream: () =>
      new UpstreamError("Shopify said 502 at https://secret-shop.myshopify.com", {
        upstream: "shopify",
        retryable: true,
      }),
    unavailable: () => new ServiceUnavailableError("pg host db-internal-7 unreachable"),
    crash: () => new TypeError("Cannot read properties of undefined (reading 'password_hash')"),
  };
  app.get("/boom/:kind", (c) => {
    const make = errors[c.req.param("kind")];
    if (!make) return c.json(successBody(c, { ok: true }), 200);
    throw make();
  });
  app.openapi(
    createRoute({
      method: "post",
      path: "/orders",
      request: {
        body: {
          content: {
            "application/json": {
              schema: z.object({
                email: z.email(),
                quantity: z.number().int().positive(),
                address: z.object({ zip: z.string().min(3) }),
              }),
            },
          },
        },
      },
      responses: { 200: { description: "ok" } },
    }),
    (c) => c.json(successBody(c, c.req.valid("json")), 200),
  );
  installFallbacks(app);
  return app;
}

async function fetchApp(path: string, init: RequestInit = {}, overrides: Partial<Env> = {}) {
  const ctx = createExecutionContext();
  const res = await errorApp().fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return res;
}

function expectErrorEnvelope(body: Envelope, code: string) {
  expect(body.success).toBe(false);
  expect(body.error?.code).toBe(code);
  expect(body.meta.requestId).toMatch(REQUEST_ID);
  expect(Number.isNaN(Date.parse(body.meta.timestamp))).toBe(false);
}

describe("error envelope", () => {
  it.each([
    ["bad", 400, "BAD_REQUEST", "Bad thing"],
    ["validation", 422, "VALIDATION_ERROR", "Invalid body"],
    ["unauthorized", 401, "UNAUTHORIZED", "Sign in first"],
    ["forbidden", 403, "FORBIDDEN", "Not yours"],
    ["missing", 404, "NOT_FOUND", "No such order"],
    ["conflict", 409, "CONFLICT", "Already exists"],
    ["precondition", 412, "PRECONDITION_FAILED", "Cannot ship a cancelled order"],
    ["limited", 429, "RATE_LIMITED", "Slow down"],
    ["upstream", 502, "UPSTREAM_ERROR", "An upstream service failed"],
    ["unavailable", 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable"],
    ["crash", 500, "INTERNAL_ERROR", "Internal server error"],
  ])("maps %s to %i %s", async (kind, status, code, message) => {
    const res = await fetchApp(`/boom/${kind}`);
    expect(res.status).toBe(status);
    expect(res.headers.get("content-type")).toMatch(/application\/json/);
    const body = await envelope(res);
    expectErrorEnvelope(body, code);
    expect(body.error?.message).toBe(message);
    expect(res.headers.get("x-request-id")).toBe(body.meta.requestId);
    if (status >= 500) {
      // Nothing internal leaks: no upstream host, no driver text, no details.
      const text = JSON.stringify(body);
      expect(text).not.toMatch(/secret-shop|db-internal|password_hash|TypeError/);
      expect(body.error?.details).toBeUndefined();
    }
  });

  it("keeps field details on validation errors and Retry-After on rate limits", async () => {
    const validation = await envelope(await fetchApp("/boom/validation"));
    expect(validation.error?.details).toEqual({ email: ["Invalid email"] });
    const limited = await fetchApp("/boom/limited");
    expect(limited.headers.get("retry-after")).toBe("7");
  });

  it("every AppError subclass has a mapped status (none falls through to 500)", async () => {
    for (const kind of [
      "bad",
      "validation",
      "unauthorized",
      "forbidden",
      "missing",
      "conflict",
      "precondition",
      "limited",
    ]) {
      const res = await fetchApp(`/boom/${kind}`);
      expect(res.status, kind).toBeLessThan(500);
    }
    expect(new BadRequestError("x")).toBeInstanceOf(AppError);
  });
});

describe("request validation", () => {
  it("returns 400 for malformed JSON", async () => {
    const res = await fetchApp("/orders", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"email": "a@b.co", "quantity": ',
    });
    expect(res.status).toBe(400);
    const body = await envelope(res);
    expectErrorEnvelope(body, "BAD_REQUEST");
    expect(body.error?.message).toMatch(/malformed json/i);
  });

  it("returns 422 VALIDATION_ERROR with per-field details", async () => {
    const res = await fetchApp("/orders", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "not-an-email", quantity: -2, address: { zip: "1" } }),
    });
    expect(res.status).toBe(422);
    const body = await envelope(res);
    expectErrorEnvelope(body, "VALIDATION_ERROR");
    expect(body.error?.message).toBe("Invalid request body");
    expect(Object.keys(body.error?.details ?? {}).sort()).toEqual(["address.zip", "email", "quantity"]);
    expect(String((body.error?.details?.email as string[] | undefined)?.[0])).toMatch(/email/i);
  });

  it("accepts a valid body", async () => {
    const res = await fetchApp("/orders", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email: "buyer@example.com", quantity: 2, address: { zip: "10115" } }),
    });
    expect(res.status).toBe(200);
    expect((await envelope<{ quantity: number }>(res)).data?.quantity).toBe(2);
  });
});

describe("routing fallbacks on the real app", () => {
  it("404 for an unknown route, in the envelope, with a request id", async () => {
    const res = await call("/no/such/route");
    expect(res.status).toBe(404);
    const body = await envelope(res);
    expectErrorEnvelope(body, "NOT_FOUND");
    expect(res.headers.get("x-request-id")).toBe(body.meta.requestId);
    expect(res.headers.get("server-timing")).toMatch(SERVER_TIMING);
  });

  it("405 with Allow when the path exists under another method", async () => {
    const res = await call("/health", { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expectErrorEnvelope(await envelope(res), "METHOD_NOT_ALLOWED");
    const param = await call("/api/v1/public/tenants/acme", { method: "PUT" });
    expect(param.status).toBe(405);
  });

  it("413 for a body over the limit by Content-Length", async () => {
    const res = await call(
      "/api/v1/public/tenants/acme",
      { method: "POST", headers: { "content-type": "application/json" }, body: "x".repeat(2048) },
      { MAX_BODY_BYTES: "1024" },
    );
    expect(res.status).toBe(413);
    const body = await envelope(res);
    expectErrorEnvelope(body, "PAYLOAD_TOO_LARGE");
    expect(body.error?.details).toEqual({ maxBytes: 1024 });
  });

  it("413 for a streamed body without Content-Length that grows past the limit", async () => {
    const chunk = new TextEncoder().encode("y".repeat(600));
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(chunk);
        controller.enqueue(chunk);
        controller.close();
      },
    });
    const res = await fetchApp(
      "/orders",
      { method: "POST", body: stream, headers: { "content-type": "application/json" } },
      { MAX_BODY_BYTES: "1000" },
    );
    expect(res.status).toBe(413);
    expectErrorEnvelope(await envelope(res), "PAYLOAD_TOO_LARGE");
  });

  it("default limit is 1 MiB", async () => {
    const res = await call("/api/v1/public/tenants/acme", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "z".repeat(1024 * 1024 + 1),
    });
    expect(res.status).toBe(413);
  });
});

describe("request id", () => {
  it("echoes a sane caller id in header, envelope and everywhere", async () => {
    const res = await call("/no/where", { headers: { "x-request-id": "client-abc.123:XYZ" } });
    expect(res.headers.get("x-request-id")).toBe("client-abc.123:XYZ");
    expect((await envelope(res)).meta.requestId).toBe("client-abc.123:XYZ");
  });

  it("replaces an unsafe or oversized caller id", async () => {
    for (const bad of ["a b; Set-Cookie: x=1", "x".repeat(200), "<script>", "short"]) {
      const res = await call("/no/where", { headers: { "x-request-id": bad } });
      expect(res.headers.get("x-request-id")).toMatch(REQUEST_ID);
    }
  });

  it("generates distinct ids", async () => {
    const [a, b] = await Promise.all([call("/x"), call("/x")]);
    expect(a.headers.get("x-request-id")).not.toBe(b.headers.get("x-request-id"));
  });
});

describe("headers from configuration", () => {
  it("sends secure headers by default and a locked-down CSP on API responses", async () => {
    const res = await call("/no/where");
    expect(res.headers.get("strict-transport-security")).toBe("max-age=31536000; includeSubDomains");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    expect(res.headers.get("content-security-policy")).toContain("default-src 'none'");
  });

  it("omits them when SECURE_HEADERS=off", async () => {
    const res = await call("/no/where", {}, { SECURE_HEADERS: "off" });
    expect(res.headers.get("strict-transport-security")).toBeNull();
    expect(res.headers.get("content-security-policy")).toBeNull();
  });

  it("answers CORS only for configured origins", async () => {
    const preflight = (origin: string, overrides: Partial<Env>) =>
      call(
        "/health",
        { method: "OPTIONS", headers: { origin, "access-control-request-method": "GET" } },
        overrides,
      );
    const allowed = await preflight("https://console.example.com", {
      CORS_ORIGINS: "https://console.example.com",
    });
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get("access-control-allow-origin")).toBe("https://console.example.com");
    const denied = await preflight("https://evil.example", { CORS_ORIGINS: "https://console.example.com" });
    expect(denied.headers.get("access-control-allow-origin")).toBeNull();
    const none = await call("/health", { headers: { origin: "https://console.example.com" } });
    expect(none.headers.get("access-control-allow-origin")).toBeNull();
    const simple = await call(
      "/health",
      { headers: { origin: "https://console.example.com" } },
      { CORS_ORIGINS: "https://console.example.com" },
    );
    expect(simple.headers.get("access-control-expose-headers")).toContain("X-Request-Id");
  });
});

describe("Server-Timing", () => {
  it("reports Postgres and Redis round trips in the documented form", async () => {
    const res = await call("/health");
    const timing = res.headers.get("server-timing") ?? "";
    expect(timing).toMatch(SERVER_TIMING);
    expect(timing).toContain('desc="1 rt", cache');
    expect(timing).toMatch(/cache;dur=[\d.]+;desc="1 rt"$/);
  });
});
