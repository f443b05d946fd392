import { type SQL, sql } from "drizzle-orm";
import type { WsTransaction } from "../../db/client";
import { pgErrorOf } from "../../db/errors";
import { tenantContextStatement } from "../../db/tenant";
import type { ServiceContext } from "../context";
import type { AssignmentCandidate } from "./assignment-rules";

/** Deadlock and serialization failures: the transaction did nothing and may simply run again. */
const RETRYABLE = new Set(["40P01", "40001"]);
const ATTEMPTS = 3;

/**
 * How a transaction uses the tenant's SLA rules (its policies and its teams' calendars and policies):
 * `read` — a ticket write that derives due times from them; `change` — a change of the rules (or of what
 * tickets they reach) that recomputes the tickets they govern.
 */
export type SlaRulesAccess = "read" | "change";

/**
 * The tenant's SLA-rules lock (a transaction-level advisory lock): shared by ticket writes, exclusive for
 * rule changes. Under READ COMMITTED a ticket write reads the policy and calendar in its own snapshot, so
 * without it a write that started just before a rule change committed would store due times under the old
 * rules after the change's recompute had passed the ticket by (or not yet seen the ticket's new team). With
 * it, a rule change waits for the writes in flight, and writes that come after wait for the change and read
 * the new rules. Taken in the transaction's first statement, before any row lock, so it never closes a
 * cycle with row locks: a change holds no row lock while it waits, and a write holds none while it waits.
 */
function slaRulesLock(tenantId: string, access: SlaRulesAccess): SQL {
  const key = sql`hashtextextended(${`tradewind:sla-rules:${tenantId}`}, 0)`;
  return access === "change" ? sql`pg_advisory_xact_lock(${key})` : sql`pg_advisory_xact_lock_shared(${key})`;
}

/**
 * A ticket write that must read before it writes (SLA clocks, assignment) as one WebSocket transaction.
 * Its first statement sets the tenant context and takes the tenant's SLA-rules lock (`access`). Row locks
 * are then taken team row first, then agents (automatic hand-outs), then ticket rows, everywhere, so ticket
 * writers do not deadlock each other; a deadlock with some other writer (Postgres aborts one side) is
 * retried from the start.
 */
export async function ticketTransaction<T>(
  ctx: ServiceContext,
  tenantId: string,
  fn: (tx: WsTransaction) => Promise<T>,
  access: SlaRulesAccess = "read",
): Promise<T> {
  const opening = sql`select context.*, ${slaRulesLock(tenantId, access)} as sla_rules
    from (${tenantContextStatement(tenantId)}) as context`;
  for (let attempt = 1; ; attempt++) {
    try {
      return await ctx.db.transaction(async (tx) => {
        await tx.execute(opening);
        return fn(tx);
      });
    } catch (error) {
      const code = pgErrorOf(error)?.code;
      if (attempt >= ATTEMPTS || code === undefined || !RETRYABLE.has(code)) throw error;
      ctx.logger.warn("ticket transaction retried", { sqlstate: code, attempt });
    }
  }
}

export interface LockedTeam extends Record<string, unknown> {
  id: string;
  name: string;
  assignment_strategy: "manual" | "round_robin" | "least_loaded";
  round_robin_cursor: string | number;
}

/**
 * Locks a team row for the rest of the transaction: `update` for anything that hands out its tickets
 * (the round-robin cursor and member loads are read after this lock, so concurrent assignments in the team
 * queue up here and each sees the previous one's result), `share` when the team is only read. `update` is
 * `FOR NO KEY UPDATE`: it excludes other hand-outs but not the foreign-key checks of tickets moving into
 * the team (`FOR KEY SHARE`), which would otherwise wait on a hand-out that waits on their ticket.
 */
export async function lockTeam(
  tx: WsTransaction,
  tenantId: string,
  teamId: string,
  mode: "update" | "share",
): Promise<LockedTeam | null> {
  const result = await tx.execute<LockedTeam>(sql`
    select id, name, assignment_strategy, round_robin_cursor
      from support_teams where tenant_id = ${tenantId} and id = ${teamId}::uuid
       ${mode === "update" ? sql`for no key update` : sql`for share`}`);
  return result.rows[0] ?? null;
}

/**
 * Locks every member of a team as a candidate for an automatic hand-out (transaction-level advisory locks
 * per agent, in user-id order), after `lockTeam(…, "update")` and before the loads are read. An agent can
 * be in several teams and `max_open_tickets` counts their tickets in all of them: the team lock alone would
 * let two teams hand the same agent a ticket at once, both having read a load below the cap. The loads
 * must be read by a later statement (its snapshot then includes every hand-out committed before the lock).
 */
export async function lockTeamMembers(tx: WsTransaction, tenantId: string, teamId: string): Promise<void> {
  await tx.execute(sql`
    select count(pg_advisory_xact_lock(hashtextextended('tradewind:ticket-assignee:' || m.tenant_id || ':' || m.user_id, 0)))
      from (select tenant_id, user_id from support_team_members
             where tenant_id = ${tenantId} and team_id = ${teamId}::uuid
             order by user_id) as m`);
}

/**
 * The team's members as assignment candidates, as JSON: run it after `lockTeam(…, "update")` and
 * `lockTeamMembers` so the loads include every assignment committed before this one. Load = tickets open,
 * pending or on hold assigned to the member in any team, not counting `excludeTicketId` (the ticket being
 * assigned).
 */
export function membersJson(tenantId: string, teamId: string, excludeTicketId: string | null): SQL {
  return sql`(select coalesce(json_agg(json_build_object(
        'userId', m.user_id, 'position', m.position, 'available', m.available,
        'maxOpenTickets', m.max_open_tickets, 'active', u.active and u.deleted_at is null,
        'openTickets', (select count(*) from tickets x
                         where x.tenant_id = m.tenant_id and x.assignee_id = m.user_id
                           and x.status in ('open', 'pending', 'on_hold')
                           and x.id is distinct from ${excludeTicketId}::uuid),
        'lastAssignedAt', to_char(m.last_assigned_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
        order by m.position), '[]'::json)
      from support_team_members m
      join users u on u.tenant_id = m.tenant_id and u.id = m.user_id
     where m.tenant_id = ${tenantId} and m.team_id = ${teamId}::uuid)`;
}

export function candidatesOf(value: AssignmentCandidate[] | string | null): AssignmentCandidate[] {
  const list = typeof value === "string" ? (JSON.parse(value) as AssignmentCandidate[]) : (value ?? []);
  return list.map((m) => ({ ...m, openTickets: Number(m.openTickets) }));
}

/**
 * CTEs (`name as (…)`, to join into a write statement) that record a hand-out: the member's last
 * assignment time and, for round robin, the team's cursor.
 */
export function handOutCtes(
  tenantId: string,
  teamId: string,
  userId: string,
  nextCursor: number | null,
): SQL[] {
  const ctes = [
    sql`handed_to as (
      update support_team_members set last_assigned_at = clock_timestamp()
       where tenant_id = ${tenantId} and team_id = ${teamId}::uuid and user_id = ${userId}::uuid)`,
  ];
  if (nextCursor !== null) {
    ctes.push(sql`rotated as (
      update support_teams set round_robin_cursor = ${nextCursor}
       where tenant_id = ${tenantId} and id = ${teamId}::uuid)`);
  }
  return ctes;
}
