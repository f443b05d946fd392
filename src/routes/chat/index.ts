import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { authenticate, requirePermission } from "../../http/auth";
import { successBody } from "../../http/envelope";
import {
  authErrorResponses,
  bearerSecurity,
  bodyErrors,
  commonErrorResponses,
  envelopeOf,
  errorResponse,
  IdParamSchema,
  jsonContent,
  PageQuerySchema,
  pageOf,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { CHAT_CHANNELS, CHAT_STATUSES } from "../../services/chat/chat-model";
import { closeAgentChat } from "../../services/chat/close-chat-session";
import { connectAgentToChat } from "../../services/chat/connect-to-chat";
import { getChatSession } from "../../services/chat/get-chat-session";
import { joinChatSession } from "../../services/chat/join-chat-session";
import { leaveChatSession } from "../../services/chat/leave-chat-session";
import { listChatMessages } from "../../services/chat/list-chat-messages";
import { listChatSessions } from "../../services/chat/list-chat-sessions";
import { postAgentChatMessage } from "../../services/chat/post-chat-message";
import { TimeBound } from "../../services/orders/time-range";
import { multiValueQuery } from "../orders";
import { bearerFromWebSocketProtocol } from "./chat-auth";
import {
  ChatMessagePageSchema,
  ChatSessionSchema,
  eventStreamResponse,
  MessagesQuerySchema,
  PostedMessageSchema,
  PostMessageSchema,
  ResumeQuerySchema,
  webSocketResponse,
} from "./schemas";

export { publicChatApp } from "./public";

/**
 * `/api/v1/chats`: the agents' side. chat:read lists and watches chats (live from their objects,
 * archived from Postgres); chat:write joins, writes, hands back and closes.
 */
export const chatsApp = newApp();

const tags = ["Chat (agents)"];
const reader = () => [authenticate(), requirePermission("chat:read"), rateLimit("default")];
const writer = () => [authenticate(), requirePermission("chat:write"), rateLimit("default")];

const inChatErrors = {
  404: errorResponse("No such chat in this tenant"),
  412: errorResponse("The chat is closed, or you have not joined it"),
} as const;

const ListQuerySchema = PageQuerySchema.extend({
  status: multiValueQuery(CHAT_STATUSES, "One status or several (`status=waiting&status=agent`)").optional(),
  channel: z.enum(CHAT_CHANNELS).optional(),
  agentId: z.uuid().toLowerCase().optional(),
  ticketId: z.uuid().toLowerCase().optional(),
  live: z
    .enum(["true", "false"])
    .transform((v) => v === "true")
    .optional()
    .meta({ description: "`true`: chats still live; `false`: archived ones" }),
  startedFrom: TimeBound.optional(),
  startedTo: TimeBound.optional().meta({ description: "Inclusive: a date keeps that whole UTC day" }),
  search: z.string().trim().min(1).max(100).optional().meta({
    description: "Case-insensitive substring of the customer's name, email, phone or external id",
  }),
});

chatsApp.openapi(
  createRoute({
    method: "get",
    path: "/",
    tags,
    summary: "List chats",
    description:
      "Live and archived chats, newest first, page/offset (`{ items, total, page, pageSize, totalPages }`). For " +
      "live chats the row is the summary as of the last state change; open one for its live view.",
    security: bearerSecurity,
    middleware: reader(),
    request: { query: ListQuerySchema },
    responses: {
      200: jsonContent(envelopeOf(pageOf(ChatSessionSchema)), "A page of chats"),
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listChatSessions({
      ctx: c.var.services,
      input: {
        page: q.page,
        pageSize: q.pageSize,
        status: q.status,
        channel: q.channel,
        agentId: q.agentId,
        ticketId: q.ticketId,
        live: q.live,
        started: { from: q.startedFrom, to: q.startedTo },
        search: q.search,
      },
    });
    return c.json(successBody(c, page), 200);
  },
);

chatsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "A chat",
    description: "Live from its object (presence included) or, once archived, from Postgres.",
    security: bearerSecurity,
    middleware: reader(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(ChatSessionSchema), "The chat"),
      404: inChatErrors[404],
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const session = await getChatSession({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, session), 200);
  },
);

chatsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/messages",
    tags,
    summary: "A chat's messages",
    description: "Oldest first, cursor-paged by seq (`{ items, nextCursor }`); archived chats from Postgres.",
    security: bearerSecurity,
    middleware: reader(),
    request: { params: IdParamSchema, query: MessagesQuerySchema },
    responses: {
      200: jsonContent(envelopeOf(ChatMessagePageSchema), "A page of messages"),
      404: inChatErrors[404],
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listChatMessages({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, afterSeq: q.after, limit: q.limit },
    });
    return c.json(successBody(c, page), 200);
  },
);

chatsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/ws",
    tags,
    summary: "Watch or work a chat over a WebSocket",
    description:
      "`Upgrade: websocket`, with `Authorization` or, from a browser, subprotocols `tradewind.chat.v1, bearer.<token>`. " +
      "chat:read watches; chat:write (after joining) may also send `message` and `typing` frames.",
    security: bearerSecurity,
    middleware: [bearerFromWebSocketProtocol(), ...reader()],
    request: { params: IdParamSchema, query: ResumeQuerySchema },
    responses: {
      101: webSocketResponse,
      ...inChatErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
      400: errorResponse("Not a WebSocket upgrade"),
    },
  }),
  async (c) => {
    return connectAgentToChat({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, transport: "ws", request: c.req.raw },
    });
  },
);

chatsApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/events",
    tags,
    summary: "Follow a chat as Server-Sent Events",
    description: "The same events as the customer's stream, with the agents' view of the session.",
    security: bearerSecurity,
    middleware: reader(),
    request: { params: IdParamSchema, query: ResumeQuerySchema },
    responses: {
      200: eventStreamResponse,
      ...inChatErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    return connectAgentToChat({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, transport: "events", request: c.req.raw },
    });
  },
);

chatsApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/join",
    tags,
    summary: "Join a chat",
    description:
      "The signed-in agent joins; the chat moves to `agent` (from `waiting`, or taken over from the bot). Joining " +
      "again changes nothing.",
    security: bearerSecurity,
    middleware: writer(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(ChatSessionSchema), "The chat"),
      ...inChatErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const session = await joinChatSession({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, session), 200);
  },
);

chatsApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/messages",
    tags,
    summary: "Write in a chat",
    description:
      "As the signed-in agent, who must have joined. Relayed at once to the customer and the other agents.",
    security: bearerSecurity,
    middleware: writer(),
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: PostMessageSchema } } },
    },
    responses: {
      201: jsonContent(envelopeOf(PostedMessageSchema), "Stored and sent to everyone in the chat"),
      ...inChatErrors,
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const posted = await postAgentChatMessage({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, body: body.body, clientMessageId: body.clientMessageId ?? null },
    });
    return c.json(successBody(c, posted), 201);
  },
);

chatsApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/leave",
    tags,
    summary: "Leave a chat",
    description:
      "When the last agent leaves, the customer waits for another (`waiting`, the chat's ticket gets the new " +
      "transcript) or, with `returnToBot: true`, the AI answers again.",
    security: bearerSecurity,
    middleware: writer(),
    request: {
      params: IdParamSchema,
      body: {
        required: false,
        content: {
          "application/json": {
            schema: z.strictObject({ returnToBot: z.boolean().default(false) }).meta({ id: "LeaveChat" }),
          },
        },
      },
    },
    responses: {
      200: jsonContent(envelopeOf(ChatSessionSchema), "The chat"),
      ...inChatErrors,
      ...bodyErrors,
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const body = c.req.valid("json") ?? { returnToBot: false };
    const session = await leaveChatSession({
      ctx: c.var.services,
      input: { id: c.req.valid("param").id, returnToBot: body.returnToBot },
    });
    return c.json(successBody(c, session), 200);
  },
);

chatsApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/close",
    tags,
    summary: "Close a chat",
    description:
      "Everyone is disconnected and the transcript archived. Closing a closed chat answers it as archived.",
    security: bearerSecurity,
    middleware: writer(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(ChatSessionSchema), "The closed chat"),
      404: inChatErrors[404],
      ...authErrorResponses,
      ...commonErrorResponses,
    },
  }),
  async (c) => {
    const session = await closeAgentChat({ ctx: c.var.services, input: c.req.valid("param") });
    return c.json(successBody(c, session), 200);
  },
);
