import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { domainEvents } from "../../db/schema";
import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { DomainEvent } from "../../queues/messages";
import type { ServiceContext } from "../context";

/**
 * The `events` consumer's side of a domain event: one row in `domain_events`, written in the event's
 * tenant context (RLS). Idempotent on the event id, so a redelivered message records nothing new.
 * An event of a tenant that no longer exists can never be recorded: `NotFoundError`, which the queue
 * consumer treats as permanent.
 */
export async function recordDomainEvent({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: DomainEvent;
}): Promise<{ recorded: boolean }> {
  try {
    const [inserted] = await tenantBatch(ctx.db.http, input.tenantId, (db) => [
      db
        .insert(domainEvents)
        .values({
          id: input.eventId,
          tenantId: input.tenantId,
          type: input.type,
          subjectId: "userId" in input.data ? input.data.userId : input.data.ticketId,
          actor: input.actor,
          payload: input.data,
          occurredAt: input.occurredAt,
        })
        .onConflictDoNothing({ target: domainEvents.id })
        .returning({ id: domainEvents.id }),
    ]);
    return { recorded: inserted.length > 0 };
  } catch (error) {
    if (pgErrorOf(error)?.code === PG_FOREIGN_KEY_VIOLATION) {
      throw new NotFoundError(`Tenant ${input.tenantId} does not exist`);
    }
    throw error;
  }
}
