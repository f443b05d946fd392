// Live chats through the Worker and the ChatSession Durable Object: a customer and agents over WebSocket
// (hibernation API) and over Server-Sent Events, the AI's reply relayed delta by delta from the Coze fake,
// typing and presence, bad frames. Real Postgres and Redis; one tenant per test.
import { evictDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { ChatEvent } from "../../src/services/chat/chat-events";
import type { ChatMessageView } from "../../src/services/chat/chat-model";
import { bearer, signedInUser } from "../support/auth";
import {
  CHATS,
  chatObject,
  chatTenant,
  customer,
  openObjectSocket,
  openSocket,
  openStream,
  PUBLIC_CHAT,
  scriptBot,
  startChat,
} from "../support/chat";
import { call, envelope } from "../support/harness";

const deltasOf = (events: ChatEvent[]) => events.flatMap((e) => (e.type === "message.delta" ? [e] : []));
const indexOf = (events: ChatEvent[], match: (e: ChatEvent) => boolean) => events.findIndex(match);

async function messagesOf(token: string, id: string): Promise<ChatMessageView[]> {
  const response = await call(`${CHATS}/${id}/messages`, bearer(token));
  expect(response.status).toBe(200);
  return (await envelope<{ items: ChatMessageView[] }>(response)).data?.items ?? [];
}

describe("a chat over WebSocket", { timeout: 30_000 }, () => {
  it("broadcasts the customer's message and streams the AI's reply delta by delta before storing it", async () => {
    const { agent, botId } = await chatTenant();
    const deltas = ["Your order #1042 ", "shipped on 31 October ", "with DHL."];
    // Pauses between deltas, so "relayed as they arrive" is visible: the first is out long before the last.
    await scriptBot(botId, [{ kind: "answer", deltas, delayMs: 400 }]);
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const cust = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    expect(cust.ready.session).toMatchObject({ id, status: "bot", live: true, ticketId: null });
    expect(cust.ready.messages).toEqual([]);
    const watcher = await openSocket(`${CHATS}/${id}/ws`, { authorization: `Bearer ${agent.token}` });

    cust.send({ type: "message", body: "Where is my order #1042?", clientMessageId: "m-1" });
    const echoed = await cust.events.next("message", (e) => e.message.role === "customer");
    expect(echoed.message).toMatchObject({
      seq: 1,
      role: "customer",
      body: "Where is my order #1042?",
      clientMessageId: "m-1",
      authorName: "Ava Thompson",
    });
    const first = await cust.events.next("message.delta");
    expect(first).toMatchObject({ replyTo: 1, text: deltas[0] });
    // The first piece reached the customer while the reply was still being written.
    expect((await messagesOf(agent.token, id)).map((m) => m.role)).toEqual(["customer"]);

    const reply = await cust.events.next("message", (e) => e.message.role === "bot");
    expect(reply.message).toMatchObject({
      seq: 2,
      body: deltas.join(""),
      meta: { replyTo: 1, replyId: first.replyId },
    });
    const seen = cust.events.all();
    expect(deltasOf(seen).map((d) => d.text)).toEqual(deltas);
    expect(new Set(deltasOf(seen).map((d) => d.replyId))).toEqual(new Set([first.replyId]));
    const replyAt = indexOf(seen, (e) => e.type === "message" && e.message.role === "bot");
    expect(indexOf(seen, (e) => e.type === "message.delta")).toBeLessThan(replyAt);
    expect(seen.findLastIndex((e) => e.type === "message.delta")).toBeLessThan(replyAt);
    // The bot "types" while it writes.
    expect(indexOf(seen, (e) => e.type === "typing" && e.role === "bot" && e.typing)).toBeLessThan(
      indexOf(seen, (e) => e.type === "message.delta"),
    );

    // The agent watching got the same stream.
    const watched = await watcher.events.next("message", (e) => e.message.role === "bot");
    expect(watched.message.seq).toBe(2);
    expect(deltasOf(watcher.events.all()).map((d) => d.text)).toEqual(deltas);
    cust.close();
    watcher.close();
  });

  it("a resent message (same clientMessageId) is stored once and acknowledged to its sender only", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    const cust = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    const watcher = await openSocket(`${CHATS}/${id}/ws`, { authorization: `Bearer ${agent.token}` });
    cust.send({ type: "message", body: "Is it insured?", clientMessageId: "m-7" });
    const stored = await cust.events.next("message", (e) => e.message.clientMessageId === "m-7");
    await watcher.events.next("message", (e) => e.message.clientMessageId === "m-7");
    cust.send({ type: "message", body: "Is it insured?", clientMessageId: "m-7" });
    const again = await cust.events.next("message", (e) => e.message.clientMessageId === "m-7");
    expect(again.message).toEqual(stored.message);
    cust.send({ type: "ping" });
    await cust.events.next("pong");
    const messages = await messagesOf(agent.token, id);
    expect(messages.filter((m) => m.clientMessageId === "m-7")).toHaveLength(1);
    expect(
      watcher.events.all().filter((e) => e.type === "message" && e.message.clientMessageId === "m-7"),
    ).toHaveLength(1);
  });

  it("relays typing to the others and tells everyone who comes and goes", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const cust = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    const agentWs = await openSocket(`${CHATS}/${id}/ws`, { authorization: `Bearer ${agent.token}` });
    expect(await cust.events.next("presence", (e) => e.role === "agent")).toEqual({
      type: "presence",
      role: "agent",
      userId: agent.id,
      online: true,
    });
    expect(agentWs.ready.session.participants).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ role: "customer", online: true }),
        expect.objectContaining({ role: "agent", userId: agent.id, online: true }),
      ]),
    );
    // The customer's view names the agent but not their user id.
    const seenByCustomer = await cust.events.next("session", (e) => e.session.status === "agent");
    expect(seenByCustomer.session.participants.find((p) => p.role === "agent")).toMatchObject({
      userId: null,
      name: "Test User",
    });

    cust.send({ type: "typing", typing: true });
    expect(await agentWs.events.next("typing")).toEqual({
      type: "typing",
      role: "customer",
      name: "Ava Thompson",
      typing: true,
    });
    agentWs.send({ type: "typing", typing: true });
    expect(await cust.events.next("typing", (e) => e.role === "agent")).toMatchObject({
      name: "Test User",
      typing: true,
    });
    agentWs.send({ type: "message", body: "Hi Ava, I am Test from support." });
    expect((await cust.events.next("message", (e) => e.message.role === "agent")).message).toMatchObject({
      authorUserId: agent.id,
      authorName: "Test User",
      body: "Hi Ava, I am Test from support.",
    });
    // Typing is relayed, never stored; the customer never hears its own typing.
    expect(cust.events.all().some((e) => e.type === "typing" && e.role === "customer")).toBe(false);
    expect((await messagesOf(agent.token, id)).map((m) => m.role)).toEqual(["system", "agent"]);

    agentWs.close();
    expect(await cust.events.next("presence", (e) => e.role === "agent" && !e.online)).toMatchObject({
      userId: agent.id,
    });
  });

  it("answers bad frames with error frames, and the socket keeps working", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const reader = await signedInUser({ tenant: agent.tenant, permissions: ["chat:read"] });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const cust = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    const errors: ChatEvent[] = [];
    const nextError = async () => {
      const event = await cust.events.next("error");
      errors.push(event);
      return event;
    };
    cust.send("{not json");
    expect(await nextError()).toEqual({
      type: "error",
      error: { code: "BAD_REQUEST", message: "Frame is not valid JSON" },
    });
    cust.ws.send(new Uint8Array([1, 2, 3]));
    expect(await nextError()).toEqual({
      type: "error",
      error: { code: "BAD_REQUEST", message: "Frames must be JSON text, not binary" },
    });
    cust.send({ type: "message", body: "   ", clientMessageId: "m-empty" });
    expect(await nextError()).toEqual({
      type: "error",
      error: { code: "VALIDATION_ERROR", message: "Invalid frame", details: { body: ["Must not be empty"] } },
    });
    cust.send({ type: "dance" });
    expect((await nextError()).type).toBe("error");
    // The runtime answers the literal keep-alive without waking the object.
    cust.send("ping");
    await expect.poll(() => cust.rawFrames.includes("pong")).toBe(true);

    // Agents: watching (chat:read) is not writing; writing needs joining first; only customers hand over.
    const watcher = await openSocket(`${CHATS}/${id}/ws`, { authorization: `Bearer ${reader.token}` });
    watcher.send({ type: "message", body: "hello" });
    expect(await watcher.events.next("error")).toEqual({
      type: "error",
      error: {
        code: "FORBIDDEN",
        message: "Missing permission chat:write",
        details: { permission: "chat:write" },
      },
    });
    const writer = await openSocket(`${CHATS}/${id}/ws`, { authorization: `Bearer ${agent.token}` });
    writer.send({ type: "message", body: "hello", clientMessageId: "a-1" });
    expect(await writer.events.next("error")).toEqual({
      type: "error",
      error: {
        code: "PRECONDITION_FAILED",
        message: "Join the chat before writing in it",
        details: { status: "bot" },
      },
      clientMessageId: "a-1",
    });
    writer.send({ type: "handover" });
    expect(await writer.events.next("error")).toEqual({
      type: "error",
      error: { code: "FORBIDDEN", message: "Only the customer can ask for a human" },
    });

    // A flood is cut by the per-connection budget, not by closing the socket.
    for (let i = 0; i < 40; i++) cust.send({ type: "typing", typing: i % 2 === 0 });
    const limited = await cust.events.next("error", (e) => e.error.code === "RATE_LIMITED");
    expect(limited.error).toMatchObject({ message: "Too many frames; slow down" });
    expect(limited.error.details?.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    expect(cust.ws.readyState).toBe(WebSocket.READY_STATE_OPEN);
    expect(errors).toHaveLength(4);
  });

  it("a hibernated object wakes with its sockets and their identities", async () => {
    // No AI connection: the customer's message is answered "an agent will reply" and handed over.
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const cust = await openObjectSocket(id, agent.tenant.id, { kind: "customer" });
    const agentWs = await openObjectSocket(id, agent.tenant.id, {
      kind: "agent",
      userId: agent.id,
      name: "Test User",
      canWrite: true,
    });
    await cust.events.next("presence", (e) => e.role === "agent" && e.online);

    // The object leaves memory; its sockets stay open and their identities live in their attachments.
    await evictDurableObject(chatObject(id), { webSockets: "hibernate" });
    cust.send({ type: "message", body: "Still there?", clientMessageId: "after-sleep" });
    expect(
      (await agentWs.events.next("message", (e) => e.message.role === "customer")).message,
    ).toMatchObject({
      seq: 1,
      body: "Still there?",
      authorName: "Ava Thompson",
    });
    await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    agentWs.send({ type: "message", body: "Yes!" });
    expect((await cust.events.next("message", (e) => e.message.role === "agent")).message).toMatchObject({
      authorUserId: agent.id,
      authorName: "Test User",
      body: "Yes!",
    });
  });
});

describe("a chat over Server-Sent Events (mini-program)", { timeout: 30_000 }, () => {
  it("posts over HTTP, streams the AI's reply as message.delta events, and resumes after Last-Event-ID", async () => {
    const { agent, botId } = await chatTenant();
    await scriptBot(botId, [
      { kind: "answer", deltas: ["It is ", "on its way ", "to Sydney."], delayMs: 200 },
    ]);
    const chat = await startChat(agent.tenant, { channel: "mini_program" });
    const id = chat.session.id;
    // EventSource and wx.request cannot always set headers: the token rides in the query.
    const stream = await openStream(`${PUBLIC_CHAT}/${id}/events?access_token=${chat.token}`);
    expect(stream.response.headers.get("content-type")).toBe("text/event-stream; charset=utf-8");
    expect(stream.response.headers.get("x-request-id")).toMatch(/^req_/);
    expect((await stream.events.next("session")).session).toMatchObject({
      id,
      status: "bot",
      channel: "mini_program",
    });

    const posted = await call(
      `${PUBLIC_CHAT}/${id}/messages`,
      customer(chat.token, { method: "POST", body: { body: "Where is my parcel?", clientMessageId: "w-1" } }),
    );
    expect(posted.status).toBe(201);
    const sent = await envelope<{ message: ChatMessageView; duplicate: boolean }>(posted);
    expect(sent.data).toMatchObject({
      duplicate: false,
      message: { seq: 1, role: "customer", body: "Where is my parcel?" },
    });

    expect((await stream.events.next("message")).message.seq).toBe(1);
    expect(await stream.events.next("message.delta")).toMatchObject({ replyTo: 1, text: "It is " });
    const reply = await stream.events.next("message", (e) => e.message.role === "bot");
    expect(reply.message).toMatchObject({ seq: 2, body: "It is on its way to Sydney." });
    expect(deltasOf(stream.events.all()).map((d) => d.text)).toEqual(["It is ", "on its way ", "to Sydney."]);
    // Stored messages carry their seq as the SSE id; deltas have none.
    expect(stream.raw.filter((r) => r.event === "message").map((r) => r.id)).toEqual(["1", "2"]);
    expect(stream.raw.filter((r) => r.event === "message.delta").every((r) => r.id === null)).toBe(true);

    const again = await call(
      `${PUBLIC_CHAT}/${id}/messages`,
      customer(chat.token, { method: "POST", body: { body: "Where is my parcel?", clientMessageId: "w-1" } }),
    );
    expect((await envelope<{ message: ChatMessageView; duplicate: boolean }>(again)).data).toMatchObject({
      duplicate: true,
      message: { seq: 1 },
    });
    await stream.close();

    // Reconnecting with the last id seen replays only what came after it.
    const resumed = await openStream(`${PUBLIC_CHAT}/${id}/events`, {
      authorization: `Bearer ${chat.token}`,
      "last-event-id": "1",
    });
    await resumed.events.next("session");
    expect((await resumed.events.next("message")).message).toMatchObject({ seq: 2, role: "bot" });
    expect(resumed.raw.filter((r) => r.event === "message").map((r) => r.id)).toEqual(["2"]);
    await resumed.close();

    const page = await call(`${PUBLIC_CHAT}/${id}/messages?after=1`, customer(chat.token));
    expect(
      (await envelope<{ items: ChatMessageView[]; nextCursor: string | null }>(page)).data,
    ).toMatchObject({
      items: [{ seq: 2, role: "bot" }],
      nextCursor: null,
    });
  });

  it("an agent follows the chat as events too, with the agents' view of the session", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const stream = await openStream(`${CHATS}/${id}/events`, { authorization: `Bearer ${agent.token}` });
    await stream.events.next("session");
    await call(`${PUBLIC_CHAT}/${id}/handover`, customer(chat.token, { method: "POST" }));
    const waiting = await stream.events.next("session", (e) => e.session.ticketId !== null);
    expect(waiting.session.status).toBe("waiting");
    await stream.close();
  });
});
