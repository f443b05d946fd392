import { cacheKeys } from "../../cache/keys";
import type { ServiceContext } from "../context";

export interface SchedulerRun {
  cron: string;
  scheduledTime: string;
  finishedAt: string;
}

/** Remembers when each cron last ran, so operators (and health tooling) can see the scheduler is alive. */
export async function recordSchedulerRun({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { cron: string; scheduledTime: number };
}) {
  const redis = ctx.cache.redis;
  if (!redis) return;
  const run: SchedulerRun = {
    cron: input.cron,
    scheduledTime: new Date(input.scheduledTime).toISOString(),
    finishedAt: new Date().toISOString(),
  };
  await redis.set(ctx.cache.key(cacheKeys.cronLastRun.name(input.cron)), run, {
    ex: cacheKeys.cronLastRun.ttlSeconds,
  });
}

export async function getSchedulerRun({ ctx, input }: { ctx: ServiceContext; input: { cron: string } }) {
  const redis = ctx.cache.redis;
  if (!redis) return null;
  return redis.get<SchedulerRun>(ctx.cache.key(cacheKeys.cronLastRun.name(input.cron)));
}
