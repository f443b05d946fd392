import { describe, expect, it } from "vitest";
import {
  addBusinessSeconds,
  type BusinessCalendar,
  BusinessCalendarSchema,
  businessSecondsBetween,
  type ComputedTicketSla,
  computeTicketSla,
  computeTicketSlaUnderNewRules,
  MAX_SEARCH_DAYS,
  type SlaPolicyRules,
  SlaTargetsSchema,
  slaRiskOf,
  type TicketSlaFacts,
  type WeeklyHours,
  WeeklyHoursSchema,
} from "./sla";

const HOUR = 3600;

function weekly(days: Partial<WeeklyHours>): WeeklyHours {
  return { mon: [], tue: [], wed: [], thu: [], fri: [], sat: [], sun: [], ...days };
}

const nineToFive: [string, string][] = [["09:00", "17:00"]];
const weekdays = (windows: [string, string][]) =>
  weekly({ mon: windows, tue: windows, wed: windows, thu: windows, fri: windows });

const newYorkOffice: BusinessCalendar = {
  timezone: "America/New_York",
  weekly: weekdays(nineToFive),
  holidays: [],
};

describe("addBusinessSeconds / businessSecondsBetween: wall clock and 24/7", () => {
  it("counts plain seconds without a calendar", () => {
    expect(addBusinessSeconds("2026-03-08T06:30:00.000Z", 2 * HOUR, null)).toBe("2026-03-08T08:30:00.000Z");
    expect(businessSecondsBetween("2026-03-08T06:30:00Z", "2026-03-08T08:30:00Z", null)).toBe(2 * HOUR);
    expect(businessSecondsBetween("2026-03-08T08:30:00Z", "2026-03-08T06:30:00Z", null)).toBe(-2 * HOUR);
  });

  it("treats a 24/7 calendar without holidays as the wall clock", () => {
    const open: BusinessCalendar = { timezone: "America/New_York", weekly: null, holidays: [] };
    // Across the spring-forward night: 24 real hours later, whatever the local clock says.
    expect(addBusinessSeconds("2026-03-07T12:00:00.000Z", 24 * HOUR, open)).toBe("2026-03-08T12:00:00.000Z");
  });

  it("counts the real length of DST days when every day is written out 00:00–24:00", () => {
    const allDay: [string, string][] = [["00:00", "24:00"]];
    const explicit: BusinessCalendar = {
      timezone: "America/New_York",
      weekly: weekly({
        mon: allDay,
        tue: allDay,
        wed: allDay,
        thu: allDay,
        fri: allDay,
        sat: allDay,
        sun: allDay,
      }),
      holidays: [],
    };
    // Sat 2026-03-07 00:00 EST → Mon 2026-03-09 00:00 EDT: Sunday has 23 hours.
    expect(businessSecondsBetween("2026-03-07T05:00:00Z", "2026-03-09T04:00:00Z", explicit)).toBe(47 * HOUR);
    // Sat 2026-10-31 00:00 EDT → Mon 2026-11-02 00:00 EST: Sunday has 25 hours.
    expect(businessSecondsBetween("2026-10-31T04:00:00Z", "2026-11-02T05:00:00Z", explicit)).toBe(49 * HOUR);
    expect(addBusinessSeconds("2026-03-07T05:00:00.000Z", 47 * HOUR, explicit)).toBe(
      "2026-03-09T04:00:00.000Z",
    );
  });

  it("closes whole days on holidays of a 24/7 calendar", () => {
    const open: BusinessCalendar = { timezone: "Europe/London", weekly: null, holidays: ["2026-12-25"] };
    // 2026-12-24 23:00 GMT + 2 h: one hour on Christmas Eve, Christmas closed, one hour on Boxing Day.
    expect(addBusinessSeconds("2026-12-24T23:00:00.000Z", 2 * HOUR, open)).toBe("2026-12-26T01:00:00.000Z");
  });

  it("returns the start for zero seconds", () => {
    expect(addBusinessSeconds("2026-03-07T15:00:00.000Z", 0, newYorkOffice)).toBe("2026-03-07T15:00:00.000Z");
  });
});

describe("business hours in America/New_York", () => {
  it("carries what is left on Friday evening into Monday, across the spring-forward weekend", () => {
    // Fri 2026-03-06 16:00 EST (21:00Z) + 2 h → 1 h on Friday, 1 h on Monday → Mon 10:00 EDT (14:00Z).
    expect(addBusinessSeconds("2026-03-06T21:00:00.000Z", 2 * HOUR, newYorkOffice)).toBe(
      "2026-03-09T14:00:00.000Z",
    );
    expect(businessSecondsBetween("2026-03-06T21:00:00Z", "2026-03-09T14:00:00Z", newYorkOffice)).toBe(
      2 * HOUR,
    );
  });

  it("keeps 09:00–17:00 local across the fall-back weekend", () => {
    // Fri 2026-10-30 16:00 EDT (20:00Z) + 2 h → Mon 2026-11-02 10:00 EST (15:00Z).
    expect(addBusinessSeconds("2026-10-30T20:00:00.000Z", 2 * HOUR, newYorkOffice)).toBe(
      "2026-11-02T15:00:00.000Z",
    );
  });

  it("starts counting at opening time when started outside hours", () => {
    // Sat 2026-03-07 noon + 30 min → Mon 09:30 EDT.
    expect(addBusinessSeconds("2026-03-07T17:00:00.000Z", 1800, newYorkOffice)).toBe(
      "2026-03-09T13:30:00.000Z",
    );
  });

  it("lands on the closing time rather than the next opening", () => {
    // Mon 2026-03-09 09:00 EDT + 8 h → Mon 17:00 EDT.
    expect(addBusinessSeconds("2026-03-09T13:00:00.000Z", 8 * HOUR, newYorkOffice)).toBe(
      "2026-03-09T21:00:00.000Z",
    );
  });

  it("skips holidays", () => {
    const withChristmas: BusinessCalendar = { ...newYorkOffice, holidays: ["2026-12-25"] };
    // Thu 2026-12-24 16:00 EST + 2 h → Christmas (Fri) closed → Mon 2026-12-28 10:00 EST.
    expect(addBusinessSeconds("2026-12-24T21:00:00.000Z", 2 * HOUR, withChristmas)).toBe(
      "2026-12-28T15:00:00.000Z",
    );
    expect(businessSecondsBetween("2026-12-24T14:00:00Z", "2026-12-28T22:00:00Z", withChristmas)).toBe(
      16 * HOUR,
    );
  });

  it("measures multi-week gaps", () => {
    // Mon 2026-03-02 00:00 EST → Mon 2026-03-23 00:00 EDT: three weeks of 5 × 8 h.
    expect(businessSecondsBetween("2026-03-02T05:00:00Z", "2026-03-23T04:00:00Z", newYorkOffice)).toBe(
      120 * HOUR,
    );
    // 100 business hours from Mon 2026-03-02 09:00 EST: 2 weeks (80 h) + 2.5 days → Wed 2026-03-18 13:00 EDT.
    expect(addBusinessSeconds("2026-03-02T14:00:00.000Z", 100 * HOUR, newYorkOffice)).toBe(
      "2026-03-18T17:00:00.000Z",
    );
  });

  it("walks back for a negative amount (an overdue target)", () => {
    // Mon 2026-03-09 10:00 EDT − 2 h → Fri 2026-03-06 16:00 EST.
    expect(addBusinessSeconds("2026-03-09T14:00:00.000Z", -2 * HOUR, newYorkOffice)).toBe(
      "2026-03-06T21:00:00.000Z",
    );
    expect(businessSecondsBetween("2026-03-09T14:00:00Z", "2026-03-06T21:00:00Z", newYorkOffice)).toBe(
      -2 * HOUR,
    );
  });

  it("counts an overnight window over the spring-forward night at its real length", () => {
    const nights: BusinessCalendar = {
      timezone: "America/New_York",
      weekly: weekly({ sat: [["22:00", "06:00"]] }),
      holidays: [],
    };
    // Sat 2026-03-07 22:00 EST → Sun 06:00 EDT is 7 real hours.
    expect(businessSecondsBetween("2026-03-07T12:00:00Z", "2026-03-08T20:00:00Z", nights)).toBe(7 * HOUR);
    // Sat 2026-10-31 22:00 EDT → Sun 06:00 EST is 9 real hours.
    expect(businessSecondsBetween("2026-10-31T12:00:00Z", "2026-11-01T20:00:00Z", nights)).toBe(9 * HOUR);
    // 5 h after the window opens: Sat 22:00 EST + 5 h = 03:00Z = Sun 04:00 EDT.
    expect(addBusinessSeconds("2026-03-07T20:00:00.000Z", 5 * HOUR, nights)).toBe("2026-03-08T08:00:00.000Z");
  });

  it("moves a window edge that falls into the spring-forward gap to after the gap", () => {
    const gap: BusinessCalendar = {
      timezone: "America/New_York",
      weekly: weekly({ sun: [["02:30", "04:00"]] }),
      holidays: [],
    };
    // 02:30 does not exist on 2026-03-08: the window opens at 03:30 EDT, so it is 30 minutes long.
    expect(businessSecondsBetween("2026-03-08T00:00:00Z", "2026-03-08T12:00:00Z", gap)).toBe(1800);
    // On an ordinary Sunday it is 90 minutes.
    expect(businessSecondsBetween("2026-03-15T00:00:00Z", "2026-03-15T12:00:00Z", gap)).toBe(5400);
  });

  it("does not count overlapping windows twice (overnight into the next day's morning)", () => {
    const overlapping: BusinessCalendar = {
      timezone: "America/New_York",
      weekly: weekly({ sat: [["22:00", "06:00"]], sun: [["05:00", "09:00"]] }),
      holidays: [],
    };
    // Sat 2026-03-14 22:00 → Sun 09:00 EDT, one stretch of 11 h.
    expect(businessSecondsBetween("2026-03-14T12:00:00Z", "2026-03-15T20:00:00Z", overlapping)).toBe(
      11 * HOUR,
    );
  });

  it("lets an overnight window belong to the day it opens on, also for holidays", () => {
    const nights: BusinessCalendar = {
      timezone: "America/New_York",
      weekly: weekly({ fri: [["20:00", "04:00"]], sat: [["20:00", "04:00"]] }),
      holidays: ["2026-03-13"],
    };
    // Friday the 13th is a holiday: its night shift is off; Saturday's runs 20:00 → 04:00.
    expect(businessSecondsBetween("2026-03-13T12:00:00Z", "2026-03-15T12:00:00Z", nights)).toBe(8 * HOUR);
  });
});

describe("business hours in Europe/London and Asia/Shanghai", () => {
  const londonOffice: BusinessCalendar = {
    timezone: "Europe/London",
    weekly: weekdays(nineToFive),
    holidays: [],
  };

  it("follows London's switch to BST", () => {
    // Fri 2026-03-27 16:00 GMT (16:00Z) + 2 h → Mon 2026-03-30 10:00 BST (09:00Z).
    expect(addBusinessSeconds("2026-03-27T16:00:00.000Z", 2 * HOUR, londonOffice)).toBe(
      "2026-03-30T09:00:00.000Z",
    );
  });

  it("counts the 25-hour night when London falls back", () => {
    const nightDesk: BusinessCalendar = {
      timezone: "Europe/London",
      weekly: weekly({ sun: [["00:00", "04:00"]] }),
      holidays: [],
    };
    // Sun 2026-10-25: 01:00–02:00 happens twice, so 00:00–04:00 local is 5 real hours.
    expect(businessSecondsBetween("2026-10-24T12:00:00Z", "2026-10-25T12:00:00Z", nightDesk)).toBe(5 * HOUR);
  });

  it("handles Shanghai's lunch break and holidays", () => {
    const shanghai: BusinessCalendar = {
      timezone: "Asia/Shanghai",
      weekly: weekdays([
        ["09:00", "12:00"],
        ["13:00", "18:00"],
      ]),
      holidays: [],
    };
    // Fri 2026-06-05 17:00 CST (09:00Z) + 3 h → 1 h Friday, 2 h Monday morning → Mon 11:00 CST (03:00Z).
    expect(addBusinessSeconds("2026-06-05T09:00:00.000Z", 3 * HOUR, shanghai)).toBe(
      "2026-06-08T03:00:00.000Z",
    );
    // Over lunch: Mon 11:30 + 1 h → 12:00, break, 13:30.
    expect(addBusinessSeconds("2026-06-08T03:30:00.000Z", HOUR, shanghai)).toBe("2026-06-08T05:30:00.000Z");
    const dragonBoat = { ...shanghai, holidays: ["2026-06-08"] };
    expect(addBusinessSeconds("2026-06-05T09:00:00.000Z", 3 * HOUR, dragonBoat)).toBe(
      "2026-06-09T03:00:00.000Z",
    );
    // A full day is 8 h.
    expect(businessSecondsBetween("2026-06-07T16:00:00Z", "2026-06-08T16:00:00Z", shanghai)).toBe(8 * HOUR);
  });
});

describe("half-hour DST shifts (Australia/Lord_Howe)", () => {
  const nightDesk: BusinessCalendar = {
    timezone: "Australia/Lord_Howe",
    weekly: weekly({ sun: [["01:00", "03:00"]] }),
    holidays: [],
  };

  it("loses half an hour on the first Sunday of October and gains it back in April", () => {
    // 2026-10-04 02:00 → 02:30: 01:00–03:00 local lasts 1.5 h.
    expect(businessSecondsBetween("2026-10-03T00:00:00Z", "2026-10-05T00:00:00Z", nightDesk)).toBe(
      1.5 * HOUR,
    );
    // 2026-04-05 02:00 → 01:30: 01:00–03:00 local lasts 2.5 h.
    expect(businessSecondsBetween("2026-04-04T00:00:00Z", "2026-04-06T00:00:00Z", nightDesk)).toBe(
      2.5 * HOUR,
    );
  });
});

describe("calendars that never open", () => {
  it("has no due time and no business seconds when no weekday has a window", () => {
    const closed: BusinessCalendar = { timezone: "UTC", weekly: weekly({}), holidays: [] };
    expect(addBusinessSeconds("2026-03-09T12:00:00.000Z", HOUR, closed)).toBeNull();
    expect(businessSecondsBetween("2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z", closed)).toBe(0);
  });

  it("gives up after the search horizon when every open day is a holiday", () => {
    const mondays: string[] = [];
    // Every Monday from 2026-03-02 on for longer than the search horizon.
    for (let day = Date.UTC(2026, 2, 2); mondays.length * 7 < MAX_SEARCH_DAYS + 14; day += 7 * 86_400_000) {
      mondays.push(new Date(day).toISOString().slice(0, 10));
    }
    const calendar: BusinessCalendar = {
      timezone: "UTC",
      weekly: weekly({ mon: nineToFive }),
      holidays: mondays,
    };
    expect(addBusinessSeconds("2026-03-01T00:00:00.000Z", HOUR, calendar)).toBeNull();
    expect(addBusinessSeconds("2026-03-01T00:00:00.000Z", -HOUR, calendar)).toBe("2026-02-23T16:00:00.000Z");
  });
});

describe("add and between agree", () => {
  const calendars: BusinessCalendar[] = [
    newYorkOffice,
    {
      timezone: "Europe/London",
      weekly: weekdays([
        ["08:30", "12:00"],
        ["13:00", "17:30"],
      ]),
      holidays: ["2026-12-25"],
    },
    {
      timezone: "Asia/Shanghai",
      weekly: weekly({ mon: [["22:00", "06:00"]], wed: [["00:00", "24:00"]], sat: [["10:00", "14:00"]] }),
      holidays: ["2026-10-01"],
    },
    {
      timezone: "America/New_York",
      weekly: weekly({ sat: [["20:00", "03:00"]], sun: [["01:00", "24:00"]] }),
      holidays: [],
    },
    // Half-hour DST shift, southern hemisphere (changes on the first Sundays of April and October).
    {
      timezone: "Australia/Lord_Howe",
      weekly: weekly({ sat: [["23:00", "04:00"]], sun: [["01:00", "03:00"]] }),
      holidays: [],
    },
  ];
  const starts = [
    "2026-03-06T20:17:00.000Z",
    "2026-03-08T06:59:30.000Z",
    "2026-03-28T23:45:00.000Z",
    "2026-09-30T18:00:00.000Z",
    "2026-10-31T23:00:00.000Z",
    "2026-12-24T12:00:00.000Z",
    "2026-04-04T10:00:00.000Z",
    "2026-10-03T12:00:00.000Z",
  ];
  const amounts = [1, 59, 1800, 4 * HOUR + 7, 27 * HOUR, 200 * HOUR];

  it("between(start, add(start, s)) is s, forwards and backwards, across DST and holidays", () => {
    for (const calendar of calendars) {
      for (const start of starts) {
        for (const seconds of amounts) {
          for (const signed of [seconds, -seconds]) {
            const end = addBusinessSeconds(start, signed, calendar);
            expect(end, `${calendar.timezone} ${start} ${signed}`).not.toBeNull();
            expect(
              businessSecondsBetween(start, end ?? start, calendar),
              `${calendar.timezone} ${start} ${signed}`,
            ).toBe(signed);
          }
        }
      }
    }
  });
});

describe("API schemas", () => {
  it("accepts well-formed weekly hours and rejects malformed ones", () => {
    expect(WeeklyHoursSchema.safeParse(weekdays([["09:00", "24:00"]])).success).toBe(true);
    expect(WeeklyHoursSchema.safeParse(weekly({ sat: [["22:00", "06:00"]] })).success).toBe(true);
    expect(WeeklyHoursSchema.safeParse(weekly({ mon: [["9:00", "17:00"]] })).success).toBe(false);
    expect(WeeklyHoursSchema.safeParse(weekly({ mon: [["24:00", "17:00"]] })).success).toBe(false);
    expect(WeeklyHoursSchema.safeParse(weekly({ mon: [["09:00", "09:00"]] })).success).toBe(false);
    expect(WeeklyHoursSchema.safeParse({ ...weekly({}), funday: [] }).success).toBe(false);
    const { sun: _sun, ...missingSunday } = weekly({});
    expect(WeeklyHoursSchema.safeParse(missingSunday).success).toBe(false);
  });

  it("checks timezones and holiday dates", () => {
    expect(
      BusinessCalendarSchema.safeParse({ timezone: "Asia/Shanghai", weekly: null, holidays: [] }).success,
    ).toBe(true);
    expect(
      BusinessCalendarSchema.safeParse({ timezone: "Mars/Olympus", weekly: null, holidays: [] }).success,
    ).toBe(false);
    expect(
      BusinessCalendarSchema.safeParse({ timezone: "UTC", weekly: null, holidays: ["2026-02-30"] }).success,
    ).toBe(false);
  });

  it("requires a target for every priority, positive whole minutes or null", () => {
    const target = { firstResponseMinutes: 60, resolutionMinutes: null };
    expect(
      SlaTargetsSchema.safeParse({ low: target, normal: target, high: target, urgent: target }).success,
    ).toBe(true);
    expect(SlaTargetsSchema.safeParse({ low: target, normal: target, high: target }).success).toBe(false);
    const backwards = { firstResponseMinutes: 120, resolutionMinutes: 60 };
    const result = SlaTargetsSchema.safeParse({
      low: backwards,
      normal: target,
      high: target,
      urgent: target,
    });
    expect(result.error?.issues.map((i) => i.path.join("."))).toEqual(["low.firstResponseMinutes"]);
    const bad = { firstResponseMinutes: 0, resolutionMinutes: 1.5 };
    expect(
      SlaTargetsSchema.safeParse({ low: bad, normal: target, high: target, urgent: target }).success,
    ).toBe(false);
  });
});

/* ────────────────────────────── ticket clocks ────────────────────────────── */

const policy: SlaPolicyRules = {
  id: "policy-standard",
  targets: {
    low: { firstResponseMinutes: 240, resolutionMinutes: 2400 },
    normal: { firstResponseMinutes: 60, resolutionMinutes: 480 },
    high: { firstResponseMinutes: 30, resolutionMinutes: 240 },
    urgent: { firstResponseMinutes: 15, resolutionMinutes: 120 },
  },
  businessHoursOnly: true,
  atRiskPercent: 80,
};

/** 2026-03-09 is a Monday (EDT, UTC−4). */
const ny = (dayOfMarch: number, hhmm: string) =>
  new Date(`2026-03-${String(dayOfMarch).padStart(2, "0")}T${hhmm}:00-04:00`).toISOString();

const created = ny(9, "10:00");
const facts = (overrides: Partial<TicketSlaFacts> = {}): TicketSlaFacts => ({
  status: "open",
  priority: "normal",
  createdAt: created,
  firstRespondedAt: null,
  solvedAt: null,
  ...overrides,
});

describe("computeTicketSla: one ticket's life", () => {
  const atCreation = computeTicketSla({
    previous: null,
    facts: facts(),
    policy,
    calendar: newYorkOffice,
    now: created,
  });

  it("starts both clocks at creation with due and at-risk times in business hours", () => {
    expect(atCreation).toEqual<ComputedTicketSla>({
      policyId: "policy-standard",
      firstResponseDueAt: ny(9, "11:00"),
      resolutionDueAt: ny(10, "10:00"),
      firstResponseElapsedSeconds: 0,
      resolutionElapsedSeconds: 0,
      clockStartedAt: created,
      pausedAt: null,
      firstResponseAtRiskAfter: ny(9, "10:48"),
      resolutionAtRiskAfter: ny(9, "16:24"),
    });
  });

  const pending = computeTicketSla({
    previous: atCreation,
    facts: facts({ status: "pending" }),
    policy,
    calendar: newYorkOffice,
    now: ny(9, "10:30"),
  });

  it("pauses both clocks while pending on the customer", () => {
    expect(pending).toMatchObject({
      firstResponseDueAt: null,
      resolutionDueAt: null,
      firstResponseElapsedSeconds: 1800,
      resolutionElapsedSeconds: 1800,
      clockStartedAt: null,
      pausedAt: ny(9, "10:30"),
      firstResponseAtRiskAfter: null,
      resolutionAtRiskAfter: null,
    });
  });

  it("keeps the pause and what was used when a paused ticket changes again", () => {
    const stillPending = computeTicketSla({
      previous: pending,
      facts: facts({ status: "pending", priority: "high" }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "12:00"),
    });
    expect(stillPending).toEqual({ ...pending, policyId: "policy-standard" });
  });

  const resumed = computeTicketSla({
    previous: pending,
    facts: facts(),
    policy,
    calendar: newYorkOffice,
    now: ny(9, "16:30"),
  });

  it("resumes from what was used, with the time pending not counted", () => {
    expect(resumed).toMatchObject({
      firstResponseElapsedSeconds: 1800,
      resolutionElapsedSeconds: 1800,
      clockStartedAt: ny(9, "16:30"),
      pausedAt: null,
      firstResponseDueAt: ny(9, "17:00"),
      // 7.5 h left: 30 min today, 7 h on Tuesday.
      resolutionDueAt: ny(10, "16:00"),
      // 48 min at risk threshold − 30 used = 18 min.
      firstResponseAtRiskAfter: ny(9, "16:48"),
    });
  });

  const responded = computeTicketSla({
    previous: resumed,
    facts: facts({ firstRespondedAt: ny(9, "16:45") }),
    policy,
    calendar: newYorkOffice,
    now: ny(9, "16:50"),
  });

  it("stops the first-response clock for good at the first response", () => {
    expect(responded).toMatchObject({
      firstResponseElapsedSeconds: 1800 + 900,
      firstResponseDueAt: null,
      firstResponseAtRiskAfter: null,
      resolutionElapsedSeconds: 1800 + 1200,
    });
    const later = computeTicketSla({
      previous: responded,
      facts: facts({ firstRespondedAt: ny(9, "16:45") }),
      policy,
      calendar: newYorkOffice,
      now: ny(10, "12:00"),
    });
    expect(later.firstResponseElapsedSeconds).toBe(2700);
    expect(later.resolutionElapsedSeconds).toBe(3000 + 600 + 3 * HOUR);
  });

  const solved = computeTicketSla({
    previous: responded,
    facts: facts({ status: "solved", firstRespondedAt: ny(9, "16:45"), solvedAt: ny(10, "10:00") }),
    policy,
    calendar: newYorkOffice,
    now: ny(10, "10:05"),
  });

  it("stops the resolution clock at the moment the ticket was solved", () => {
    expect(solved).toMatchObject({
      resolutionElapsedSeconds: 3000 + 600 + HOUR,
      resolutionDueAt: null,
      clockStartedAt: null,
      pausedAt: null,
    });
  });

  it("restarts the resolution clock from what was used when reopened, ignoring the old solve time", () => {
    const reopened = computeTicketSla({
      previous: solved,
      facts: facts({ firstRespondedAt: ny(9, "16:45"), solvedAt: ny(10, "10:00") }),
      policy,
      calendar: newYorkOffice,
      now: ny(11, "09:30"),
    });
    expect(reopened).toMatchObject({
      resolutionElapsedSeconds: 7200,
      clockStartedAt: ny(11, "09:30"),
      resolutionDueAt: ny(11, "15:30"),
      firstResponseDueAt: null,
    });
  });

  it("keeps on_hold running (it waits on a third party, not the customer)", () => {
    const onHold = computeTicketSla({
      previous: atCreation,
      facts: facts({ status: "on_hold" }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "10:20"),
    });
    expect(onHold).toMatchObject({ clockStartedAt: ny(9, "10:20"), firstResponseDueAt: ny(9, "11:00") });
  });

  it("stops the first-response clock when solved without a response", () => {
    const closedUnanswered = computeTicketSla({
      previous: atCreation,
      facts: facts({ status: "closed", solvedAt: ny(9, "10:40") }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "11:30"),
    });
    expect(closedUnanswered).toMatchObject({
      firstResponseElapsedSeconds: 2400,
      resolutionElapsedSeconds: 2400,
      firstResponseDueAt: null,
      resolutionDueAt: null,
      clockStartedAt: null,
    });
  });
});

describe("computeTicketSla: recompute after a change of rules", () => {
  const running = computeTicketSla({
    previous: null,
    facts: facts(),
    policy,
    calendar: newYorkOffice,
    now: created,
  });

  it("derives new due times from the time used when the priority changes", () => {
    const urgent = computeTicketSla({
      previous: running,
      facts: facts({ priority: "urgent" }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "10:05"),
    });
    expect(urgent).toMatchObject({
      firstResponseElapsedSeconds: 300,
      firstResponseDueAt: ny(9, "10:15"),
      resolutionDueAt: ny(9, "12:00"),
    });
  });

  it("puts the due time in the past when the new target is already spent", () => {
    const urgent = computeTicketSla({
      previous: running,
      facts: facts({ priority: "urgent" }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "16:30"),
    });
    // 6.5 h used of a 2 h resolution target: it was due at 12:00.
    expect(urgent.resolutionDueAt).toBe(ny(9, "12:00"));
    expect(urgent.firstResponseDueAt).toBe(ny(9, "10:15"));
  });

  it("measures wall-clock time when the policy does not keep to business hours", () => {
    const aroundTheClock = { ...policy, id: "policy-24-7", businessHoursOnly: false };
    const evening = computeTicketSla({
      previous: running,
      facts: facts(),
      policy: aroundTheClock,
      calendar: newYorkOffice,
      now: ny(9, "20:00"),
    });
    expect(evening).toMatchObject({
      policyId: "policy-24-7",
      // 10:00 → 20:00 is 10 wall hours (the previous segment is measured with the new rules).
      resolutionElapsedSeconds: 10 * HOUR,
      // Both targets were spent during the evening: due 1 h and 8 h after creation.
      firstResponseDueAt: ny(9, "11:00"),
      resolutionDueAt: ny(9, "18:00"),
    });
  });

  it("follows a team's new calendar", () => {
    const shanghaiTeam: BusinessCalendar = {
      timezone: "Asia/Shanghai",
      weekly: weekdays(nineToFive),
      holidays: [],
    };
    // Mon 10:30 EDT = Mon 22:30 CST: Shanghai is closed from 10:00 to 10:30 EDT, nothing used.
    const moved = computeTicketSla({
      previous: running,
      facts: facts(),
      policy,
      calendar: shanghaiTeam,
      now: ny(9, "10:30"),
    });
    expect(moved.firstResponseElapsedSeconds).toBe(0);
    // Due at Tue 10:00 CST = Mon 22:00 EDT.
    expect(moved.firstResponseDueAt).toBe(ny(9, "22:00"));
  });

  it("banks the time used under the old team's rules before the new team's apply", () => {
    const shanghaiTeam: BusinessCalendar = {
      timezone: "Asia/Shanghai",
      weekly: weekdays(nineToFive),
      holidays: [],
    };
    const aroundTheClock = { ...policy, id: "policy-24-7", businessHoursOnly: false };
    // 10:00 → 10:30 EDT in the New York office: 30 minutes used, whatever Shanghai's hours (closed then).
    const moved = computeTicketSlaUnderNewRules({
      previous: running,
      facts: facts(),
      ranUnder: { policy, calendar: newYorkOffice },
      from: { policy, calendar: shanghaiTeam },
      now: ny(9, "10:30"),
    });
    expect(moved).toMatchObject({ firstResponseElapsedSeconds: 1800, clockStartedAt: ny(9, "10:30") });
    // The 30 minutes left run from Shanghai's next opening, Tue 09:00 CST = Mon 21:00 EDT.
    expect(moved.firstResponseDueAt).toBe(ny(9, "21:30"));

    // Evening hours under a 24/7 policy stay wall-clock hours when the ticket moves to a business-hours one.
    const evening = computeTicketSlaUnderNewRules({
      previous: computeTicketSla({
        previous: null,
        facts: facts(),
        policy: aroundTheClock,
        calendar: newYorkOffice,
        now: created,
      }),
      facts: facts(),
      ranUnder: { policy: aroundTheClock, calendar: newYorkOffice },
      from: { policy, calendar: newYorkOffice },
      now: ny(9, "20:00"),
    });
    expect(evening).toMatchObject({ policyId: "policy-standard", resolutionElapsedSeconds: 10 * HOUR });
    // 10 h used of an 8 h business-hours target: 2 business hours overdue, so due at 15:00 (office closes 17:00).
    expect(evening.resolutionDueAt).toBe(ny(9, "15:00"));

    // Nothing changed: the same as one computeTicketSla.
    const same = { policy, calendar: newYorkOffice };
    expect(
      computeTicketSlaUnderNewRules({
        previous: running,
        facts: facts({ priority: "high" }),
        ranUnder: same,
        from: same,
        now: ny(9, "13:00"),
      }),
    ).toEqual(
      computeTicketSla({
        previous: running,
        facts: facts({ priority: "high" }),
        ...same,
        now: ny(9, "13:00"),
      }),
    );
  });

  it("drops due times but keeps counting when the policy is removed", () => {
    const none = computeTicketSla({
      previous: running,
      facts: facts(),
      policy: null,
      calendar: newYorkOffice,
      now: ny(9, "11:00"),
    });
    expect(none).toMatchObject({
      policyId: null,
      firstResponseDueAt: null,
      resolutionDueAt: null,
      firstResponseElapsedSeconds: HOUR,
      clockStartedAt: ny(9, "11:00"),
    });
  });

  it("has no due time when the team's calendar never opens", () => {
    const closed: BusinessCalendar = { timezone: "UTC", weekly: weekly({}), holidays: [] };
    const stuck = computeTicketSla({
      previous: null,
      facts: facts(),
      policy,
      calendar: closed,
      now: created,
    });
    expect(stuck.firstResponseDueAt).toBeNull();
    expect(stuck.resolutionDueAt).toBeNull();
  });

  it("counts from creation for a ticket with no state yet", () => {
    const late = computeTicketSla({
      previous: null,
      facts: facts(),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "10:40"),
    });
    expect(late).toMatchObject({ firstResponseElapsedSeconds: 2400, firstResponseDueAt: ny(9, "11:00") });
  });

  it("never counts backwards when clocks disagree", () => {
    const skewed = computeTicketSla({
      previous: running,
      facts: facts(),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "09:59"),
    });
    expect(skewed.firstResponseElapsedSeconds).toBe(0);
  });

  it("rejects timestamps that are not timestamps", () => {
    expect(() =>
      computeTicketSla({ previous: null, facts: facts(), policy, calendar: null, now: "soon" }),
    ).toThrow(RangeError);
  });
});

describe("slaRiskOf", () => {
  const running = computeTicketSla({
    previous: null,
    facts: facts(),
    policy,
    calendar: newYorkOffice,
    now: created,
  });

  it("is ok before the at-risk share, at risk after it, breached after the due time", () => {
    expect(slaRiskOf(running, policy, ny(9, "10:30"), "normal")).toEqual({
      firstResponse: "ok",
      resolution: "ok",
    });
    expect(slaRiskOf(running, policy, ny(9, "10:48"), "normal")).toEqual({
      firstResponse: "at_risk",
      resolution: "ok",
    });
    expect(slaRiskOf(running, policy, ny(9, "11:00"), "normal")).toEqual({
      firstResponse: "at_risk",
      resolution: "ok",
    });
    expect(slaRiskOf(running, policy, ny(9, "11:01"), "normal")).toEqual({
      firstResponse: "breached",
      resolution: "ok",
    });
    expect(slaRiskOf(running, policy, ny(9, "16:30"), "normal")).toEqual({
      firstResponse: "breached",
      resolution: "at_risk",
    });
  });

  it("judges stopped clocks by the time they used", () => {
    const answeredLate = computeTicketSla({
      previous: running,
      facts: facts({ firstRespondedAt: ny(9, "11:30") }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "11:30"),
    });
    expect(slaRiskOf(answeredLate, policy, ny(12, "12:00"), "normal").firstResponse).toBe("breached");
    const answeredInTime = computeTicketSla({
      previous: running,
      facts: facts({ firstRespondedAt: ny(9, "10:20") }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "10:20"),
    });
    expect(slaRiskOf(answeredInTime, policy, ny(12, "12:00"), "normal").firstResponse).toBe("ok");
  });

  it("calls a target met (ok), not at risk, once its clock stopped within it", () => {
    // First response at 10:55: 55 of 60 minutes used, past the 80 % at-risk share.
    const answeredClose = computeTicketSla({
      previous: running,
      facts: facts({ firstRespondedAt: ny(9, "10:55") }),
      policy,
      calendar: newYorkOffice,
      now: ny(9, "10:55"),
    });
    expect(slaRiskOf(answeredClose, policy, ny(9, "11:30"), "normal").firstResponse).toBe("at_risk");
    expect(
      slaRiskOf(answeredClose, policy, ny(9, "11:30"), "normal", { firstResponse: true }).firstResponse,
    ).toBe("ok");
    // Solved after 7.5 of 8 business hours: met. A breach stays a breach however the clock stopped.
    const solvedClose = computeTicketSla({
      previous: running,
      facts: facts({ status: "solved", firstRespondedAt: ny(9, "10:55"), solvedAt: ny(10, "09:30") }),
      policy,
      calendar: newYorkOffice,
      now: ny(10, "09:30"),
    });
    const stopped = { firstResponse: true, resolution: true };
    expect(slaRiskOf(solvedClose, policy, ny(12, "12:00"), "normal", stopped)).toEqual({
      firstResponse: "ok",
      resolution: "ok",
    });
    const solvedLate = computeTicketSla({
      previous: running,
      facts: facts({ status: "solved", firstRespondedAt: ny(9, "11:30"), solvedAt: ny(10, "11:00") }),
      policy,
      calendar: newYorkOffice,
      now: ny(10, "11:00"),
    });
    expect(slaRiskOf(solvedLate, policy, ny(12, "12:00"), "normal", stopped)).toEqual({
      firstResponse: "breached",
      resolution: "breached",
    });
  });

  it("has no verdict for targets the policy leaves out, or without a policy", () => {
    const noResolution: SlaPolicyRules = {
      ...policy,
      targets: { ...policy.targets, normal: { firstResponseMinutes: 60, resolutionMinutes: null } },
    };
    expect(slaRiskOf(running, noResolution, created, "normal")).toEqual({
      firstResponse: "ok",
      resolution: null,
    });
    expect(slaRiskOf(running, null, created, "normal")).toEqual({ firstResponse: null, resolution: null });
  });
});
