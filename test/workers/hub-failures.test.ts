// How the hub behaves when upstreams misbehave: lost answers, refusals a person fixes, rate limits,
// outages. Real Postgres and Redis, the Shopify and Lingxing fakes, the Worker's own queue consumers.
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { bearer } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import { lingxingFake, ordersOf, setUpHub, shopifyFake } from "../support/sync";

async function rows<T>(query: Promise<unknown>): Promise<T[]> {
  return (await query) as T[];
}

describe("ERP push through the ledger", () => {
  it("an order the ERP accepted but whose answer was lost is found by reference, never created twice", async () => {
    const h = await setUpHub({ seed: 3, pageSize: 10 });
    await lingxingFake.failNext(h.appId, "timeout-after-accept");
    await h.pullOrders();
    await h.queues.drain();

    const inErp = (await lingxingFake.orders(h.appId)).orders;
    expect(inErp).toHaveLength(3);
    expect(new Set(inErp.map((o) => o.platformOrderNo)).size).toBe(3);
    const stats = (await lingxingFake.stats(h.appId)) as {
      creates?: number;
      requests?: Record<string, number>;
    };
    expect(stats.requests?.["/pb/mp/order/v2/create"]).toBe(1);
    const stored = await ordersOf(h.user.tenant.id);
    expect(stored.map((o) => o.status)).toEqual(["synced", "synced", "synced"]);
    const ledger = await rows<{ status: string; attempts: number }>(
      ownerSql()`select status, attempts from erp_push_ledger where tenant_id = ${h.user.tenant.id}`,
    );
    expect(ledger.every((l) => l.status === "created" && l.attempts === 1)).toBe(true);
  });

  it("a refused order lands in sync failures; a person edits the payload, replays it, and it succeeds", async () => {
    const h = await setUpHub({ seed: 1 });
    // Lingxing knows no SKU at all: every order is refused.
    await lingxingFake.control("skus", { body: { appId: h.appId, skus: ["KNOWN-SKU"] } });
    await h.pullOrders();
    await h.queues.drain();

    const [order] = await ordersOf(h.user.tenant.id);
    expect(order?.status).toBe("failed");
    const list = await envelope<{ items: { id: string; operation: string; errorKind: string }[] }>(
      await call("/api/v1/sync/failures", bearer(h.user.token)),
    );
    expect(list.data?.items).toHaveLength(1);
    const failureId = list.data?.items[0]?.id ?? "";
    const detail = await envelope<{ payload: { input: { lines: { erpSku: string }[] } } }>(
      await call(`/api/v1/sync/failures/${failureId}`, bearer(h.user.token)),
    );
    const payload = detail.data?.payload as { input: { lines: { erpSku: string }[] } };
    expect(payload.input.lines.length).toBeGreaterThan(0);

    // Repeating the same failure does not create a second row.
    // The fix: point every line at the SKU Lingxing knows.
    for (const line of payload.input.lines) line.erpSku = "KNOWN-SKU";
    const patched = await call(
      `/api/v1/sync/failures/${failureId}`,
      bearer(h.user.token, { method: "PATCH", body: { payload } }),
    );
    expect(patched.status).toBe(200);
    const replay = await call(
      `/api/v1/sync/failures/${failureId}/replay`,
      bearer(h.user.token, { method: "POST", body: {} }),
      h.queues.env,
    );
    expect(replay.status).toBe(200);
    await h.queues.drain();

    expect((await ordersOf(h.user.tenant.id))[0]?.status).toBe("synced");
    const inErp = (await lingxingFake.orders(h.appId)).orders;
    expect(inErp).toHaveLength(1);
    expect(inErp[0]?.items.every((item) => item.sku === "KNOWN-SKU")).toBe(true);
    const resolved = await envelope<{ status: string; resolution: string }>(
      await call(`/api/v1/sync/failures/${failureId}`, bearer(h.user.token)),
    );
    expect(resolved.data?.status).toBe("resolved");
    expect(resolved.data?.resolution).toBe("replayed");
  });
});

describe("upstream limits and outages", () => {
  it("posts ERP batches in parallel up to the connection's concurrency, never beyond", async () => {
    const h = await setUpHub({ seed: 8, pageSize: 10, batchSize: 1, erpSettings: { requestConcurrency: 3 } });
    await h.pullOrders();
    await h.queues.drain();
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(8);
    const stats = (await lingxingFake.stats(h.appId)) as {
      maxInFlight: Record<string, number>;
      overLimit: number;
      requests: Record<string, number>;
    };
    expect(stats.requests["/pb/mp/order/v2/create"]).toBe(8);
    expect(stats.maxInFlight["/pb/mp/order/v2/create"]).toBeLessThanOrEqual(3);
    expect(stats.overLimit).toBe(0);
  });

  it("honours 429 Retry-After and THROTTLED without a single request over the shop's bucket", {
    timeout: 30_000,
  }, async () => {
    const h = await setUpHub({ seed: 12, pageSize: 2, shop: { maximumAvailable: 1000, restoreRate: 1000 } });
    await shopifyFake.failNext(h.shop, 429, 1);
    await shopifyFake.control("spend", { body: { shop: h.shop, points: 990 } });
    await h.pullOrders();
    await h.queues.drain();

    const stats = await shopifyFake.stats(h.shop);
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(12);
    expect(stats.overLimit).toBe(0);
    expect(stats.injected["429"]).toBe(1);
  });

  it("the breaker opens after repeated failures, refuses at once while open, and recovers", {
    timeout: 30_000,
  }, async () => {
    const h = await setUpHub({ seed: 2 });
    // Five consecutive 503s (the breaker's threshold): the adapter's own retries, then the message's retry.
    for (let i = 0; i < 5; i++) await shopifyFake.failNext(h.shop, 503);
    await h.pullOrders();
    const first = await h.queues.drain({ maxRounds: 2 });
    expect(first.retried).toBeGreaterThan(0);
    const requestsWhileOpen = (await shopifyFake.stats(h.shop)).requests;
    expect(requestsWhileOpen).toBe(5);
    // While open, a run fails without calling Shopify.
    await h.pullOrders();
    await h.queues.drain({ maxRounds: 1 });
    expect((await shopifyFake.stats(h.shop)).requests).toBe(requestsWhileOpen);

    const status = await envelope<{ items?: unknown[] } | unknown[]>(
      await call("/api/v1/sync/status", bearer(h.user.token)),
    );
    expect(JSON.stringify(status.data)).toContain('"open"');

    // After the open period it half-opens, the probe succeeds, the stream catches up.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    h.queues.pending.splice(0);
    await h.pullOrders();
    await h.queues.drain();
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(2);
  });
});

describe("crash safety of pulls", () => {
  it("a pull that dies mid-run resumes from its last saved page: no order twice, none missing", async () => {
    const h = await setUpHub({ seed: 10, pageSize: 3 });
    // Pages 1 and 2 are answered; page 3 fails until the adapter's own retries are spent.
    await shopifyFake.control("fail-next", { body: { shop: h.shop, failure: 500, after: 2 } });
    for (let i = 0; i < 3; i++) await shopifyFake.failNext(h.shop, 500);
    await h.pullOrders();
    await h.queues.drain({ maxRounds: 1 });

    const stream = async () =>
      (
        await rows<{ checkpoint: { pageCursor?: string | null }; lease_owner: string | null }>(
          ownerSql()`select checkpoint, lease_owner from sync_streams
                      where tenant_id = ${h.user.tenant.id} and connection_id = ${h.channel.id} and resource = 'orders'`,
        )
      )[0];
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(6);
    expect((await stream())?.checkpoint.pageCursor).toEqual(expect.any(String));

    // The consumer "crashed": its lease is still held. A second consumer must not pull over it...
    await ownerSql()`update sync_streams set lease_owner = 'crashed-consumer', lease_until = now() + interval '90 seconds'
                      where tenant_id = ${h.user.tenant.id} and connection_id = ${h.channel.id} and resource = 'orders'`;
    // The failed run's own retry is dropped (its lease test is the point here); its pushes stay queued.
    for (let i = h.queues.pending.length - 1; i >= 0; i--) {
      if (h.queues.pending[i]?.queue === "channel-pull") h.queues.pending.splice(i, 1);
    }
    const before = (await shopifyFake.stats(h.shop)).requests;
    await h.pullOrders();
    await h.queues.drain({ maxRounds: 1 });
    expect((await shopifyFake.stats(h.shop)).requests).toBe(before);

    // ...until the lease expires; then the run resumes at page 3.
    await ownerSql()`update sync_streams set lease_until = now() - interval '1 second'
                      where tenant_id = ${h.user.tenant.id} and connection_id = ${h.channel.id} and resource = 'orders'`;
    await h.pullOrders();
    await h.queues.drain();

    const stored = await ordersOf(h.user.tenant.id);
    expect(stored.map((o) => o.external_id).sort()).toEqual(h.seeded.map((o) => o.id).sort());
    // Pages 1-2 were not fetched again: 2 pages, 4 failed attempts, then pages 3-4.
    expect((await shopifyFake.stats(h.shop)).requests).toBe(before + 2);
    const created = await rows<{ n: number }>(
      ownerSql()`select count(*)::int as n from order_transitions
                  where tenant_id = ${h.user.tenant.id} and to_status = 'created'`,
    );
    expect(created[0]?.n).toBe(10);
    expect((await stream())?.checkpoint.pageCursor ?? null).toBeNull();
    expect((await stream())?.lease_owner).toBeNull();
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(10);
  });
});

describe("dead letters", () => {
  it("a push that exhausted its retries becomes the tenant's sync failure, one per order, replayable", async () => {
    const h = await setUpHub({ seed: 2 });
    await h.pullOrders();
    // The ERP fails the push, and the message runs out of attempts (one, here).
    await lingxingFake.failNext(h.appId, "http500");
    const drained = await h.queues.drain({ maxAttempts: 1 });
    expect(drained.gaveUp).toHaveLength(1);
    const orders = await ordersOf(h.user.tenant.id);
    expect(orders.map((o) => o.status)).toEqual(["created", "created"]);

    // What the runtime does after the last retry: the message arrives on erp-push-dlq.
    const batch = createMessageBatch("erp-push-dlq", [
      {
        id: `dlq-${crypto.randomUUID()}`,
        timestamp: new Date(),
        attempts: 9,
        body: {
          type: "orders.push",
          tenantId: h.user.tenant.id,
          erpConnectionId: h.erp.id,
          orderIds: orders.map((o) => o.id),
          trigger: "event",
        },
      },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, h.queues.env, ctx);
    expect((await getQueueResult(batch, ctx)).ackAll).toBe(true);

    const list = await envelope<{ items: { id: string; errorKind: string; operation: string }[] }>(
      await call("/api/v1/sync/failures", bearer(h.user.token)),
    );
    expect(list.data?.items.map((f) => [f.operation, f.errorKind])).toEqual([
      ["push", "exhausted"],
      ["push", "exhausted"],
    ]);
    // Time passes beyond the unanswered post's claim (two upstream timeouts)...
    await ownerSql()`update erp_push_ledger set last_attempt_at = now() - interval '1 hour'
                      where tenant_id = ${h.user.tenant.id}`;
    // ...and the ERP is back: replaying every open failure pushes both orders (after looking them up: the
    // first post's outcome is unknown), and resolves the failures.
    await lingxingFake
      .control("fail-next", { body: { appId: h.appId, failure: "clear" } })
      .catch(() => undefined);
    const replay = await call(
      "/api/v1/sync/failures/replay",
      bearer(h.user.token, { method: "POST", body: {} }),
      h.queues.env,
    );
    expect((await envelope<{ replayed: number }>(replay)).data?.replayed).toBe(2);
    await h.queues.drain();
    expect((await ordersOf(h.user.tenant.id)).map((o) => o.status)).toEqual(["synced", "synced"]);
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(2);
    const after = await envelope<{ items: unknown[] }>(
      await call("/api/v1/sync/failures", bearer(h.user.token)),
    );
    expect(after.data?.items).toEqual([]);
  });
});

describe("sync jobs of retried runs", () => {
  it("a cron run retried after an outage reports to one job, which ends succeeded", async () => {
    const h = await setUpHub({ seed: 2 });
    // Four 503s: the adapter's own attempts are spent, the message is retried and then succeeds.
    for (let i = 0; i < 4; i++) await shopifyFake.failNext(h.shop, 503);
    await h.queues.send("channel-pull", {
      type: "stream.run",
      tenantId: h.user.tenant.id,
      connectionId: h.channel.id,
      resource: "orders",
      trigger: "cron",
    });
    const drained = await h.queues.drain();
    expect(drained.retried).toBe(1);
    const jobs = await rows<{ status: string; attempts: number }>(
      ownerSql()`select status, attempts from sync_jobs
                  where tenant_id = ${h.user.tenant.id} and connection_id = ${h.channel.id}`,
    );
    expect(jobs).toEqual([{ status: "succeeded", attempts: 2 }]);
  });
});
