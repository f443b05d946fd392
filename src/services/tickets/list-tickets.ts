import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { ValidationError } from "../../lib/errors";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { escapeLike } from "../users/list-users";
import { ticketCaller } from "./ticket-access";
import type { TicketChannel, TicketPriority, TicketStatus } from "./ticket-rules";
import { requesterEmailPrefix, ticketSearchQuery } from "./ticket-search";
import {
  TICKET_JOINS,
  TICKET_SUMMARY_COLUMNS,
  type TicketSummary,
  type TicketSummaryRow,
  toTicketSummary,
} from "./ticket-view";

export const TICKET_SORTS = [
  "-updatedAt",
  "updatedAt",
  "-createdAt",
  "createdAt",
  "-priority",
  "priority",
  "dueAt",
  "-dueAt",
] as const;
export type TicketSort = (typeof TICKET_SORTS)[number];

export interface ListTicketsInput {
  page: number;
  pageSize: number;
  status?: TicketStatus[] | undefined;
  /** A user id, `me` (the signed-in user) or `none` (unassigned). */
  assignee?: string | undefined;
  /** A team id or `none`. */
  team?: string | undefined;
  priority?: TicketPriority[] | undefined;
  channel?: TicketChannel[] | undefined;
  /** Tickets carrying every one of these tags. */
  tag?: string[] | undefined;
  search?: string | undefined;
  sort?: TicketSort | undefined;
}

const RANK = sql`case t.priority when 'urgent' then 4 when 'high' then 3 when 'normal' then 2 else 1 end`;
/** The next SLA deadline: the earlier of the two due times still running (`least` skips nulls). */
const NEXT_DUE = sql`least(t.first_response_due_at, t.resolution_due_at)`;

const ORDER: Record<TicketSort, SQL> = {
  "-updatedAt": sql`t.updated_at desc, t.id desc`,
  updatedAt: sql`t.updated_at asc, t.id asc`,
  "-createdAt": sql`t.created_at desc, t.id desc`,
  createdAt: sql`t.created_at asc, t.id asc`,
  "-priority": sql`${RANK} desc, t.updated_at desc, t.id desc`,
  priority: sql`${RANK} asc, t.updated_at desc, t.id desc`,
  dueAt: sql`${NEXT_DUE} asc nulls last, t.id asc`,
  "-dueAt": sql`${NEXT_DUE} desc nulls last, t.id desc`,
};

/**
 * A ticket's words, exactly the expression the full-text index `tickets_search_idx` (migration 0013) is
 * built on: Postgres uses the index only for the identical expression.
 */
export const TICKET_SEARCH_VECTOR = sql`to_tsvector('simple', t.subject || ' ' || t.description)`;

/**
 * A page of the tenant's tickets (default: most recently updated first). One round trip: the page and the
 * total are two statements of one batch. `search` matches every word (as a prefix) of the subject and
 * description through the full-text index, or the requester's email address by prefix.
 */
export async function listTickets({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListTicketsInput;
}): Promise<Page<TicketSummary>> {
  const caller = ticketCaller(ctx, "tickets:read");
  const t = caller.tenantId;
  const filters: SQL[] = [sql`t.tenant_id = ${t}`];
  if (input.status?.length)
    filters.push(sql`t.status = any(${sql.param([...new Set(input.status)])}::text[])`);
  if (input.priority?.length) {
    filters.push(sql`t.priority = any(${sql.param([...new Set(input.priority)])}::text[])`);
  }
  if (input.channel?.length)
    filters.push(sql`t.channel = any(${sql.param([...new Set(input.channel)])}::text[])`);
  if (input.tag?.length) {
    const tags = [...new Set(input.tag.map((tag) => tag.trim().replace(/\s+/g, " ").toLowerCase()))];
    filters.push(sql`t.tags @> ${sql.param(tags)}::text[]`);
  }
  if (input.assignee === "none") filters.push(sql`t.assignee_id is null`);
  else if (input.assignee === "me") {
    if (caller.userId === null) {
      throw new ValidationError("Invalid query parameters", {
        assignee: ["`me` needs a signed-in user; an API key has no tickets of its own"],
      });
    }
    filters.push(sql`t.assignee_id = ${caller.userId}::uuid`);
  } else if (input.assignee !== undefined) filters.push(sql`t.assignee_id = ${input.assignee}::uuid`);
  if (input.team === "none") filters.push(sql`t.team_id is null`);
  else if (input.team !== undefined) filters.push(sql`t.team_id = ${input.team}::uuid`);
  const search = input.search?.trim();
  if (search) {
    const query = ticketSearchQuery(search);
    const email = requesterEmailPrefix(search);
    const matches: SQL[] = [];
    if (query !== null) matches.push(sql`${TICKET_SEARCH_VECTOR} @@ to_tsquery('simple', ${query})`);
    if (email !== null) matches.push(sql`lower(t.requester_email) like ${`${escapeLike(email)}%`}`);
    // Only punctuation: nothing can match, and saying so beats returning everything.
    filters.push(matches.length > 0 ? sql`(${sql.join(matches, sql` or `)})` : sql`false`);
  }
  const where = sql.join(filters, sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<TicketSummaryRow>(sql`
      select ${TICKET_SUMMARY_COLUMNS} from tickets t ${TICKET_JOINS}
       where ${where}
       order by ${ORDER[input.sort ?? "-updatedAt"]}
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: string }>(sql`select count(*)::text as total from tickets t where ${where}`),
  ]);
  const now = new Date().toISOString();
  return toPage(
    items.rows.map((row) => toTicketSummary(row, now)),
    count.rows[0]?.total,
    input,
  );
}
