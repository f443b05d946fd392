import { DurableObject } from "cloudflare:workers";

export interface ChatMessage {
  id: number;
  role: "customer" | "agent" | "bot" | "system";
  body: string;
  createdAt: string;
}

/**
 * One conversation's live state, in the object's own SQLite storage. The chat capability adds
 * WebSockets (hibernation API), SSE, AI replies and archiving to Postgres on top of this store.
 */
export class ChatSession extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(`CREATE TABLE IF NOT EXISTS messages (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        role TEXT NOT NULL CHECK (role IN ('customer', 'agent', 'bot', 'system')),
        body TEXT NOT NULL,
        created_at TEXT NOT NULL
      )`);
    });
  }

  appendMessage(input: { role: ChatMessage["role"]; body: string }): ChatMessage {
    const createdAt = new Date().toISOString();
    const row = this.sql
      .exec<{ id: number }>(
        "INSERT INTO messages (role, body, created_at) VALUES (?, ?, ?) RETURNING id",
        input.role,
        input.body,
        createdAt,
      )
      .one();
    return { id: row.id, role: input.role, body: input.body, createdAt };
  }

  listMessages(limit = 100): ChatMessage[] {
    return this.sql
      .exec<{ id: number; role: ChatMessage["role"]; body: string; created_at: string }>(
        "SELECT id, role, body, created_at FROM messages ORDER BY id DESC LIMIT ?",
        Math.min(Math.max(1, limit), 500),
      )
      .toArray()
      .reverse()
      .map((r) => ({ id: r.id, role: r.role, body: r.body, createdAt: r.created_at }));
  }

  override async fetch(_request: Request): Promise<Response> {
    return Response.json({ messages: this.listMessages() });
  }
}
