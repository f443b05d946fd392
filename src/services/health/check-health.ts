import { sql } from "drizzle-orm";
import type { ServiceContext } from "../context";

export type DependencyStatus = "up" | "down" | "disabled";

export interface DependencyCheck {
  status: DependencyStatus;
  latencyMs: number | null;
  error?: string;
}

export interface HealthReport {
  /** `ok`: all up; `degraded`: Postgres up but the cache is not; `down`: Postgres is unreachable. */
  status: "ok" | "degraded" | "down";
  checks: { postgres: DependencyCheck; redis: DependencyCheck };
}

/** One round trip to each store, concurrently. Error text is classified, never the driver's raw message. */
export async function checkHealth({ ctx }: { ctx: ServiceContext }): Promise<HealthReport> {
  const redis = ctx.cache.redis;
  const [postgres, cache] = await Promise.all([
    probe(() => ctx.db.http.execute(sql`select 1`)),
    redis
      ? probe(() => redis.ping())
      : Promise.resolve<DependencyCheck>({ status: "disabled", latencyMs: null }),
  ]);
  if (postgres.status === "down") ctx.logger.error("health: postgres unreachable", { error: postgres.error });
  if (cache.status === "down") ctx.logger.warn("health: redis unreachable", { error: cache.error });
  const status = postgres.status === "down" ? "down" : cache.status === "up" ? "ok" : "degraded";
  return { status, checks: { postgres, redis: cache } };
}

async function probe(call: () => Promise<unknown>): Promise<DependencyCheck> {
  const start = performance.now();
  try {
    await call();
    return { status: "up", latencyMs: elapsed(start) };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return { status: "down", latencyMs: elapsed(start), error: timedOut ? "timeout" : "unreachable" };
  }
}

function elapsed(start: number): number {
  return Math.round((performance.now() - start) * 10) / 10;
}
