import { deadLetters } from "../../db/schema";
import { isUuid } from "../../lib/ids";
import type { ServiceContext } from "../context";

export interface DeadLetterInput {
  queue: string;
  messageId: string;
  body: unknown;
  attempts: number;
  error: string | null;
}

function tenantOf(body: unknown): string | null {
  if (typeof body !== "object" || body === null) return null;
  const tenantId = (body as { tenantId?: unknown }).tenantId;
  return isUuid(tenantId) ? tenantId : null;
}

/** One statement for the whole batch; redeliveries of the same message are recorded once. */
export async function recordDeadLetters({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: DeadLetterInput[];
}): Promise<void> {
  if (input.length === 0) return;
  await ctx.db.http
    .insert(deadLetters)
    .values(
      input.map((d) => ({
        queue: d.queue,
        messageId: d.messageId,
        tenantId: tenantOf(d.body),
        body: d.body ?? null,
        attempts: d.attempts,
        error: d.error?.slice(0, 4000) ?? null,
      })),
    )
    .onConflictDoNothing({ target: [deadLetters.queue, deadLetters.messageId] });
  ctx.logger.error("messages dead-lettered", { queue: input[0]?.queue, count: input.length });
}
