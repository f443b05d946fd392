/**
 * Ticket search text → a Postgres `tsquery` over `to_tsvector('simple', subject || ' ' || description)`.
 *
 * People type fragments ("refund ord", "#1042", "where is my parcel?"), so every word must match, each as
 * a prefix (search-as-you-type: "ref ord" finds "refund for order"). The query is built from letters and digits only and each
 * lexeme is quoted, so nothing a person types can be tsquery syntax (`&`, `!`, `:*`, parentheses) and a
 * malformed query can never reach Postgres as an error.
 */
const WORD = /[\p{L}\p{N}]+/gu;
const MAX_WORDS = 8;

export function ticketSearchQuery(search: string): string | null {
  const words = (search.toLowerCase().match(WORD) ?? []).slice(0, MAX_WORDS);
  if (words.length === 0) return null;
  return words.map((word) => `'${word}':*`).join(" & ");
}

/** A search that is (part of) an email address also matches the requester's address by prefix. */
export function requesterEmailPrefix(search: string): string | null {
  const trimmed = search.trim().toLowerCase();
  return trimmed.includes("@") && !/\s/.test(trimmed) ? trimmed : null;
}
