import { env } from "cloudflare:workers";
import { IoMetrics } from "../../src/lib/metrics";
import { createServiceContext, type ServiceContext } from "../../src/services/context";

/** A service context on the test env (optionally overridden); background work is collected to await. */
export function testContext(overrides: Partial<Env> = {}): ServiceContext & { settle(): Promise<void> } {
  const pending: Promise<unknown>[] = [];
  const ctx = createServiceContext({
    env: { ...env, ...overrides },
    waitUntil: (p) => {
      pending.push(p);
    },
    metrics: new IoMetrics(),
  });
  return Object.assign(ctx, {
    async settle() {
      await Promise.allSettled(pending);
    },
  });
}
