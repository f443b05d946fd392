import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { type TimeRange, timeRangeFilters } from "../orders/time-range";
import { CHAT_SESSION_COLUMNS, type ChatSessionRow, toChatSessionView } from "./archived-chat";
import { staffTenantOf } from "./chat-access";
import type { ChatChannel, ChatSessionView, ChatStatus } from "./chat-model";

export interface ListChatSessionsInput {
  page: number;
  pageSize: number;
  status?: ChatStatus[] | undefined;
  channel?: ChatChannel | undefined;
  agentId?: string | undefined;
  /** true: only chats still held by their object; false: only archived ones. */
  live?: boolean | undefined;
  started?: TimeRange;
  /** Case-insensitive substring of the customer's name, email, phone or external id. */
  search?: string | undefined;
  ticketId?: string | undefined;
}

/**
 * The inbox: live and archived chats, newest first, from Postgres in one round trip (page and total).
 * A live chat's row is its object's summary as of its last state change (status, agent, ticket are
 * written at once; counts and last message time at most every 30 s); open the chat for the live view.
 */
export async function listChatSessions({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: ListChatSessionsInput;
}): Promise<Page<ChatSessionView>> {
  const t = staffTenantOf(ctx, "chat:read");
  const filters: SQL[] = [sql`s.tenant_id = ${t}`];
  if (input.status?.length) filters.push(sql`s.status in ${input.status}`);
  if (input.channel) filters.push(sql`s.channel = ${input.channel}`);
  if (input.agentId) filters.push(sql`s.agent_id = ${input.agentId}`);
  if (input.ticketId) filters.push(sql`s.ticket_id = ${input.ticketId}`);
  if (input.live === true) filters.push(sql`s.archived_at is null`);
  if (input.live === false) filters.push(sql`s.archived_at is not null`);
  filters.push(...timeRangeFilters(sql`s.started_at`, input.started ?? {}));
  if (input.search) {
    const pattern = `%${input.search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    filters.push(sql`(lower(coalesce(s.customer->>'name', '')) like ${pattern}
      or lower(coalesce(s.customer->>'email', '')) like ${pattern}
      or coalesce(s.customer->>'phone', '') like ${pattern}
      or lower(coalesce(s.customer->>'externalId', '')) like ${pattern})`);
  }
  const where = sql.join(filters, sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<ChatSessionRow>(sql`
      select ${CHAT_SESSION_COLUMNS} from chat_sessions s
       where ${where}
       order by s.started_at desc, s.id desc
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from chat_sessions s where ${where}`),
  ]);
  return toPage(
    items.rows.map((row) => {
      const view = toChatSessionView(row);
      return { ...view, live: row.archived_at === null };
    }),
    count.rows[0]?.total,
    input,
  );
}
