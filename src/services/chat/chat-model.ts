import { PreconditionFailedError } from "../../lib/errors";

/**
 * The words of a chat conversation, shared by the `ChatSession` Durable Object, the chat services and
 * the routes: its states and how they change, who speaks, what a message and a session look like.
 * Pure: no storage, no I/O.
 */

/**
 * `bot`: the AI answers. `waiting`: a human was asked for and none has joined yet. `agent`: at least one
 * agent has joined. `closed`: over; the transcript is archived to Postgres.
 */
export const CHAT_STATUSES = ["bot", "waiting", "agent", "closed"] as const;
export type ChatStatus = (typeof CHAT_STATUSES)[number];

export const CHAT_ROLES = ["customer", "agent", "bot", "system"] as const;
export type ChatRole = (typeof CHAT_ROLES)[number];

/** Where the customer talks from: the web widget, a WeChat mini-program (SSE), or a partner's API. */
export const CHAT_CHANNELS = ["web", "mini_program", "api"] as const;
export type ChatChannel = (typeof CHAT_CHANNELS)[number];

/** Why a session closed. `idle`: nobody wrote for CHAT_IDLE_TIMEOUT_SECONDS. */
export const CLOSE_REASONS = ["idle", "customer", "agent"] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/**
 * Why a human was asked for: the customer asked, the AI decided it cannot help, the AI failed, or the
 * last agent left without handing back to the bot (the customer waits for another).
 */
export const HANDOVER_REASONS = ["customer_request", "ai_handover", "ai_unavailable", "agent_left"] as const;
export type HandoverReason = (typeof HANDOVER_REASONS)[number];

/**
 * Metadata and error details as JSON, two levels deep: what crosses the object's RPC boundary and lands
 * in jsonb. (`unknown` cannot cross an RPC boundary's types, and a recursive JSON type is too deep for
 * them.)
 */
export type JsonScalar = string | number | boolean | null;
export type JsonObject = {
  [key: string]: JsonScalar | JsonScalar[] | { [key: string]: JsonScalar | JsonScalar[] };
};

export interface ChatCustomer {
  name?: string | undefined;
  email?: string | undefined;
  phone?: string | undefined;
  /** The seller's own id of the customer (a shop customer id, a WeChat openid). */
  externalId?: string | undefined;
}

/** Who is on the other end of a connection or a call. Never taken from a client's message. */
export type ChatParticipant =
  | { kind: "customer" }
  | {
      kind: "agent";
      userId: string;
      name: string;
      /** chat:write: may join, write and close; chat:read only watches. */
      canWrite: boolean;
    };

/** One stable key per speaker: `customer`, `agent:<user id>`. */
export function participantKey(participant: ChatParticipant): string {
  return participant.kind === "customer" ? "customer" : `agent:${participant.userId}`;
}

export interface ChatMessageView {
  /** Position in the conversation, from 1; also the SSE event id a client resumes from. */
  seq: number;
  role: ChatRole;
  /** The agent who wrote it; null for customer, bot and system messages. */
  authorUserId: string | null;
  authorName: string | null;
  body: string;
  /** The sender's own id for the message: a resend with the same id is the same message. */
  clientMessageId: string | null;
  /** For bot replies, `replyTo` (the customer message answered); for system notes, `event`. */
  meta: JsonObject | null;
  createdAt: string;
}

export interface ChatParticipantView {
  role: "customer" | "agent";
  userId: string | null;
  name: string | null;
  /** Has at least one open WebSocket or event stream now. */
  online: boolean;
  joinedAt: string | null;
  /** Agents who left (or handed back to the bot); null while in the chat. */
  leftAt: string | null;
}

export interface ChatSessionView {
  id: string;
  status: ChatStatus;
  channel: ChatChannel;
  customer: ChatCustomer;
  /** The agent who joined most recently and is still in the chat. */
  agentId: string | null;
  ticketId: string | null;
  participants: ChatParticipantView[];
  messageCount: number;
  startedAt: string;
  lastMessageAt: string | null;
  closedAt: string | null;
  closeReason: string | null;
  /** true while the Durable Object holds the conversation; false once it is archived in Postgres. */
  live: boolean;
  archivedAt: string | null;
}

/**
 * The session as its customer sees it: no ticket, no agents' user ids (names only). Everything else is
 * theirs to know.
 */
export function customerView(view: ChatSessionView): ChatSessionView {
  return {
    ...view,
    agentId: null,
    ticketId: null,
    participants: view.participants.map((p) => ({ ...p, userId: null })),
  };
}

/** What can happen to a session; each maps to the states it may happen in. */
export type ChatTransition =
  | "handover"
  | "agent_join"
  /** The last agent leaves and the customer goes back to waiting for one. */
  | "agent_leave"
  /** An agent hands the conversation back to the AI. */
  | "return_to_bot"
  | "close";

/**
 * The one table of legal moves. Joining while already `agent` keeps `agent` (a second agent joins);
 * asking for a human while `waiting` or `agent` is refused (there is one already, or one is coming);
 * `closed` is terminal.
 */
const TRANSITIONS: Record<ChatTransition, Partial<Record<ChatStatus, ChatStatus>>> = {
  handover: { bot: "waiting" },
  agent_join: { bot: "agent", waiting: "agent", agent: "agent" },
  agent_leave: { agent: "waiting" },
  return_to_bot: { agent: "bot", waiting: "bot" },
  close: { bot: "closed", waiting: "closed", agent: "closed" },
};

export function canTransition(from: ChatStatus, transition: ChatTransition): boolean {
  return TRANSITIONS[transition][from] !== undefined;
}

/** The state after `transition`, or a 412 naming the state that forbids it. */
export function nextStatus(from: ChatStatus, transition: ChatTransition): ChatStatus {
  const to = TRANSITIONS[transition][from];
  if (!to) {
    throw new PreconditionFailedError(
      from === "closed"
        ? "This chat is closed"
        : `Cannot ${TRANSITION_WORDS[transition]} while the chat is ${from}`,
      { details: { status: from, transition } },
    );
  }
  return to;
}

const TRANSITION_WORDS: Record<ChatTransition, string> = {
  handover: "ask for a human",
  agent_join: "join",
  agent_leave: "leave",
  return_to_bot: "hand back to the bot",
  close: "close",
};

/** Who may write in which state: the customer always (until closed), agents only once joined. */
export function assertCanWrite(status: ChatStatus): void {
  if (status === "closed") {
    throw new PreconditionFailedError("This chat is closed", { details: { status } });
  }
}

export const LIMITS = {
  /** Longest message body, in characters. */
  bodyChars: 4000,
  /** Longest client message id. */
  clientMessageIdChars: 100,
  /** Largest WebSocket frame accepted, in bytes (a 4000-character body in UTF-8 plus the envelope). */
  frameBytes: 20_000,
  /** Messages of history given to the AI with each customer message. */
  aiHistory: 30,
  /** Messages a list call returns at most. */
  pageMax: 200,
} as const;

/** What the customer sees when the AI cannot answer: never an error, always a way forward. */
export const AI_UNAVAILABLE_TEXT =
  "Sorry, I can't answer that right now. An agent will reply to you here as soon as possible.";

export const SYSTEM_TEXT = {
  handover: "You asked for a human. An agent will join this chat shortly.",
  aiHandover: "Let me get a human for you. An agent will join this chat shortly.",
  agentJoined: (name: string) => `${name} joined the chat.`,
  agentLeft: (name: string) => `${name} left the chat.`,
  returnedToBot: "The assistant is back to help you.",
  closed: {
    idle: "This chat was closed after a period of inactivity.",
    customer: "The customer closed the chat.",
    agent: "The agent closed the chat.",
  } satisfies Record<CloseReason, string>,
} as const;

/**
 * The transcript as plain text for a ticket comment: one line per message, times in UTC, roles and
 * names as the customer saw them.
 */
export function formatTranscript(messages: readonly ChatMessageView[], customer: ChatCustomer): string {
  const customerName = customer.name ?? customer.email ?? customer.phone ?? "Customer";
  return messages
    .map((m) => {
      const time = m.createdAt.slice(0, 19).replace("T", " ");
      const who =
        m.role === "customer"
          ? customerName
          : m.role === "agent"
            ? (m.authorName ?? "Agent")
            : m.role === "bot"
              ? "Assistant"
              : "System";
      return `[${time} UTC] ${who}: ${m.body}`;
    })
    .join("\n");
}

/** A ticket subject for a handed-over chat: who, and the first thing they said. */
export function handoverSubject(customer: ChatCustomer, firstCustomerMessage: string | undefined): string {
  const who = customer.name ?? customer.email ?? customer.phone ?? "a customer";
  const topic = firstCustomerMessage?.trim().replace(/\s+/g, " ");
  const subject = topic ? `Chat with ${who}: ${topic}` : `Chat with ${who}`;
  return subject.length > 200 ? `${subject.slice(0, 197)}…` : subject;
}

/** What Postgres keeps of a live chat (chat_sessions), written by its object as it changes. */
export interface ChatSummary {
  sessionId: string;
  status: ChatStatus;
  agentId: string | null;
  ticketId: string | null;
  messageCount: number;
  lastMessageAt: string | null;
  closedAt: string | null;
  closeReason: string | null;
}
