/**
 * The ticket's own rules, free of I/O so they are tested on their own (ticket-rules.test.ts): which
 * statuses exist and which moves are legal, what a status change does to the ticket's timestamps, what
 * a comment does to the ticket, and how tags are normalised.
 *
 * - open: waiting on the team.
 * - pending: waiting on the customer (SLA clocks pause; a customer reply reopens it).
 * - on_hold: waiting on a third party (a carrier, the warehouse); clocks keep running.
 * - solved: answered; the resolution clock stops. A reply or an agent reopens it (solved → open).
 * - closed: final. Nothing changes a closed ticket any more (a new request is a new ticket).
 */
import { PreconditionFailedError } from "../../lib/errors";

export const TICKET_STATUSES = ["open", "pending", "on_hold", "solved", "closed"] as const;
export type TicketStatus = (typeof TICKET_STATUSES)[number];

export const TICKET_PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export type TicketPriority = (typeof TICKET_PRIORITIES)[number];

export const TICKET_CHANNELS = ["chat", "email", "web_form", "api"] as const;
export type TicketChannel = (typeof TICKET_CHANNELS)[number];

/** Statuses that count towards an agent's load (least-loaded assignment, `max_open_tickets`). */
export const ACTIVE_STATUSES: readonly TicketStatus[] = ["open", "pending", "on_hold"];

export function assertStatusChange(from: TicketStatus, to: TicketStatus): void {
  if (from === "closed" && to !== "closed") {
    throw new PreconditionFailedError("A closed ticket cannot be changed", {
      details: { status: from, requested: to },
    });
  }
}

/** A closed ticket is final: no field, comment or assignment changes it. */
export function assertNotClosed(status: TicketStatus): void {
  if (status === "closed") {
    throw new PreconditionFailedError("A closed ticket cannot be changed", { details: { status } });
  }
}

export interface StatusTimestamps {
  solvedAt: string | null;
  closedAt: string | null;
}

/**
 * The solved/closed instants after a status change at `now`: solving stamps `solvedAt` (kept when it was
 * already solved), reopening clears it, closing stamps `closedAt` and — for a ticket closed without being
 * solved first — `solvedAt` too, so the resolution clock stops either way.
 */
export function timestampsAfterStatus(
  to: TicketStatus,
  before: StatusTimestamps & { status: TicketStatus },
  now: string,
): StatusTimestamps {
  switch (to) {
    case "solved":
      return { solvedAt: before.status === "solved" ? before.solvedAt : now, closedAt: null };
    case "closed":
      return { solvedAt: before.solvedAt ?? now, closedAt: before.closedAt ?? now };
    default:
      return { solvedAt: null, closedAt: null };
  }
}

export type CommentAuthorType = "agent" | "customer" | "bot" | "system";

/**
 * What a new comment does to its ticket: the first public agent reply is the first response; a
 * customer's reply to a ticket waiting on them (pending) or already solved puts it back with the team
 * (open). Internal notes change nothing but the ticket's activity time.
 */
export function ticketEffectsOfComment(input: {
  ticket: { status: TicketStatus; firstRespondedAt: string | null };
  authorType: CommentAuthorType;
  public: boolean;
  now: string;
}): { status: TicketStatus; firstRespondedAt: string | null } {
  const { ticket } = input;
  let status = ticket.status;
  let firstRespondedAt = ticket.firstRespondedAt;
  if (input.public && input.authorType === "agent" && firstRespondedAt === null) {
    firstRespondedAt = input.now;
  }
  if (input.public && input.authorType === "customer" && (status === "pending" || status === "solved")) {
    status = "open";
  }
  return { status, firstRespondedAt };
}

export const MAX_TAGS = 30;
export const MAX_TAG_LENGTH = 50;
/** Letters, digits, and `-_:./ ` inside; never a comma (list filters split on commas). */
const TAG = /^[\p{L}\p{N}][\p{L}\p{N} _:./-]*$/u;

/**
 * Tags as stored: trimmed, inner whitespace collapsed, lower-cased (tags are labels, `VIP` and `vip` are
 * one), duplicates dropped, order of first appearance kept. Returns the messages for invalid ones.
 */
export function normaliseTags(raw: readonly string[]): { tags: string[]; errors: string[] } {
  const tags: string[] = [];
  const errors: string[] = [];
  for (const value of raw) {
    const tag = value.trim().replace(/\s+/g, " ").toLowerCase();
    if (tag === "" || tag.length > MAX_TAG_LENGTH || !TAG.test(tag)) {
      errors.push(
        `Invalid tag ${JSON.stringify(value.slice(0, 60))}: 1-${MAX_TAG_LENGTH} letters, digits, spaces or -_:./, no commas`,
      );
      continue;
    }
    if (!tags.includes(tag)) tags.push(tag);
  }
  if (tags.length > MAX_TAGS) errors.push(`At most ${MAX_TAGS} tags`);
  return { tags, errors };
}

/** Priorities ranked for sorting (`urgent` first when descending). */
export const PRIORITY_RANK: Readonly<Record<TicketPriority, number>> = {
  low: 1,
  normal: 2,
  high: 3,
  urgent: 4,
};
