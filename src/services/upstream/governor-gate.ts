/**
 * The production `UpstreamGate`: every permit comes from the `RateGovernor` Durable Object of the
 * upstream account, so cron pulls, queue consumers, replays and manual syncs share one budget and one
 * set of breakers. The gate itself holds no state; it is cheap to build per job. It never sleeps on its
 * own: the governor holds the `acquire` call until the request's turn comes, so a refund reported by
 * another caller in the meantime can bring that turn forward.
 */
import type {
  GovernorAcquireDecision,
  GovernorRejection,
  GovernorStatus,
  RateGovernor,
} from "../../durable-objects/rate-governor";
import { UpstreamError } from "../../lib/errors";
import type { UpstreamGate, UpstreamOutcome, UpstreamPermit } from "../../lib/upstream-gate";
import {
  assertGovernorPolicy,
  type BreakerPolicy,
  type GovernorPolicy,
  resolveBreakerPolicy,
} from "./governor-policy";

export type { GovernorStatus } from "../../durable-objects/rate-governor";
export type { BreakerPolicy, GovernorPolicy } from "./governor-policy";

/** How long an acquire may wait for budget or a permit when the caller does not say. */
export const DEFAULT_MAX_WAIT_MS = 30_000;
/** The governor answers by the caller's maxWaitMs; this much more covers the round trip. */
export const DEFAULT_ANSWER_GRACE_MS = 5_000;

export interface GovernorGateOptions {
  breaker?: Partial<BreakerPolicy>;
  defaultMaxWaitMs?: number;
  /**
   * Past maxWaitMs plus this, the gate stops waiting for the governor's answer and fails retryably:
   * a parked acquire is an open call, and a job must not hang on an object that never answers.
   */
  answerGraceMs?: number;
}

const REJECTION_MESSAGES: Record<GovernorRejection, string> = {
  breaker_open: "upstream circuit breaker is open",
  probe_in_flight: "upstream circuit breaker is half-open and already probing",
  over_budget: "upstream rate budget would not cover the request in time",
  no_permit: "no upstream permit became free in time",
};

/**
 * @param accountKey one governor per upstream account, e.g. "shopify:acme.myshopify.com", "lingxing:<appId>".
 * @param policy sent with every acquire; the latest wins, but what the upstream taught the governor
 *   (Shopify's ThrottleStatus) is kept.
 */
export function governorGate(
  namespace: DurableObjectNamespace<RateGovernor>,
  accountKey: string,
  policy: GovernorPolicy,
  options: GovernorGateOptions = {},
): UpstreamGate {
  assertGovernorPolicy(policy);
  const breaker = resolveBreakerPolicy(options.breaker);
  const defaultMaxWaitMs = options.defaultMaxWaitMs ?? DEFAULT_MAX_WAIT_MS;
  const answerGraceMs = options.answerGraceMs ?? DEFAULT_ANSWER_GRACE_MS;
  // A fresh stub per call: a stub that saw the object break stays broken, a new one reconnects.
  const governor = () => namespace.get(namespace.idFromName(accountKey));

  return {
    async acquire({ endpoint, cost, maxWaitMs }): Promise<UpstreamPermit> {
      const upstream = `${accountKey}:${endpoint}`;
      const patienceMs = maxWaitMs ?? defaultMaxWaitMs;
      let decision: GovernorAcquireDecision;
      try {
        decision = await answeredWithin<GovernorAcquireDecision>(
          governor().acquire({ accountKey, policy, breaker, endpoint, cost, maxWaitMs: patienceMs }),
          patienceMs + answerGraceMs,
        );
      } catch (cause) {
        // Whatever broke (object reset, overload, network, no answer), the request was not sent: retry
        // later. A grant that still arrives after we gave up is never released: its lease expires, its
        // cost stays deducted — cautious, never over the limit.
        throw new UpstreamError("rate governor unreachable", { upstream, retryable: true, cause });
      }
      if (!decision.granted) {
        throw new UpstreamError(REJECTION_MESSAGES[decision.reason], {
          upstream,
          retryable: true,
          retryAfterSeconds: Math.max(1, Math.ceil(decision.retryAfterMs / 1000)),
        });
      }
      const { permitId } = decision;
      let released = false;
      return {
        async release(outcome: UpstreamOutcome): Promise<void> {
          if (released) return;
          released = true;
          try {
            await governor().release({ permitId, endpoint, cost, outcome });
          } catch {
            // Best effort: the caller's request already happened; an unreleased lease expires on its
            // own and a lost refund only makes the bucket briefly more cautious.
          }
        },
      };
    },
  };
}

async function answeredWithin<T>(call: PromiseLike<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the rate governor did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([call, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function governorStatus(
  namespace: DurableObjectNamespace<RateGovernor>,
  accountKey: string,
): Promise<GovernorStatus> {
  try {
    return await namespace.get(namespace.idFromName(accountKey)).status(accountKey);
  } catch (cause) {
    throw new UpstreamError("rate governor unreachable", { upstream: accountKey, retryable: true, cause });
  }
}
