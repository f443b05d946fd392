import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { cacheKey, DEAD_REDIS_URL, ownerSql } from "../support/harness";

function liveRedis() {
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
  });
}

async function deliver(
  queue: string,
  messages: { id: string; body: unknown; attempts?: number }[],
  overrides: Partial<Env> = {},
) {
  const batch = createMessageBatch(
    queue,
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  // The pool records that a message was retried but not the delay asked for; observe it on the way.
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    message.retry = (options?: QueueRetryOptions) => {
      delays.set(message.id, options?.delaySeconds);
      retry(options);
    };
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, { ...env, ...overrides }, ctx);
  return { ...(await getQueueResult(batch, ctx)), delays };
}

describe("events queue", () => {
  it("consumes a cache.invalidate message and acks it", async () => {
    const key = cacheKey(`test:q:${crypto.randomUUID()}`);
    await liveRedis().set(key, "stale");
    const id = `msg-${crypto.randomUUID()}`;
    const result = await deliver("events", [
      { id, body: { type: "cache.invalidate", keys: [key], reason: "test" } },
    ]);
    expect(result.explicitAcks).toEqual([id]);
    expect(result.retryMessages).toEqual([]);
    expect(await liveRedis().get(key)).toEqual({ tombstone: true });
  });

  it("retries with backoff while Redis is down", async () => {
    const id = `msg-${crypto.randomUUID()}`;
    const result = await deliver(
      "events",
      [{ id, attempts: 3, body: { type: "cache.invalidate", keys: ["k"], reason: "test" } }],
      { UPSTASH_REDIS_REST_URL: DEAD_REDIS_URL },
    );
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
    expect(result.retryMessages[0]?.msgId).toBe(id);
    // attempt 3: full jitter between 2 s and 8 s
    const delay = result.delays.get(id) ?? -1;
    expect(delay).toBeGreaterThanOrEqual(2);
    expect(delay).toBeLessThanOrEqual(8);
  });

  it("dead-letters an invalid message at once instead of retrying it", async () => {
    const id = `msg-${crypto.randomUUID()}`;
    const tenantId = crypto.randomUUID();
    const result = await deliver("events", [{ id, body: { type: "no.such.event", tenantId } }]);
    expect(result.explicitAcks).toEqual([id]);
    expect(result.retryMessages).toEqual([]);
    const rows =
      await ownerSql()`select queue, tenant_id, body, attempts, error from dead_letters where message_id = ${id}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ queue: "events", tenant_id: tenantId, attempts: 1 });
    expect(rows[0]?.body).toEqual({ type: "no.such.event", tenantId });
    expect(String(rows[0]?.error)).toMatch(/^invalid message/);
  });
});

describe("dead-letter queues", () => {
  it("records every message of a DLQ batch once, even when redelivered", async () => {
    const ids = [`dlq-${crypto.randomUUID()}`, `dlq-${crypto.randomUUID()}`];
    const messages = ids.map((id, i) => ({
      id,
      attempts: 6,
      body: { type: "order.push", orderNo: `SO-${i}` },
    }));
    const first = await deliver("erp-push-dlq", messages);
    expect(first.ackAll).toBe(true);
    await deliver("erp-push-dlq", messages);
    const rows =
      await ownerSql()`select message_id, error from dead_letters where message_id = any(${ids}) order by message_id`;
    expect(rows.map((r) => r.message_id)).toEqual([...ids].sort());
    expect(rows.every((r) => r.error === "retries exhausted")).toBe(true);
  });
});

describe("dispatch", () => {
  it("throws on a queue it has no consumer for", async () => {
    await expect(deliver("no-such-queue", [{ id: "x", body: {} }])).rejects.toThrow(
      "No consumer for queue 'no-such-queue'",
    );
  });
});
