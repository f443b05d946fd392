// A chat's life after the conversation: the idle alarm closes it, closing archives the transcript to
// Postgres in one transaction and frees the object's storage, and the archive stays readable through the
// API. A Postgres outage at closing delays the archive (retried by the alarm) and loses nothing.
import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import type { ChatMessageView, ChatSessionView } from "../../src/services/chat/chat-model";
import { bearer } from "../support/auth";
import {
  backdateActivity,
  CHATS,
  chatObject,
  chatTenant,
  customer,
  openSocket,
  openStream,
  PUBLIC_CHAT,
  startChat,
  storedTables,
} from "../support/chat";
import { call, DEAD_DATABASE_URL, envelope, ownerSql } from "../support/harness";

async function messages(path: string, init: RequestInit): Promise<ChatMessageView[]> {
  const response = await call(path, init);
  expect(response.status).toBe(200);
  return (await envelope<{ items: ChatMessageView[] }>(response)).data?.items ?? [];
}

async function alarmAt(id: string): Promise<number | null> {
  return runInDurableObject(chatObject(id), (_instance, state) => state.storage.getAlarm());
}

describe("idle close and archive", { timeout: 30_000 }, () => {
  it("closes on the alarm, tells everyone, archives in Postgres, frees the object, and stays readable", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    const ws = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    const stream = await openStream(`${CHATS}/${id}/events`, { authorization: `Bearer ${agent.token}` });
    ws.send({
      type: "message",
      body: "My parcel says delivered but it is not here.",
      clientMessageId: "c-1",
    });
    await ws.events.next("message", (e) => e.message.clientMessageId === "c-1");
    await call(
      `${CHATS}/${id}/messages`,
      bearer(agent.token, { method: "POST", body: { body: "I have opened a claim." } }),
    );
    await ws.events.next("message", (e) => e.message.role === "agent");
    const live = await messages(`${CHATS}/${id}/messages`, bearer(agent.token));
    expect(live.map((m) => m.role)).toEqual(["system", "customer", "agent"]);

    // Not idle yet: the alarm only re-arms itself for the end of the idle time.
    const started = await runInDurableObject(
      chatObject(id),
      (_i, state) =>
        state.storage.sql.exec<{ t: number }>("SELECT last_activity_at AS t FROM session").one().t,
    );
    expect(await runDurableObjectAlarm(chatObject(id))).toBe(true);
    expect(await alarmAt(id)).toBe(started + 600_000);
    expect((await call(`${CHATS}/${id}`, bearer(agent.token))).status).toBe(200);

    await backdateActivity(id);
    expect(await runDurableObjectAlarm(chatObject(id))).toBe(true);
    expect(await ws.events.next("closed")).toEqual({ type: "closed", reason: "idle" });
    expect(await ws.closed).toEqual({ code: 1000, reason: "chat closed" });
    await stream.events.next("closed");
    await stream.close();

    // Archived: one row completed, every message copied with its seq; the object holds nothing any more.
    const [row] = await ownerSql()`
      select status, close_reason, message_count, agent_id, closed_at is not null as closed, archived_at is not null as archived
        from chat_sessions where id = ${id}`;
    expect(row).toEqual({
      status: "closed",
      close_reason: "idle",
      message_count: 4,
      agent_id: agent.id,
      closed: true,
      archived: true,
    });
    const archived = await ownerSql()`
      select seq, role, author_user_id, body, meta from chat_messages where session_id = ${id} order by seq`;
    expect(archived.map((m) => [m.seq, m.role, m.body])).toEqual([
      [1, "system", "Test User joined the chat."],
      [2, "customer", "My parcel says delivered but it is not here."],
      [3, "agent", "I have opened a claim."],
      [4, "system", "This chat was closed after a period of inactivity."],
    ]);
    expect(archived[1]?.meta).toEqual({ authorName: "Ava Thompson", clientMessageId: "c-1" });
    expect(archived[2]).toMatchObject({ author_user_id: agent.id, meta: { authorName: "Test User" } });
    expect(await storedTables(id)).toEqual([]);
    expect(await alarmAt(id)).toBeNull();

    // Readable from Postgres, for agents and for the customer.
    const view = await envelope<ChatSessionView>(await call(`${CHATS}/${id}`, bearer(agent.token)));
    expect(view.data).toMatchObject({
      id,
      status: "closed",
      closeReason: "idle",
      live: false,
      messageCount: 4,
      agentId: agent.id,
    });
    expect(view.data?.archivedAt).toEqual(expect.any(String));
    expect(view.data?.participants).toEqual([
      expect.objectContaining({ role: "customer", name: "Ava Thompson", online: false }),
      expect.objectContaining({ role: "agent", userId: agent.id, name: "Test User" }),
    ]);
    const afterArchive = await messages(`${CHATS}/${id}/messages`, bearer(agent.token));
    expect(afterArchive.slice(0, 3)).toEqual(live);
    expect(afterArchive[3]).toMatchObject({
      seq: 4,
      role: "system",
      meta: { event: "closed", reason: "idle" },
    });
    const page = await envelope<{ items: ChatMessageView[]; nextCursor: string | null }>(
      await call(`${CHATS}/${id}/messages?limit=3`, bearer(agent.token)),
    );
    expect(page.data?.nextCursor).toBe("3");
    expect(await messages(`${CHATS}/${id}/messages?after=3`, bearer(agent.token))).toHaveLength(1);
    const forCustomer = await envelope<ChatSessionView>(
      await call(`${PUBLIC_CHAT}/${id}`, customer(chat.token)),
    );
    expect(forCustomer.data).toMatchObject({ status: "closed", live: false, agentId: null, ticketId: null });
    expect(await messages(`${PUBLIC_CHAT}/${id}/messages`, customer(chat.token))).toEqual(afterArchive);

    const listed = async (query: string) =>
      (
        await envelope<{ items: ChatSessionView[] }>(await call(`${CHATS}${query}`, bearer(agent.token)))
      ).data?.items.map((s) => s.id);
    expect(await listed("?live=false")).toEqual([id]);
    expect(await listed("?live=true")).toEqual([]);
    expect(await listed("?status=closed&search=ava")).toEqual([id]);

    // Over: writes are refused, closing again answers the archive.
    const write = await call(
      `${PUBLIC_CHAT}/${id}/messages`,
      customer(chat.token, { method: "POST", body: { body: "hello?" } }),
    );
    expect(write.status).toBe(412);
    expect((await envelope(write)).error).toEqual({
      code: "PRECONDITION_FAILED",
      message: "This chat is closed",
      details: { status: "closed" },
    });
    for (const [path, init] of [
      [
        `${PUBLIC_CHAT}/${id}/ws`,
        { headers: { upgrade: "websocket", authorization: `Bearer ${chat.token}` } },
      ],
      [`${PUBLIC_CHAT}/${id}/handover`, customer(chat.token, { method: "POST" })],
      [`${PUBLIC_CHAT}/${id}/token`, customer(chat.token, { method: "POST" })],
      [`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" })],
      [`${CHATS}/${id}/messages`, bearer(agent.token, { method: "POST", body: { body: "late" } })],
      [`${CHATS}/${id}/ws`, { headers: { upgrade: "websocket", authorization: `Bearer ${agent.token}` } }],
    ] as const) {
      const response = await call(path, init);
      expect(response.status, path).toBe(412);
      expect((await envelope(response)).error?.message).toBe("This chat is closed");
    }
    const again = await call(`${CHATS}/${id}/close`, bearer(agent.token, { method: "POST" }));
    expect(again.status).toBe(200);
    expect((await envelope<ChatSessionView>(again)).data).toMatchObject({
      status: "closed",
      closeReason: "idle",
    });
  });

  it("the customer or an agent can close a chat; it is archived at once", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    for (const by of ["customer", "agent"] as const) {
      const chat = await startChat(agent.tenant);
      const id = chat.session.id;
      const ws = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
      const response =
        by === "customer"
          ? await call(`${PUBLIC_CHAT}/${id}/close`, customer(chat.token, { method: "POST" }))
          : await call(`${CHATS}/${id}/close`, bearer(agent.token, { method: "POST" }));
      expect(response.status).toBe(200);
      const closed = await envelope<ChatSessionView>(response);
      expect(closed.data).toMatchObject({ status: "closed", closeReason: by, live: false, messageCount: 1 });
      expect((await ws.events.next("message")).message.body).toBe(
        by === "customer" ? "The customer closed the chat." : "The agent closed the chat.",
      );
      expect(await ws.events.next("closed")).toEqual({ type: "closed", reason: by });
      expect(await storedTables(id)).toEqual([]);
      const [row] =
        await ownerSql()`select status, close_reason, archived_at is not null as archived from chat_sessions where id = ${id}`;
      expect(row).toEqual({ status: "closed", close_reason: by, archived: true });
    }
  });

  it("Postgres down at closing: the chat closes, keeps its transcript, and the alarm archives it later", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    await call(
      `${CHATS}/${id}/messages`,
      bearer(agent.token, { method: "POST", body: { body: "One moment." } }),
    );
    // The object's own view of the world: Postgres unreachable from here on.
    await runInDurableObject(chatObject(id), (instance) => {
      (instance as unknown as { env: Env }).env = { ...env, DATABASE_URL: DEAD_DATABASE_URL };
    });
    const closed = await call(`${PUBLIC_CHAT}/${id}/close`, customer(chat.token, { method: "POST" }));
    expect(closed.status).toBe(200);
    expect((await envelope<ChatSessionView>(closed)).data).toMatchObject({ status: "closed", live: true });
    expect(await storedTables(id)).toEqual(["session", "messages", "participants"]);
    const retryAt = await alarmAt(id);
    expect(retryAt).not.toBeNull();
    const [pending] = await ownerSql()`select archived_at from chat_sessions where id = ${id}`;
    expect(pending?.archived_at).toBeNull();
    // Still closed to writes while the archive waits.
    expect(
      (
        await call(
          `${PUBLIC_CHAT}/${id}/messages`,
          customer(chat.token, { method: "POST", body: { body: "?" } }),
        )
      ).status,
    ).toBe(412);

    await runInDurableObject(chatObject(id), (instance) => {
      (instance as unknown as { env: Env }).env = env;
    });
    expect(await runDurableObjectAlarm(chatObject(id))).toBe(true);
    expect(await storedTables(id)).toEqual([]);
    const archived =
      await ownerSql()`select seq, body from chat_messages where session_id = ${id} order by seq`;
    expect(archived.map((m) => m.body)).toEqual([
      "Test User joined the chat.",
      "One moment.",
      "The customer closed the chat.",
    ]);
    const [row] =
      await ownerSql()`select status, close_reason, archived_at is not null as archived from chat_sessions where id = ${id}`;
    expect(row).toEqual({ status: "closed", close_reason: "customer", archived: true });
  });
});
