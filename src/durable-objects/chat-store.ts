import type {
  ChatChannel,
  ChatCustomer,
  ChatMessageView,
  ChatParticipantView,
  ChatRole,
  ChatStatus,
  HandoverReason,
  JsonObject,
} from "../services/chat/chat-model";

/**
 * A `ChatSession` object's own SQLite storage: one `session` row, the `messages` in order and the
 * `participants`. Every call is synchronous (SQLite runs in the object's thread), so a read-modify-write
 * here cannot interleave with another event. Tables are created when the session starts, not in the
 * constructor: an object that was archived (storage deleted) or never started holds no storage at all,
 * and touching it (an agent reading an archived chat) must not bring empty tables back.
 */

export interface StoredSession {
  sessionId: string;
  tenantId: string;
  status: ChatStatus;
  channel: ChatChannel;
  customer: ChatCustomer;
  ticketId: string | null;
  /** The last seq already copied into the ticket's comments. */
  transcriptSeq: number;
  startedAt: string;
  /** Epoch ms of the last message or join: the idle alarm counts from here. */
  lastActivityAt: number;
  closedAt: string | null;
  closeReason: string | null;
  handoverReason: HandoverReason | null;
  /** Work owed to Postgres, retried by the alarm until it succeeds. */
  ticketPending: boolean;
  summaryPending: boolean;
  archivePending: boolean;
  retryAttempts: number;
  /** Epoch ms of the next retry of pending work; null when nothing is pending. */
  retryAt: number | null;
  /** Epoch ms of the last successful summary write to Postgres. */
  summarySyncedAt: number;
}

interface SessionRow extends Record<string, SqlStorageValue> {
  session_id: string;
  tenant_id: string;
  status: string;
  channel: string;
  customer: string;
  ticket_id: string | null;
  transcript_seq: number;
  started_at: string;
  last_activity_at: number;
  closed_at: string | null;
  close_reason: string | null;
  handover_reason: string | null;
  ticket_pending: number;
  summary_pending: number;
  archive_pending: number;
  retry_attempts: number;
  retry_at: number | null;
  summary_synced_at: number;
}

interface MessageRow extends Record<string, SqlStorageValue> {
  seq: number;
  role: string;
  author_user_id: string | null;
  author_name: string | null;
  body: string;
  client_message_id: string | null;
  meta: string | null;
  created_at: string;
}

interface ParticipantRow extends Record<string, SqlStorageValue> {
  key: string;
  role: string;
  user_id: string | null;
  name: string | null;
  joined_at: string;
  left_at: string | null;
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS session (
     singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
     session_id TEXT NOT NULL,
     tenant_id TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('bot', 'waiting', 'agent', 'closed')),
     channel TEXT NOT NULL,
     customer TEXT NOT NULL,
     ticket_id TEXT,
     transcript_seq INTEGER NOT NULL DEFAULT 0,
     started_at TEXT NOT NULL,
     last_activity_at INTEGER NOT NULL,
     closed_at TEXT,
     close_reason TEXT,
     handover_reason TEXT,
     ticket_pending INTEGER NOT NULL DEFAULT 0,
     summary_pending INTEGER NOT NULL DEFAULT 0,
     archive_pending INTEGER NOT NULL DEFAULT 0,
     retry_attempts INTEGER NOT NULL DEFAULT 0,
     retry_at INTEGER,
     summary_synced_at INTEGER NOT NULL DEFAULT 0
   )`,
  `CREATE TABLE IF NOT EXISTS messages (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     role TEXT NOT NULL CHECK (role IN ('customer', 'agent', 'bot', 'system')),
     author_key TEXT NOT NULL,
     author_user_id TEXT,
     author_name TEXT,
     body TEXT NOT NULL,
     client_message_id TEXT,
     meta TEXT,
     created_at TEXT NOT NULL,
     UNIQUE (author_key, client_message_id)
   )`,
  `CREATE TABLE IF NOT EXISTS participants (
     key TEXT PRIMARY KEY,
     role TEXT NOT NULL CHECK (role IN ('customer', 'agent')),
     user_id TEXT,
     name TEXT,
     joined_at TEXT NOT NULL,
     left_at TEXT
   )`,
];

const MESSAGE_COLUMNS = "seq, role, author_user_id, author_name, body, client_message_id, meta, created_at";

export interface NewMessage {
  role: ChatRole;
  /** `customer`, `agent:<id>`, `bot`, `system`: a client message id is unique per author. */
  authorKey: string;
  authorUserId: string | null;
  authorName: string | null;
  body: string;
  clientMessageId: string | null;
  meta: JsonObject | null;
  createdAt: string;
}

export class ChatStore {
  private readonly sql: SqlStorage;

  constructor(sql: SqlStorage) {
    this.sql = sql;
  }

  /** The session, or null when this object never started one or its storage was freed after archiving. */
  load(): StoredSession | null {
    const table = this.sql
      .exec<{ n: number }>(
        "SELECT count(*) AS n FROM sqlite_master WHERE type = 'table' AND name = 'session'",
      )
      .one();
    if (table.n === 0) return null;
    const row = this.sql.exec<SessionRow>("SELECT * FROM session WHERE singleton = 1").toArray()[0];
    return row ? toSession(row) : null;
  }

  create(session: StoredSession): void {
    for (const statement of SCHEMA) this.sql.exec(statement);
    this.sql.exec(
      `INSERT INTO session (singleton, session_id, tenant_id, status, channel, customer, started_at, last_activity_at)
       VALUES (1, ?, ?, ?, ?, ?, ?, ?)`,
      session.sessionId,
      session.tenantId,
      session.status,
      session.channel,
      JSON.stringify(session.customer),
      session.startedAt,
      session.lastActivityAt,
    );
    this.sql.exec(
      "INSERT INTO participants (key, role, user_id, name, joined_at) VALUES ('customer', 'customer', NULL, ?, ?)",
      session.customer.name ?? session.customer.email ?? null,
      session.startedAt,
    );
  }

  /** Writes every mutable field of the session row (one small row: simpler than tracking changes). */
  save(session: StoredSession): void {
    this.sql.exec(
      `UPDATE session SET status = ?, ticket_id = ?, transcript_seq = ?, last_activity_at = ?, closed_at = ?,
         close_reason = ?, handover_reason = ?, ticket_pending = ?, summary_pending = ?, archive_pending = ?,
         retry_attempts = ?, retry_at = ?, summary_synced_at = ?
       WHERE singleton = 1`,
      session.status,
      session.ticketId,
      session.transcriptSeq,
      session.lastActivityAt,
      session.closedAt,
      session.closeReason,
      session.handoverReason,
      session.ticketPending ? 1 : 0,
      session.summaryPending ? 1 : 0,
      session.archivePending ? 1 : 0,
      session.retryAttempts,
      session.retryAt,
      session.summarySyncedAt,
    );
  }

  /**
   * Appends a message, or returns the stored one when its author already sent this client message id
   * (a resend after a lost acknowledgement): the conversation never shows a message twice.
   */
  appendMessage(input: NewMessage): { message: ChatMessageView; duplicate: boolean } {
    if (input.clientMessageId !== null) {
      const existing = this.sql
        .exec<MessageRow>(
          `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE author_key = ? AND client_message_id = ?`,
          input.authorKey,
          input.clientMessageId,
        )
        .toArray()[0];
      if (existing) return { message: toMessage(existing), duplicate: true };
    }
    const row = this.sql
      .exec<MessageRow>(
        `INSERT INTO messages (role, author_key, author_user_id, author_name, body, client_message_id, meta, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING ${MESSAGE_COLUMNS}`,
        input.role,
        input.authorKey,
        input.authorUserId,
        input.authorName,
        input.body,
        input.clientMessageId,
        input.meta === null ? null : JSON.stringify(input.meta),
        input.createdAt,
      )
      .one();
    return { message: toMessage(row), duplicate: false };
  }

  messagesAfter(afterSeq: number, limit: number): ChatMessageView[] {
    return this.sql
      .exec<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE seq > ? ORDER BY seq LIMIT ?`,
        afterSeq,
        limit,
      )
      .toArray()
      .map(toMessage);
  }

  /** The last `limit` messages, oldest first. */
  latestMessages(limit: number, beforeSeq = Number.MAX_SAFE_INTEGER): ChatMessageView[] {
    return this.sql
      .exec<MessageRow>(
        `SELECT ${MESSAGE_COLUMNS} FROM messages WHERE seq < ? ORDER BY seq DESC LIMIT ?`,
        beforeSeq,
        limit,
      )
      .toArray()
      .reverse()
      .map(toMessage);
  }

  allMessages(): ChatMessageView[] {
    return this.sql
      .exec<MessageRow>(`SELECT ${MESSAGE_COLUMNS} FROM messages ORDER BY seq`)
      .toArray()
      .map(toMessage);
  }

  stats(): { count: number; lastMessageAt: string | null } {
    const row = this.sql
      .exec<{ n: number; last: string | null }>("SELECT count(*) AS n, max(created_at) AS last FROM messages")
      .one();
    return { count: row.n, lastMessageAt: row.last };
  }

  participants(): Omit<ChatParticipantView, "online">[] {
    return this.sql
      .exec<ParticipantRow>("SELECT * FROM participants ORDER BY joined_at, key")
      .toArray()
      .map((p) => ({
        role: p.role === "agent" ? "agent" : "customer",
        userId: p.user_id,
        name: p.name,
        joinedAt: p.joined_at,
        leftAt: p.left_at,
      }));
  }

  /** Agents in the chat now (joined, not left), most recent join first. */
  activeAgents(): { userId: string; name: string | null }[] {
    return this.sql
      .exec<{ user_id: string; name: string | null }>(
        "SELECT user_id, name FROM participants WHERE role = 'agent' AND left_at IS NULL ORDER BY joined_at DESC",
      )
      .toArray()
      .map((r) => ({ userId: r.user_id, name: r.name }));
  }

  /** Adds or re-admits an agent; false when the agent was already in the chat. */
  joinAgent(agent: { userId: string; name: string }, at: string): boolean {
    const key = `agent:${agent.userId}`;
    const existing = this.sql
      .exec<{ left_at: string | null }>("SELECT left_at FROM participants WHERE key = ?", key)
      .toArray()[0];
    if (existing && existing.left_at === null) return false;
    this.sql.exec(
      `INSERT INTO participants (key, role, user_id, name, joined_at) VALUES (?, 'agent', ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET name = excluded.name, joined_at = excluded.joined_at, left_at = NULL`,
      key,
      agent.userId,
      agent.name,
      at,
    );
    return true;
  }

  /** Marks an agent gone; false when the agent was not in the chat. */
  leaveAgent(userId: string, at: string): boolean {
    const cursor = this.sql.exec(
      "UPDATE participants SET left_at = ? WHERE key = ? AND left_at IS NULL",
      at,
      `agent:${userId}`,
    );
    return cursor.rowsWritten > 0;
  }
}

function toSession(row: SessionRow): StoredSession {
  return {
    sessionId: row.session_id,
    tenantId: row.tenant_id,
    status: row.status as ChatStatus,
    channel: row.channel as ChatChannel,
    customer: JSON.parse(row.customer) as ChatCustomer,
    ticketId: row.ticket_id,
    transcriptSeq: row.transcript_seq,
    startedAt: row.started_at,
    lastActivityAt: row.last_activity_at,
    closedAt: row.closed_at,
    closeReason: row.close_reason,
    handoverReason: row.handover_reason as HandoverReason | null,
    ticketPending: row.ticket_pending === 1,
    summaryPending: row.summary_pending === 1,
    archivePending: row.archive_pending === 1,
    retryAttempts: row.retry_attempts,
    retryAt: row.retry_at,
    summarySyncedAt: row.summary_synced_at,
  };
}

function toMessage(row: MessageRow): ChatMessageView {
  return {
    seq: row.seq,
    role: row.role as ChatRole,
    authorUserId: row.author_user_id,
    authorName: row.author_name,
    body: row.body,
    clientMessageId: row.client_message_id,
    meta: row.meta === null ? null : (JSON.parse(row.meta) as JsonObject),
    createdAt: row.created_at,
  };
}
