import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import {
  AppError,
  type ErrorCode,
  MethodNotAllowedError,
  RateLimitedError,
  UpstreamError,
} from "../lib/errors";
import { errorBody } from "./envelope";
import type { AppEnv } from "./types";

/** The one table from error code to HTTP status. */
export const codeToStatus: Record<ErrorCode, ContentfulStatusCode> = {
  BAD_REQUEST: 400,
  VALIDATION_ERROR: 422,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  UPSTREAM_ERROR: 502,
  SERVICE_UNAVAILABLE: 503,
  INTERNAL_ERROR: 500,
};

const httpStatusToCode: Partial<Record<number, ErrorCode>> = {
  400: "BAD_REQUEST",
  401: "UNAUTHORIZED",
  403: "FORBIDDEN",
  404: "NOT_FOUND",
  405: "METHOD_NOT_ALLOWED",
  409: "CONFLICT",
  412: "PRECONDITION_FAILED",
  413: "PAYLOAD_TOO_LARGE",
  415: "UNSUPPORTED_MEDIA_TYPE",
  422: "VALIDATION_ERROR",
  429: "RATE_LIMITED",
  503: "SERVICE_UNAVAILABLE",
};

/** Safe, fixed messages for 5xx: internal text never reaches the caller. */
const publicServerMessage: Partial<Record<ErrorCode, string>> = {
  UPSTREAM_ERROR: "An upstream service failed",
  SERVICE_UNAVAILABLE: "Service temporarily unavailable",
  INTERNAL_ERROR: "Internal server error",
};

/** The app's `onError`: every thrown thing becomes an envelope with the mapped status. */
export function handleError(error: Error, c: Context<AppEnv>): Response {
  let code: ErrorCode = "INTERNAL_ERROR";
  let message = "Internal server error";
  let details: Record<string, unknown> | undefined;
  if (error instanceof AppError) {
    code = error.code;
    message = error.message;
    details = error.details;
    if (error instanceof MethodNotAllowedError) c.header("Allow", error.allow.join(", "));
    if (error instanceof RateLimitedError) c.header("Retry-After", String(error.retryAfterSeconds));
    if (error instanceof UpstreamError && error.retryAfterSeconds !== undefined) {
      c.header("Retry-After", String(error.retryAfterSeconds));
    }
  } else if (error instanceof HTTPException) {
    code = httpStatusToCode[error.status] ?? (error.status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST");
    message = error.message || defaultMessage(code);
  }
  const status = codeToStatus[code];
  const logger = c.get("services")?.logger;
  if (status >= 500) {
    logger?.error("request failed", {
      code,
      error: { name: error.name, message: error.message, stack: error.stack },
    });
    message = publicServerMessage[code] ?? "Internal server error";
    // Upstream details are internal too; only the code and the request id go out.
    details = undefined;
  }
  return c.json(errorBody(c, { code, message, details }), status);
}

function defaultMessage(code: ErrorCode): string {
  return code
    .toLowerCase()
    .split("_")
    .map((w, i) => (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(" ");
}
