/**
 * The Postgres error behind a thrown value, if any. Drizzle wraps driver errors (`DrizzleQueryError`),
 * and the Neon HTTP and WebSocket drivers each put `code` (SQLSTATE) and `constraint` on their own error
 * types, so the cause chain is walked until an error with a SQLSTATE is found.
 *
 * Codes services map: 23505 unique_violation, 23503 foreign_key_violation, 23514 check_violation.
 */
export interface PgErrorInfo {
  code: string;
  constraint?: string;
  detail?: string;
}

const SQLSTATE = /^[0-9A-Z]{5}$/;

export function pgErrorOf(error: unknown): PgErrorInfo | null {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && typeof current === "object" && current !== null; depth++) {
    const candidate = current as { code?: unknown; constraint?: unknown; detail?: unknown; cause?: unknown };
    if (typeof candidate.code === "string" && SQLSTATE.test(candidate.code)) {
      const info: PgErrorInfo = { code: candidate.code };
      if (typeof candidate.constraint === "string" && candidate.constraint !== "") {
        info.constraint = candidate.constraint;
      }
      if (typeof candidate.detail === "string" && candidate.detail !== "") info.detail = candidate.detail;
      return info;
    }
    current = candidate.cause;
  }
  return null;
}

export const PG_UNIQUE_VIOLATION = "23505";
export const PG_FOREIGN_KEY_VIOLATION = "23503";
export const PG_CHECK_VIOLATION = "23514";
