import { sql } from "drizzle-orm";
import { ConflictError, NotFoundError } from "../../lib/errors";
import { auditRecords, auditStatement } from "../audit/audit-entry";
import { publishAuditFeed } from "../audit/audit-feed";
import type { ServiceContext } from "../context";
import { ticketCaller } from "../tickets/ticket-access";
import { ticketTransaction } from "../tickets/ticket-transaction";

/**
 * Deletes a team (`tickets:admin`). Refused (409) while it still has open, pending or on-hold tickets:
 * they need a team that works them, so move them first. Its solved and closed tickets stay, without a
 * team (each such change has its own audit row, in Postgres; the feed gets the team's deletion only).
 * Memberships go with the team.
 */
export async function deleteSupportTeam({
  ctx,
  input,
  requestId,
}: {
  ctx: ServiceContext;
  input: { id: string };
  requestId?: string | null;
}): Promise<{ deleted: true; detachedTickets: number }> {
  const author = ticketCaller(ctx, "tickets:admin", requestId);
  const t = author.tenantId;
  const { records, detached } = await ticketTransaction(
    ctx,
    t,
    async (tx) => {
      const current = await tx.execute<{ name: string; active_tickets: string }>(sql`
      select st.name,
             (select count(*) from tickets x where x.tenant_id = st.tenant_id and x.team_id = st.id
                 and x.status in ('open', 'pending', 'on_hold'))::text as active_tickets
        from support_teams st where st.tenant_id = ${t} and st.id = ${input.id}::uuid for update of st`);
      const team = current.rows[0];
      if (!team) throw new NotFoundError("Support team not found");
      const active = Number(team.active_tickets);
      if (active > 0) {
        throw new ConflictError(
          `The team still has ${active} open, pending or on-hold tickets; move them to another team first`,
          { details: { activeTickets: active } },
        );
      }
      const now = new Date().toISOString();
      const records = auditRecords(
        author,
        [
          {
            entityType: "support_team",
            entityId: input.id,
            action: "deleted",
            changes: { name: { before: team.name, after: null } },
          },
        ],
        now,
      );
      // Detach first, delete second: the tickets' foreign key is checked at the end of each statement.
      const detachedResult = await tx.execute<{ detached: string }>(sql`
      with detached as (
        update tickets set team_id = null, version = version + 1, updated_at = ${now}::timestamptz
         where tenant_id = ${t} and team_id = ${input.id}::uuid
        returning id
      ),
      audited as (
        insert into audit_log (tenant_id, entity_type, entity_id, action, actor, actor_key, changes, request_id,
                               occurred_at)
        select ${t}::uuid, 'ticket', d.id, 'updated', ${JSON.stringify(author.actor)}::jsonb, ${author.actorKey},
               jsonb_build_object('teamId', jsonb_build_object('before', ${input.id}::text, 'after', null)),
               ${author.requestId}, ${now}::timestamptz
          from detached d
      )
      select count(*)::text as detached from detached`);
      await tx.execute(sql`
      with gone as (delete from support_teams where tenant_id = ${t} and id = ${input.id}::uuid),
      audited as (${auditStatement(t, records)})
      select 1`);
      return { records, detached: Number(detachedResult.rows[0]?.detached ?? 0) };
    },
    "change",
  );
  publishAuditFeed(ctx, t, records);
  ctx.logger.info("support team deleted", { tenantId: t, teamId: input.id, detachedTickets: detached });
  return { deleted: true, detachedTickets: detached };
}
