import { describe, expect, it } from "vitest";
import { call, DEAD_DATABASE_URL, DEAD_REDIS_URL, envelope } from "../support/harness";

interface Health {
  status: string;
  checks: Record<"postgres" | "redis", { status: string; latencyMs: number | null; error?: string }>;
}

describe("GET /health", () => {
  it("is 200 with Postgres and Redis up and their latency", async () => {
    const res = await call("/health");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const body = await envelope<Health>(res);
    expect(body.success).toBe(true);
    expect(body.data?.status).toBe("ok");
    expect(body.data?.checks.postgres.status).toBe("up");
    expect(body.data?.checks.redis.status).toBe("up");
    expect(body.data?.checks.postgres.latencyMs).toBeGreaterThanOrEqual(0);
    expect(body.data?.checks.redis.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it("is 503 in the error envelope when Postgres is down, without driver text", async () => {
    const res = await call("/health", {}, { DATABASE_URL: DEAD_DATABASE_URL });
    expect(res.status).toBe(503);
    const body = await envelope(res);
    expect(body.success).toBe(false);
    expect(body.error?.code).toBe("SERVICE_UNAVAILABLE");
    const details = body.error?.details as unknown as Health;
    expect(details.status).toBe("down");
    expect(details.checks.postgres.status).toBe("down");
    expect(details.checks.postgres.error).toMatch(/^(unreachable|timeout)$/);
    expect(details.checks.redis.status).toBe("up");
    expect(JSON.stringify(body)).not.toContain("127.0.0.1:1");
  });

  it("stays 200 but degraded when only Redis is down", async () => {
    const res = await call("/health", {}, { UPSTASH_REDIS_REST_URL: DEAD_REDIS_URL });
    expect(res.status).toBe(200);
    const body = await envelope<Health>(res);
    expect(body.data?.status).toBe("degraded");
    expect(body.data?.checks.redis.status).toBe("down");
    expect(body.data?.checks.postgres.status).toBe("up");
  });

  it("reports the cache as disabled when none is configured", async () => {
    const res = await call("/health", {}, { UPSTASH_REDIS_REST_URL: "" });
    expect(res.status).toBe(200);
    const body = await envelope<Health>(res);
    expect(body.data?.status).toBe("degraded");
    expect(body.data?.checks.redis).toEqual({ status: "disabled", latencyMs: null });
  });
});
