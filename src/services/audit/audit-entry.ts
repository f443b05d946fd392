/**
 * Audit rows (`audit_log`): who changed what, when, with the before/after of each changed field. Services
 * add `auditStatement(...)` to the batch or WebSocket transaction that makes the change, so the row and the
 * change commit or roll back together; after the commit they hand the same records to
 * `publishAuditFeed` (audit-feed.ts) for the recent-activity feed in Redis.
 */
import { type SQL, sql } from "drizzle-orm";
import { UnauthorizedError } from "../../lib/errors";
import type { Actor, ServiceContext } from "../context";

export type AuditEntityType = "ticket" | "ticket_comment" | "support_team" | "sla_policy" | (string & {});

export type FieldChanges = Record<string, { before: unknown; after: unknown }>;

export interface AuditEntry {
  entityType: AuditEntityType;
  entityId: string;
  /** `created`, `updated`, `assigned`, `commented`, `deleted`, `members_changed`, … */
  action: string;
  changes: FieldChanges;
}

/** An audit row as the API and the feed show it. */
export interface AuditRecord extends AuditEntry {
  id: string;
  actor: Actor;
  actorKey: string;
  requestId: string | null;
  occurredAt: string;
}

/** Who writes, for which tenant, in which request: the part every audit row of one operation shares. */
export interface AuditAuthor {
  tenantId: string;
  actor: Actor;
  actorKey: string;
  requestId: string | null;
}

/** `user:<id>`, `apiKey:<id>`, `system:<name>`, `webhook:<source>`, `applicant:<id>`: the per-actor query key. */
export function actorKeyOf(actor: Actor): string {
  switch (actor.type) {
    case "user":
      return `user:${actor.userId}`;
    case "apiKey":
      return `apiKey:${actor.keyId}`;
    case "system":
      return `system:${actor.name}`;
    case "webhook":
      return `webhook:${actor.source}`;
    case "applicant":
      return `applicant:${actor.applicationId}`;
  }
}

export function auditAuthorOf(ctx: ServiceContext, tenantId: string, requestId?: string | null): AuditAuthor {
  const actor = ctx.actor;
  if (!actor) throw new UnauthorizedError("Authentication required");
  return { tenantId, actor, actorKey: actorKeyOf(actor), requestId: requestId ?? null };
}

/**
 * The fields whose values differ between `before` and `after` (compared as JSON, so arrays and objects
 * compare by content), as `{ field: { before, after } }`. Only keys present in `after` are considered.
 */
export function changedFields(before: Record<string, unknown>, after: Record<string, unknown>): FieldChanges {
  const changes: FieldChanges = {};
  for (const [field, value] of Object.entries(after)) {
    const previous = before[field] ?? null;
    const next = value ?? null;
    if (JSON.stringify(previous) !== JSON.stringify(next)) changes[field] = { before: previous, after: next };
  }
  return changes;
}

/**
 * The records of one operation: each gets its own id and the operation's instant; `auditStatement` stores
 * each one microsecond after the previous record of its list, so the log lists them in the order they
 * happened even within one transaction (the feed keeps the list's order).
 */
export function auditRecords(author: AuditAuthor, entries: readonly AuditEntry[], at: string): AuditRecord[] {
  return entries.map((entry) => ({
    ...entry,
    id: crypto.randomUUID(),
    actor: author.actor,
    actorKey: author.actorKey,
    requestId: author.requestId,
    occurredAt: at,
  }));
}

/** One INSERT of `records` (empty list → a statement that writes nothing, so batches keep their shape). */
export function auditStatement(tenantId: string, records: readonly AuditRecord[]): SQL {
  if (records.length === 0) return sql`select 0 as audited`;
  const rows = records.map(
    (r, i) => sql`(${r.id}::uuid, ${tenantId}::uuid, ${r.entityType}, ${r.entityId}::uuid, ${r.action},
      ${JSON.stringify(r.actor)}::jsonb, ${r.actorKey}, ${JSON.stringify(r.changes)}::jsonb, ${r.requestId},
      ${r.occurredAt}::timestamptz + make_interval(secs => ${i}::float8 / 1000000))`,
  );
  return sql`
    insert into audit_log (id, tenant_id, entity_type, entity_id, action, actor, actor_key, changes, request_id,
                           occurred_at)
    values ${sql.join(rows, sql`, `)}`;
}
