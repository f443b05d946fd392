import { env } from "cloudflare:workers";
import type { ChatSession } from "../../durable-objects/chat-session";
import {
  BadRequestError,
  ConflictError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  ValidationError,
} from "../../lib/errors";
import type { ChatErrorPayload } from "./chat-events";
import type { ChatParticipant } from "./chat-model";

/**
 * How services reach a conversation's `ChatSession` Durable Object. The object is named by the session
 * id; every call carries the tenant the caller was authenticated for, and the object refuses (as "not
 * found") a tenant other than the one it was started with. Calls answer a `ChatCallResult` instead of
 * throwing: errors lose their class crossing the RPC boundary, so they travel as the envelope's
 * `{ code, message, details }` and become typed errors again here.
 */
export type ChatCallResult<T> = { ok: true; value: T } | { ok: false; error: ChatErrorPayload };

/** Internal headers of the object's `fetch` (WebSocket and SSE): set by services, never by clients. */
export const CHAT_TENANT_HEADER = "x-tradewind-chat-tenant";
export const CHAT_PARTICIPANT_HEADER = "x-tradewind-chat-participant";

/**
 * The conversation's object. The namespace is read from the Worker's env (`cloudflare:workers`) rather
 * than the ServiceContext, so the object itself, routes, queues and cron reach it the same way.
 */
export function sessionStub(sessionId: string): DurableObjectStub<ChatSession> {
  return env.CHAT_SESSIONS.get(env.CHAT_SESSIONS.idFromName(sessionId));
}

/** The value of a call, or its error as the typed error the HTTP layer maps. */
export function unwrap<T>(result: ChatCallResult<T>): T {
  if (result.ok) return result.value;
  throw toAppError(result.error);
}

/** A refusal of the object as the typed error it was; anything unexpected stays an internal error (500). */
export function toAppError(error: ChatErrorPayload): Error {
  const options = error.details === undefined ? undefined : { details: error.details };
  switch (error.code) {
    case "NOT_FOUND":
      return new NotFoundError(error.message, options);
    case "FORBIDDEN":
      return new ForbiddenError(error.message, options);
    case "CONFLICT":
      return new ConflictError(error.message, options);
    case "PRECONDITION_FAILED":
      return new PreconditionFailedError(error.message, options);
    case "VALIDATION_ERROR":
      return new ValidationError(error.message, (error.details ?? {}) as Record<string, string[]>);
    case "RATE_LIMITED":
      return new RateLimitedError(error.message, Number(error.details?.retryAfterSeconds ?? 1));
    case "BAD_REQUEST":
      return new BadRequestError(error.message, options);
    default:
      return new Error(`chat session answered ${error.code}: ${error.message}`);
  }
}

export function participantHeader(participant: ChatParticipant): string {
  return JSON.stringify(participant);
}

/** The participant a service put on an internal request; null when missing or malformed. */
export function participantFromHeader(value: string | null): ChatParticipant | null {
  if (!value) return null;
  try {
    const parsed = JSON.parse(value) as Partial<ChatParticipant> & Record<string, unknown>;
    if (parsed.kind === "customer") return { kind: "customer" };
    if (
      parsed.kind === "agent" &&
      typeof parsed.userId === "string" &&
      typeof parsed.name === "string" &&
      typeof parsed.canWrite === "boolean"
    ) {
      return { kind: "agent", userId: parsed.userId, name: parsed.name, canWrite: parsed.canWrite };
    }
  } catch {
    // fall through
  }
  return null;
}
