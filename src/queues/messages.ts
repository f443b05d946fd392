import * as z from "zod";

/**
 * Bodies of `events` queue messages: a union on `type`. Producers build them with these schemas and the
 * consumer validates them again, so a malformed message is dead-lettered instead of crashing a batch.
 */
export const CacheInvalidateEvent = z.object({
  type: z.literal("cache.invalidate"),
  /** Full (prefixed) Redis keys whose delete failed inline and must still happen. */
  keys: z.array(z.string().min(1)).min(1).max(100),
  reason: z.string().max(200),
});

export const EventMessage = z.discriminatedUnion("type", [CacheInvalidateEvent]);
export type EventMessage = z.infer<typeof EventMessage>;
