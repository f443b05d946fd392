import { createTrack17Client, type Track17Client } from "../../adapters/tracking/track17/client";
import type { ServiceContext } from "../context";
import { governorGate } from "../upstream/governor-gate";

/**
 * 17track allows 3 requests per second per security key (HTTP 429 beyond), counted by 17track whatever
 * Tradewind isolate sends them. Every call therefore takes a permit from the key's `RateGovernor`
 * (one Durable Object per key, shared by every cron run and request): a bucket of one request restored at
 * 2.5 per second spaces requests at least 400 ms apart, so any one-second window holds at most three even
 * when network latency bunches them up a little (at exactly 3/s, 333 ms apart, a few milliseconds of jitter
 * put a fourth into the same second). A 429's Retry-After blocks the bucket until then.
 *
 * Why the governor and not a Redis limiter: waiting callers are parked in order and granted the moment
 * the bucket allows, with no polling round trips, and its per-endpoint breaker stops a run from hammering
 * 17track while it is down.
 */
export const TRACK17_GOVERNOR_POLICY = {
  kind: "cost_bucket",
  maximumAvailable: 1,
  restoreRate: 2.5,
} as const;

/** The longest one request waits for its permit. */
export const TRACK17_MAX_PERMIT_WAIT_MS = 5_000;

/** The governor's name for a key: a digest, so the key never appears in object names, logs or status. */
export async function track17Account(apiKey: string): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(apiKey)));
  const hex = Array.from(digest.slice(0, 8), (b) => b.toString(16).padStart(2, "0")).join("");
  return `17track:${hex}`;
}

/** The platform's 17track client, governed; null when no `TRACK17_API_KEY` is configured. */
export async function track17ClientFor(ctx: ServiceContext): Promise<Track17Client | null> {
  const { apiKey, apiBase } = ctx.config.track17;
  if (apiKey === undefined) return null;
  return createTrack17Client({
    apiKey,
    apiBase,
    timeoutMs: ctx.config.upstream.timeoutMs,
    gate: governorGate(ctx.governors, await track17Account(apiKey), TRACK17_GOVERNOR_POLICY, {
      // A permit that cannot come within seconds (a long Retry-After, a busy bucket) is not waited for: the
      // run's numbers are released for the next run instead of outliving the run's time budget.
      defaultMaxWaitMs: TRACK17_MAX_PERMIT_WAIT_MS,
      breaker: {
        failureThreshold: ctx.config.upstream.breakerFailureThreshold,
        openMs: ctx.config.upstream.breakerOpenMs,
      },
    }),
  });
}
