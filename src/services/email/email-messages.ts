import { type SQL, sql } from "drizzle-orm";
import { isDatabaseUnavailable } from "../../cache/dual-write";
import { cacheKeys, isTombstone } from "../../cache/keys";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError, ServiceUnavailableError } from "../../lib/errors";
import { offsetOf, type Page, type PageRequest, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import {
  EMAIL_COLUMNS,
  EMAIL_DETAIL_COLUMNS,
  type EmailDetailRow,
  type EmailMessageDetail,
  type EmailMessageView,
  type EmailRow,
  type EmailStatus,
  emailTenantOf,
  toEmailDetail,
  toEmailView,
} from "./email-model";

/** Emails of the tenant, newest first, page/offset paged; filter by status (one or several) and ticket. */
export async function listEmails({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: PageRequest & { status?: EmailStatus[] | undefined; ticketId?: string | undefined };
}): Promise<Page<EmailMessageView>> {
  const t = emailTenantOf(ctx, "email:send");
  const filters: SQL[] = [sql`tenant_id = ${t}`];
  if (input.status && input.status.length > 0) {
    filters.push(sql`status = any(${sql.param([...new Set(input.status)])}::text[])`);
  }
  if (input.ticketId !== undefined) filters.push(sql`ticket_id = ${input.ticketId}`);
  const where = sql.join(filters, sql` and `);
  const [page, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<EmailRow>(sql`
      select ${EMAIL_COLUMNS} from email_messages where ${where}
       order by created_at desc, id desc
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: string }>(sql`select count(*)::text as total from email_messages where ${where}`),
  ]);
  return toPage(page.rows.map(toEmailView), count.rows[0]?.total, input);
}

/**
 * One email with its bodies, from Postgres. When Postgres is unreachable, the Redis status copy answers
 * instead (bodies then null) and the response is marked degraded; with no copy either, 503.
 */
export async function getEmail({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<EmailMessageDetail> {
  const t = emailTenantOf(ctx, "email:send");
  let row: EmailDetailRow | undefined;
  try {
    const [result] = await tenantBatch(ctx.db.http, t, (db) => [
      db.execute<EmailDetailRow>(sql`
        select ${EMAIL_DETAIL_COLUMNS} from email_messages where tenant_id = ${t} and id = ${input.id}`),
    ]);
    row = result.rows[0];
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    return fromCache(ctx, t, input.id, error);
  }
  if (!row) throw new NotFoundError("Email not found");
  return toEmailDetail(row);
}

async function fromCache(
  ctx: ServiceContext,
  tenantId: string,
  id: string,
  cause: unknown,
): Promise<EmailMessageDetail> {
  const redis = ctx.cache.redis;
  ctx.logger.warn("postgres unavailable, trying cache", { label: "email" });
  if (redis) {
    const cached = await redis
      .get<EmailMessageView>(ctx.cache.key(cacheKeys.emailStatus.name(tenantId, id)))
      .catch(() => null);
    if (cached !== null && !isTombstone(cached)) {
      ctx.degraded.add("cache");
      return { ...cached, bodyText: null, bodyHtml: null };
    }
  }
  throw new ServiceUnavailableError("Database unavailable", { cause });
}
