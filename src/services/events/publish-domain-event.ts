import { type DomainEvent, EventMessage } from "../../queues/messages";
import type { ServiceContext } from "../context";

type DomainEventType = DomainEvent["type"];
type DataOf<T extends DomainEventType> = Extract<DomainEvent, { type: T }>["data"];

/**
 * Publishes a domain event to the `events` queue after the Postgres write it describes has committed.
 * The write is the truth and has already succeeded, so a failure to publish is logged and counted,
 * never thrown: the request still succeeds. The send runs after the response (`waitUntil`).
 */
export function publishDomainEvent<T extends DomainEventType>({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { type: T; data: DataOf<T> };
}): void {
  const tenantId = ctx.tenantId;
  const actor = ctx.actor;
  const send = async () => {
    if (!tenantId || !actor) throw new Error("domain event outside a tenant context");
    const message = EventMessage.parse({
      type: input.type,
      eventId: crypto.randomUUID(),
      tenantId,
      occurredAt: new Date().toISOString(),
      actor,
      data: input.data,
    });
    await ctx.queues.events.send(message, { contentType: "json" });
  };
  ctx.waitUntil(
    send().catch((error: unknown) => {
      ctx.logger.error("domain event not published", {
        type: input.type,
        tenantId,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      });
    }),
  );
}
