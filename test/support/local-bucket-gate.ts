import type { UpstreamGate } from "../../src/lib/upstream-gate";

/**
 * A small cost-bucket governor for one shop, for adapter tests in Node (the real one is the RateGovernor
 * Durable Object): waits until its model of Shopify's bucket holds the requested cost, refunds
 * `cost − actualCost` on release, and never believes the bucket fuller than Shopify said.
 */
export function localBucketGate(limits: { maximumAvailable: number; restoreRate: number }): UpstreamGate {
  let available = limits.maximumAvailable;
  let at = Date.now();
  let turn: Promise<void> = Promise.resolve();
  const refill = () => {
    const now = Date.now();
    available = Math.min(limits.maximumAvailable, available + ((now - at) / 1000) * limits.restoreRate);
    at = now;
  };
  return {
    async acquire({ cost }) {
      const mine = turn.then(async () => {
        for (;;) {
          refill();
          if (available >= cost) {
            available -= cost;
            return;
          }
          await new Promise((r) =>
            setTimeout(r, Math.ceil(((cost - available) / limits.restoreRate) * 1000) + 1),
          );
        }
      });
      turn = mine;
      await mine;
      return {
        async release(outcome) {
          refill();
          if (outcome.actualCost !== undefined) available += cost - outcome.actualCost;
          else if (outcome.failure === "rate_limited") available += cost; // refused, so never spent
          available = Math.min(available, limits.maximumAvailable);
          if (outcome.throttle) available = Math.min(available, outcome.throttle.currentlyAvailable);
        },
      };
    },
  };
}
