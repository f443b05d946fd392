import { AsyncLocalStorage } from "node:async_hooks";

/**
 * Round trips and time spent in Postgres and Redis during one unit of work (a request, a queue batch,
 * a cron run). Reported in `Server-Timing` and in the request log line, and read by the benchmarks.
 */
export class IoMetrics {
  dbMs = 0;
  dbRoundTrips = 0;
  cacheMs = 0;
  cacheRoundTrips = 0;
  /** Redis writes that failed twice and were given up on (dual-write policy: never fail the request). */
  cacheWriteFailures = 0;

  recordDb(ms: number): void {
    this.dbMs += ms;
    this.dbRoundTrips += 1;
  }

  recordCache(ms: number): void {
    this.cacheMs += ms;
    this.cacheRoundTrips += 1;
  }

  /** The exact form tools parse: `db;dur=<ms>;desc="<n> rt", cache;dur=<ms>;desc="<n> rt"`. */
  serverTiming(): string {
    return `db;dur=${round(this.dbMs)};desc="${this.dbRoundTrips} rt", cache;dur=${round(this.cacheMs)};desc="${this.cacheRoundTrips} rt"`;
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}

/**
 * The drivers' fetch hooks are module-global (neonConfig.fetchFunction), so the metrics of the unit of
 * work in flight are found through async context rather than passed down.
 */
const current = new AsyncLocalStorage<IoMetrics>();

export function runWithMetrics<T>(metrics: IoMetrics, fn: () => T): T {
  return current.run(metrics, fn);
}

export function currentMetrics(): IoMetrics | undefined {
  return current.getStore();
}

/** Times an I/O call and records it against `record` even when it throws. */
export async function timed<T>(record: (ms: number) => void, fn: () => Promise<T>): Promise<T> {
  const start = performance.now();
  try {
    return await fn();
  } finally {
    record(performance.now() - start);
  }
}
