/**
 * One `ChatSession` per conversation, named by the chat session's id. It holds the live conversation in
 * its own SQLite storage (src/durable-objects/chat-store.ts) and every open connection to it: customer
 * and agent WebSockets (hibernation API: an idle chat costs nothing while its sockets stay open) and
 * Server-Sent Event streams for clients that cannot hold a WebSocket (the WeChat mini-program).
 *
 * Why an object per chat: one single-threaded owner orders the messages (seq), fans each one out to
 * every connection at once, relays the AI's reply token by token as it streams in, and owns the idle
 * timer (an alarm). Postgres only learns the summary (status, agent, ticket) as it changes and the full
 * transcript when the chat closes: the hot path (a message and its broadcast) never waits on it.
 *
 * Lifecycle: `start` (by createChatSession, which first wrote the chat_sessions row and so fixed the
 * tenant) → bot ⇄ waiting ⇄ agent (src/services/chat/chat-model.ts) → closed → transcript archived to
 * Postgres in one transaction → storage and alarm deleted. Work owed to Postgres (the ticket of a
 * handover, the summary, the archive) is recorded in the session row and retried by the alarm until it
 * succeeds, so a Postgres outage delays it but never loses it.
 *
 * The tenant is stored at start; every call names the tenant its caller was authenticated for and a
 * different one is answered "not found". Identities of connections arrive on internal headers that only
 * the chat services set (the object is not reachable from the internet).
 */
import { DurableObject } from "cloudflare:workers";
import { backoffSeconds } from "../lib/backoff";
import { readConfig } from "../lib/config";
import {
  AppError,
  BadRequestError,
  ForbiddenError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
} from "../lib/errors";
import { newId } from "../lib/ids";
import { createLogger, type Logger } from "../lib/logger";
import { IoMetrics } from "../lib/metrics";
import { streamAiReply } from "../services/ai/stream-ai-reply";
import { archiveChatTranscript } from "../services/chat/archive-chat-transcript";
import { relayAiReply } from "../services/chat/bot-reply";
import {
  CHAT_WS_PROTOCOL,
  type ChatEvent,
  errorEvent,
  parseClientFrame,
  resumeSeqOf,
  SSE_HEARTBEAT,
  toServerSentEvent,
} from "../services/chat/chat-events";
import {
  type ChatChannel,
  type ChatCustomer,
  type ChatMessageView,
  type ChatParticipant,
  type ChatSessionView,
  type ChatSummary,
  type CloseReason,
  customerView,
  type HandoverReason,
  type JsonObject,
  LIMITS,
  nextStatus,
  participantKey,
  SYSTEM_TEXT,
} from "../services/chat/chat-model";
import {
  CHAT_PARTICIPANT_HEADER,
  CHAT_TENANT_HEADER,
  type ChatCallResult,
  participantFromHeader,
} from "../services/chat/chat-stub";
import { recordChatHandover } from "../services/chat/record-chat-handover";
import { syncChatSummary } from "../services/chat/sync-chat-summary";
import { createServiceContext, type ServiceContext } from "../services/context";
import { ChatStore, type StoredSession } from "./chat-store";

/** What a socket carries through hibernation: who is on it. */
interface SocketAttachment {
  participant: ChatParticipant;
  connectedAt: number;
}

interface EventStream {
  participant: ChatParticipant;
  send(text: string): void;
  close(): void;
}

/** Per-connection frame budget (in memory; a woken object starts every socket with a full bucket). */
interface FrameBucket {
  tokens: number;
  updatedAt: number;
}
const FRAME_BUCKET = { capacity: 30, refillPerSecond: 1 };
/** The AI going silent this long mid-reply is a failure (the customer is told an agent will reply). */
const AI_GAP_MS = 30_000;
const SSE_HEARTBEAT_MS = 15_000;
/** A stream whose reader stopped taking data for this many writes is dropped. */
const SSE_MAX_BACKLOG = 200;
/** Postgres learns the message count and last message time at most this often while a chat is live. */
const SUMMARY_SYNC_EVERY_MS = 30_000;
/** Messages of history sent on connect when the client names no resume point. */
const READY_MESSAGES = 50;

export interface StartChatInput {
  tenantId: string;
  sessionId: string;
  channel: ChatChannel;
  customer: ChatCustomer;
  startedAt: string;
}

export class ChatSession extends DurableObject<Env> {
  private readonly store: ChatStore;
  private session: StoredSession | null;
  private readonly streams = new Set<EventStream>();
  private heartbeat: ReturnType<typeof setInterval> | undefined;
  private readonly buckets = new WeakMap<WebSocket, FrameBucket>();
  /** The AI reply being generated, and the latest customer message that arrived meanwhile. */
  private botRun: Promise<void> | null = null;
  private botBacklog: ChatMessageView | null = null;
  private ticketSync: Promise<void> | null = null;
  /**
   * Bumped each time the ticket is owed more (handover, agent left, close): a sync that was already
   * under way when more was owed sends the rest before it counts as done.
   */
  private ticketRequests = 0;
  private closing: Promise<void> | null = null;
  private archiving: Promise<void> | null = null;
  /** The final view of a chat archived by this instance (its storage is gone). */
  private archivedView: ChatSessionView | null = null;
  private log: Logger;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.store = new ChatStore(ctx.storage.sql);
    // SQLite reads are synchronous: the session is loaded before any event is delivered.
    this.session = this.store.load();
    this.log = createLogger(readConfig(env).logLevel, {
      chatSessionId: this.session?.sessionId,
      tenantId: this.session?.tenantId,
    });
    // Answered by the runtime without waking the object: keep-alives cost nothing while it hibernates.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair("ping", "pong"));
  }

  // ───────────────────────────── RPC (called by src/services/chat) ─────────────────────────────

  /** Creates the conversation; a repeated start of the same session answers its current view. */
  async start(input: StartChatInput): Promise<ChatCallResult<ChatSessionView>> {
    const existing = this.session;
    if (existing) {
      if (existing.tenantId !== input.tenantId || existing.sessionId !== input.sessionId) {
        return failure(new NotFoundError("Chat session not found"));
      }
      return { ok: true, value: this.view(existing) };
    }
    const now = Date.now();
    const session: StoredSession = {
      sessionId: input.sessionId,
      tenantId: input.tenantId,
      status: "bot",
      channel: input.channel,
      customer: input.customer,
      ticketId: null,
      transcriptSeq: 0,
      startedAt: input.startedAt,
      lastActivityAt: now,
      closedAt: null,
      closeReason: null,
      handoverReason: null,
      ticketPending: false,
      summaryPending: false,
      archivePending: false,
      retryAttempts: 0,
      retryAt: null,
      summarySyncedAt: now,
    };
    this.store.create(session);
    this.session = session;
    this.log = this.log.child({ chatSessionId: session.sessionId, tenantId: session.tenantId });
    await this.ctx.storage.setAlarm(now + this.idleTimeoutMs());
    return { ok: true, value: this.view(session) };
  }

  async snapshot(input: { tenantId: string }): Promise<ChatCallResult<ChatSessionView>> {
    return this.guard(input.tenantId, (session) => this.view(session));
  }

  async messages(input: {
    tenantId: string;
    afterSeq: number;
    limit: number;
  }): Promise<ChatCallResult<{ items: ChatMessageView[]; nextCursor: string | null }>> {
    return this.guard(input.tenantId, () => {
      const limit = Math.min(Math.max(1, input.limit), LIMITS.pageMax);
      const items = this.store.messagesAfter(input.afterSeq, limit + 1);
      const page = items.slice(0, limit);
      const last = page.at(-1);
      return { items: page, nextCursor: items.length > limit && last ? String(last.seq) : null };
    });
  }

  async post(input: {
    tenantId: string;
    participant: ChatParticipant;
    body: string;
    clientMessageId: string | null;
  }): Promise<ChatCallResult<{ message: ChatMessageView; duplicate: boolean }>> {
    return this.guard(input.tenantId, () =>
      this.postMessage(input.participant, input.body, input.clientMessageId),
    );
  }

  async handover(input: { tenantId: string }): Promise<ChatCallResult<ChatSessionView>> {
    return this.guard(input.tenantId, async (session) => {
      // Asking again while a human is coming or here changes nothing: the button is safe to press twice.
      if (session.status === "bot") await this.beginHandover("customer_request");
      else if (session.status === "closed") nextStatus(session.status, "handover");
      return this.view(session);
    });
  }

  async join(input: {
    tenantId: string;
    agent: { userId: string; name: string };
  }): Promise<ChatCallResult<ChatSessionView>> {
    return this.guard(input.tenantId, async (session) => {
      const status = nextStatus(session.status, "agent_join");
      const now = new Date();
      const joined = this.store.joinAgent(input.agent, now.toISOString());
      if (!joined) return this.view(session);
      session.status = status;
      session.lastActivityAt = now.getTime();
      this.persist(session);
      this.appendSystem(SYSTEM_TEXT.agentJoined(input.agent.name), {
        event: "agent_joined",
        userId: input.agent.userId,
      });
      this.broadcastSession();
      await this.syncSummary();
      return this.view(session);
    });
  }

  async leave(input: {
    tenantId: string;
    agent: { userId: string; name: string };
    returnToBot: boolean;
  }): Promise<ChatCallResult<ChatSessionView>> {
    return this.guard(input.tenantId, async (session) => {
      if (session.status === "closed") nextStatus(session.status, "agent_leave");
      const now = new Date().toISOString();
      if (!this.store.leaveAgent(input.agent.userId, now)) {
        throw new PreconditionFailedError("You are not in this chat", {
          details: { status: session.status },
        });
      }
      this.appendSystem(SYSTEM_TEXT.agentLeft(input.agent.name), {
        event: "agent_left",
        userId: input.agent.userId,
      });
      if (this.store.activeAgents().length === 0) {
        session.status = nextStatus(session.status, input.returnToBot ? "return_to_bot" : "agent_leave");
        if (session.status === "bot") {
          this.appendSystem(SYSTEM_TEXT.returnedToBot, { event: "returned_to_bot" });
        } else {
          // Waiting again: the ticket (opened now if the agent took the chat straight from the bot) hears it.
          session.handoverReason ??= "agent_left";
          this.oweTicket(session);
        }
        this.persist(session);
      }
      this.broadcastSession();
      if (session.ticketPending) await this.syncTicket();
      await this.syncSummary();
      return this.view(session);
    });
  }

  async close(input: {
    tenantId: string;
    reason: Exclude<CloseReason, "idle">;
  }): Promise<ChatCallResult<ChatSessionView>> {
    return this.guard(input.tenantId, async (session) => {
      if (session.status !== "closed") await this.closeSession(input.reason);
      // Archived at once, in the common case: the view is the last one taken before storage was freed.
      return this.session ? this.view(this.session) : (this.archivedView ?? this.view(session));
    });
  }

  // ───────────────────────────── WebSocket and SSE ─────────────────────────────

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const participant = participantFromHeader(request.headers.get(CHAT_PARTICIPANT_HEADER));
    const session = this.session;
    if (!participant || !session || session.tenantId !== request.headers.get(CHAT_TENANT_HEADER)) {
      return errorResponse(new NotFoundError("Chat session not found"), 404);
    }
    if (session.status === "closed") {
      return errorResponse(
        new PreconditionFailedError("This chat is closed", { details: { status: "closed" } }),
        412,
      );
    }
    if (url.pathname === "/ws") return this.acceptSocket(request, url, session, participant);
    if (url.pathname === "/events") return this.openEventStream(request, url, session, participant);
    return errorResponse(new NotFoundError("No such chat endpoint"), 404);
  }

  private acceptSocket(
    request: Request,
    url: URL,
    session: StoredSession,
    participant: ChatParticipant,
  ): Response {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return errorResponse(new BadRequestError("Expected a WebSocket upgrade (Upgrade: websocket)"), 400);
    }
    const wasOnline = this.onlineKeys().has(participantKey(participant));
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    // Tags: the participant (`customer`, `agent:<id>`) and the audience (`customer` / `agent`).
    this.ctx.acceptWebSocket(server, [...new Set([participantKey(participant), participant.kind])]);
    server.serializeAttachment({ participant, connectedAt: Date.now() } satisfies SocketAttachment);
    const afterSeq = resumeSeqOf(url.searchParams.get("afterSeq"));
    const messages =
      afterSeq > 0
        ? this.store.messagesAfter(afterSeq, LIMITS.pageMax)
        : this.store.latestMessages(READY_MESSAGES);
    send(server, { type: "ready", session: this.viewFor(participant, session), messages });
    if (!wasOnline) this.broadcastPresence(participant, true);
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const headers = offered.includes(CHAT_WS_PROTOCOL)
      ? { "Sec-WebSocket-Protocol": CHAT_WS_PROTOCOL }
      : undefined;
    return new Response(null, { status: 101, webSocket: client, ...(headers ? { headers } : {}) });
  }

  override async webSocketMessage(ws: WebSocket, raw: string | ArrayBuffer): Promise<void> {
    const attachment = ws.deserializeAttachment() as SocketAttachment | null;
    if (!attachment) {
      ws.close(1011, "unknown connection");
      return;
    }
    const frame = parseClientFrame(raw);
    const clientMessageId =
      !(frame instanceof AppError) && frame.type === "message" ? frame.clientMessageId : undefined;
    const { participant } = attachment;
    try {
      // Garbage counts against the budget too; only pings (keep-alives) are free.
      if (frame instanceof AppError || frame.type !== "ping") this.spendFrame(ws);
      if (frame instanceof AppError) throw frame;
      const session = this.session;
      if (!session || session.status === "closed") {
        throw new PreconditionFailedError("This chat is closed", { details: { status: "closed" } });
      }
      switch (frame.type) {
        case "message": {
          const { message, duplicate } = await this.postMessage(
            participant,
            frame.body,
            frame.clientMessageId ?? null,
          );
          // Everyone got the broadcast of a new message; a resend is answered to its sender alone.
          if (duplicate) send(ws, { type: "message", message });
          break;
        }
        case "typing":
          this.broadcastTyping(participant, frame.typing);
          break;
        case "handover":
          if (participant.kind !== "customer")
            throw new ForbiddenError("Only the customer can ask for a human");
          if (session.status === "bot") await this.beginHandover("customer_request");
          break;
        case "resume":
          for (const message of this.store.messagesAfter(frame.afterSeq, LIMITS.pageMax)) {
            send(ws, { type: "message", message });
          }
          break;
        case "ping":
          send(ws, { type: "pong" });
          break;
      }
    } catch (error) {
      send(ws, errorEvent(this.asAppError(error), clientMessageId));
    }
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    try {
      // Completes the closing handshake; the socket may already be closed by the runtime.
      ws.close(code === 1005 || code === 1006 ? 1000 : code, reason);
    } catch {
      // already closed
    }
    this.socketGone(ws);
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.socketGone(ws);
  }

  private socketGone(ws: WebSocket): void {
    const attachment = ws.deserializeAttachment() as SocketAttachment | null;
    if (!attachment || !this.session) return;
    if (!this.onlineKeys(ws).has(participantKey(attachment.participant))) {
      this.broadcastPresence(attachment.participant, false);
    }
  }

  private openEventStream(
    request: Request,
    url: URL,
    session: StoredSession,
    participant: ChatParticipant,
  ): Response {
    const afterSeq = resumeSeqOf(request.headers.get("last-event-id") ?? url.searchParams.get("lastEventId"));
    const wasOnline = this.onlineKeys().has(participantKey(participant));
    const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>();
    const writer = writable.getWriter();
    const encoder = new TextEncoder();
    let backlog = 0;
    let open = true;
    const stream: EventStream = {
      participant,
      send: (text) => {
        if (!open) return;
        if (backlog >= SSE_MAX_BACKLOG) {
          stream.close();
          return;
        }
        backlog += 1;
        writer.write(encoder.encode(text)).then(
          () => {
            backlog -= 1;
          },
          () => this.dropStream(stream),
        );
      },
      close: () => {
        if (!open) return;
        open = false;
        writer.close().catch(() => undefined);
        this.dropStream(stream);
      },
    };
    this.streams.add(stream);
    this.ensureHeartbeat();
    // `retry` tells EventSource how soon to reconnect; then the session and everything missed, as one
    // write (a long history must not count as a reader that stopped reading).
    const missed = this.store
      .messagesAfter(afterSeq, 1000)
      .map((message) => toServerSentEvent({ type: "message", message }));
    stream.send(
      [
        "retry: 3000\n\n",
        toServerSentEvent({ type: "session", session: this.viewFor(participant, session) }),
        ...missed,
      ].join(""),
    );
    if (!wasOnline) this.broadcastPresence(participant, true);
    return new Response(readable, {
      headers: {
        "Content-Type": "text/event-stream; charset=utf-8",
        "Cache-Control": "no-cache, no-transform",
        "X-Accel-Buffering": "no",
      },
    });
  }

  private dropStream(stream: EventStream): void {
    if (!this.streams.delete(stream)) return;
    stream.close();
    if (this.streams.size === 0 && this.heartbeat !== undefined) {
      clearInterval(this.heartbeat);
      this.heartbeat = undefined;
    }
    if (this.session && !this.onlineKeys().has(participantKey(stream.participant))) {
      this.broadcastPresence(stream.participant, false);
    }
  }

  private ensureHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => {
      for (const stream of this.streams) stream.send(SSE_HEARTBEAT);
    }, SSE_HEARTBEAT_MS);
  }

  // ───────────────────────────── Alarm: idle close and owed work ─────────────────────────────

  override async alarm(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const now = Date.now();
    if (session.status === "closed") {
      await this.finishClosed();
      return;
    }
    if ((session.ticketPending || session.summaryPending) && (session.retryAt ?? 0) <= now) {
      if (session.ticketPending) await this.syncTicket();
      if (session.summaryPending) await this.syncSummary();
    }
    const idleAt = session.lastActivityAt + this.idleTimeoutMs();
    if (now >= idleAt) {
      await this.closeSession("idle");
      return;
    }
    await this.scheduleAlarm();
  }

  /** The next wake-up: the idle deadline, or sooner when work owed to Postgres is due for a retry. */
  private async scheduleAlarm(): Promise<void> {
    const session = this.session;
    if (!session) return;
    const idleAt = session.lastActivityAt + this.idleTimeoutMs();
    const pending = session.ticketPending || session.summaryPending || session.archivePending;
    const retryAt = pending && session.retryAt !== null ? session.retryAt : Number.POSITIVE_INFINITY;
    const at = session.status === "closed" ? retryAt : Math.min(idleAt, retryAt);
    if (Number.isFinite(at)) await this.ctx.storage.setAlarm(at);
  }

  private idleTimeoutMs(): number {
    return readConfig(this.env).chat.idleTimeoutSeconds * 1000;
  }

  // ───────────────────────────── The conversation ─────────────────────────────

  private async postMessage(
    participant: ChatParticipant,
    body: string,
    clientMessageId: string | null,
  ): Promise<{ message: ChatMessageView; duplicate: boolean }> {
    const session = this.requireOpen();
    let authorName: string | null = null;
    if (participant.kind === "agent") {
      if (!participant.canWrite)
        throw new ForbiddenError("Missing permission chat:write", { details: { permission: "chat:write" } });
      const me = this.store.activeAgents().find((a) => a.userId === participant.userId);
      if (!me)
        throw new PreconditionFailedError("Join the chat before writing in it", {
          details: { status: session.status },
        });
      authorName = me.name ?? participant.name;
    } else {
      authorName = session.customer.name ?? null;
    }
    const text = body.trim();
    if (!text) throw new PreconditionFailedError("A message needs a body");
    const now = new Date();
    const result = this.store.appendMessage({
      role: participant.kind,
      authorKey: participantKey(participant),
      authorUserId: participant.kind === "agent" ? participant.userId : null,
      authorName,
      body: text.slice(0, LIMITS.bodyChars),
      clientMessageId,
      meta: null,
      createdAt: now.toISOString(),
    });
    if (result.duplicate) return result;
    session.lastActivityAt = now.getTime();
    this.persist(session);
    this.broadcast({ type: "message", message: result.message });
    if (participant.kind === "customer" && session.status === "bot") this.replyWithBot(result.message);
    this.maybeSyncSummary();
    return result;
  }

  /**
   * Starts (or queues) the AI's answer to a customer message. The reply runs past the request that
   * triggered it: `waitUntil` keeps the object working until the stream ends (an object with a live
   * stream is not evicted anyway; this says so). Messages arriving meanwhile are answered together,
   * once, after the current reply.
   */
  private replyWithBot(trigger: ChatMessageView): void {
    if (this.botRun) {
      this.botBacklog = trigger;
      return;
    }
    const run = (async () => {
      let next: ChatMessageView | null = trigger;
      while (next) {
        await this.generateBotReply(next);
        next = this.botBacklog;
        this.botBacklog = null;
      }
    })()
      .catch((error: unknown) => this.log.error("bot reply failed", { error: describeError(error) }))
      .finally(() => {
        this.botRun = null;
      });
    this.botRun = run;
    this.ctx.waitUntil(run);
  }

  private async generateBotReply(trigger: ChatMessageView): Promise<void> {
    const session = this.session;
    if (session?.status !== "bot") return;
    const replyId = newId("rpl");
    const history = this.store
      .latestMessages(LIMITS.aiHistory, trigger.seq)
      .map((m) => ({ role: m.role, body: m.body }));
    this.broadcastTyping({ kind: "bot" }, true);
    const ctx = this.services(session.tenantId);
    const stillBot = () => this.session?.status === "bot";
    let outcome: Awaited<ReturnType<typeof relayAiReply>>;
    try {
      outcome = await relayAiReply(
        streamAiReply({
          ctx,
          input: {
            sessionId: session.sessionId,
            customer: botCustomerOf(session.customer),
            history,
            message: trigger.body,
          },
        }),
        {
          gapMs: AI_GAP_MS,
          stillWanted: stillBot,
          onDelta: (text) => this.broadcast({ type: "message.delta", replyId, replyTo: trigger.seq, text }),
          onError: (error) => this.log.warn("AI reply failed", { error: describeError(error) }),
        },
      );
    } finally {
      this.broadcastTyping({ kind: "bot" }, false);
    }
    if (outcome.kind === "abandoned" || !stillBot()) return;
    const meta = { replyTo: trigger.seq, replyId };
    if (outcome.kind === "completed") {
      this.appendBot(outcome.text, meta);
      return;
    }
    if (outcome.text.trim())
      this.appendBot(outcome.text, { ...meta, outcome: outcome.kind, reason: outcome.reason });
    await this.beginHandover(outcome.kind === "handover" ? "ai_handover" : "ai_unavailable");
  }

  private appendBot(text: string, meta: JsonObject): void {
    const session = this.session;
    if (!session) return;
    const { message } = this.store.appendMessage({
      role: "bot",
      authorKey: "bot",
      authorUserId: null,
      authorName: null,
      body: text.slice(0, LIMITS.bodyChars * 4),
      clientMessageId: null,
      meta,
      createdAt: new Date().toISOString(),
    });
    this.broadcast({ type: "message", message });
    this.maybeSyncSummary();
  }

  private appendSystem(text: string, meta: JsonObject): ChatMessageView {
    const { message } = this.store.appendMessage({
      role: "system",
      authorKey: "system",
      authorUserId: null,
      authorName: null,
      body: text,
      clientMessageId: null,
      meta,
      createdAt: new Date().toISOString(),
    });
    this.broadcast({ type: "message", message });
    return message;
  }

  /** bot → waiting: the customer is told, the ticket is opened (or updated), Postgres learns the status. */
  private async beginHandover(reason: HandoverReason): Promise<void> {
    const session = this.requireOpen();
    session.status = nextStatus(session.status, "handover");
    session.handoverReason = reason;
    this.oweTicket(session);
    session.lastActivityAt = Date.now();
    this.persist(session);
    this.appendSystem(reason === "customer_request" ? SYSTEM_TEXT.handover : SYSTEM_TEXT.aiHandover, {
      event: "handover",
      reason,
    });
    this.broadcastSession();
    await this.syncTicket();
    await this.syncSummary();
  }

  /**
   * Opens the handover's ticket with the transcript so far as its first comment, or adds the part of the
   * transcript the ticket has not seen. The ticket id is saved before the comment is written, so a retry
   * after a failed comment never opens a second ticket; a retry after a lost answer to the create finds
   * the ticket by its chat session id.
   */
  private syncTicket(): Promise<void> {
    this.ticketSync ??= this.runTicketSync().finally(() => {
      this.ticketSync = null;
    });
    return this.ticketSync;
  }

  private oweTicket(session: StoredSession): void {
    session.ticketPending = true;
    this.ticketRequests += 1;
  }

  private async runTicketSync(): Promise<void> {
    for (;;) {
      const session = this.session;
      if (!session?.ticketPending) return;
      // Stays pending when more was owed while this part was on its way (the chat closed, the agent
      // left): the loop sends the rest.
      if (!(await this.sendTicketPart(session, this.ticketRequests))) return;
    }
  }

  /** One part of the transcript to the ticket; false when it failed (and a retry is scheduled). */
  private async sendTicketPart(session: StoredSession, requested: number): Promise<boolean> {
    const transcript = this.store.messagesAfter(session.transcriptSeq, 100_000);
    try {
      const result = await recordChatHandover({
        ctx: this.services(session.tenantId),
        input: {
          sessionId: session.sessionId,
          ticketId: session.ticketId,
          lookUpExisting: session.retryAttempts > 0,
          customer: session.customer,
          reason: session.handoverReason ?? "customer_request",
          transcript,
          firstCustomerMessage: this.store.allMessages().find((m) => m.role === "customer")?.body,
          onTicket: (ticketId) => {
            session.ticketId = ticketId;
            this.persist(session);
          },
        },
      });
      session.ticketId = result.ticketId;
      session.transcriptSeq = transcript.at(-1)?.seq ?? session.transcriptSeq;
      session.ticketPending = this.ticketRequests !== requested;
      this.settled(session);
      this.broadcastSession();
      return true;
    } catch (error) {
      this.log.warn("ticket for chat handover failed; retrying", { error: describeError(error) });
      await this.retryLater(session);
      return false;
    }
  }

  /** Postgres' copy of the summary (status, agent, ticket, counts); a failure is retried by the alarm. */
  private async syncSummary(): Promise<void> {
    const session = this.session;
    if (!session) return;
    try {
      await syncChatSummary({ ctx: this.services(session.tenantId), input: this.summary(session) });
      session.summaryPending = false;
      session.summarySyncedAt = Date.now();
      this.settled(session);
    } catch (error) {
      this.log.warn("chat summary sync failed; retrying", { error: describeError(error) });
      session.summaryPending = true;
      await this.retryLater(session);
    }
  }

  /** After messages: the summary at most every SUMMARY_SYNC_EVERY_MS, off the message's path. */
  private maybeSyncSummary(): void {
    const session = this.session;
    if (!session || session.summaryPending) return;
    if (Date.now() - session.summarySyncedAt < SUMMARY_SYNC_EVERY_MS) return;
    session.summarySyncedAt = Date.now();
    this.ctx.waitUntil(this.syncSummary());
  }

  private settled(session: StoredSession): void {
    if (!session.ticketPending && !session.summaryPending && !session.archivePending) {
      session.retryAttempts = 0;
      session.retryAt = null;
    }
    this.persist(session);
  }

  /**
   * Saves the session row, unless the chat was archived meanwhile (a call that awaited Postgres while
   * the close archived it): its storage is gone and must stay gone.
   */
  private persist(session: StoredSession): void {
    if (this.session === session) this.store.save(session);
  }

  private async retryLater(session: StoredSession): Promise<void> {
    if (this.session !== session) return;
    session.retryAttempts += 1;
    session.retryAt =
      Date.now() + backoffSeconds(session.retryAttempts, { baseSeconds: 5, capSeconds: 3600 }) * 1000;
    this.persist(session);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > session.retryAt) await this.ctx.storage.setAlarm(session.retryAt);
  }

  /** Any state → closed: everyone is told and disconnected, then the transcript goes to Postgres. */
  private closeSession(reason: CloseReason): Promise<void> {
    this.closing ??= this.runClose(reason).finally(() => {
      this.closing = null;
    });
    return this.closing;
  }

  private async runClose(reason: CloseReason): Promise<void> {
    const session = this.session;
    if (!session || session.status === "closed") return;
    session.status = nextStatus(session.status, "close");
    session.closedAt = new Date().toISOString();
    session.closeReason = reason;
    session.archivePending = true;
    // The ticket of a handed-over chat (or one being opened right now) gets the rest of the conversation.
    if (session.ticketId || session.ticketPending) this.oweTicket(session);
    this.persist(session);
    this.appendSystem(SYSTEM_TEXT.closed[reason], { event: "closed", reason });
    this.broadcastSession();
    this.broadcast({ type: "closed", reason });
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.close(1000, "chat closed");
      } catch {
        // already closing
      }
    }
    for (const stream of [...this.streams]) stream.close();
    await this.finishClosed();
  }

  /**
   * Archives a closed chat: the ticket's last transcript part, then the transcript and final summary in
   * one Postgres transaction, then the object's storage and alarm are deleted. Any failure keeps the
   * storage and retries from the alarm, with backoff, until it succeeds.
   */
  private finishClosed(): Promise<void> {
    // The idle alarm may fire while a close call is still archiving: one archive at a time.
    this.archiving ??= this.runArchive().finally(() => {
      this.archiving = null;
    });
    return this.archiving;
  }

  private async runArchive(): Promise<void> {
    const session = this.session;
    if (session?.status !== "closed") return;
    if (session.ticketPending) await this.syncTicket();
    try {
      await archiveChatTranscript({
        ctx: this.services(session.tenantId),
        input: { summary: this.summary(session), messages: this.store.allMessages() },
      });
    } catch (error) {
      this.log.warn("chat archive failed; retrying", { error: describeError(error) });
      await this.retryLater(session);
      return;
    }
    if (session.ticketPending) {
      // The transcript is safe in Postgres; a ticket that still cannot take its last part is not worth
      // keeping the conversation's storage for.
      this.log.warn("chat archived without the last transcript part on its ticket", {
        ticketId: session.ticketId,
      });
    }
    this.archivedView = { ...this.view(session), live: false, archivedAt: new Date().toISOString() };
    await this.ctx.storage.deleteAlarm();
    await this.ctx.storage.deleteAll();
    this.session = null;
  }

  // ───────────────────────────── Views and fan-out ─────────────────────────────

  private summary(session: StoredSession): ChatSummary {
    const stats = this.store.stats();
    return {
      sessionId: session.sessionId,
      status: session.status,
      agentId: this.store.activeAgents()[0]?.userId ?? null,
      ticketId: session.ticketId,
      messageCount: stats.count,
      lastMessageAt: stats.lastMessageAt,
      closedAt: session.closedAt,
      closeReason: session.closeReason,
    };
  }

  private view(session: StoredSession): ChatSessionView {
    // A call that awaited Postgres while the chat was closed and archived: the storage is gone.
    if (this.session === null && this.archivedView) return this.archivedView;
    const stats = this.store.stats();
    const online = this.onlineKeys();
    return {
      id: session.sessionId,
      status: session.status,
      channel: session.channel,
      customer: session.customer,
      agentId: this.store.activeAgents()[0]?.userId ?? null,
      ticketId: session.ticketId,
      participants: this.store.participants().map((p) => ({
        ...p,
        online: online.has(p.role === "customer" ? "customer" : `agent:${p.userId}`),
      })),
      messageCount: stats.count,
      startedAt: session.startedAt,
      lastMessageAt: stats.lastMessageAt,
      closedAt: session.closedAt,
      closeReason: session.closeReason,
      live: true,
      archivedAt: null,
    };
  }

  private viewFor(participant: ChatParticipant, session: StoredSession): ChatSessionView {
    const view = this.view(session);
    return participant.kind === "customer" ? customerView(view) : view;
  }

  /** Participant keys with an open WebSocket or event stream (optionally ignoring one closing socket). */
  private onlineKeys(except?: WebSocket): Set<string> {
    const keys = new Set<string>();
    for (const ws of this.ctx.getWebSockets()) {
      if (ws === except || ws.readyState > WebSocket.READY_STATE_OPEN) continue;
      const attachment = ws.deserializeAttachment() as SocketAttachment | null;
      if (attachment) keys.add(participantKey(attachment.participant));
    }
    for (const stream of this.streams) keys.add(participantKey(stream.participant));
    return keys;
  }

  private broadcast(event: ChatEvent, options: { exceptKey?: string } = {}): void {
    const frame = JSON.stringify(event);
    const sse = toServerSentEvent(event);
    for (const ws of this.ctx.getWebSockets()) {
      if (options.exceptKey && this.ctx.getTags(ws).includes(options.exceptKey)) continue;
      trySend(ws, frame);
    }
    for (const stream of this.streams) {
      if (options.exceptKey && participantKey(stream.participant) === options.exceptKey) continue;
      stream.send(sse);
    }
  }

  /** The session as each audience may see it: customers do not see ticket or agent user ids. */
  private broadcastSession(): void {
    const session = this.session;
    if (!session) return;
    const full = this.view(session);
    const forCustomer = customerView(full);
    for (const ws of this.ctx.getWebSockets()) {
      const isCustomer = this.ctx.getTags(ws).includes("customer");
      trySend(ws, JSON.stringify({ type: "session", session: isCustomer ? forCustomer : full }));
    }
    for (const stream of this.streams) {
      const isCustomer = stream.participant.kind === "customer";
      stream.send(toServerSentEvent({ type: "session", session: isCustomer ? forCustomer : full }));
    }
  }

  private broadcastTyping(who: ChatParticipant | { kind: "bot" }, typing: boolean): void {
    const name =
      who.kind === "agent"
        ? who.name
        : who.kind === "customer"
          ? (this.session?.customer.name ?? null)
          : null;
    this.broadcast(
      { type: "typing", role: who.kind, name, typing },
      who.kind === "bot" ? {} : { exceptKey: participantKey(who) },
    );
  }

  private broadcastPresence(participant: ChatParticipant, online: boolean): void {
    this.broadcast({
      type: "presence",
      role: participant.kind,
      userId: participant.kind === "agent" ? participant.userId : null,
      online,
    });
  }

  // ───────────────────────────── Plumbing ─────────────────────────────

  /** Runs a call for `tenantId`; a missing session or another tenant is "not found", errors are results. */
  private async guard<T>(
    tenantId: string,
    fn: (session: StoredSession) => T | Promise<T>,
  ): Promise<ChatCallResult<T>> {
    const session = this.session;
    if (!session || session.tenantId !== tenantId)
      return failure(new NotFoundError("Chat session not found"));
    try {
      return { ok: true, value: await fn(session) };
    } catch (error) {
      if (error instanceof AppError) return failure(error);
      throw error;
    }
  }

  private requireOpen(): StoredSession {
    const session = this.session;
    if (!session) throw new NotFoundError("Chat session not found");
    if (session.status === "closed") {
      throw new PreconditionFailedError("This chat is closed", { details: { status: "closed" } });
    }
    return session;
  }

  /** A token bucket per socket: a client flooding frames gets RATE_LIMITED errors, not the others' bandwidth. */
  private spendFrame(ws: WebSocket): void {
    const now = Date.now();
    const bucket = this.buckets.get(ws) ?? { tokens: FRAME_BUCKET.capacity, updatedAt: now };
    bucket.tokens = Math.min(
      FRAME_BUCKET.capacity,
      bucket.tokens + ((now - bucket.updatedAt) / 1000) * FRAME_BUCKET.refillPerSecond,
    );
    bucket.updatedAt = now;
    this.buckets.set(ws, bucket);
    if (bucket.tokens < 1) {
      throw new RateLimitedError(
        "Too many frames; slow down",
        Math.ceil((1 - bucket.tokens) / FRAME_BUCKET.refillPerSecond),
      );
    }
    bucket.tokens -= 1;
  }

  private asAppError(error: unknown): AppError {
    if (error instanceof AppError) return error;
    this.log.error("chat frame failed", { error: describeError(error) });
    return new InternalChatError("Something went wrong; please try again");
  }

  /** A service context for work this object does itself (Postgres, the AI, tickets). */
  private services(tenantId: string): ServiceContext {
    const ctx = createServiceContext({
      env: this.env,
      waitUntil: (promise) => this.ctx.waitUntil(promise),
      metrics: new IoMetrics(),
      logFields: { chatSessionId: this.session?.sessionId, tenantId },
    });
    ctx.tenantId = tenantId;
    ctx.actor = { type: "system", name: "chat" };
    return ctx;
  }
}

/** Errors of ours inside a frame: reported as INTERNAL_ERROR with a fixed message, never the cause. */
class InternalChatError extends AppError {
  readonly code = "INTERNAL_ERROR";
}

function failure<T>(error: AppError): ChatCallResult<T> {
  return {
    ok: false,
    error: {
      code: error.code,
      message: error.message,
      ...(error.details === undefined ? {} : { details: error.details as JsonObject }),
    },
  };
}

function errorResponse(error: AppError, status: number): Response {
  return Response.json(failure(error), { status });
}

function send(ws: WebSocket, event: ChatEvent): void {
  trySend(ws, JSON.stringify(event));
}

/** A socket closing under us is not an error of the sender's. */
function trySend(ws: WebSocket, frame: string): void {
  try {
    ws.send(frame);
  } catch {
    // closed or closing
  }
}

/** What the bot may use to look the customer's orders up: only the fields given. */
function botCustomerOf(customer: ChatCustomer): { name?: string; email?: string; phone?: string } {
  return {
    ...(customer.name ? { name: customer.name } : {}),
    ...(customer.email ? { email: customer.email } : {}),
    ...(customer.phone ? { phone: customer.phone } : {}),
  };
}

function describeError(error: unknown): Record<string, unknown> {
  return error instanceof Error ? { name: error.name, message: error.message } : { message: String(error) };
}
