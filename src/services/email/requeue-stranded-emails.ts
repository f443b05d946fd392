import { sql } from "drizzle-orm";
import type { ServiceContext } from "../context";
import type { EmailSendMessage } from "./deliver-email";

/** A queued retry this long past due (its message should have run by then) is taken as stranded. */
export const STRANDED_AFTER_SECONDS = 120;
const MAX_PER_RUN = 500;
const MAX_MESSAGES_PER_SEND = 100;

/**
 * The safety net under queued retries: if the `email.send` message of a queued email was lost (the send
 * failed after the record was written, or the queue dropped it), or an attempt's isolate died mid-send,
 * the email would wait forever. This cron job claims such emails across tenants in one statement
 * (claim_stranded_email_messages, which moves `next_attempt_at` so overlapping runs never claim one twice)
 * and enqueues them again; the consumer's own claim still decides who sends.
 */
export async function requeueStrandedEmails({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<{ enqueued: number; emails: { tenantId: string; id: string }[] }> {
  const claimed = await ctx.db.http.execute<{ tenant_id: string; id: string }>(
    sql`select tenant_id, id from claim_stranded_email_messages(${STRANDED_AFTER_SECONDS}, ${MAX_PER_RUN})`,
  );
  const messages = claimed.rows.map((row) => ({
    body: { type: "email.send", tenantId: row.tenant_id, emailId: row.id } satisfies EmailSendMessage,
  }));
  for (let i = 0; i < messages.length; i += MAX_MESSAGES_PER_SEND) {
    await ctx.queues.events.sendBatch(messages.slice(i, i + MAX_MESSAGES_PER_SEND));
  }
  if (messages.length > 0) ctx.logger.warn("stranded emails enqueued again", { emails: messages.length });
  return {
    enqueued: messages.length,
    emails: claimed.rows.map((row) => ({ tenantId: row.tenant_id, id: row.id })),
  };
}
