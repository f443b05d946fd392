import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { readThrough, writeThrough } from "../../src/cache/dual-write";
import { tenants } from "../../src/db/schema";
import { tenantBatch } from "../../src/db/tenant";
import { ServiceUnavailableError } from "../../src/lib/errors";
import { invalidateCache } from "../../src/services/cache/invalidate-cache";
import { testContext } from "../support/context";
import {
  cacheKey,
  call,
  createTenant,
  DEAD_DATABASE_URL,
  DEAD_REDIS_URL,
  envelope,
  ownerSql,
} from "../support/harness";

/** A direct client on the live test Redis, to look behind the app's back. */
function liveRedis() {
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
  });
}

describe("writeThrough", () => {
  it("writes Postgres, then Redis", async () => {
    const tenant = await createTenant("Dual Co");
    const ctx = testContext();
    const key = cacheKey(`test:dual:${tenant.id}`);
    const saved = await writeThrough(ctx, {
      label: "rename",
      write: async () => {
        const [rows] = await tenantBatch(ctx.db.http, tenant.id, (db) => [
          db
            .update(tenants)
            .set({ name: "Dual Co v2" })
            .where(eq(tenants.id, tenant.id))
            .returning({ name: tenants.name }),
        ]);
        return rows[0];
      },
      cache: (redis, result) => redis.set(key, result, { ex: 60 }),
    });
    expect(saved).toEqual({ name: "Dual Co v2" });
    expect(await liveRedis().get(key)).toEqual({ name: "Dual Co v2" });
  });

  it("with Redis down: the Postgres write stands, the request does not fail, the failure is counted", async () => {
    const tenant = await createTenant("Outage Co");
    const ctx = testContext({ UPSTASH_REDIS_REST_URL: DEAD_REDIS_URL });
    let cacheAttempts = 0;
    const saved = await writeThrough(ctx, {
      label: "rename",
      write: async () => {
        await tenantBatch(ctx.db.http, tenant.id, (db) => [
          db.update(tenants).set({ name: "Outage Co v2" }).where(eq(tenants.id, tenant.id)),
        ]);
        return "saved";
      },
      cache: async (redis) => {
        cacheAttempts++;
        await redis.set(cacheKey("test:never"), 1);
      },
    });
    expect(saved).toBe("saved");
    expect(cacheAttempts).toBe(2); // one retry, then give up
    expect(ctx.metrics.cacheWriteFailures).toBe(1);
    const rows = await ownerSql()`select name from tenants where id = ${tenant.id}`;
    expect(rows[0]?.name).toBe("Outage Co v2");
  });

  it("does not touch Redis when the Postgres write fails", async () => {
    const ctx = testContext();
    let cacheCalled = false;
    await expect(
      writeThrough(ctx, {
        label: "broken",
        write: () => Promise.reject(new Error("constraint violated")),
        cache: async () => {
          cacheCalled = true;
        },
      }),
    ).rejects.toThrow("constraint violated");
    expect(cacheCalled).toBe(false);
  });
});

describe("readThrough", () => {
  it("serves Postgres and refreshes the Redis copy", async () => {
    const tenant = await createTenant("Fresh Co");
    const res = await call(`/api/v1/public/tenants/${tenant.slug}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-degraded")).toBeNull();
    const body = await envelope<{ id: string; name: string; status: string }>(res);
    expect(body.data).toEqual({ id: tenant.id, slug: tenant.slug, name: "Fresh Co", status: "active" });
    expect(res.headers.get("server-timing")).toMatch(/^db;dur=[\d.]+;desc="1 rt"/);
    expect(await liveRedis().get(cacheKey(`tenant:profile:${tenant.slug}`))).toEqual(body.data);
  });

  it("with Postgres down: serves the Redis copy and says so with X-Degraded: cache", async () => {
    const tenant = await createTenant("Cached Co");
    expect((await call(`/api/v1/public/tenants/${tenant.slug}`)).status).toBe(200);
    const res = await call(`/api/v1/public/tenants/${tenant.slug}`, {}, { DATABASE_URL: DEAD_DATABASE_URL });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-degraded")).toBe("cache");
    expect((await envelope<{ name: string }>(res)).data?.name).toBe("Cached Co");
  });

  it("with Postgres down and no copy: 503, not 500", async () => {
    const res = await call(
      "/api/v1/public/tenants/never-cached-slug",
      {},
      { DATABASE_URL: DEAD_DATABASE_URL },
    );
    expect(res.status).toBe(503);
    expect((await envelope(res)).error?.code).toBe("SERVICE_UNAVAILABLE");
  });

  it("with both down: 503", async () => {
    const res = await call(
      "/api/v1/public/tenants/anything",
      {},
      { DATABASE_URL: DEAD_DATABASE_URL, UPSTASH_REDIS_REST_URL: DEAD_REDIS_URL },
    );
    expect(res.status).toBe(503);
  });

  it("passes errors Postgres answered straight through (not an outage, no cache fallback)", async () => {
    const ctx = testContext();
    const key = cacheKey("test:rt:answered");
    await liveRedis().set(key, "stale", { ex: 60 });
    const answered = Object.assign(new Error("duplicate key"), { code: "23505" });
    await expect(
      readThrough(ctx, { label: "x", key, ttlSeconds: 60, read: () => Promise.reject(answered) }),
    ).rejects.toBe(answered);
    expect(ctx.degraded.size).toBe(0);
  });

  it("404 for an unknown slug and 422 for a malformed one", async () => {
    expect((await call("/api/v1/public/tenants/no-such-tenant-here")).status).toBe(404);
    const bad = await call("/api/v1/public/tenants/-bad_slug!");
    expect(bad.status).toBe(422);
    expect(Object.keys((await envelope(bad)).error?.details ?? {})).toEqual(["slug"]);
  });

  it("readThrough throws ServiceUnavailableError when the cache is disabled too", async () => {
    const ctx = testContext({ DATABASE_URL: DEAD_DATABASE_URL, UPSTASH_REDIS_REST_URL: "" });
    await expect(
      readThrough(ctx, {
        label: "x",
        key: "k",
        ttlSeconds: 1,
        read: () => ctx.db.http.select().from(tenants),
      }),
    ).rejects.toBeInstanceOf(ServiceUnavailableError);
  });
});

describe("invalidateCache", () => {
  it("tombstones keys inline when Redis is up", async () => {
    const key = cacheKey(`test:inv:${crypto.randomUUID()}`);
    await liveRedis().set(key, 1);
    const ctx = testContext();
    await invalidateCache({ ctx, input: { keys: [key], reason: "test" } });
    expect(await liveRedis().get(key)).toEqual({ tombstone: true });
  });

  it("hands the delete to the events queue when Redis is down, so it is not lost", async () => {
    const ctx = testContext({ UPSTASH_REDIS_REST_URL: DEAD_REDIS_URL });
    const sent: unknown[] = [];
    const realQueue = ctx.queues.events;
    ctx.queues.events = {
      send: async (body: unknown, options?: QueueSendOptions) => {
        sent.push(body);
        await realQueue.send(body, options);
      },
      sendBatch: (messages: Iterable<MessageSendRequest>) => realQueue.sendBatch(messages),
    } as unknown as Queue;
    await invalidateCache({ ctx, input: { keys: ["tw:tenant:profile:acme"], reason: "tenant renamed" } });
    expect(sent).toEqual([
      { type: "cache.invalidate", keys: ["tw:tenant:profile:acme"], reason: "tenant renamed" },
    ]);
  });
});
