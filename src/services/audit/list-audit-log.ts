import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import { requirePermissionOf } from "../auth/principal";
import type { Actor, ServiceContext } from "../context";
import { type TimeRange, timeRangeFilters } from "../orders/time-range";
import { callerOf, isoOf } from "../users/caller";
import type { AuditRecord, FieldChanges } from "./audit-entry";
import { cursorAt, decodeCursor, keysetPage } from "./keyset-cursor";

export interface AuditRow extends Record<string, unknown> {
  id: string;
  entity_type: string;
  entity_id: string;
  action: string;
  actor: Actor | string;
  actor_key: string;
  changes: FieldChanges | string;
  request_id: string | null;
  occurred_at: string | Date;
  cursor_at: string;
}

export const AUDIT_COLUMNS: SQL = sql`a.id, a.entity_type, a.entity_id, a.action, a.actor, a.actor_key, a.changes,
  a.request_id, a.occurred_at, ${cursorAt(sql`a.occurred_at`)} as cursor_at`;

function jsonOf<T>(value: T | string): T {
  return typeof value === "string" ? (JSON.parse(value) as T) : value;
}

export function toAuditRecord(row: AuditRow): AuditRecord {
  return {
    id: row.id,
    entityType: row.entity_type,
    entityId: row.entity_id,
    action: row.action,
    actor: jsonOf(row.actor),
    actorKey: row.actor_key,
    changes: jsonOf(row.changes),
    requestId: row.request_id,
    occurredAt: isoOf(row.occurred_at),
  };
}

export interface AuditPage {
  items: AuditRecord[];
  nextCursor: string | null;
}

function afterCursor(cursor: string | undefined): SQL[] {
  if (!cursor) return [];
  const after = decodeCursor(cursor);
  return [sql`(a.occurred_at, a.id) < (${after.at}::timestamptz, ${after.id}::uuid)`];
}

/**
 * The tenant's audit log, newest first, cursor-paged: everything one actor did (`actorKey` =
 * `user:<id>`, `apiKey:<id>`, `system:chat`, …), everything that happened to one kind of record or one
 * record, or one action, within a time range. One round trip; each filter combination has an index
 * (tenant + actor key + time, tenant + entity + time, tenant + time).
 */
export async function listAuditLog({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: {
    actorKey?: string | undefined;
    entityType?: string | undefined;
    entityId?: string | undefined;
    action?: string | undefined;
    occurred?: TimeRange | undefined;
    limit: number;
    cursor?: string | undefined;
  };
}): Promise<AuditPage> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "tickets:admin");
  const filters: SQL[] = [sql`a.tenant_id = ${t}`];
  if (input.actorKey !== undefined) filters.push(sql`a.actor_key = ${input.actorKey}`);
  if (input.entityType !== undefined) filters.push(sql`a.entity_type = ${input.entityType}`);
  if (input.entityId !== undefined) filters.push(sql`a.entity_id = ${input.entityId}::uuid`);
  if (input.action !== undefined) filters.push(sql`a.action = ${input.action}`);
  if (input.occurred) filters.push(...timeRangeFilters(sql`a.occurred_at`, input.occurred));
  filters.push(...afterCursor(input.cursor));
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<AuditRow>(sql`
      select ${AUDIT_COLUMNS} from audit_log a
       where ${sql.join(filters, sql` and `)}
       order by a.occurred_at desc, a.id desc
       limit ${input.limit + 1}`),
  ]);
  return keysetPage(result.rows, input.limit, toAuditRecord);
}

/**
 * One ticket's history, newest first: changes to the ticket itself and its comments. One round trip; the
 * ticket's existence comes back with the page, so an unknown (or another tenant's) ticket is a 404, not
 * an empty list.
 */
export async function listTicketAudit({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { ticketId: string; limit: number; cursor?: string | undefined };
}): Promise<AuditPage> {
  const { tenantId: t, principal } = callerOf(ctx);
  requirePermissionOf(principal, "tickets:read");
  const filters: SQL[] = [
    sql`a.tenant_id = ${t}`,
    sql`((a.entity_type = 'ticket' and a.entity_id = ${input.ticketId}::uuid)
      or (a.entity_type = 'ticket_comment' and a.entity_id in (
            select c.id from ticket_comments c where c.tenant_id = ${t} and c.ticket_id = ${input.ticketId}::uuid)))`,
    ...afterCursor(input.cursor),
  ];
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ ticket_exists: boolean; page: AuditRow[] | string }>(sql`
      select exists (select 1 from tickets where tenant_id = ${t} and id = ${input.ticketId}::uuid) as ticket_exists,
             (select coalesce(json_agg(p order by p.occurred_at desc, p.id desc), '[]'::json)
                from (select ${AUDIT_COLUMNS} from audit_log a
                       where ${sql.join(filters, sql` and `)}
                       order by a.occurred_at desc, a.id desc
                       limit ${input.limit + 1}) p) as page`),
  ]);
  const row = result.rows[0];
  if (!row?.ticket_exists) throw new NotFoundError("Ticket not found");
  return keysetPage(jsonOf(row.page), input.limit, toAuditRecord);
}
