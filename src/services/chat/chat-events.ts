import * as z from "zod";
import { type AppError, BadRequestError, ValidationError } from "../../lib/errors";
import { type ChatMessageView, type ChatSessionView, type JsonObject, LIMITS } from "./chat-model";

/**
 * The chat wire protocol, one vocabulary for WebSocket frames and Server-Sent Events.
 *
 * Client → server (WebSocket text frames, JSON):
 *   { type: "message", body, clientMessageId? }   write (a resend with the same clientMessageId is ignored)
 *   { type: "typing", typing: boolean }           typing indicator, relayed to the others, never stored
 *   { type: "handover" }                          customer: ask for a human
 *   { type: "resume", afterSeq }                  send every stored message after afterSeq again
 *   { type: "ping" }                              answered { type: "pong" } (the literal frame `ping` is
 *                                                 answered `pong` without waking a hibernated object)
 *
 * Server → client: the `ChatEvent`s below. Over SSE the `type` is the event name, the JSON is the data,
 * and stored messages carry `id: <seq>` so `Last-Event-ID` resumes exactly after the last one seen.
 */

/**
 * The WebSocket subprotocol: a browser that must authenticate through `Sec-WebSocket-Protocol` offers
 * `tradewind.chat.v1, bearer.<token>`, and the server answers with `tradewind.chat.v1`.
 */
export const CHAT_WS_PROTOCOL = "tradewind.chat.v1";
export const BEARER_PROTOCOL_PREFIX = "bearer.";

export const ClientFrameSchema = z.discriminatedUnion("type", [
  z.object({
    type: z.literal("message"),
    body: z.string().trim().min(1, "Must not be empty").max(LIMITS.bodyChars),
    clientMessageId: z.string().trim().min(1).max(LIMITS.clientMessageIdChars).optional(),
  }),
  z.object({ type: z.literal("typing"), typing: z.boolean() }),
  z.object({ type: z.literal("handover") }),
  z.object({ type: z.literal("resume"), afterSeq: z.number().int().min(0) }),
  z.object({ type: z.literal("ping") }),
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

/** A frame as text, or the caller's error: never throws, so a bad frame cannot break the socket. */
export function parseClientFrame(raw: string | ArrayBuffer): ClientFrame | AppError {
  if (typeof raw !== "string") return new BadRequestError("Frames must be JSON text, not binary");
  if (raw.length > LIMITS.frameBytes) {
    return new BadRequestError(`Frame larger than ${LIMITS.frameBytes} bytes`, {
      details: { maxBytes: LIMITS.frameBytes },
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return new BadRequestError("Frame is not valid JSON");
  }
  const parsed = ClientFrameSchema.safeParse(json);
  if (parsed.success) return parsed.data;
  const fields: Record<string, string[]> = {};
  for (const issue of parsed.error.issues) {
    const path = issue.path.length > 0 ? issue.path.map(String).join(".") : "_root";
    fields[path] ??= [];
    fields[path].push(issue.message);
  }
  return new ValidationError("Invalid frame", fields);
}

export interface ChatErrorPayload {
  code: string;
  message: string;
  details?: JsonObject;
}

export type ChatEvent =
  /** First frame of a WebSocket: the session and the messages after `afterSeq` (or the latest ones). */
  | { type: "ready"; session: ChatSessionView; messages: ChatMessageView[] }
  /** The session changed (status, participants, ticket). */
  | { type: "session"; session: ChatSessionView }
  /** A stored message; `id` over SSE is its seq. */
  | { type: "message"; message: ChatMessageView }
  /** A piece of the AI's reply as it is generated; the full reply follows as a `message`. */
  | { type: "message.delta"; replyId: string; replyTo: number; text: string }
  | { type: "typing"; role: "customer" | "agent" | "bot"; name: string | null; typing: boolean }
  | { type: "presence"; role: "customer" | "agent"; userId: string | null; online: boolean }
  | { type: "error"; error: ChatErrorPayload; clientMessageId?: string }
  | { type: "pong" }
  /** The last event: the chat is over, the connection closes after it. */
  | { type: "closed"; reason: string };

export function errorEvent(error: AppError, clientMessageId?: string): ChatEvent {
  return {
    type: "error",
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details as JsonObject }),
    },
    ...(clientMessageId === undefined ? {} : { clientMessageId }),
  };
}

/** One SSE event. Data is one JSON line, so no `data:` continuation lines are needed. */
export function toServerSentEvent(event: ChatEvent): string {
  const id = event.type === "message" ? `id: ${event.message.seq}\n` : "";
  return `${id}event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/** An SSE comment: keeps proxies and the mini-program's request from timing out an idle stream. */
export const SSE_HEARTBEAT = ": heartbeat\n\n";

/**
 * `Last-Event-ID` (header, or `lastEventId` query for clients that cannot set headers) → the seq to
 * resume after; anything unusable means "from the start".
 */
export function resumeSeqOf(value: string | null | undefined): number {
  if (!value) return 0;
  const n = Number(value.trim());
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
