import type { UpstreamFailureKind } from "./upstream-gate";

/**
 * The one error hierarchy. Services throw these; `src/http/errors.ts` maps codes to HTTP status in one place.
 * Messages of 4xx errors are shown to the caller; 5xx messages never leave the server.
 */
export type ErrorCode =
  | "BAD_REQUEST"
  | "VALIDATION_ERROR"
  | "UNAUTHORIZED"
  | "WEBHOOK_REJECTED"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "CONFLICT"
  | "PRECONDITION_FAILED"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RATE_LIMITED"
  | "UPSTREAM_ERROR"
  | "SERVICE_UNAVAILABLE"
  | "INTERNAL_ERROR";

export type ErrorDetails = Record<string, unknown>;

export abstract class AppError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: ErrorDetails | undefined;

  constructor(message: string, options?: { details?: ErrorDetails; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options?.details;
  }
}

export class BadRequestError extends AppError {
  readonly code = "BAD_REQUEST";
}

/** `details` maps a field path (dot-joined) to its messages, e.g. `{ "address.zip": ["Required"] }`. */
export class ValidationError extends AppError {
  readonly code = "VALIDATION_ERROR";
  constructor(message: string, fieldErrors: Record<string, string[]>) {
    super(message, { details: fieldErrors });
  }
}

export class UnauthorizedError extends AppError {
  readonly code = "UNAUTHORIZED";
}

/**
 * An inbound webhook that cannot be trusted: its signature does not verify against the source's secrets
 * (or the source is unknown, or disabled: the same answer, so ids cannot be probed), or its timestamp is
 * outside the accepted window. `reason` is the only detail; `stale` is only said to a valid signer.
 */
export class WebhookRejectedError extends AppError {
  readonly code = "WEBHOOK_REJECTED";
  constructor(readonly reason: "signature" | "stale") {
    super(
      reason === "stale"
        ? "Webhook timestamp is outside the accepted window"
        : "Webhook signature verification failed",
      { details: { reason } },
    );
  }
}

export class ForbiddenError extends AppError {
  readonly code = "FORBIDDEN";
}

export class NotFoundError extends AppError {
  readonly code = "NOT_FOUND";
}

export class MethodNotAllowedError extends AppError {
  readonly code = "METHOD_NOT_ALLOWED";
  constructor(
    message: string,
    readonly allow: string[],
  ) {
    super(message, { details: { allow } });
  }
}

export class ConflictError extends AppError {
  readonly code = "CONFLICT";
}

/** An illegal state transition or a failed precondition (e.g. If-Match). */
export class PreconditionFailedError extends AppError {
  readonly code = "PRECONDITION_FAILED";
}

export class PayloadTooLargeError extends AppError {
  readonly code = "PAYLOAD_TOO_LARGE";
}

export class UnsupportedMediaTypeError extends AppError {
  readonly code = "UNSUPPORTED_MEDIA_TYPE";
}

export class RateLimitedError extends AppError {
  readonly code = "RATE_LIMITED";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message, { details: { retryAfterSeconds } });
  }
}

/**
 * A call to an external system failed. `retryable` tells queue consumers whether to back off and retry;
 * `kind` says why, for the engine and the rate governor (src/lib/upstream-gate.ts): a retryable failure is
 * `retryable` or `rate_limited`, a final one `auth` or `permanent`. Given explicitly, also in `details.kind`.
 */
export class UpstreamError extends AppError {
  readonly code = "UPSTREAM_ERROR";
  readonly retryable: boolean;
  readonly retryAfterSeconds: number | undefined;
  readonly kind: UpstreamFailureKind;
  constructor(
    message: string,
    options: {
      upstream: string;
      retryable: boolean;
      kind?: UpstreamFailureKind;
      retryAfterSeconds?: number;
      cause?: unknown;
      /** Vendor facts worth keeping beside the error (its own code, request id). */
      details?: ErrorDetails;
    },
  ) {
    const kind = options.kind ?? (options.retryable ? "retryable" : "permanent");
    super(message, {
      details: {
        ...options.details,
        upstream: options.upstream,
        ...(options.kind === undefined ? {} : { kind: options.kind }),
      },
      cause: options.cause,
    });
    this.retryable = options.retryable;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.kind = kind;
  }
}

/** A dependency we cannot serve without (Postgres) is down. */
export class ServiceUnavailableError extends AppError {
  readonly code = "SERVICE_UNAVAILABLE";
}
