import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import { cursorAt, decodeCursor, keysetPage } from "../audit/keyset-cursor";
import type { ServiceContext } from "../context";
import { type TicketComment, type TicketCommentRow, toTicketComment } from "./comment-view";
import { ticketCaller } from "./ticket-access";
import { jsonValue } from "./ticket-sla";

/**
 * A ticket's conversation in the order it was written (oldest first), cursor-paged: `nextCursor` continues
 * after the last comment of the page. `public` keeps only replies (`true`) or only internal notes
 * (`false`). One round trip; an unknown ticket is a 404, not an empty page.
 */
export async function listTicketComments({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { ticketId: string; limit: number; cursor?: string | undefined; public?: boolean | undefined };
}): Promise<{ items: TicketComment[]; nextCursor: string | null }> {
  const { tenantId: t } = ticketCaller(ctx, "tickets:read");
  const filters: SQL[] = [sql`c.tenant_id = ${t}`, sql`c.ticket_id = ${input.ticketId}::uuid`];
  if (input.public !== undefined) filters.push(sql`c.public = ${input.public}`);
  if (input.cursor) {
    const after = decodeCursor(input.cursor);
    filters.push(sql`(c.created_at, c.id) > (${after.at}::timestamptz, ${after.id}::uuid)`);
  }
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ ticket_exists: boolean; page: (TicketCommentRow & { cursor_at: string })[] | string }>(sql`
      select exists (select 1 from tickets where tenant_id = ${t} and id = ${input.ticketId}::uuid) as ticket_exists,
             (select coalesce(json_agg(p order by p.created_at, p.id), '[]'::json)
                from (select c.id, c.ticket_id, c.author_type, c.author_user_id, c.author_name, c.author_email,
                             c.body, c.public, c.email_message_id, c.created_at,
                             ${cursorAt(sql`c.created_at`)} as cursor_at
                        from ticket_comments c
                       where ${sql.join(filters, sql` and `)}
                       order by c.created_at, c.id
                       limit ${input.limit + 1}) p) as page`),
  ]);
  const row = result.rows[0];
  if (!row?.ticket_exists) throw new NotFoundError("Ticket not found");
  return keysetPage(jsonValue(row.page) ?? [], input.limit, toTicketComment);
}
