/**
 * Support teams as the API speaks them: the input schemas (the routes document exactly these; services
 * parse again), the view with members and their loads, and the one statement that reads it.
 */
import { type SQL, sql } from "drizzle-orm";
import * as z from "zod";
import type { WsTransaction } from "../../db/client";
import { PG_FOREIGN_KEY_VIOLATION, PG_UNIQUE_VIOLATION, pgErrorOf } from "../../db/errors";
import {
  type BusinessCalendar,
  HolidaysSchema,
  OpeningWindowSchema,
  TimezoneSchema,
  WEEKDAYS,
  type Weekday,
  type WeeklyHours,
} from "../../domain/sla";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors";
import { isoOf, isoOrNull } from "../users/caller";

export const ASSIGNMENT_STRATEGIES = ["manual", "round_robin", "least_loaded"] as const;
export type AssignmentStrategyName = (typeof ASSIGNMENT_STRATEGIES)[number];

const Name = z.string().trim().min(1).max(100).meta({ example: "EU support" });
const Description = z.string().trim().max(1000).nullable();

/** Weekly hours as people write them: days left out are closed (stored with all seven days). */
export const BusinessHoursSchema = z
  .strictObject(
    Object.fromEntries(
      WEEKDAYS.map((day) => [day, z.array(OpeningWindowSchema).max(12).optional()]),
    ) as Record<Weekday, z.ZodOptional<z.ZodArray<typeof OpeningWindowSchema>>>,
  )
  .transform(
    (days): WeeklyHours =>
      Object.fromEntries(WEEKDAYS.map((day) => [day, days[day] ?? []])) as unknown as WeeklyHours,
  )
  .meta({
    id: "BusinessHours",
    description:
      "Opening windows per weekday (`mon`…`sun`) as `[opens, closes]` in `HH:MM`, local to the team's " +
      "timezone; `closes` may be `24:00`, or earlier than `opens` for a window that runs past midnight. A day " +
      "left out or empty is closed. `null` = open around the clock.",
    example: { mon: [["09:00", "18:00"]], tue: [["09:00", "18:00"]], sat: [["10:00", "14:00"]] },
  });

const Strategy = z.enum(ASSIGNMENT_STRATEGIES).meta({
  description:
    "How `/tickets/{id}/assign` with this team (and new tickets of the team) pick an agent: `manual` (they " +
    "wait on the team), `round_robin` (members in turn, by position) or `least_loaded` (fewest open tickets)",
});

export const CreateTeamSchema = z
  .strictObject({
    name: Name,
    description: Description.optional(),
    timezone: TimezoneSchema.optional().meta({
      description: "IANA timezone, default UTC",
      example: "Europe/Berlin",
    }),
    businessHours: BusinessHoursSchema.nullable().optional(),
    holidays: HolidaysSchema.optional().meta({ example: ["2026-12-25", "2026-12-26"] }),
    assignmentStrategy: Strategy.optional(),
    slaPolicyId: z.uuid().toLowerCase().nullable().optional().meta({
      description: "The team's SLA policy; null = the tenant's default policy",
    }),
  })
  .meta({ id: "CreateSupportTeam" });
export type CreateTeamInput = z.input<typeof CreateTeamSchema>;

export const UpdateTeamSchema = z
  .strictObject({
    name: Name.optional(),
    description: Description.optional(),
    timezone: TimezoneSchema.optional(),
    businessHours: BusinessHoursSchema.nullable().optional(),
    holidays: HolidaysSchema.optional(),
    assignmentStrategy: Strategy.optional(),
    slaPolicyId: z.uuid().toLowerCase().nullable().optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "Nothing to change" })
  .meta({ id: "UpdateSupportTeam" });
export type UpdateTeamInput = z.input<typeof UpdateTeamSchema>;

const MaxOpenTickets = z.int().min(1).max(10_000).nullable().meta({
  description: "Cap on the member's open, pending and on-hold tickets for automatic assignment; null = none",
});

export const SetMembersSchema = z
  .strictObject({
    members: z
      .array(
        z.strictObject({
          userId: z.uuid().toLowerCase(),
          available: z.boolean().optional().meta({ description: "Default true" }),
          maxOpenTickets: MaxOpenTickets.optional(),
        }),
      )
      .max(200)
      .meta({ description: "The whole membership, in rotation order (round robin hands out in this order)" }),
  })
  .superRefine((body, issue) => {
    const seen = new Set<string>();
    body.members.forEach((m, i) => {
      if (seen.has(m.userId))
        issue.addIssue({ code: "custom", message: "Listed twice", path: ["members", i, "userId"] });
      seen.add(m.userId);
    });
  })
  .meta({ id: "SetSupportTeamMembers" });
export type SetMembersInput = z.input<typeof SetMembersSchema>;

export const UpdateMemberSchema = z
  .strictObject({
    available: z
      .boolean()
      .optional()
      .meta({ description: "Away members are passed over by automatic assignment" }),
    maxOpenTickets: MaxOpenTickets.optional(),
  })
  .refine((body) => Object.keys(body).length > 0, { message: "Nothing to change" })
  .meta({ id: "UpdateSupportTeamMember" });
export type UpdateMemberInput = z.input<typeof UpdateMemberSchema>;

export interface TeamMemberView {
  userId: string;
  name: string;
  email: string | null;
  /** Rotation order (0 first). */
  position: number;
  available: boolean;
  /** The user is active; a deactivated user stays listed but gets no tickets. */
  active: boolean;
  maxOpenTickets: number | null;
  /** Open, pending and on-hold tickets assigned to the member (in any team). */
  openTickets: number;
  lastAssignedAt: string | null;
}

export interface SupportTeamView {
  id: string;
  name: string;
  description: string | null;
  timezone: string;
  businessHours: WeeklyHours | null;
  holidays: string[];
  assignmentStrategy: AssignmentStrategyName;
  slaPolicy: { id: string; name: string } | null;
  members: TeamMemberView[];
  /** Open, pending and on-hold tickets of the team; of those, not assigned to anyone. */
  activeTickets: number;
  unassignedTickets: number;
  createdAt: string;
  updatedAt: string;
}

interface MemberJson {
  userId: string;
  name: string;
  email: string | null;
  position: number;
  available: boolean;
  active: boolean;
  maxOpenTickets: number | null;
  openTickets: number | string;
  lastAssignedAt: string | null;
}

export interface TeamRow extends Record<string, unknown> {
  id: string;
  name: string;
  description: string | null;
  timezone: string;
  business_hours: WeeklyHours | string | null;
  holidays: string[] | string;
  assignment_strategy: AssignmentStrategyName;
  sla_policy_id: string | null;
  sla_policy_name: string | null;
  members: MemberJson[] | string;
  active_tickets: number | string;
  unassigned_tickets: number | string;
  created_at: string | Date;
  updated_at: string | Date;
}

/** JSON from the driver arrives parsed; be tolerant of text. */
export function jsonOf<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

/** Teams (`st`) with policy name, members and loads; `where` filters `support_teams st`. */
export function teamViewStatement(where: SQL): SQL {
  return sql`
    select st.id, st.name, st.description, st.timezone, st.business_hours, st.holidays, st.assignment_strategy,
           st.sla_policy_id, sp.name as sla_policy_name, st.created_at, st.updated_at,
           (select coalesce(json_agg(json_build_object(
                     'userId', m.user_id, 'name', u.full_name, 'email', u.email, 'position', m.position,
                     'available', m.available, 'active', u.active and u.deleted_at is null,
                     'maxOpenTickets', m.max_open_tickets,
                     'openTickets', (select count(*) from tickets x
                                      where x.tenant_id = m.tenant_id and x.assignee_id = m.user_id
                                        and x.status in ('open', 'pending', 'on_hold')),
                     'lastAssignedAt', m.last_assigned_at) order by m.position, m.user_id), '[]'::json)
              from support_team_members m
              join users u on u.tenant_id = m.tenant_id and u.id = m.user_id
             where m.tenant_id = st.tenant_id and m.team_id = st.id) as members,
           (select count(*) from tickets x where x.tenant_id = st.tenant_id and x.team_id = st.id
               and x.status in ('open', 'pending', 'on_hold')) as active_tickets,
           (select count(*) from tickets x where x.tenant_id = st.tenant_id and x.team_id = st.id
               and x.status in ('open', 'pending', 'on_hold') and x.assignee_id is null) as unassigned_tickets
      from support_teams st
      left join sla_policies sp on sp.tenant_id = st.tenant_id and sp.id = st.sla_policy_id
     where ${where}
     order by lower(st.name), st.id`;
}

/** The team as a write's transaction sees it (after its change): 404 when it is not there. */
export async function readTeamView(tx: WsTransaction, tenantId: string, teamId: string): Promise<TeamRow> {
  const view = await tx.execute<TeamRow>(
    teamViewStatement(sql`st.tenant_id = ${tenantId} and st.id = ${teamId}::uuid`),
  );
  const row = view.rows[0];
  if (!row) throw new NotFoundError("Support team not found");
  return row;
}

export function toTeamView(row: TeamRow): SupportTeamView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    timezone: row.timezone,
    businessHours: row.business_hours === null ? null : jsonOf(row.business_hours),
    holidays: jsonOf(row.holidays),
    assignmentStrategy: row.assignment_strategy,
    slaPolicy: row.sla_policy_id === null ? null : { id: row.sla_policy_id, name: row.sla_policy_name ?? "" },
    members: jsonOf(row.members).map((m) => ({
      userId: m.userId,
      name: m.name,
      email: m.email,
      position: Number(m.position),
      available: m.available,
      active: m.active,
      maxOpenTickets: m.maxOpenTickets === null ? null : Number(m.maxOpenTickets),
      openTickets: Number(m.openTickets),
      lastAssignedAt: isoOrNull(m.lastAssignedAt),
    })),
    activeTickets: Number(row.active_tickets),
    unassignedTickets: Number(row.unassigned_tickets),
    createdAt: isoOf(row.created_at),
    updatedAt: isoOf(row.updated_at),
  };
}

/** The team's calendar as the SLA clocks read it. */
export function calendarOf(
  team: Pick<SupportTeamView, "timezone" | "businessHours" | "holidays">,
): BusinessCalendar {
  return { timezone: team.timezone, weekly: team.businessHours, holidays: team.holidays };
}

/** Holidays stored sorted and once each. */
export function normaliseHolidays(dates: readonly string[]): string[] {
  return [...new Set(dates)].sort();
}

/** Constraint violations a team write can hit, as the caller's 409/422. */
export function teamWriteError(error: unknown): never {
  const pg = pgErrorOf(error);
  if (pg?.code === PG_UNIQUE_VIOLATION && pg.constraint === "support_teams_tenant_name_key") {
    throw new ConflictError("A support team with this name already exists", { details: { field: "name" } });
  }
  if (pg?.code === PG_FOREIGN_KEY_VIOLATION && pg.constraint === "support_teams_sla_policy_fk") {
    throw new ValidationError("Unknown SLA policy", { slaPolicyId: ["No such SLA policy in this tenant"] });
  }
  throw error;
}
