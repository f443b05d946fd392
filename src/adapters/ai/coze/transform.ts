import type { UpstreamFailureKind } from "../../../lib/upstream-gate";
import {
  type CozeChat,
  type CozeEnterMessage,
  type CozeRegion,
  type CozeStreamEvent,
  type CozeToolCall,
  cozeChatSchema,
  cozeFailureSchema,
  cozeMessageSchema,
  type SseFrame,
} from "./types";

// ---------------------------------------------------------------------------------------------------------
// Server-sent events

/**
 * An incremental `text/event-stream` decoder (WHATWG "event stream interpretation"): feed it text as it
 * arrives, in chunks split anywhere (mid-line, mid-CRLF, mid-field), and it returns the frames completed so
 * far. Lines end in LF, CR or CRLF; `data` lines of one frame are joined with "\n"; one space after the
 * colon is dropped (Coze sends `data:{…}` without it, the spec's examples with it); comment lines (`:`) and
 * unknown fields are skipped; a frame is dispatched at a blank line, and a frame without data is dropped.
 */
export interface SseDecoder {
  /** Throws `CozeMalformedEventError` once a frame grows past the decoder's limit. */
  push(chunk: string): SseFrame[];
  /** End of stream: a last frame not closed by a blank line is dispatched anyway (Coze's `done` may lack it). */
  end(): SseFrame[];
}

/**
 * The most text one frame may hold. A delta is a few characters and a completed answer a few thousand; a
 * stream that never ends its line or frame (a broken proxy) must not hold the isolate's memory until the
 * reply deadline.
 */
export const MAX_SSE_FRAME_CHARS = 1_000_000;

export function createSseDecoder(options: { maxFrameChars?: number } = {}): SseDecoder {
  const maxFrameChars = options.maxFrameChars ?? MAX_SSE_FRAME_CHARS;
  let buffer = "";
  /** Characters of the data lines of the frame being read. */
  let dataChars = 0;
  let started = false;
  /** The previous chunk ended in CR: a LF at the start of the next one belongs to that line ending. */
  let pendingCr = false;
  let event = "";
  let data: string[] = [];
  let id: string | undefined;

  const dispatch = (frames: SseFrame[]) => {
    if (data.length > 0) {
      frames.push({ event: event === "" ? "message" : event, data: data.join("\n"), ...(id ? { id } : {}) });
    }
    event = "";
    data = [];
    dataChars = 0;
  };

  const line = (text: string, frames: SseFrame[]) => {
    if (text === "") return dispatch(frames);
    if (text.startsWith(":")) return;
    const colon = text.indexOf(":");
    const field = colon < 0 ? text : text.slice(0, colon);
    let value = colon < 0 ? "" : text.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") {
      data.push(value);
      dataChars += value.length + 1;
    } else if (field === "id" && !value.includes("\0")) id = value;
  };

  return {
    push(chunk) {
      const frames: SseFrame[] = [];
      let text = chunk;
      if (!started && text !== "") {
        started = true;
        // A byte-order mark may open the stream; it is not part of the first field name.
        if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      }
      if (pendingCr && text.startsWith("\n")) text = text.slice(1);
      pendingCr = false;
      buffer += text;
      let start = 0;
      for (let i = 0; i < buffer.length; i++) {
        const ch = buffer.charCodeAt(i);
        if (ch !== 10 && ch !== 13) continue;
        line(buffer.slice(start, i), frames);
        if (ch === 13) {
          if (i + 1 === buffer.length) pendingCr = true;
          else if (buffer.charCodeAt(i + 1) === 10) i++;
        }
        start = i + 1;
      }
      buffer = buffer.slice(start);
      if (buffer.length + dataChars > maxFrameChars) throw new CozeMalformedEventError(event || "message");
      return frames;
    },
    end() {
      const frames: SseFrame[] = [];
      if (buffer !== "") line(buffer, frames);
      buffer = "";
      dispatch(frames);
      return frames;
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Events

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** A frame whose data is not what its event promises. */
export class CozeMalformedEventError extends Error {
  constructor(readonly event: string) {
    super(`Coze sent a malformed '${event}' event`);
    this.name = "CozeMalformedEventError";
  }
}

function chatOf(frame: SseFrame): CozeChat {
  const parsed = cozeChatSchema.safeParse(parseJson(frame.data));
  if (!parsed.success) throw new CozeMalformedEventError(frame.event);
  return parsed.data;
}

/**
 * One SSE frame of `/v3/chat` or `/v3/chat/submit_tool_outputs` as a typed event. `done` carries `[DONE]`
 * (Coze has sent it both bare and JSON-quoted). A failure carries either a Chat Object with `last_error`
 * or a bare `{ code, msg }`. Throws `CozeMalformedEventError` when a frame Tradewind relies on cannot be read.
 */
export function toCozeEvent(frame: SseFrame): CozeStreamEvent {
  switch (frame.event) {
    case "conversation.chat.created":
      return { type: "chat.created", chat: chatOf(frame) };
    case "conversation.chat.in_progress":
      return { type: "chat.in_progress", chat: chatOf(frame) };
    case "conversation.chat.completed":
      return { type: "chat.completed", chat: chatOf(frame) };
    case "conversation.chat.requires_action": {
      const chat = chatOf(frame);
      return { type: "chat.requires_action", chat, toolCalls: toolCallsOf(chat) };
    }
    case "conversation.message.delta":
    case "conversation.message.completed": {
      const parsed = cozeMessageSchema.safeParse(parseJson(frame.data));
      if (!parsed.success) throw new CozeMalformedEventError(frame.event);
      return frame.event === "conversation.message.delta"
        ? { type: "message.delta", message: parsed.data }
        : { type: "message.completed", message: parsed.data };
    }
    case "conversation.chat.failed":
    case "error": {
      const parsed = cozeFailureSchema.safeParse(parseJson(frame.data));
      const body = parsed.success ? parsed.data : {};
      const code = body.last_error?.code ?? body.code ?? null;
      const message = body.last_error?.msg ?? body.msg ?? (parsed.success ? "" : frame.data.slice(0, 200));
      return { type: "chat.failed", code, message };
    }
    case "done":
      return { type: "done" };
    default:
      return { type: "ignored", event: frame.event };
  }
}

/** The local-plugin calls a `requires_action` chat waits for (only `function` calls; others are not ours). */
export function toolCallsOf(chat: CozeChat): CozeToolCall[] {
  if (chat.required_action?.type !== "submit_tool_outputs") return [];
  return chat.required_action.submit_tool_outputs?.tool_calls ?? [];
}

/** Text the customer should read: an assistant `answer` in plain text (not cards, tool traffic or suggestions). */
export function isCustomerFacingAnswer(message: {
  role: string;
  type: string;
  content_type: string;
}): boolean {
  return message.role === "assistant" && message.type === "answer" && message.content_type === "text";
}

// ---------------------------------------------------------------------------------------------------------
// Errors

/**
 * What a Coze error code means for Tradewind (coze_error_codes):
 * | code | meaning | kind |
 * |------|---------|------|
 * | 4100 authentication invalid, 700012006 access token invalid | the access token was refused | auth (drop it, mint once more) |
 * | 4101 no permission | the app lacks the `chat` scope or the bot | auth |
 * | 4008 daily limit, 4009 system busy, 4013 model overloaded, 4020 RPM exceeded | try later | rate_limited |
 * | 4011 / 4019 / 4022 balance exhausted | the tenant's Coze account must be topped up | permanent |
 * | 5000 internal error | transient | retryable |
 * | anything else (4000 bad request, 4006 bad bot, 4015 bot not published to API, …) | refusal | permanent |
 */
export function cozeFailureKindOf(code: number): UpstreamFailureKind {
  if (isTokenRejection(code) || code === 4101) return "auth";
  if (code === 4008 || code === 4009 || code === 4013 || code === 4020) return "rate_limited";
  if (code === 5000) return "retryable";
  return "permanent";
}

/** Codes saying the access token itself is no good (expired early, revoked): a fresh token may succeed. */
export function isTokenRejection(code: number): boolean {
  return code === 4100 || code === 700012006;
}

/** An HTTP status with no Coze code in the body. */
export function httpFailureKindOf(status: number): UpstreamFailureKind {
  if (status === 429) return "rate_limited";
  if (status === 401 || status === 403) return "auth";
  if (status >= 500 || status === 408) return "retryable";
  return "permanent";
}

// ---------------------------------------------------------------------------------------------------------
// Tokens

export function cozeAudience(region: CozeRegion): string {
  return region === "cn" ? "api.coze.cn" : "api.coze.com";
}

/** The JWT payload Coze's OAuth JWT grant expects. `jti` must be new for every JWT (Coze refuses a replay). */
export function cozeJwtClaims(input: {
  appId: string;
  region: CozeRegion;
  nowSeconds: number;
  lifetimeSeconds: number;
  jti: string;
}): { iss: string; aud: string; iat: number; exp: number; jti: string } {
  return {
    iss: input.appId,
    aud: cozeAudience(input.region),
    iat: input.nowSeconds,
    exp: input.nowSeconds + input.lifetimeSeconds,
    jti: input.jti,
  };
}

/**
 * When an access token expires, in epoch ms. Coze documents `expires_in` as a Unix timestamp in seconds;
 * a value too small to be one (before 2001) is read as a lifetime in seconds instead.
 */
export function tokenExpiresAtMs(expiresIn: number, nowMs: number): number {
  return expiresIn > 1_000_000_000 ? expiresIn * 1000 : nowMs + expiresIn * 1000;
}

// ---------------------------------------------------------------------------------------------------------
// Conversation

/** Coze accepts at most 100 `additional_messages`; the last one is the question being asked. */
export const MAX_ADDITIONAL_MESSAGES = 100;
/** Longer bodies are cut: a pasted log or e-mail thread should not eat the model's context window. */
export const MAX_MESSAGE_CHARS = 4000;

export interface ConversationLine {
  role: "customer" | "bot" | "agent";
  body: string;
}

/**
 * The transcript so far plus the customer's new message as Coze `additional_messages`: customer lines are
 * the user's questions, bot and agent lines the assistant's answers (an agent's words are part of the
 * conversation the bot continues). Empty lines are skipped, long ones cut, and only the most recent 99
 * lines are kept, oldest first, so the new message is always last.
 */
export function toAdditionalMessages(
  history: readonly ConversationLine[],
  message: string,
): CozeEnterMessage[] {
  const lines: CozeEnterMessage[] = [];
  for (const line of history) {
    const content = clip(line.body);
    if (content === "") continue;
    lines.push(
      line.role === "customer"
        ? { role: "user", type: "question", content, content_type: "text" }
        : { role: "assistant", type: "answer", content, content_type: "text" },
    );
  }
  const recent = lines.slice(-(MAX_ADDITIONAL_MESSAGES - 1));
  recent.push({ role: "user", type: "question", content: clip(message), content_type: "text" });
  return recent;
}

function clip(text: string): string {
  const trimmed = text.trim();
  return trimmed.length > MAX_MESSAGE_CHARS ? `${trimmed.slice(0, MAX_MESSAGE_CHARS)}…` : trimmed;
}

/** Parses a tool call's `arguments` (a JSON object in a string); anything else is an empty object. */
export function toolArguments(call: CozeToolCall): Record<string, unknown> {
  const parsed = parseJson(call.function?.arguments ?? "{}");
  return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : {};
}
