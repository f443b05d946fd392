import * as z from "zod";
import { CHAT_CHANNELS, CHAT_ROLES, CHAT_STATUSES, LIMITS } from "../../services/chat/chat-model";

/** OpenAPI shapes of the chat API, shared by the customers' (public) and the agents' routes. */

const Iso = z.iso.datetime();
const Json = z.record(z.string(), z.unknown());

export const ChatCustomerSchema = z
  .strictObject({
    name: z.string().trim().min(1).max(200).optional(),
    email: z.email().max(254).toLowerCase().optional(),
    // The same rule as a ticket's requester: a handover hands these on to the ticket unchanged.
    phone: z
      .string()
      .trim()
      .min(1)
      .max(50)
      .regex(/^[+0-9 ()./-]*$/, "Digits, spaces and + ( ) . / - only")
      .optional(),
    externalId: z.string().trim().min(1).max(200).optional().meta({
      description: "Your own id of the customer (a shop customer id, a WeChat openid)",
    }),
  })
  .meta({ id: "ChatCustomer", example: { name: "Ava Thompson", email: "ava.thompson@example.com" } });

export const ChatMessageSchema = z
  .object({
    seq: z.number().int().meta({ description: "Position in the conversation from 1; the SSE event id" }),
    role: z.enum(CHAT_ROLES),
    authorUserId: z.uuid().nullable().meta({ description: "The agent who wrote it" }),
    authorName: z.string().nullable(),
    body: z.string(),
    clientMessageId: z.string().nullable(),
    meta: Json.nullable().meta({
      description: "Bot replies: `replyTo` (the seq answered), `replyId`; system notes: `event`",
    }),
    createdAt: Iso,
  })
  .meta({ id: "ChatMessage" });

export const ChatParticipantSchema = z
  .object({
    role: z.enum(["customer", "agent"]),
    userId: z.uuid().nullable(),
    name: z.string().nullable(),
    online: z.boolean().meta({ description: "Has an open WebSocket or event stream now" }),
    joinedAt: Iso.nullable(),
    leftAt: Iso.nullable(),
  })
  .meta({ id: "ChatParticipant" });

export const ChatSessionSchema = z
  .object({
    id: z.uuid(),
    status: z.enum(CHAT_STATUSES).meta({
      description:
        "`bot`: the AI answers; `waiting`: a human was asked for; `agent`: an agent has joined; `closed`: over " +
        "(archived once `live` is false)",
    }),
    channel: z.enum(CHAT_CHANNELS),
    customer: ChatCustomerSchema,
    agentId: z.uuid().nullable(),
    ticketId: z.uuid().nullable().meta({ description: "The ticket opened by a handover" }),
    participants: z.array(ChatParticipantSchema),
    messageCount: z.number().int(),
    startedAt: Iso,
    lastMessageAt: Iso.nullable(),
    closedAt: Iso.nullable(),
    closeReason: z.string().nullable().meta({ example: "idle" }),
    live: z.boolean().meta({ description: "true while the conversation is held live; false once archived" }),
    archivedAt: Iso.nullable(),
  })
  .meta({ id: "ChatSession" });

export const ChatMessagePageSchema = z
  .object({ items: z.array(ChatMessageSchema), nextCursor: z.string().nullable() })
  .meta({ id: "ChatMessagePage" });

export const MessagesQuerySchema = z.object({
  after: z.coerce.number().int().min(0).default(0).meta({
    description: "Messages after this seq (a page's `nextCursor`); 0 = from the start",
  }),
  limit: z.coerce.number().int().min(1).max(LIMITS.pageMax).default(100),
});

export const PostMessageSchema = z
  .strictObject({
    body: z.string().trim().min(1).max(LIMITS.bodyChars).meta({ example: "Where is my order #1042?" }),
    clientMessageId: z.string().trim().min(1).max(LIMITS.clientMessageIdChars).optional().meta({
      description: "Your id of this message: sending it again (after a lost answer) does not repeat it",
      example: "m-7f3c2a",
    }),
  })
  .meta({ id: "PostChatMessage" });

export const PostedMessageSchema = z
  .object({
    message: ChatMessageSchema,
    duplicate: z.boolean().meta({ description: "true when this clientMessageId was already sent" }),
  })
  .meta({ id: "PostedChatMessage" });

/** The SSE stream, documented as what it is: text, one event per stored message or change. */
export const eventStreamResponse = {
  content: { "text/event-stream": { schema: z.string() } },
  description:
    "Server-Sent Events: `session` (the session now), then every stored `message` after `Last-Event-ID` " +
    "(each with `id: <seq>`), then live `message`, `message.delta` (the AI's reply as it is written), " +
    "`session`, `typing`, `presence` and finally `closed`; `: heartbeat` comments every 15 s",
};

export const webSocketResponse = {
  description:
    "Switching Protocols. Frames are JSON: send `message`, `typing`, `handover` (customer), `resume`, `ping`; " +
    "receive `ready` first, then `message`, `message.delta`, `session`, `typing`, `presence`, `error`, `closed`. " +
    "Offer subprotocol `tradewind.chat.v1` (with `bearer.<token>` when a header cannot be set)",
};

export const ResumeQuerySchema = z.object({
  afterSeq: z.coerce.number().int().min(0).optional().meta({
    description: "WebSocket: the `ready` frame carries the messages after this seq (default: the last 50)",
  }),
  lastEventId: z.coerce.number().int().min(0).optional().meta({
    description: "SSE: like the Last-Event-ID header, for clients that cannot set it",
  }),
});
