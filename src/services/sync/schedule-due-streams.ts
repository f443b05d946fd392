import { sql } from "drizzle-orm";
import type { ChannelPullMessage } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";

const MAX_STREAMS_PER_RUN = 2000;
const MAX_MESSAGES_PER_SEND = 100;

/**
 * The cron's whole job for the hub: claim the streams that are due (one statement across tenants, which
 * also moves each stream's next run, so overlapping cron runs never enqueue a stream twice) and enqueue
 * one `stream.run` message per stream. The work itself happens in the consumers.
 */
export async function scheduleDueStreams({ ctx }: { ctx: ServiceContext }): Promise<{ enqueued: number }> {
  const due = await ctx.db.http.execute<{ tenant_id: string; connection_id: string; resource: string }>(
    sql`select tenant_id, connection_id, resource from claim_due_sync_streams(${MAX_STREAMS_PER_RUN})`,
  );
  const messages = due.rows.map((row) => ({
    body: {
      type: "stream.run",
      tenantId: row.tenant_id,
      connectionId: row.connection_id,
      resource: row.resource,
      trigger: "cron",
    } as ChannelPullMessage,
  }));
  for (let i = 0; i < messages.length; i += MAX_MESSAGES_PER_SEND) {
    await ctx.queues.channelPull.sendBatch(messages.slice(i, i + MAX_MESSAGES_PER_SEND));
  }
  if (messages.length > 0) ctx.logger.info("sync streams enqueued", { streams: messages.length });
  return { enqueued: messages.length };
}
