import { sql } from "drizzle-orm";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { type AuditRecord, auditRecords, auditStatement, changedFields } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import { parseInput } from "../tickets/ticket-input";
import { ticketTransaction } from "../tickets/ticket-transaction";
import {
  jsonOf,
  readTeamView,
  type SetMembersInput,
  SetMembersSchema,
  type SupportTeamView,
  toTeamView,
  type UpdateMemberInput,
  UpdateMemberSchema,
} from "./team-model";

interface Membership {
  userId: string;
  position: number;
  available: boolean;
  maxOpenTickets: number | null;
}

interface MembershipContextRow extends Record<string, unknown> {
  current: Membership[] | string;
  active_users: string[];
}

const MEMBERSHIP_JSON = sql`coalesce(json_agg(json_build_object('userId', m.user_id, 'position', m.position,
  'available', m.available, 'maxOpenTickets', m.max_open_tickets) order by m.position, m.user_id), '[]'::json)`;

/**
 * Replaces a team's membership (`tickets:admin`): the listed users, in rotation order. Every one must be an
 * active user of the tenant (422 naming those who are not). A member's availability and cap are kept when
 * left out (a reorder does not bring an away agent back), new members default to available, no cap. One
 * audit row holds the membership before and after.
 */
export async function setTeamMembers({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: { id: string; members: SetMembersInput["members"] };
  requestId?: string | null;
}): Promise<SupportTeamView> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const body = parseInput(SetMembersSchema, { members: input.members }, "request body");
  const t = author.tenantId;
  const ids = body.members.map((m) => m.userId);
  const { row, records } = await ticketTransaction(ctx, t, async (tx) => {
    const context = await tx.execute<MembershipContextRow>(sql`
      select (select ${MEMBERSHIP_JSON} from support_team_members m
               where m.tenant_id = st.tenant_id and m.team_id = st.id) as current,
             array(select u.id::text from users u
                    where u.tenant_id = st.tenant_id and u.id = any(${sql.param(ids)}::uuid[])
                      and u.active and u.deleted_at is null) as active_users
        from support_teams st where st.tenant_id = ${t} and st.id = ${input.id}::uuid for update of st`);
    const found = context.rows[0];
    if (!found) throw new NotFoundError("Support team not found");
    const unknown: Record<string, string[]> = {};
    body.members.forEach((m, i) => {
      if (!found.active_users.includes(m.userId)) {
        unknown[`members.${i}.userId`] = ["No active user with this id in this tenant"];
      }
    });
    if (Object.keys(unknown).length > 0) throw new ValidationError("Unknown members", unknown);

    const current = jsonOf(found.current);
    const existing = new Map(current.map((m) => [m.userId, m]));
    const next: Membership[] = body.members.map((m, position) => ({
      userId: m.userId,
      position,
      available: m.available ?? existing.get(m.userId)?.available ?? true,
      maxOpenTickets:
        m.maxOpenTickets !== undefined ? m.maxOpenTickets : (existing.get(m.userId)?.maxOpenTickets ?? null),
    }));
    const changes = changedFields({ members: current }, { members: next });
    let records: AuditRecord[] = [];
    if (Object.keys(changes).length > 0) {
      records = auditRecords(
        author,
        [{ entityType: "support_team", entityId: input.id, action: "members_changed", changes }],
        new Date().toISOString(),
      );
      await tx.execute(sql`
        with wanted as (
          select * from jsonb_to_recordset(${JSON.stringify(next)}::jsonb)
            as w("userId" uuid, position int, available boolean, "maxOpenTickets" int)
        ),
        removed as (
          delete from support_team_members m
           where m.tenant_id = ${t} and m.team_id = ${input.id}::uuid
             and not exists (select 1 from wanted w where w."userId" = m.user_id)
        ),
        kept as (
          insert into support_team_members (tenant_id, team_id, user_id, position, available, max_open_tickets)
          select ${t}::uuid, ${input.id}::uuid, w."userId", w.position, w.available, w."maxOpenTickets" from wanted w
          on conflict (tenant_id, team_id, user_id) do update
             set position = excluded.position, available = excluded.available,
                 max_open_tickets = excluded.max_open_tickets
        ),
        audited as (${auditStatement(t, records)})
        select 1`);
    }
    return { row: await readTeamView(tx, t, input.id), records };
  });
  publishAuditFeed(ctx, t, records);
  return toTeamView(row);
}

/**
 * Marks a member available or away, or changes their cap: `tickets:admin`, or `tickets:write` for agents
 * changing their own membership (going away for lunch needs no administrator). One audit row with the
 * before/after, keyed `members.<userId>.<field>`.
 */
export async function updateTeamMember({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: { id: string; userId: string; changes: UpdateMemberInput };
  requestId?: string | null;
}): Promise<SupportTeamView> {
  const own = ctx.principal?.kind === "user" && ctx.principal.userId === input.userId;
  const author = ticketCaller(ctx, own ? "tickets:write" : "tickets:admin", requestId);
  const body = parseInput(UpdateMemberSchema, input.changes, "request body");
  const t = author.tenantId;
  const { row, records } = await ticketTransaction(ctx, t, async (tx) => {
    const current = await tx.execute<{
      team_found: boolean;
      available: boolean | null;
      max_open_tickets: number | null;
      member: boolean;
    }>(sql`
      select true as team_found, m.user_id is not null as member, m.available, m.max_open_tickets
        from support_teams st
        left join support_team_members m
          on m.tenant_id = st.tenant_id and m.team_id = st.id and m.user_id = ${input.userId}::uuid
       where st.tenant_id = ${t} and st.id = ${input.id}::uuid
         for update of st`);
    const found = current.rows[0];
    if (!found) throw new NotFoundError("Support team not found");
    if (!found.member) throw new NotFoundError("This user is not a member of the team");
    const before = { available: found.available, maxOpenTickets: found.max_open_tickets };
    const after = {
      available: body.available ?? before.available,
      maxOpenTickets: body.maxOpenTickets !== undefined ? body.maxOpenTickets : before.maxOpenTickets,
    };
    const changes = changedFields(before, after);
    let records: AuditRecord[] = [];
    if (Object.keys(changes).length > 0) {
      records = auditRecords(
        author,
        [
          {
            entityType: "support_team",
            entityId: input.id,
            action: "member_updated",
            changes: Object.fromEntries(
              Object.entries(changes).map(([field, change]) => [`members.${input.userId}.${field}`, change]),
            ),
          },
        ],
        new Date().toISOString(),
      );
      await tx.execute(sql`
        with changed as (
          update support_team_members set available = ${after.available}, max_open_tickets = ${after.maxOpenTickets}
           where tenant_id = ${t} and team_id = ${input.id}::uuid and user_id = ${input.userId}::uuid
        ),
        audited as (${auditStatement(t, records)})
        select 1`);
    }
    return { row: await readTeamView(tx, t, input.id), records };
  });
  publishAuditFeed(ctx, t, records);
  return toTeamView(row);
}
