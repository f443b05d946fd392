import type * as z from "zod";
import { backoffSeconds } from "../lib/backoff";
import { NotFoundError, PreconditionFailedError, UpstreamError } from "../lib/errors";
import type { ServiceContext } from "../services/context";
import { type DeadLetterInput, recordDeadLetters } from "../services/dead-letters/record-dead-letters";
import { recordExhaustedSyncMessages } from "../services/sync-failures/record-exhausted";
import { QUEUES } from "./names";

/** Thrown by handlers for messages that can never succeed (bad data, upstream validation errors). */
export class PermanentMessageError extends Error {
  override readonly name = "PermanentMessageError";
}

/**
 * Validates, handles and settles each message of a batch explicitly: ack on success; retry with
 * jittered exponential backoff (honouring an upstream Retry-After) on transient failure; dead-letter at
 * once when the body is invalid or the failure is permanent. Exhausted retries reach the `*-dlq` queue.
 */
export async function consumeMessages<S extends z.ZodType>(
  ctx: ServiceContext,
  batch: MessageBatch,
  schema: S,
  handle: (body: z.infer<S>, message: Message) => Promise<void>,
): Promise<void> {
  const dead: { message: Message; error: string }[] = [];
  for (const message of batch.messages) {
    const parsed = schema.safeParse(message.body);
    if (!parsed.success) {
      dead.push({
        message,
        error: `invalid message: ${parsed.error.issues.map((i) => i.message).join("; ")}`,
      });
      continue;
    }
    try {
      await handle(parsed.data, message);
      message.ack();
    } catch (error) {
      // Bad data, an upstream's refusal, or a subject that is gone or cannot be opened: no retry helps.
      const permanent =
        error instanceof PermanentMessageError ||
        (error instanceof UpstreamError && !error.retryable) ||
        error instanceof NotFoundError ||
        error instanceof PreconditionFailedError;
      if (permanent) {
        dead.push({ message, error: `${(error as Error).name}: ${(error as Error).message}` });
        continue;
      }
      const retryAfterSeconds = error instanceof UpstreamError ? error.retryAfterSeconds : undefined;
      const delaySeconds = backoffSeconds(message.attempts, { retryAfterSeconds });
      ctx.logger.warn("message retry", {
        queue: batch.queue,
        messageId: message.id,
        attempts: message.attempts,
        delaySeconds,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
      message.retry({ delaySeconds });
    }
  }
  if (dead.length === 0) return;
  // Ack only once they are recorded; if recording fails they are retried and not lost.
  try {
    await recordDeadLetters({ ctx, input: dead.map((d) => toDeadLetter(batch.queue, d.message, d.error)) });
    for (const d of dead) d.message.ack();
  } catch (error) {
    ctx.logger.error("recording dead letters failed", { queue: batch.queue, error: String(error) });
    for (const d of dead) d.message.retry({ delaySeconds: backoffSeconds(d.message.attempts) });
  }
}

/**
 * For `*-dlq` queues: every message is recorded for a person to inspect, fix and replay. Sync messages
 * (`channel-pull-dlq`, `erp-push-dlq`) become their tenant's `sync_failures`, which the tenant's own API
 * lists, edits and replays; whatever cannot be tied to a tenant lands in the platform's `dead_letters`.
 */
export async function recordDeadLetterBatch(ctx: ServiceContext, batch: MessageBatch): Promise<void> {
  let leftovers: readonly Message[] = batch.messages;
  if (batch.queue === QUEUES.CHANNEL_PULL_DLQ || batch.queue === QUEUES.ERP_PUSH_DLQ) {
    const { notRecorded } = await recordExhaustedSyncMessages({
      ctx,
      input: {
        queue: batch.queue,
        messages: batch.messages.map((m) => ({ id: m.id, body: m.body, attempts: m.attempts })),
      },
    });
    const left = new Set(notRecorded.map((m) => m.id));
    leftovers = batch.messages.filter((m) => left.has(m.id));
  }
  if (leftovers.length > 0) {
    await recordDeadLetters({
      ctx,
      input: leftovers.map((m) => toDeadLetter(batch.queue, m, "retries exhausted")),
    });
  }
  batch.ackAll();
}

export function toDeadLetter(queue: string, message: Message, error: string): DeadLetterInput {
  return { queue, messageId: message.id, body: message.body, attempts: message.attempts, error };
}
