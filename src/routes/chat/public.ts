import { createRoute } from "@hono/zod-openapi";
import * as z from "zod";
import { newApp } from "../../http/app";
import { successBody } from "../../http/envelope";
import {
  bearerSecurity,
  bodyErrors,
  commonErrorResponses,
  envelopeOf,
  errorResponse,
  IdParamSchema,
  jsonContent,
} from "../../http/openapi";
import { rateLimit } from "../../http/rate-limit";
import { CHAT_CHANNELS } from "../../services/chat/chat-model";
import { closeCustomerChat } from "../../services/chat/close-chat-session";
import { connectCustomerToChat } from "../../services/chat/connect-to-chat";
import { createChatSession } from "../../services/chat/create-chat-session";
import { getCustomerChatSession } from "../../services/chat/get-chat-session";
import { listCustomerChatMessages } from "../../services/chat/list-chat-messages";
import { postCustomerChatMessage } from "../../services/chat/post-chat-message";
import { refreshChatToken } from "../../services/chat/refresh-chat-token";
import { requestChatHandover } from "../../services/chat/request-chat-handover";
import { authenticateChatCustomer, chatSessionKey } from "./chat-auth";
import {
  ChatCustomerSchema,
  ChatMessagePageSchema,
  ChatMessageSchema,
  ChatSessionSchema,
  eventStreamResponse,
  MessagesQuerySchema,
  PostedMessageSchema,
  PostMessageSchema,
  ResumeQuerySchema,
  webSocketResponse,
} from "./schemas";

/**
 * `/api/v1/public/chat/sessions`: the customer's side of a chat (the site widget, the mini-program).
 * Starting a chat needs no account; it answers a chat token for that one session, which every other
 * route here requires. Rate-limited per client IP (start) and per session (everything else).
 */
export const publicChatApp = newApp();

const tags = ["Chat (customers)"];
const customer = () => [rateLimit("chat", { key: chatSessionKey }), authenticateChatCustomer()];

const TokenSchema = z.object({
  token: z.string().meta({ description: "The chat token: for this session only" }),
  tokenType: z.literal("Bearer"),
  expiresIn: z.number().int().meta({ description: "Seconds" }),
  expiresAt: z.iso.datetime(),
});

const StartedChatSchema = TokenSchema.extend({
  session: ChatSessionSchema,
  message: ChatMessageSchema.nullable().meta({ description: "The first message, when one was sent" }),
}).meta({ id: "StartedChat" });

const customerErrors = {
  401: errorResponse("Missing, invalid or expired chat token"),
  404: errorResponse("No such session, or the token is for another session"),
  429: errorResponse("Too many requests for this session; see Retry-After"),
} as const;

publicChatApp.openapi(
  createRoute({
    method: "post",
    path: "/",
    tags,
    summary: "Start a chat with a seller",
    description:
      "No authentication. The AI answers first (`status: bot`); the customer can ask for a human at any time. " +
      "Answers the session and a chat token for it (`Authorization: Bearer <token>`). Rate-limited per IP (group `public`).",
    middleware: [rateLimit("public")],
    request: {
      body: {
        required: true,
        content: {
          "application/json": {
            schema: z
              .strictObject({
                tenant: z.string().trim().min(1).max(100).meta({
                  description: "The seller: tenant slug or id",
                  example: "acme",
                }),
                channel: z.enum(CHAT_CHANNELS).default("web"),
                customer: ChatCustomerSchema.default({}),
                message: PostMessageSchema.optional().meta({ description: "The customer's first message" }),
              })
              .meta({ id: "StartChat" }),
          },
        },
      },
    },
    responses: {
      201: jsonContent(envelopeOf(StartedChatSchema), "The chat and its token"),
      403: errorResponse("The tenant is suspended"),
      404: errorResponse("No such tenant"),
      429: errorResponse("Too many chats started from this address; see Retry-After"),
      ...bodyErrors,
      500: commonErrorResponses[500],
    },
  }),
  async (c) => {
    const started = await createChatSession({ ctx: c.var.services, input: c.req.valid("json") });
    return c.json(successBody(c, started), 201);
  },
);

publicChatApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}",
    tags,
    summary: "The customer's chat",
    security: bearerSecurity,
    middleware: customer(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(ChatSessionSchema), "The session (live, or as archived)"),
      ...customerErrors,
      422: commonErrorResponses[422],
    },
  }),
  async (c) => {
    const session = await getCustomerChatSession({
      ctx: c.var.services,
      input: { sessionId: c.req.valid("param").id },
    });
    return c.json(successBody(c, session), 200);
  },
);

publicChatApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/messages",
    tags,
    summary: "The conversation so far",
    description: "Oldest first, cursor-paged by seq (`{ items, nextCursor }`).",
    security: bearerSecurity,
    middleware: customer(),
    request: { params: IdParamSchema, query: MessagesQuerySchema },
    responses: {
      200: jsonContent(envelopeOf(ChatMessagePageSchema), "A page of messages"),
      ...customerErrors,
      422: commonErrorResponses[422],
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const page = await listCustomerChatMessages({
      ctx: c.var.services,
      input: { sessionId: c.req.valid("param").id, afterSeq: q.after, limit: q.limit },
    });
    return c.json(successBody(c, page), 200);
  },
);

publicChatApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/messages",
    tags,
    summary: "Send a message",
    description:
      "For clients on the event stream (`GET …/events`); WebSocket clients send a `message` frame instead. While the " +
      "AI answers (`status: bot`), its reply streams to the connections as `message.delta` events, then a `message`.",
    security: bearerSecurity,
    middleware: customer(),
    request: {
      params: IdParamSchema,
      body: { required: true, content: { "application/json": { schema: PostMessageSchema } } },
    },
    responses: {
      201: jsonContent(envelopeOf(PostedMessageSchema), "Stored and sent to everyone in the chat"),
      412: errorResponse("The chat is closed"),
      ...customerErrors,
      ...bodyErrors,
    },
  }),
  async (c) => {
    const body = c.req.valid("json");
    const posted = await postCustomerChatMessage({
      ctx: c.var.services,
      input: {
        sessionId: c.req.valid("param").id,
        body: body.body,
        clientMessageId: body.clientMessageId ?? null,
      },
    });
    return c.json(successBody(c, posted), 201);
  },
);

publicChatApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/events",
    tags,
    summary: "Follow the chat as Server-Sent Events",
    description:
      "For clients that cannot hold a WebSocket (the mini-program). Resumes after `Last-Event-ID` (or " +
      "`?lastEventId=`); the token may also come as `?access_token=` (EventSource cannot set headers).",
    security: bearerSecurity,
    middleware: customer(),
    request: { params: IdParamSchema, query: ResumeQuerySchema },
    responses: {
      200: eventStreamResponse,
      412: errorResponse("The chat is closed"),
      ...customerErrors,
      422: commonErrorResponses[422],
    },
  }),
  async (c) => {
    const response = await connectCustomerToChat({
      ctx: c.var.services,
      input: { sessionId: c.req.valid("param").id, transport: "events", request: c.req.raw },
    });
    return response;
  },
);

publicChatApp.openapi(
  createRoute({
    method: "get",
    path: "/{id}/ws",
    tags,
    summary: "Chat over a WebSocket",
    description:
      "`Upgrade: websocket`. The token as `Authorization`, as subprotocol `bearer.<token>`, or `?access_token=`.",
    security: bearerSecurity,
    middleware: customer(),
    request: { params: IdParamSchema, query: ResumeQuerySchema },
    responses: {
      101: webSocketResponse,
      400: errorResponse("Not a WebSocket upgrade"),
      412: errorResponse("The chat is closed"),
      ...customerErrors,
      422: commonErrorResponses[422],
    },
  }),
  async (c) => {
    const response = await connectCustomerToChat({
      ctx: c.var.services,
      input: { sessionId: c.req.valid("param").id, transport: "ws", request: c.req.raw },
    });
    return response;
  },
);

publicChatApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/handover",
    tags,
    summary: "Ask for a human",
    description:
      "Moves the chat to `waiting` and opens a ticket with the transcript (or adds to the chat's ticket). Safe " +
      "to repeat: while an agent is coming or here, nothing changes.",
    security: bearerSecurity,
    middleware: customer(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(ChatSessionSchema), "The session"),
      412: errorResponse("The chat is closed"),
      ...customerErrors,
      422: commonErrorResponses[422],
    },
  }),
  async (c) => {
    const session = await requestChatHandover({
      ctx: c.var.services,
      input: { sessionId: c.req.valid("param").id },
    });
    return c.json(successBody(c, session), 200);
  },
);

publicChatApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/close",
    tags,
    summary: "End the chat",
    description:
      "Everyone is disconnected and the transcript is archived. Closing a closed chat answers it as archived.",
    security: bearerSecurity,
    middleware: customer(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(ChatSessionSchema), "The closed session"),
      ...customerErrors,
      422: commonErrorResponses[422],
    },
  }),
  async (c) => {
    const session = await closeCustomerChat({
      ctx: c.var.services,
      input: { sessionId: c.req.valid("param").id },
    });
    return c.json(successBody(c, session), 200);
  },
);

publicChatApp.openapi(
  createRoute({
    method: "post",
    path: "/{id}/token",
    tags,
    summary: "Renew the chat token",
    description: "A new token for a live chat, presented with the current (unexpired) one.",
    security: bearerSecurity,
    middleware: customer(),
    request: { params: IdParamSchema },
    responses: {
      200: jsonContent(envelopeOf(TokenSchema.meta({ id: "ChatToken" })), "The new token"),
      412: errorResponse("The chat is closed"),
      ...customerErrors,
      422: commonErrorResponses[422],
    },
  }),
  async (c) => {
    const token = await refreshChatToken({
      ctx: c.var.services,
      input: { sessionId: c.req.valid("param").id },
    });
    return c.json(successBody(c, token), 200);
  },
);
