import { AppError, UpstreamError } from "../../lib/errors";

/**
 * How the engine treats a failure: retry it (with backoff, honouring Retry-After), or stop and hand it
 * to a person (a `sync_failures` row). Adapters say which through `UpstreamError.retryable` and
 * `kind`; anything unexpected is treated as retryable so a bug in our code never loses work (it
 * reaches the dead-letter queue after the retries and is recorded there).
 */
export type EngineErrorKind = "retryable" | "rate_limited" | "auth" | "permanent" | "invalid";

export function errorKindOf(error: unknown): EngineErrorKind {
  if (error instanceof UpstreamError) {
    if (error.kind === "auth") return "auth";
    if (error.kind === "rate_limited") return "rate_limited";
    if (!error.retryable) return "permanent";
    return "retryable";
  }
  if (
    error instanceof AppError &&
    (error.code === "VALIDATION_ERROR" || error.code === "PRECONDITION_FAILED")
  ) {
    return "invalid";
  }
  return "retryable";
}

/** A one-line description for people: the error's name and message, never a stack or a payload. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`.slice(0, 2000);
  return String(error).slice(0, 2000);
}
