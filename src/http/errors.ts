import { DrizzleQueryError } from "drizzle-orm/errors";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { pgErrorOf } from "../db/errors";
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
  WEBHOOK_REJECTED: 401,
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
  } else if (databaseRefusal(error)) {
    ({ code, message } = databaseRefusal(error) as { code: ErrorCode; message: string });
  } else if (error instanceof HTTPException) {
    code = httpStatusToCode[error.status] ?? (error.status >= 500 ? "INTERNAL_ERROR" : "BAD_REQUEST");
    message = error.message || defaultMessage(code);
  }
  const status = codeToStatus[code];
  const logger = c.get("services")?.logger;
  if (status >= 500) {
    logger?.error("request failed", { code, error: describeForLog(error) });
    message = publicServerMessage[code] ?? "Internal server error";
    // Upstream details are internal too; only the code and the request id go out.
    details = undefined;
  }
  return c.json(errorBody(c, { code, message, details }), status);
}

/**
 * The last line of defence for bad input: a value Postgres refused that the service did not map (a NUL
 * character, an out-of-range number, an unparsable literal, a constraint the service did not expect)
 * is the caller's 4xx, never a 500. Services map the constraints they know with better messages.
 */
function databaseRefusal(error: Error): { code: ErrorCode; message: string } | null {
  const pg = pgErrorOf(error);
  if (!pg) return null;
  if (pg.code.startsWith("22")) {
    return {
      code: "VALIDATION_ERROR",
      message: "A value in the request cannot be stored (invalid characters or out of range)",
    };
  }
  if (pg.code === "23505") return { code: "CONFLICT", message: "A record with these values already exists" };
  if (pg.code.startsWith("23"))
    return { code: "VALIDATION_ERROR", message: "The request refers to or sets invalid data" };
  return null;
}

/**
 * Drizzle's query errors carry the SQL parameters in their message (emails, key hashes); the log gets the
 * driver's own message and SQLSTATE instead.
 */
export function describeForLog(error: Error): Record<string, unknown> {
  // drizzle-orm 0.45 leaves the class's `name` as "Error", so the class (or its message prefix) identifies it.
  const isQueryError = error instanceof DrizzleQueryError || error.message.startsWith("Failed query:");
  if (!isQueryError) return { name: error.name, message: error.message, stack: error.stack };
  if (error.cause instanceof Error) {
    return {
      name: error.cause.name,
      message: error.cause.message,
      sqlstate: pgErrorOf(error)?.code,
      stack: error.cause.stack,
    };
  }
  return { name: "DrizzleQueryError", message: "query failed (SQL and parameters withheld)" };
}

function defaultMessage(code: ErrorCode): string {
  return code
    .toLowerCase()
    .split("_")
    .map((w, i) => (i === 0 ? w.charAt(0).toUpperCase() + w.slice(1) : w))
    .join(" ");
}
