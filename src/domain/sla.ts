/**
 * SLA clocks of a ticket: pure rules, no I/O.
 *
 * A ticket has two clocks, first response and resolution. Each counts "SLA seconds": seconds inside the
 * team's business calendar when the policy says `businessHoursOnly` (and a calendar is known), else plain
 * wall-clock seconds. The clocks run while the ticket is `open` or `on_hold`, pause while it is `pending`
 * (waiting on the customer), and stop when it is `solved` or `closed`; the first-response clock stops for
 * good at the first response. The persisted state is what was used so far (`*ElapsedSeconds`) plus the
 * instant the running segment began (`clockStartedAt`), so any change — status, priority, policy, calendar —
 * is handled the same way: bank the segment that just ended, then derive due times from what is left. That
 * is why a policy or team change simply recomputes.
 *
 * Calendar math maps instants to local wall time with `Intl.DateTimeFormat` (no tz library). Local wall
 * times that do not exist (spring-forward gap) move forward by the gap, ambiguous ones (fall-back) take the
 * earlier instant — the "compatible" rule of Temporal and of most calendars.
 */
import * as z from "zod";

export const SLA_PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export type SlaPriority = (typeof SLA_PRIORITIES)[number];

export const WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
export type Weekday = (typeof WEEKDAYS)[number];

/**
 * Opening windows per weekday, `["HH:MM", "HH:MM"]` in the calendar's timezone. The end may be `"24:00"`;
 * an end before the start is an overnight window that closes on the next day (it belongs to the day it
 * opens on, also for holidays).
 */
export type WeeklyHours = Record<Weekday, [string, string][]>;

export interface BusinessCalendar {
  /** IANA timezone the weekly hours and holidays are written in. */
  timezone: string;
  /** null = open around the clock (holidays still close whole days). */
  weekly: WeeklyHours | null;
  /** Local dates (`YYYY-MM-DD`) with no opening hours. */
  holidays: string[];
}

export interface SlaTarget {
  firstResponseMinutes: number | null;
  resolutionMinutes: number | null;
}

export type SlaTargets = Record<SlaPriority, SlaTarget>;

export interface SlaPolicyRules {
  id: string;
  targets: SlaTargets;
  businessHoursOnly: boolean;
  /** A target is at risk once this share (1–99 %) of it is used. */
  atRiskPercent: number;
}

export type SlaTicketStatus = "open" | "pending" | "on_hold" | "solved" | "closed";

/** The ticket facts the clocks depend on. */
export interface TicketSlaFacts {
  status: SlaTicketStatus;
  priority: SlaPriority;
  createdAt: string;
  firstRespondedAt: string | null;
  solvedAt: string | null;
}

/**
 * The persisted clock state, one field per `tickets` column: sla_policy_id, first_response_due_at,
 * resolution_due_at, sla_first_response_elapsed_seconds, sla_resolution_elapsed_seconds,
 * sla_clock_started_at, sla_paused_at.
 */
export interface TicketSlaState {
  policyId: string | null;
  firstResponseDueAt: string | null;
  resolutionDueAt: string | null;
  firstResponseElapsedSeconds: number;
  resolutionElapsedSeconds: number;
  /** Start of the running segment; null while paused or stopped. */
  clockStartedAt: string | null;
  /** When the clocks were paused (status pending); null otherwise. */
  pausedAt: string | null;
}

/**
 * What `computeTicketSla` returns: the state plus the instants from which each running target counts as at
 * risk (columns first_response_at_risk_after, resolution_at_risk_after). They are derived like the due
 * times, because "at risk" is a share of business time and the SLA sweep (plain SQL) cannot do calendar
 * math — persist them with the rest, or at-risk tickets are never reported.
 */
export interface ComputedTicketSla extends TicketSlaState {
  firstResponseAtRiskAfter: string | null;
  resolutionAtRiskAfter: string | null;
}

export type SlaRisk = "ok" | "at_risk" | "breached";
export type SlaTargetName = "firstResponse" | "resolution";

/* ────────────────────────────── API schemas ────────────────────────────── */

const OPENS_AT = /^([01]\d|2[0-3]):[0-5]\d$/;
const CLOSES_AT = /^(([01]\d|2[0-3]):[0-5]\d|24:00)$/;
const LOCAL_DATE = /^\d{4}-\d{2}-\d{2}$/;
/** A year of minutes: longer targets are data-entry mistakes, and they bound the calendar walk. */
export const MAX_TARGET_MINUTES = 525_600;

export function isValidTimezone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

function isRealLocalDate(value: string): boolean {
  if (!LOCAL_DATE.test(value)) return false;
  const parsed = new Date(`${value}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === value;
}

export const OpeningWindowSchema = z
  .tuple([
    z.string().regex(OPENS_AT, "opening time must be HH:MM (00:00–23:59)"),
    z.string().regex(CLOSES_AT, "closing time must be HH:MM (00:00–24:00)"),
  ])
  .refine(([opens, closes]) => opens !== closes, {
    message: "a window must not open and close at the same time",
  });

export const WeeklyHoursSchema = z.strictObject(
  Object.fromEntries(WEEKDAYS.map((day) => [day, z.array(OpeningWindowSchema).max(12)])) as Record<
    Weekday,
    z.ZodArray<typeof OpeningWindowSchema>
  >,
);

export const TimezoneSchema = z.string().min(1).max(64).refine(isValidTimezone, "unknown IANA timezone");

export const HolidaysSchema = z
  .array(z.string().refine(isRealLocalDate, "holidays are local dates YYYY-MM-DD"))
  .max(1000);

export const BusinessCalendarSchema = z.object({
  timezone: TimezoneSchema,
  weekly: WeeklyHoursSchema.nullable(),
  holidays: HolidaysSchema,
});

const TargetMinutesSchema = z.int().min(1).max(MAX_TARGET_MINUTES).nullable();

export const SlaTargetSchema = z
  .strictObject({
    firstResponseMinutes: TargetMinutesSchema,
    resolutionMinutes: TargetMinutesSchema,
  })
  .refine(
    (t) =>
      t.firstResponseMinutes === null ||
      t.resolutionMinutes === null ||
      t.firstResponseMinutes <= t.resolutionMinutes,
    {
      message: "the first-response target cannot be longer than the resolution target",
      path: ["firstResponseMinutes"],
    },
  );

export const SlaTargetsSchema = z.strictObject({
  low: SlaTargetSchema,
  normal: SlaTargetSchema,
  high: SlaTargetSchema,
  urgent: SlaTargetSchema,
});

export const AtRiskPercentSchema = z.int().min(1).max(99);

/* ────────────────────────────── local time ────────────────────────────── */

const MS_PER_MINUTE = 60_000;
const MS_PER_DAY = 86_400_000;
const MINUTES_PER_DAY = 1440;
/** Days per calendar slab: a week keeps the slab small while a long search makes few of them. */
const SLAB_DAYS = 7;
/** How far a due-time search looks before it gives up: a calendar open too rarely has no due time. */
export const MAX_SEARCH_DAYS = 3660;

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timezone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timezone);
  if (formatter === undefined) {
    formatter = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(timezone, formatter);
  }
  return formatter;
}

/** Local wall time minus UTC at an instant, in ms (e.g. −5 h in New York in January), read from Intl. */
function offsetFromIntl(timezone: string, instantMs: number): number {
  const wholeSeconds = Math.floor(instantMs / 1000) * 1000;
  const fields = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterOf(timezone).formatToParts(wholeSeconds)) {
    if (part.type in fields) fields[part.type as keyof typeof fields] = Number(part.value);
  }
  // Some engines print midnight as 24 even with h23.
  const hour = fields.hour === 24 ? 0 : fields.hour;
  const wall = Date.UTC(fields.year, fields.month - 1, fields.day, hour, fields.minute, fields.second);
  return wall - wholeSeconds;
}

/** A UTC day's offsets: at its start, after its offset change (if any), and when the change happens. */
interface DayOffsets {
  atStart: number;
  atEnd: number;
  changesAt: number | null;
}

/**
 * Offsets per timezone and UTC day. Intl is by far the slowest part of the calendar walk, and a zone
 * changes offset at most once a day, so two Intl reads per day (plus a binary search on the rare change
 * day) answer every instant in it. Bounded: cleared when it grows past a few years of days per zone.
 */
const offsetsByZone = new Map<string, Map<number, DayOffsets>>();
const MAX_CACHED_DAYS_PER_ZONE = 20_000;

function offsetAt(timezone: string, instantMs: number): number {
  const utcDay = Math.floor(instantMs / MS_PER_DAY);
  let days = offsetsByZone.get(timezone);
  if (days === undefined) {
    days = new Map();
    offsetsByZone.set(timezone, days);
  }
  let offsets = days.get(utcDay);
  if (offsets === undefined) {
    const dayStart = utcDay * MS_PER_DAY;
    const atStart = offsetFromIntl(timezone, dayStart);
    const atEnd = offsetFromIntl(timezone, dayStart + MS_PER_DAY);
    let changesAt: number | null = null;
    if (atStart !== atEnd) {
      // The first whole second that reads the new offset.
      let before = dayStart;
      let after = dayStart + MS_PER_DAY;
      while (after - before > 1000) {
        const middle = before + Math.floor((after - before) / 2000) * 1000;
        if (offsetFromIntl(timezone, middle) === atStart) before = middle;
        else after = middle;
      }
      changesAt = after;
    }
    offsets = { atStart, atEnd, changesAt };
    if (days.size >= MAX_CACHED_DAYS_PER_ZONE) days.clear();
    days.set(utcDay, offsets);
  }
  if (offsets.changesAt === null || instantMs < offsets.changesAt) return offsets.atStart;
  return offsets.atEnd;
}

/** Local calendar day (days since 1970-01-01) an instant falls on. */
function localDayOf(timezone: string, instantMs: number): number {
  return Math.floor((instantMs + offsetAt(timezone, instantMs)) / MS_PER_DAY);
}

/** The instant of a local wall time (`minutes` past local midnight of `day`, may exceed one day). */
function instantOfLocal(timezone: string, day: number, minutes: number): number {
  const wall = day * MS_PER_DAY + minutes * MS_PER_MINUTE;
  // Real zones change offset at most once within two days, so the offsets a day either side are the
  // only candidates.
  const before = offsetAt(timezone, wall - MS_PER_DAY);
  const after = offsetAt(timezone, wall + MS_PER_DAY);
  if (before === after) return wall - before;
  const candidates = [wall - before, wall - after].sort((x, y) => x - y);
  for (const candidate of candidates) {
    if (candidate + offsetAt(timezone, candidate) === wall) return candidate;
  }
  // In the spring-forward gap: read the wall time with the offset in force before the change.
  return wall - before;
}

function weekdayOf(day: number): Weekday {
  // 1970-01-01 was a Thursday (index 3 of mon..sun).
  const index = (((day + 3) % 7) + 7) % 7;
  return WEEKDAYS[index] ?? "mon";
}

function dayNumberOf(localDate: string): number {
  return Math.floor(Date.parse(`${localDate}T00:00:00Z`) / MS_PER_DAY);
}

function minutesOf(hhmm: string): number {
  const [hours, minutes] = hhmm.split(":");
  return Number(hours) * 60 + Number(minutes);
}

interface CompiledCalendar {
  timezone: string;
  /** Per weekday, windows as minutes past the day's local midnight; `end` may run into the next day. */
  windows: Record<Weekday, { start: number; end: number }[]>;
  holidays: Set<number>;
  /** No weekday has a window: nothing can ever be due. */
  neverOpen: boolean;
}

function compile(calendar: BusinessCalendar): CompiledCalendar {
  const windows = {} as Record<Weekday, { start: number; end: number }[]>;
  let neverOpen = true;
  for (const weekday of WEEKDAYS) {
    const list: { start: number; end: number }[] = [];
    const raw =
      calendar.weekly === null ? [["00:00", "24:00"] as [string, string]] : calendar.weekly[weekday];
    for (const [opens, closes] of raw) {
      const start = minutesOf(opens);
      let end = minutesOf(closes);
      if (end === start) continue;
      if (end < start) end += MINUTES_PER_DAY;
      list.push({ start, end });
    }
    if (list.length > 0) neverOpen = false;
    windows[weekday] = list;
  }
  return {
    timezone: calendar.timezone,
    windows,
    holidays: new Set(calendar.holidays.map(dayNumberOf)),
    neverOpen,
  };
}

/**
 * Open intervals (instants, merged, sorted) within the slab of local days [firstDay, lastDay]: from local
 * midnight of `firstDay` to local midnight after `lastDay`. Windows opened the day before may reach in.
 * Slabs of consecutive days tile time, so walking slab after slab never counts a second twice.
 */
function openIntervals(calendar: CompiledCalendar, firstDay: number, lastDay: number): [number, number][] {
  const { timezone } = calendar;
  const slabStart = instantOfLocal(timezone, firstDay, 0);
  const slabEnd = instantOfLocal(timezone, lastDay + 1, 0);
  const raw: [number, number][] = [];
  for (let day = firstDay - 1; day <= lastDay; day++) {
    if (calendar.holidays.has(day)) continue;
    for (const window of calendar.windows[weekdayOf(day)]) {
      const start = Math.max(instantOfLocal(timezone, day, window.start), slabStart);
      const end = Math.min(instantOfLocal(timezone, day, window.end), slabEnd);
      if (end > start) raw.push([start, end]);
    }
  }
  raw.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const interval of raw) {
    const last = merged[merged.length - 1];
    if (last !== undefined && interval[0] <= last[1]) last[1] = Math.max(last[1], interval[1]);
    else merged.push([interval[0], interval[1]]);
  }
  return merged;
}

/** True when a calendar adds nothing over wall-clock time (24/7 without holidays). */
function isAroundTheClock(calendar: BusinessCalendar): boolean {
  return calendar.weekly === null && calendar.holidays.length === 0;
}

function instantOf(value: string, field: string): number {
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) throw new RangeError(`${field} is not a timestamp: ${value}`);
  return ms;
}

function forward(calendar: CompiledCalendar, fromMs: number, amountMs: number): number | null {
  let remaining = amountMs;
  let day = localDayOf(calendar.timezone, fromMs);
  for (let searched = 0; searched < MAX_SEARCH_DAYS; searched += SLAB_DAYS, day += SLAB_DAYS) {
    for (const [start, end] of openIntervals(calendar, day, day + SLAB_DAYS - 1)) {
      const from = Math.max(start, fromMs);
      if (end <= from) continue;
      if (remaining <= end - from) return from + remaining;
      remaining -= end - from;
    }
  }
  return null;
}

function backward(calendar: CompiledCalendar, fromMs: number, amountMs: number): number | null {
  let remaining = amountMs;
  let day = localDayOf(calendar.timezone, fromMs);
  for (let searched = 0; searched < MAX_SEARCH_DAYS; searched += SLAB_DAYS, day -= SLAB_DAYS) {
    const intervals = openIntervals(calendar, day - SLAB_DAYS + 1, day);
    for (let index = intervals.length - 1; index >= 0; index--) {
      const interval = intervals[index];
      if (interval === undefined) continue;
      const to = Math.min(interval[1], fromMs);
      if (to <= interval[0]) continue;
      if (remaining <= to - interval[0]) return to - remaining;
      remaining -= to - interval[0];
    }
  }
  return null;
}

function businessMsBetween(calendar: CompiledCalendar, fromMs: number, toMs: number): number {
  if (calendar.neverOpen) return 0;
  let total = 0;
  const lastDay = localDayOf(calendar.timezone, toMs);
  for (let day = localDayOf(calendar.timezone, fromMs); day <= lastDay; day += SLAB_DAYS) {
    for (const [start, end] of openIntervals(calendar, day, day + SLAB_DAYS - 1)) {
      const overlap = Math.min(end, toMs) - Math.max(start, fromMs);
      if (overlap > 0) total += overlap;
    }
  }
  return total;
}

function addMs(calendar: BusinessCalendar | null, fromMs: number, amountMs: number): number | null {
  if (calendar === null || isAroundTheClock(calendar)) return fromMs + amountMs;
  if (amountMs === 0) return fromMs;
  const compiled = compile(calendar);
  if (compiled.neverOpen) return null;
  return amountMs > 0 ? forward(compiled, fromMs, amountMs) : backward(compiled, fromMs, -amountMs);
}

function msBetween(calendar: BusinessCalendar | null, fromMs: number, toMs: number): number {
  if (toMs < fromMs) return -msBetween(calendar, toMs, fromMs);
  if (calendar === null || isAroundTheClock(calendar)) return toMs - fromMs;
  return businessMsBetween(compile(calendar), fromMs, toMs);
}

/**
 * The instant `seconds` of business time after `start` (before it, when negative), or null when the
 * calendar has no opening hours within {@link MAX_SEARCH_DAYS} days. A null calendar means wall-clock time.
 * A due time that lands on a closing time stays there (it does not jump to the next opening).
 */
export function addBusinessSeconds(
  start: string,
  seconds: number,
  calendar: BusinessCalendar | null,
): string | null {
  const result = addMs(calendar, instantOf(start, "start"), Math.round(seconds * 1000));
  return result === null ? null : new Date(result).toISOString();
}

/** Business seconds from `a` to `b` (negative when `b` is before `a`); a null calendar means wall-clock time. */
export function businessSecondsBetween(a: string, b: string, calendar: BusinessCalendar | null): number {
  return msBetween(calendar, instantOf(a, "a"), instantOf(b, "b")) / 1000;
}

/* ────────────────────────────── ticket clocks ────────────────────────────── */

/** The calendar a policy measures in: null (wall clock) unless it counts business hours and one is known. */
export function clockCalendarOf(
  policy: SlaPolicyRules | null,
  calendar: BusinessCalendar | null,
): BusinessCalendar | null {
  if (policy !== null && !policy.businessHoursOnly) return null;
  return calendar;
}

function isRunning(status: SlaTicketStatus): boolean {
  return status === "open" || status === "on_hold";
}

export interface ComputeTicketSlaInput {
  /** The persisted state, or null for a ticket that has none yet (its clocks started at creation). */
  previous: TicketSlaState | null;
  facts: TicketSlaFacts;
  policy: SlaPolicyRules | null;
  /** The calendar of the ticket's team (or the tenant's default); null = wall-clock time. */
  calendar: BusinessCalendar | null;
  now: string;
}

/**
 * The clock state after a change at `now`. Banks the SLA time of the segment that just ended (measured in
 * the calendar given now — callers recompute on every change, so segments are short), then sets the clocks
 * running, paused or stopped by status and derives due and at-risk instants from the target left.
 */
export function computeTicketSla(input: ComputeTicketSlaInput): ComputedTicketSla {
  const { facts, policy, now } = input;
  const nowMs = instantOf(now, "now");
  const clock = clockCalendarOf(policy, input.calendar);
  const previous: TicketSlaState = input.previous ?? {
    policyId: null,
    firstResponseDueAt: null,
    resolutionDueAt: null,
    firstResponseElapsedSeconds: 0,
    resolutionElapsedSeconds: 0,
    clockStartedAt: facts.createdAt,
    pausedAt: null,
  };

  let firstResponseMs = previous.firstResponseElapsedSeconds * 1000;
  let resolutionMs = previous.resolutionElapsedSeconds * 1000;
  if (previous.clockStartedAt !== null) {
    const startedMs = instantOf(previous.clockStartedAt, "clockStartedAt");
    // A clock stops at the moment the response or the solution was made, even when recorded later.
    const resolutionEnd =
      (facts.status === "solved" || facts.status === "closed") && facts.solvedAt !== null
        ? Math.min(nowMs, instantOf(facts.solvedAt, "solvedAt"))
        : nowMs;
    const firstResponseEnd =
      facts.firstRespondedAt === null
        ? resolutionEnd
        : Math.min(resolutionEnd, instantOf(facts.firstRespondedAt, "firstRespondedAt"));
    if (firstResponseEnd > startedMs) firstResponseMs += msBetween(clock, startedMs, firstResponseEnd);
    if (resolutionEnd > startedMs) resolutionMs += msBetween(clock, startedMs, resolutionEnd);
  }
  const firstResponseElapsedSeconds = Math.max(0, Math.round(firstResponseMs / 1000));
  const resolutionElapsedSeconds = Math.max(0, Math.round(resolutionMs / 1000));

  const running = isRunning(facts.status);
  const target = policy === null ? null : policy.targets[facts.priority];
  const dueOf = (minutes: number | null, elapsedSeconds: number, share: number): string | null => {
    if (!running || minutes === null) return null;
    const leftMs = Math.round(minutes * MS_PER_MINUTE * share) - elapsedSeconds * 1000;
    // Already overdue: the search back can fail only when the calendar changed to one never open; the
    // target is spent either way, so it is due now.
    const due = addMs(clock, nowMs, leftMs) ?? (leftMs <= 0 ? nowMs : null);
    return due === null ? null : new Date(due).toISOString();
  };
  const firstResponseMinutes =
    facts.firstRespondedAt === null ? (target?.firstResponseMinutes ?? null) : null;
  const resolutionMinutes = target?.resolutionMinutes ?? null;
  const atRiskShare = policy === null ? 1 : policy.atRiskPercent / 100;

  return {
    policyId: policy?.id ?? null,
    firstResponseDueAt: dueOf(firstResponseMinutes, firstResponseElapsedSeconds, 1),
    resolutionDueAt: dueOf(resolutionMinutes, resolutionElapsedSeconds, 1),
    firstResponseElapsedSeconds,
    resolutionElapsedSeconds,
    clockStartedAt: running ? new Date(nowMs).toISOString() : null,
    pausedAt: facts.status === "pending" ? (previous.pausedAt ?? new Date(nowMs).toISOString()) : null,
    firstResponseAtRiskAfter: dueOf(firstResponseMinutes, firstResponseElapsedSeconds, atRiskShare),
    resolutionAtRiskAfter: dueOf(resolutionMinutes, resolutionElapsedSeconds, atRiskShare),
  };
}

/** The rules a clock counts under: the policy and the team's calendar. */
export interface SlaRules {
  policy: SlaPolicyRules | null;
  calendar: BusinessCalendar | null;
}

/**
 * The clock state after a change at `now` that may also change the rules (another team, policy or
 * calendar): the segment that just ended is banked under the rules it ran under (`ranUnder`), then the
 * clocks are set and due times derived under the rules in force from now on (`from`). Measuring the
 * ended segment in the new rules instead would re-count time already used — six hours in a 24/7 team
 * would become none in a team that was closed all along, or the reverse.
 */
export function computeTicketSlaUnderNewRules(input: {
  previous: TicketSlaState | null;
  facts: TicketSlaFacts;
  ranUnder: SlaRules;
  from: SlaRules;
  now: string;
}): ComputedTicketSla {
  const { facts, now } = input;
  const banked = computeTicketSla({ previous: input.previous, facts, ...input.ranUnder, now });
  return computeTicketSla({ previous: banked, facts, ...input.from, now });
}

/**
 * Where each target of a ticket (of `priority`) stands at `now`: breached once more than the target is used (or, while the
 * clock runs, once its due time passed), at risk once `atRiskPercent` of it is used, else ok; null for a
 * target the policy does not set. Pass the state from `computeTicketSla` — the at-risk instants it adds let
 * a running clock turn at risk between recomputes. A target that `stopped` (first response given; ticket
 * solved or closed) within its time was met: ok, however close it came — "at risk" warns of a breach that
 * can still happen.
 */
export function slaRiskOf(
  state: TicketSlaState &
    Partial<Pick<ComputedTicketSla, "firstResponseAtRiskAfter" | "resolutionAtRiskAfter">>,
  policy: SlaPolicyRules | null,
  now: string,
  priority: SlaPriority,
  stopped: Partial<Record<SlaTargetName, boolean>> = {},
): Record<SlaTargetName, SlaRisk | null> {
  const nowMs = instantOf(now, "now");
  const target = policy === null ? null : policy.targets[priority];
  const riskOf = (
    minutes: number | null | undefined,
    elapsedSeconds: number,
    dueAt: string | null,
    atRiskAfter: string | null | undefined,
    met: boolean,
  ): SlaRisk | null => {
    if (policy === null || minutes === null || minutes === undefined) return null;
    const targetSeconds = minutes * 60;
    if (elapsedSeconds > targetSeconds || (dueAt !== null && nowMs > instantOf(dueAt, "dueAt")))
      return "breached";
    if (met) return "ok";
    const atRiskSeconds = (targetSeconds * policy.atRiskPercent) / 100;
    if (elapsedSeconds >= atRiskSeconds) return "at_risk";
    if (atRiskAfter !== null && atRiskAfter !== undefined && nowMs >= instantOf(atRiskAfter, "atRiskAfter")) {
      return "at_risk";
    }
    return "ok";
  };
  return {
    firstResponse: riskOf(
      target?.firstResponseMinutes,
      state.firstResponseElapsedSeconds,
      state.firstResponseDueAt,
      state.firstResponseAtRiskAfter,
      stopped.firstResponse === true,
    ),
    resolution: riskOf(
      target?.resolutionMinutes,
      state.resolutionElapsedSeconds,
      state.resolutionDueAt,
      state.resolutionAtRiskAfter,
      stopped.resolution === true,
    ),
  };
}
