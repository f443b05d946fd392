import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ChatSession } from "../../src/durable-objects/chat-session";

describe("ChatSession Durable Object", () => {
  it("stores messages in its SQLite storage and answers over RPC and fetch", async () => {
    const stub = env.CHAT_SESSIONS.get(env.CHAT_SESSIONS.idFromName(`chat-${crypto.randomUUID()}`));
    const first = await stub.appendMessage({ role: "customer", body: "Where is my order #1001?" });
    await stub.appendMessage({ role: "bot", body: "It shipped yesterday with DHL." });
    expect(first.id).toBe(1);
    const messages = await stub.listMessages();
    expect(messages.map((m) => [m.role, m.body])).toEqual([
      ["customer", "Where is my order #1001?"],
      ["bot", "It shipped yesterday with DHL."],
    ]);
    const res = await stub.fetch("https://chat.internal/messages");
    expect(((await res.json()) as { messages: unknown[] }).messages).toHaveLength(2);
    const count = await runInDurableObject(stub, (_instance: ChatSession, state) => {
      return state.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM messages").one().n;
    });
    expect(count).toBe(2);
  });

  it("keeps each conversation separate", async () => {
    const a = env.CHAT_SESSIONS.get(env.CHAT_SESSIONS.idFromName(`chat-${crypto.randomUUID()}`));
    const b = env.CHAT_SESSIONS.get(env.CHAT_SESSIONS.idFromName(`chat-${crypto.randomUUID()}`));
    await a.appendMessage({ role: "customer", body: "hello from a" });
    expect(await b.listMessages()).toEqual([]);
  });
});
