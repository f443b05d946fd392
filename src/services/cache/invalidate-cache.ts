import { updateCache } from "../../cache/dual-write";
import { TOMBSTONE, TOMBSTONE_TTL_SECONDS } from "../../cache/keys";
import { EventMessage } from "../../queues/messages";
import type { ServiceContext } from "../context";

/**
 * Invalidates cache keys after a Postgres write by overwriting them with a short-lived tombstone
 * (src/cache/keys.ts), so a concurrent read-through cannot restore a stale copy. An invalidation that fails twice inline is handed to the events
 * queue (`cache.invalidate`), which retries it with backoff until Redis is back — so a Redis outage can
 * delay an invalidation but never lose it. Tombstones are safe to replay late; value sets are not, so
 * only invalidations take this path.
 */
export async function invalidateCache({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { keys: string[]; reason: string };
}) {
  const redis = ctx.cache.redis;
  if (!redis || input.keys.length === 0) return;
  let deleted = false;
  await updateCache(ctx, input.reason, async () => {
    await tombstone(redis, input.keys);
    deleted = true;
  });
  if (!deleted) {
    const message = EventMessage.parse({ type: "cache.invalidate", keys: input.keys, reason: input.reason });
    await ctx.queues.events.send(message, { contentType: "json" });
  }
}

/** The queue side: throws on failure so the consumer retries with backoff. */
export async function applyCacheInvalidation({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { keys: string[] };
}) {
  const redis = ctx.cache.redis;
  if (!redis) return;
  await tombstone(redis, input.keys);
}

async function tombstone(
  redis: NonNullable<ServiceContext["cache"]["redis"]>,
  keys: string[],
): Promise<void> {
  const pipeline = redis.pipeline();
  for (const key of keys) pipeline.set(key, TOMBSTONE, { ex: TOMBSTONE_TTL_SECONDS });
  await pipeline.exec();
}
