import { IoMetrics, runWithMetrics } from "../lib/metrics";
import { createServiceContext, type ServiceContext } from "../services/context";
import { requeueStrandedEmails } from "../services/email/requeue-stranded-emails";
import { warmOrderLookups } from "../services/order-lookup/warm-order-lookups";
import { recordSchedulerRun } from "../services/scheduler/record-scheduler-run";
import { sweepSlaTransitions } from "../services/sla/sweep-sla-transitions";
import { scheduleDueStreams } from "../services/sync/schedule-due-streams";
import { registerPendingParcels } from "../services/tracking/register-pending";
import { purgeWebhookEvents } from "../services/webhooks/purge-webhook-events";
import { requeueStrandedWebhookEvents } from "../services/webhooks/requeue-stranded";

/** Cron expressions exactly as in wrangler.toml `[triggers] crons`. */
export const CRONS = {
  EVERY_MINUTE: "* * * * *",
  EVERY_FIVE_MINUTES: "*/5 * * * *",
} as const;

type ScheduledJob = (ctx: ServiceContext, controller: ScheduledController) => Promise<void>;

/**
 * What each cron runs. Jobs only decide what is due and enqueue it (never long work here); later
 * capabilities add theirs (due channel pulls, SLA sweeps) to these lists.
 */
const JOBS: Record<(typeof CRONS)[keyof typeof CRONS], ScheduledJob[]> = {
  // Sync streams carry their own intervals (1 min and up); this only finds the due ones.
  // Webhook events stored but never handed to the queue are enqueued again.
  [CRONS.EVERY_MINUTE]: [
    (ctx) => scheduleDueStreams({ ctx }).then(() => undefined),
    (ctx) => requeueStrandedWebhookEvents({ ctx }).then(() => undefined),
    // Parcel registrations (and recent shipments' numbers) are claimed here in one statement; their 17track
    // requests run after the handler in waitUntil rather than through a queue: they are bounded (≤ 800
    // numbers in batches of 40, a 20 s budget, each request timed out), and the claim's lease makes a run
    // that dies harmless — its rows are claimed again when the lease ends.
    (ctx) => registerPendingParcels({ ctx }).then(({ done }) => ctx.waitUntil(done)),
    // Tickets whose SLA targets turned at risk or breached are marked once each, with their events.
    (ctx) => sweepSlaTransitions({ ctx }).then(() => undefined),
  ],
  // Old settled webhook events are deleted (retention).
  // The order lookup cache is warmed for the newest orders (bounded: at most 20 lookups a run).
  [CRONS.EVERY_FIVE_MINUTES]: [
    (ctx) => purgeWebhookEvents({ ctx }).then(() => undefined),
    (ctx) => warmOrderLookups({ ctx }).then(() => undefined),
    // Queued email retries whose queue message was lost are enqueued again.
    (ctx) => requeueStrandedEmails({ ctx }).then(() => undefined),
  ],
};

function isKnownCron(cron: string): cron is keyof typeof JOBS {
  return Object.hasOwn(JOBS, cron);
}

export async function dispatchScheduled(
  controller: ScheduledController,
  env: Env,
  executionCtx: ExecutionContext,
): Promise<void> {
  const cron = controller.cron;
  if (!isKnownCron(cron)) throw new Error(`No jobs for cron '${cron}'`);
  const metrics = new IoMetrics();
  const ctx = createServiceContext({
    env,
    waitUntil: (p) => executionCtx.waitUntil(p),
    metrics,
    logFields: { cron },
  });
  ctx.actor = { type: "system", name: `cron:${cron}` };
  await runWithMetrics(metrics, async () => {
    const results = await Promise.allSettled(JOBS[cron].map((job) => job(ctx, controller)));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    for (const f of failed) ctx.logger.error("scheduled job failed", { error: String(f.reason) });
    await recordSchedulerRun({ ctx, input: { cron, scheduledTime: controller.scheduledTime } });
    // Rethrow so the run shows as failed in Cron Events, after the others had their chance.
    if (failed.length > 0) throw new Error(`${failed.length} scheduled job(s) failed for '${cron}'`);
  });
}
