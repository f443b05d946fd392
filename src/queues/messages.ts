import * as z from "zod";

/**
 * Bodies of `events` queue messages: a union on `type`. Producers build them with these schemas and the
 * consumer validates them again, so a malformed message is dead-lettered instead of crashing a batch.
 */
export const CacheInvalidateEvent = z.object({
  type: z.literal("cache.invalidate"),
  /** Full (prefixed) Redis keys whose delete failed inline and must still happen. */
  keys: z.array(z.string().min(1)).min(1).max(100),
  reason: z.string().max(200),
});

/** Who did it (the service context's `Actor`), as recorded with every domain event. */
export const EventActor = z.discriminatedUnion("type", [
  z.object({ type: z.literal("user"), userId: z.uuid() }),
  z.object({ type: z.literal("apiKey"), keyId: z.string().min(1).max(200) }),
  z.object({ type: z.literal("system"), name: z.string().min(1).max(200) }),
  z.object({ type: z.literal("webhook"), source: z.string().min(1).max(200) }),
  z.object({ type: z.literal("applicant"), applicationId: z.string().min(1).max(200) }),
]);
export type EventActor = z.infer<typeof EventActor>;

/**
 * Fields a `user.updated` event may name. Only names, never values: a password change is reported as
 * `"password"`, and neither the password nor its hash ever enters an event.
 */
export const USER_CHANGE_FIELDS = [
  "email",
  "username",
  "fullName",
  "phone",
  "organizationId",
  "active",
  "superuser",
  "password",
  "roleIds",
] as const;
export const UserChangeField = z.enum(USER_CHANGE_FIELDS);
export type UserChangeField = z.infer<typeof UserChangeField>;

/** Envelope shared by domain events; `eventId` makes recording idempotent on redelivery. */
const domainEventBase = {
  eventId: z.uuid(),
  tenantId: z.uuid(),
  occurredAt: z.iso.datetime(),
  actor: EventActor,
};

export const UserCreatedEvent = z.object({
  type: z.literal("user.created"),
  ...domainEventBase,
  data: z.object({ userId: z.uuid() }),
});

export const UserUpdatedEvent = z.object({
  type: z.literal("user.updated"),
  ...domainEventBase,
  data: z.object({ userId: z.uuid(), changes: z.array(UserChangeField).min(1) }),
});

export const UserDeletedEvent = z.object({
  type: z.literal("user.deleted"),
  ...domainEventBase,
  data: z.object({ userId: z.uuid() }),
});

/**
 * A ticket's SLA target crossed a line (src/services/sla/sweep-sla-transitions.ts): `ticket.sla_at_risk`
 * once the policy's at-risk share of the target is used, `ticket.sla_breached` once its due time passed.
 * Each is recorded once per ticket and target.
 */
const TicketSlaTransitionData = z.object({
  ticketId: z.uuid(),
  ticketNumber: z.number().int(),
  target: z.enum(["first_response", "resolution"]),
  priority: z.enum(["low", "normal", "high", "urgent"]),
  dueAt: z.iso.datetime(),
  assigneeId: z.uuid().nullable(),
  teamId: z.uuid().nullable(),
  policyId: z.uuid().nullable(),
});

export const TicketSlaAtRiskEvent = z.object({
  type: z.literal("ticket.sla_at_risk"),
  ...domainEventBase,
  data: TicketSlaTransitionData.extend({ atRiskAt: z.iso.datetime() }),
});

export const TicketSlaBreachedEvent = z.object({
  type: z.literal("ticket.sla_breached"),
  ...domainEventBase,
  data: TicketSlaTransitionData,
});

export const DomainEvent = z.discriminatedUnion("type", [
  UserCreatedEvent,
  UserUpdatedEvent,
  UserDeletedEvent,
  TicketSlaAtRiskEvent,
  TicketSlaBreachedEvent,
]);
export type DomainEvent = z.infer<typeof DomainEvent>;

/** A later delivery attempt of a stored email (src/services/email/deliver-queued-email.ts). */
export const EmailSendMessage = z.object({
  type: z.literal("email.send"),
  tenantId: z.uuid(),
  emailId: z.uuid(),
});

export const EventMessage = z.discriminatedUnion("type", [
  CacheInvalidateEvent,
  EmailSendMessage,
  UserCreatedEvent,
  UserUpdatedEvent,
  UserDeletedEvent,
  TicketSlaAtRiskEvent,
  TicketSlaBreachedEvent,
]);
export type EventMessage = z.infer<typeof EventMessage>;
