// Chat fixtures for workers tests: start a chat through the public API, hold its WebSocket or its SSE
// stream, and wait for the events a test expects (each wait is bounded so a missing event fails the test
// with what did arrive, instead of hanging it).
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import type { ChatSession } from "../../src/durable-objects/chat-session";
import type { ChatEvent } from "../../src/services/chat/chat-events";
import type { ChatMessageView, ChatParticipant, ChatSessionView } from "../../src/services/chat/chat-model";
import { CHAT_PARTICIPANT_HEADER, CHAT_TENANT_HEADER } from "../../src/services/chat/chat-stub";
import type { FakeReply } from "../fakes/coze";
import { bearer, randomIp, signedInUser, type TestUser } from "./auth";
import { call, envelope } from "./harness";

export const PUBLIC_CHAT = "/api/v1/public/chat/sessions";
export const CHATS = "/api/v1/chats";

/** How long a wait for one event may take before the test fails (not a timing assertion: a hang guard). */
const WAIT_MS = 10_000;

export interface StartedChat {
  session: ChatSessionView;
  token: string;
  expiresIn: number;
  message: ChatMessageView | null;
}

export async function startChat(
  tenant: { slug: string } | { id: string },
  body: Record<string, unknown> = {},
): Promise<StartedChat> {
  const response = await call(PUBLIC_CHAT, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": randomIp() },
    body: JSON.stringify({
      tenant: "slug" in tenant ? tenant.slug : tenant.id,
      customer: { name: "Ava Thompson", email: "ava.thompson@example.com" },
      ...body,
    }),
  });
  const parsed = await envelope<StartedChat>(response);
  if (response.status !== 201 || !parsed.data) {
    throw new Error(`start chat: ${response.status} ${JSON.stringify(parsed.error)}`);
  }
  return parsed.data;
}

/** Request init for a customer call with the chat token. */
export function customer(token: string, init: { method?: string; body?: unknown } = {}): RequestInit {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return {
    method: init.method ?? "GET",
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  };
}

/**
 * Collects events as they arrive and hands each out once: a wait takes the earliest matching event not
 * taken before, so waits for different kinds of events may be written in any order.
 */
class EventQueue {
  readonly seen: ChatEvent[] = [];
  private readonly taken = new Set<number>();
  private waiter: (() => void) | undefined;

  push(event: ChatEvent): void {
    this.seen.push(event);
    this.waiter?.();
  }

  async next<T extends ChatEvent["type"]>(
    type: T,
    where: (event: Extract<ChatEvent, { type: T }>) => boolean = () => true,
  ): Promise<Extract<ChatEvent, { type: T }>> {
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      for (let i = 0; i < this.seen.length; i++) {
        const event = this.seen[i];
        if (this.taken.has(i) || event?.type !== type) continue;
        if (!where(event as Extract<ChatEvent, { type: T }>)) continue;
        this.taken.add(i);
        return event as Extract<ChatEvent, { type: T }>;
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no matching ${type} event; got ${JSON.stringify(this.seen)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
  }

  /** Everything received so far, taken or not. */
  all(): ChatEvent[] {
    return [...this.seen];
  }
}

export interface ChatSocket {
  ws: WebSocket;
  events: EventQueue;
  /** The frame the server sent first. */
  ready: Extract<ChatEvent, { type: "ready" }>;
  /** Every frame as text, JSON or not. */
  rawFrames: string[];
  send(frame: unknown): void;
  closed: Promise<{ code: number; reason: string }>;
  close(): void;
}

/** A WebSocket through the Worker's fetch, as a client would open it. */
export async function openSocket(path: string, headers: Record<string, string>): Promise<ChatSocket> {
  const response = await call(path, { headers: { upgrade: "websocket", ...headers } });
  return acceptSocket(response, path);
}

/**
 * A WebSocket straight to the session's object, as the chat services open it (internal headers). The
 * runtime can then evict the object while the socket stays open (hibernation); a socket through the
 * test's own fetch keeps a request in flight that eviction would wait for.
 */
export async function openObjectSocket(
  sessionId: string,
  tenantId: string,
  participant: ChatParticipant,
): Promise<ChatSocket> {
  const response = await chatObject(sessionId).fetch("https://chat-session.internal/ws", {
    headers: {
      upgrade: "websocket",
      [CHAT_TENANT_HEADER]: tenantId,
      [CHAT_PARTICIPANT_HEADER]: JSON.stringify(participant),
    },
  });
  return acceptSocket(response, `object ${sessionId}`);
}

async function acceptSocket(response: Response, path: string): Promise<ChatSocket> {
  const ws = response.webSocket;
  if (response.status !== 101 || !ws) {
    throw new Error(`websocket ${path}: ${response.status} ${await response.text()}`);
  }
  ws.accept();
  const events = new EventQueue();
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener("close", (event) => resolve({ code: event.code, reason: event.reason }));
  });
  const rawFrames: string[] = [];
  ws.addEventListener("message", (event) => {
    const text = String(event.data);
    rawFrames.push(text);
    // The runtime's auto-response to the literal `ping` is the literal `pong`, not JSON.
    if (text.startsWith("{")) events.push(JSON.parse(text) as ChatEvent);
  });
  const ready = await events.next("ready");
  return {
    ws,
    events,
    ready,
    rawFrames,
    send: (frame) => ws.send(typeof frame === "string" ? frame : JSON.stringify(frame)),
    closed,
    close: () => ws.close(1000, "done"),
  };
}

export interface ChatStream {
  response: Response;
  events: EventQueue;
  /** Every SSE field block as received (ids included), for resume assertions. */
  raw: { id: string | null; event: string; data: string }[];
  close(): Promise<void>;
}

/** An SSE stream through the Worker's fetch, parsed incrementally as a client would. */
export async function openStream(path: string, headers: Record<string, string> = {}): Promise<ChatStream> {
  const response = await call(path, { headers });
  if (response.status !== 200 || !response.body) {
    throw new Error(`events ${path}: ${response.status} ${await response.text()}`);
  }
  const events = new EventQueue();
  const raw: ChatStream["raw"] = [];
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end = buffer.indexOf("\n\n");
      while (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf("\n\n");
        let id: string | null = null;
        let event = "message";
        const data: string[] = [];
        for (const line of block.split("\n")) {
          if (line.startsWith(":")) continue;
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const fieldValue = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "id") id = fieldValue;
          else if (field === "event") event = fieldValue;
          else if (field === "data") data.push(fieldValue);
        }
        if (data.length === 0) continue;
        raw.push({ id, event, data: data.join("\n") });
        events.push(JSON.parse(data.join("\n")) as ChatEvent);
      }
    }
  })().catch(() => undefined);
  return {
    response,
    events,
    raw,
    close: async () => {
      await reader.cancel().catch(() => undefined);
      await pump;
    },
  };
}

export function chatObject(sessionId: string): DurableObjectStub<ChatSession> {
  return env.CHAT_SESSIONS.get(env.CHAT_SESSIONS.idFromName(sessionId));
}

/** Makes a live chat look idle for longer than CHAT_IDLE_TIMEOUT_SECONDS (its alarm then closes it). */
export async function backdateActivity(sessionId: string): Promise<void> {
  await runInDurableObject(chatObject(sessionId), (instance, state) => {
    state.storage.sql.exec("UPDATE session SET last_activity_at = 0");
    // The running instance keeps the session row in memory; it must see the same past.
    const live = instance as unknown as { session: { lastActivityAt: number } | null };
    if (live.session) live.session.lastActivityAt = 0;
  });
}

/** The object's SQLite tables (empty once its storage was freed). */
export async function storedTables(sessionId: string): Promise<string[]> {
  return runInDurableObject(chatObject(sessionId), (_instance, state) =>
    state.storage.sql
      .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '_cf%'")
      .toArray()
      .map((r) => r.name)
      .filter((name) => name !== "sqlite_sequence"),
  );
}

// ───────────────────────────── The AI (the Coze fake) ─────────────────────────────

async function cozeControl<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${inject("cozeFakeUrl")}/__control${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`coze control ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

/** Queues what the bot answers to the next chats (in order); unscripted, it echoes the question. */
export function scriptBot(botId: string, replies: FakeReply[]): Promise<void> {
  return cozeControl<void>(`/bots/${botId}/replies`, { replies });
}

export interface ChatTenant {
  /** chat:write, tickets:read and sync:admin (to create the AI connection). */
  agent: TestUser & { token: string };
  botId: string;
  appId: string;
}

/**
 * A tenant whose chats are answered by a fresh Coze app and bot of the fake (the connection made through
 * the API), with a signed-in agent. `ai: false` leaves the tenant without an AI connection.
 */
export async function chatTenant(
  options: { ai?: boolean; settings?: Record<string, unknown>; permissions?: string[] } = {},
): Promise<ChatTenant> {
  const agent = await signedInUser({
    permissions: options.permissions ?? ["chat:write", "tickets:read", "sync:admin"],
  });
  const botId = `75${Array.from(crypto.getRandomValues(new Uint8Array(17)), (b) => b % 10).join("")}`;
  if (options.ai === false) return { agent, botId, appId: "" };
  const { appId, keyId } = await cozeControl<{ appId: string; keyId: string }>("/apps", {});
  const response = await call(
    "/api/v1/connections",
    bearer(agent.token, {
      method: "POST",
      body: {
        provider: "coze",
        account: appId,
        displayName: "Support bot",
        credentials: { appId, keyId, privateKey: inject("cozePrivateKey") },
        settings: { botId, region: "com", maxReplySeconds: 20, ...options.settings },
      },
    }),
  );
  if (response.status !== 201)
    throw new Error(`coze connection: ${response.status} ${await response.text()}`);
  return { agent, botId, appId };
}
