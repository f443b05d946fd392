/**
 * Optional secrets: `wrangler types` only knows `[secrets] required`, so the ones a deployment may leave
 * unset are declared here (merged into the generated `Env`).
 */
interface Env {
  /** 17track push keys (`sign` verification), comma-separated, current first. Unset = receiver disabled. */
  TRACK17_SECURITY_KEYS?: string;
  /** 17track Tracking API security key (`17token`). Unset = parcels are queued but never registered. */
  TRACK17_API_KEY?: string;
}
