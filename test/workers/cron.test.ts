import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CRONS } from "../../src/cron";
import worker from "../../src/index";
import { getSchedulerRun } from "../../src/services/scheduler/record-scheduler-run";
import { testContext } from "../support/context";

describe("scheduled dispatch", () => {
  it("runs the jobs of the configured cron and records the run", async () => {
    const scheduledTime = Date.UTC(2026, 10, 21, 12, 5);
    const controller = createScheduledController({ cron: CRONS.EVERY_FIVE_MINUTES, scheduledTime });
    const ctx = createExecutionContext();
    await worker.scheduled(controller, env, ctx);
    await waitOnExecutionContext(ctx);
    const run = await getSchedulerRun({ ctx: testContext(), input: { cron: CRONS.EVERY_FIVE_MINUTES } });
    expect(run?.cron).toBe("*/5 * * * *");
    expect(run?.scheduledTime).toBe("2026-11-21T12:05:00.000Z");
  });

  it("the dispatcher knows every cron declared in wrangler.toml", async () => {
    const declared = ["* * * * *", "*/5 * * * *"];
    expect(Object.values(CRONS).sort()).toEqual(declared.sort());
  });

  it("throws on an unknown cron string", async () => {
    const controller = createScheduledController({ cron: "0 0 * * *", scheduledTime: Date.now() });
    await expect(worker.scheduled(controller, env, createExecutionContext())).rejects.toThrow(
      "No jobs for cron '0 0 * * *'",
    );
  });
});
