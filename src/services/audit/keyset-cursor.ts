/**
 * Keyset cursors `<instant>|<id>` (base64url) for logs that only grow (audit rows, comments): a page is
 * found by position, never counted or offset. The instant is Postgres' own microsecond text (select it with
 * `CURSOR_AT`), because a JS Date rounds to milliseconds and would skip rows written within the boundary's
 * millisecond.
 */
import { type SQL, sql } from "drizzle-orm";
import { ValidationError } from "../../lib/errors";
import { isUuid } from "../../lib/ids";

export interface KeysetPosition {
  at: string;
  id: string;
}

/** `column` as UTC text with microseconds, the form cursors carry. */
export function cursorAt(column: SQL): SQL {
  return sql`to_char(${column} at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`;
}

export function encodeCursor(position: KeysetPosition): string {
  return btoa(`${position.at}|${position.id}`).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

export function decodeCursor(cursor: string): KeysetPosition {
  try {
    const [at, id, ...rest] = atob(cursor.replace(/-/g, "+").replace(/_/g, "/")).split("|");
    // Strict, so a forged cursor is a 422 here, never a cast error in Postgres.
    if (rest.length === 0 && at && id && INSTANT.test(at) && !Number.isNaN(Date.parse(at)) && isUuid(id)) {
      return { at, id };
    }
  } catch {
    // fall through to the validation error
  }
  throw new ValidationError("Invalid cursor", { cursor: ["Use the nextCursor of a previous page"] });
}

/**
 * The rows of a page from `limit + 1` fetched rows (the extra one only says whether there is more), and
 * the cursor of the next page.
 */
export function keysetPage<R extends { cursor_at: string; id: string }, T>(
  rows: readonly R[],
  limit: number,
  view: (row: R) => T,
): { items: T[]; nextCursor: string | null } {
  const page = rows.slice(0, limit);
  const last = page[page.length - 1];
  return {
    items: page.map(view),
    nextCursor: rows.length > limit && last ? encodeCursor({ at: last.cursor_at, id: last.id }) : null,
  };
}
