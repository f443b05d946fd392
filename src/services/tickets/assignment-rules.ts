/**
 * Which team member gets the next ticket. Pure: the caller reads the members under a lock on the team
 * row (so no two assignments decide from the same state) and writes the choice in the same transaction.
 *
 * A member can take a ticket when their user is active, they are marked available, and they are below
 * their `maxOpenTickets` (tickets open, pending or on hold assigned to them, in any team).
 */
export interface AssignmentCandidate {
  userId: string;
  position: number;
  available: boolean;
  /** The user exists, is active and not deleted. */
  active: boolean;
  maxOpenTickets: number | null;
  openTickets: number;
  /** UTC with microseconds (`2026-03-01T09:15:02.123456Z`), so the text orders like the instant. */
  lastAssignedAt: string | null;
}

export function canTakeTicket(member: AssignmentCandidate): boolean {
  return (
    member.active &&
    member.available &&
    (member.maxOpenTickets === null || member.openTickets < member.maxOpenTickets)
  );
}

function byPosition(a: AssignmentCandidate, b: AssignmentCandidate): number {
  return a.position - b.position || a.userId.localeCompare(b.userId);
}

/**
 * Round robin in `position` order. `cursor` is the position the rotation continues from: the first member
 * who can take a ticket at or after it gets this one, wrapping around to the start; the new cursor is just
 * past them. A member who cannot take a ticket is passed over for this turn only, and rejoining or
 * reordering members never makes the rotation skip someone who could.
 */
export function pickRoundRobin(
  members: readonly AssignmentCandidate[],
  cursor: number,
): { member: AssignmentCandidate; nextCursor: number } | null {
  const eligible = members.filter(canTakeTicket).sort(byPosition);
  const member = eligible.find((m) => m.position >= cursor) ?? eligible[0];
  return member ? { member, nextCursor: member.position + 1 } : null;
}

/**
 * The member with the fewest open tickets; ties go to whoever was assigned least recently (never counts
 * as longest ago), then to the rotation order.
 */
export function pickLeastLoaded(members: readonly AssignmentCandidate[]): AssignmentCandidate | null {
  const eligible = members.filter(canTakeTicket);
  eligible.sort(
    (a, b) =>
      a.openTickets - b.openTickets ||
      compareLastAssigned(a.lastAssignedAt, b.lastAssignedAt) ||
      byPosition(a, b),
  );
  return eligible[0] ?? null;
}

function compareLastAssigned(a: string | null, b: string | null): number {
  if (a === b) return 0;
  if (a === null) return -1;
  if (b === null) return 1;
  return a < b ? -1 : 1;
}

export type AssignmentStrategy = "manual" | "round_robin" | "least_loaded";

/**
 * The agent a team's strategy gives the next ticket, and the round-robin cursor to store (null = leave it);
 * null when the strategy is manual or nobody can take a ticket (it then waits on the team, unassigned).
 */
export function pickAssignee(
  strategy: AssignmentStrategy,
  members: readonly AssignmentCandidate[],
  cursor: number,
): { userId: string; nextCursor: number | null } | null {
  if (strategy === "round_robin") {
    const pick = pickRoundRobin(members, cursor);
    return pick ? { userId: pick.member.userId, nextCursor: pick.nextCursor } : null;
  }
  if (strategy === "least_loaded") {
    const member = pickLeastLoaded(members);
    return member ? { userId: member.userId, nextCursor: null } : null;
  }
  return null;
}
