import { describe, expect, it } from "vitest";
import { PreconditionFailedError } from "../../lib/errors";
import { type AssignmentCandidate, pickLeastLoaded, pickRoundRobin } from "./assignment-rules";
import {
  assertStatusChange,
  normaliseTags,
  ticketEffectsOfComment,
  timestampsAfterStatus,
} from "./ticket-rules";
import { requesterEmailPrefix, ticketSearchQuery } from "./ticket-search";

const T0 = "2026-03-02T09:00:00.000Z";
const T1 = "2026-03-02T10:30:00.000Z";

describe("status changes", () => {
  it("lets every status move anywhere except out of closed, which is final", () => {
    for (const from of ["open", "pending", "on_hold", "solved"] as const) {
      for (const to of ["open", "pending", "on_hold", "solved", "closed"] as const) {
        expect(() => assertStatusChange(from, to)).not.toThrow();
      }
    }
    expect(() => assertStatusChange("closed", "closed")).not.toThrow();
    expect(() => assertStatusChange("closed", "open")).toThrow(PreconditionFailedError);
    expect(() => assertStatusChange("closed", "solved")).toThrow("A closed ticket cannot be changed");
  });

  it("stamps solved, keeps the first solve, clears it on reopen, and closing an unsolved ticket solves it", () => {
    const open = { status: "open" as const, solvedAt: null, closedAt: null };
    expect(timestampsAfterStatus("solved", open, T0)).toEqual({ solvedAt: T0, closedAt: null });
    const solved = { status: "solved" as const, solvedAt: T0, closedAt: null };
    expect(timestampsAfterStatus("solved", solved, T1)).toEqual({ solvedAt: T0, closedAt: null });
    expect(timestampsAfterStatus("open", solved, T1)).toEqual({ solvedAt: null, closedAt: null });
    expect(timestampsAfterStatus("closed", solved, T1)).toEqual({ solvedAt: T0, closedAt: T1 });
    expect(timestampsAfterStatus("closed", open, T1)).toEqual({ solvedAt: T1, closedAt: T1 });
    expect(timestampsAfterStatus("pending", open, T1)).toEqual({ solvedAt: null, closedAt: null });
  });
});

describe("what a comment does to its ticket", () => {
  const open = { status: "open" as const, firstRespondedAt: null };

  it("the first public agent reply is the first response; later ones keep it", () => {
    expect(ticketEffectsOfComment({ ticket: open, authorType: "agent", public: true, now: T0 })).toEqual({
      status: "open",
      firstRespondedAt: T0,
    });
    const answered = { status: "open" as const, firstRespondedAt: T0 };
    expect(
      ticketEffectsOfComment({ ticket: answered, authorType: "agent", public: true, now: T1 })
        .firstRespondedAt,
    ).toBe(T0);
  });

  it("internal notes, bot and customer messages are not a first response", () => {
    for (const [authorType, isPublic] of [
      ["agent", false],
      ["bot", true],
      ["customer", true],
      ["system", true],
    ] as const) {
      expect(
        ticketEffectsOfComment({ ticket: open, authorType, public: isPublic, now: T0 }).firstRespondedAt,
      ).toBeNull();
    }
  });

  it("a customer reply reopens a pending or solved ticket, not one on hold", () => {
    for (const status of ["pending", "solved"] as const) {
      expect(
        ticketEffectsOfComment({
          ticket: { status, firstRespondedAt: T0 },
          authorType: "customer",
          public: true,
          now: T1,
        }).status,
      ).toBe("open");
    }
    expect(
      ticketEffectsOfComment({
        ticket: { status: "on_hold", firstRespondedAt: T0 },
        authorType: "customer",
        public: true,
        now: T1,
      }).status,
    ).toBe("on_hold");
    expect(
      ticketEffectsOfComment({
        ticket: { status: "pending", firstRespondedAt: T0 },
        authorType: "agent",
        public: true,
        now: T1,
      }).status,
    ).toBe("pending");
  });
});

describe("tags", () => {
  it("trims, lower-cases, collapses spaces and drops duplicates in first-seen order", () => {
    expect(normaliseTags(["  VIP ", "Refund  request", "vip", "carrier:ups", "size/fit"])).toEqual({
      tags: ["vip", "refund request", "carrier:ups", "size/fit"],
      errors: [],
    });
  });

  it("refuses commas, blanks, leading punctuation and over-long tags", () => {
    const { errors } = normaliseTags(["a,b", " ", "-x", "x".repeat(51), "ok"]);
    expect(errors).toHaveLength(4);
    expect(errors[0]).toContain('"a,b"');
  });
});

describe("ticket search", () => {
  it("turns words into quoted prefix lexemes joined by AND, so no input is tsquery syntax", () => {
    expect(ticketSearchQuery("Refund ord")).toBe("'refund':* & 'ord':*");
    expect(ticketSearchQuery("where is order #1042?")).toBe("'where':* & 'is':* & 'order':* & '1042':*");
    expect(ticketSearchQuery("a & !b | (c:*) 'd'")).toBe("'a':* & 'b':* & 'c':* & 'd':*");
    expect(ticketSearchQuery("Größe café")).toBe("'größe':* & 'café':*");
    expect(ticketSearchQuery("  &&& !!! ")).toBeNull();
  });

  it("matches the requester's address only for searches that look like one", () => {
    expect(requesterEmailPrefix(" Ava.Thompson@Example.com ")).toBe("ava.thompson@example.com");
    expect(requesterEmailPrefix("ava@")).toBe("ava@");
    expect(requesterEmailPrefix("refund")).toBeNull();
    expect(requesterEmailPrefix("ava @example.com")).toBeNull();
  });
});

function member(userId: string, position: number, extra: Partial<AssignmentCandidate> = {}) {
  return {
    userId,
    position,
    available: true,
    active: true,
    maxOpenTickets: null,
    openTickets: 0,
    lastAssignedAt: null,
    ...extra,
  } satisfies AssignmentCandidate;
}

describe("round robin", () => {
  const team = [member("ada", 0), member("bo", 1), member("cy", 2), member("di", 3)];

  it("hands tickets out in position order and wraps around", () => {
    let cursor = 0;
    const order: string[] = [];
    for (let i = 0; i < 9; i++) {
      const pick = pickRoundRobin(team, cursor);
      if (!pick) throw new Error("nobody picked");
      order.push(pick.member.userId);
      cursor = pick.nextCursor;
    }
    expect(order).toEqual(["ada", "bo", "cy", "di", "ada", "bo", "cy", "di", "ada"]);
  });

  it("passes over unavailable, inactive and full members for that turn only", () => {
    const mixed = [
      member("ada", 0),
      member("bo", 1, { available: false }),
      member("cy", 2, { maxOpenTickets: 2, openTickets: 2 }),
      member("di", 3, { active: false }),
      member("ed", 4),
    ];
    expect(pickRoundRobin(mixed, 1)).toEqual({ member: mixed[4], nextCursor: 5 });
    expect(pickRoundRobin(mixed, 5)).toEqual({ member: mixed[0], nextCursor: 1 });
    expect(pickRoundRobin([member("bo", 1, { available: false })], 0)).toBeNull();
  });

  it("continues from where it stopped when members are reordered or one rejoins", () => {
    // bo was skipped while away; back now, he is next because the rotation is at his position.
    const pick = pickRoundRobin([member("ada", 0), member("bo", 1), member("cy", 2)], 1);
    expect(pick?.member.userId).toBe("bo");
  });
});

describe("least loaded", () => {
  it("picks the fewest open tickets, then the least recently assigned (never first), then position", () => {
    expect(
      pickLeastLoaded([
        member("ada", 0, { openTickets: 3 }),
        member("bo", 1, { openTickets: 1, lastAssignedAt: "2026-03-02T09:00:00.000002Z" }),
        member("cy", 2, { openTickets: 1, lastAssignedAt: "2026-03-02T09:00:00.000001Z" }),
      ])?.userId,
    ).toBe("cy");
    expect(
      pickLeastLoaded([
        member("ada", 0, { openTickets: 1, lastAssignedAt: T0 }),
        member("bo", 1, { openTickets: 1 }),
      ])?.userId,
    ).toBe("bo");
    expect(pickLeastLoaded([member("bo", 1), member("ada", 0)])?.userId).toBe("ada");
  });

  it("respects the cap and availability; nobody left is null", () => {
    expect(
      pickLeastLoaded([
        member("ada", 0, { openTickets: 0, available: false }),
        member("bo", 1, { openTickets: 5, maxOpenTickets: 5 }),
        member("cy", 2, { openTickets: 4, maxOpenTickets: 5 }),
      ])?.userId,
    ).toBe("cy");
    expect(pickLeastLoaded([member("bo", 1, { openTickets: 5, maxOpenTickets: 5 })])).toBeNull();
  });
});
