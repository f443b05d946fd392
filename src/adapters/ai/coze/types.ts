import * as z from "zod";

/**
 * Coze OpenAPI shapes used by Tradewind (docs: coze.com/docs/developer_guides — oauth_jwt, chat_v3,
 * chat_submit_tool_outputs, coze_error_codes). Parsed loosely: Coze adds fields often, and a field we do
 * not read must never fail a customer's reply.
 */

/** The two Coze deployments; each has its own accounts, apps and bots (`api.coze.com` / `api.coze.cn`). */
export type CozeRegion = "com" | "cn";

export const COZE_PATHS = {
  /** OAuth JWT grant: a signed JWT (Bearer) → an access token. */
  token: "/api/permission/oauth2/token",
  chat: "/v3/chat",
  submitToolOutputs: "/v3/chat/submit_tool_outputs",
} as const;

export const JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/**
 * `POST /api/permission/oauth2/token` → `{ access_token, expires_in }`. `expires_in` is documented as the
 * token's expiry as a Unix timestamp in seconds (not a lifetime); `tokenExpiresAtMs` also copes with a
 * lifetime, should Coze ever align with RFC 6749.
 */
export const cozeTokenSchema = z.object({
  access_token: z.string().min(1),
  expires_in: z.number().int().positive(),
});

/** OAuth errors of the token endpoint: `{ error_code: "invalid_client", error_message }`. */
export const cozeOAuthErrorSchema = z.object({
  error_code: z.string().optional(),
  error_message: z.string().optional(),
  error: z.string().optional(),
});

/** Business errors of every other API: `{ code, msg, detail?: { logid } }` (code 0 = success). */
export const cozeErrorBodySchema = z.object({
  code: z.number().int(),
  msg: z.string().optional().default(""),
  detail: z.object({ logid: z.string().optional() }).loose().optional(),
});

const lastErrorSchema = z
  .object({ code: z.number().int().optional(), msg: z.string().optional() })
  .loose()
  .nullish();

export const cozeToolCallSchema = z
  .object({
    id: z.string(),
    /** `function` for a local plugin; `reply_message` for a workflow question node (not used here). */
    type: z.string(),
    function: z.object({ name: z.string(), arguments: z.string().optional().default("{}") }).optional(),
  })
  .loose();
export type CozeToolCall = z.infer<typeof cozeToolCallSchema>;

/** The Chat Object carried by every `conversation.chat.*` event. */
export const cozeChatSchema = z
  .object({
    id: z.string(),
    conversation_id: z.string(),
    bot_id: z.string().optional(),
    status: z.string().optional(),
    last_error: lastErrorSchema,
    required_action: z
      .object({
        type: z.string(),
        submit_tool_outputs: z.object({ tool_calls: z.array(cozeToolCallSchema) }).optional(),
      })
      .loose()
      .nullish(),
    usage: z
      .object({
        token_count: z.number().optional(),
        output_count: z.number().optional(),
        input_count: z.number().optional(),
      })
      .loose()
      .nullish(),
  })
  .loose();
export type CozeChat = z.infer<typeof cozeChatSchema>;

/** The Message Object carried by `conversation.message.*` events. */
export const cozeMessageSchema = z
  .object({
    id: z.string().optional(),
    conversation_id: z.string().optional(),
    chat_id: z.string().optional(),
    role: z.string(),
    /** `answer` is what the customer reads; `function_call`, `tool_response`, `verbose`, `follow_up`, `knowledge` are not. */
    type: z.string(),
    content: z.string().optional().default(""),
    content_type: z.string().optional().default("text"),
  })
  .loose();
export type CozeMessage = z.infer<typeof cozeMessageSchema>;

/** `conversation.chat.failed` / `error`: either a Chat Object with `last_error`, or a bare `{ code, msg }`. */
export const cozeFailureSchema = z
  .object({ code: z.number().int().optional(), msg: z.string().optional(), last_error: lastErrorSchema })
  .loose();

/** One server-sent event as it came over the wire (https://html.spec.whatwg.org/#event-stream-interpretation). */
export interface SseFrame {
  /** `message` when the frame named none. */
  event: string;
  /** The data lines joined with "\n". */
  data: string;
  id?: string;
}

/** What a Coze chat stream says, typed. Events Tradewind does not use arrive as `ignored`. */
export type CozeStreamEvent =
  | { type: "chat.created"; chat: CozeChat }
  | { type: "chat.in_progress"; chat: CozeChat }
  | { type: "message.delta"; message: CozeMessage }
  | { type: "message.completed"; message: CozeMessage }
  | { type: "chat.requires_action"; chat: CozeChat; toolCalls: CozeToolCall[] }
  | { type: "chat.completed"; chat: CozeChat }
  /** The chat failed (`conversation.chat.failed`) or the stream reported an `error` event. */
  | { type: "chat.failed"; code: number | null; message: string }
  | { type: "done" }
  | { type: "ignored"; event: string };

/** A message of the conversation so far, in Coze's EnterMessage shape (`additional_messages`). */
export interface CozeEnterMessage {
  role: "user" | "assistant";
  type: "question" | "answer";
  content: string;
  content_type: "text";
}

export interface CozeToolOutput {
  tool_call_id: string;
  output: string;
}
