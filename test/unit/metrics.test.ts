import { describe, expect, it } from "vitest";
import { currentMetrics, IoMetrics, runWithMetrics, timed } from "../../src/lib/metrics";

describe("IoMetrics", () => {
  it("formats Server-Timing exactly as tools parse it", () => {
    const m = new IoMetrics();
    m.recordDb(12.345);
    m.recordDb(0.5);
    m.recordCache(3);
    expect(m.serverTiming()).toBe('db;dur=12.8;desc="2 rt", cache;dur=3;desc="1 rt"');
    expect(new IoMetrics().serverTiming()).toBe('db;dur=0;desc="0 rt", cache;dur=0;desc="0 rt"');
  });

  it("finds the metrics of the unit of work through async context, across awaits", async () => {
    const a = new IoMetrics();
    const b = new IoMetrics();
    await Promise.all([
      runWithMetrics(a, async () => {
        await new Promise((r) => setTimeout(r, 5));
        currentMetrics()?.recordDb(1);
      }),
      runWithMetrics(b, async () => {
        currentMetrics()?.recordCache(1);
      }),
    ]);
    expect([a.dbRoundTrips, a.cacheRoundTrips, b.dbRoundTrips, b.cacheRoundTrips]).toEqual([1, 0, 0, 1]);
    expect(currentMetrics()).toBeUndefined();
  });

  it("times a failing call too", async () => {
    const m = new IoMetrics();
    await expect(
      timed(
        (ms) => m.recordDb(ms),
        () => Promise.reject(new Error("boom")),
      ),
    ).rejects.toThrow("boom");
    expect(m.dbRoundTrips).toBe(1);
  });
});
