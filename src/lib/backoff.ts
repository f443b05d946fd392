/**
 * Exponential backoff with full jitter ("Exponential Backoff and Jitter", AWS Architecture Blog):
 * a random delay in [base, min(cap, base·2^(attempt-1))]. An upstream `Retry-After` is a floor, never
 * shortened by jitter. Queues cap delays at 12 h (43,200 s).
 */
export function backoffSeconds(
  attempt: number,
  options: {
    baseSeconds?: number;
    capSeconds?: number;
    retryAfterSeconds?: number;
    random?: () => number;
  } = {},
): number {
  const base = options.baseSeconds ?? 2;
  const cap = Math.min(options.capSeconds ?? 15 * 60, 43_200);
  const ceiling = Math.min(cap, base * 2 ** Math.max(0, attempt - 1));
  const jittered = base + (options.random ?? Math.random)() * (ceiling - base);
  const delay = Math.max(jittered, options.retryAfterSeconds ?? 0);
  return Math.min(Math.ceil(delay), 43_200);
}
