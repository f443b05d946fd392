// Handover to a human: the customer asks (or the AI hands over, or the AI fails), the chat waits for an
// agent and a ticket opens with the transcript as its first comment; agents join, reply (relayed to the
// customer), leave or hand back to the bot, and the ticket follows the conversation.
import { describe, expect, inject, it } from "vitest";
import type { ChatSessionView } from "../../src/services/chat/chat-model";
import { bearer } from "../support/auth";
import {
  CHATS,
  chatObject,
  chatTenant,
  customer,
  openSocket,
  PUBLIC_CHAT,
  scriptBot,
  startChat,
} from "../support/chat";
import { call, envelope, ownerSql } from "../support/harness";

interface TicketRow {
  id: string;
  subject: string;
  channel: string;
  chat_session_id: string;
  requester_email: string | null;
  requester_name: string | null;
}

async function ticketsOf(tenantId: string): Promise<TicketRow[]> {
  return (await ownerSql()`
    select id, subject, channel, chat_session_id, requester_email, requester_name
      from tickets where tenant_id = ${tenantId} order by created_at`) as TicketRow[];
}

async function commentsOf(
  ticketId: string,
): Promise<{ body: string; public: boolean; author_type: string; author_name: string | null }[]> {
  return (await ownerSql()`
    select body, public, author_type, author_name from ticket_comments where ticket_id = ${ticketId} order by created_at`) as {
    body: string;
    public: boolean;
    author_type: string;
    author_name: string | null;
  }[];
}

async function cozeChats(botId: string): Promise<number> {
  const response = await fetch(`${inject("cozeFakeUrl")}/__control/bots/${botId}/chats`);
  return ((await response.json()) as { chats: unknown[] }).chats.length;
}

async function agentView(token: string, id: string): Promise<ChatSessionView> {
  const response = await call(`${CHATS}/${id}`, bearer(token));
  expect(response.status).toBe(200);
  const body = await envelope<ChatSessionView>(response);
  if (!body.data) throw new Error("no chat");
  return body.data;
}

describe("handover to a human", { timeout: 30_000 }, () => {
  it("the customer asks: the chat waits, a ticket opens with the transcript, the agent joins and is relayed", async () => {
    const { agent, botId } = await chatTenant();
    await scriptBot(botId, [{ kind: "answer", deltas: ["It shipped ", "on 31 October."] }]);
    const chat = await startChat(agent.tenant, {
      message: { body: "Where is my order #1042?", clientMessageId: "first" },
    });
    const id = chat.session.id;
    expect(chat.message).toMatchObject({ seq: 1, role: "customer", clientMessageId: "first" });
    const ws = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    await ws.events.next("message", (e) => e.message.role === "bot");

    const asked = await call(`${PUBLIC_CHAT}/${id}/handover`, customer(chat.token, { method: "POST" }));
    expect(asked.status).toBe(200);
    const waiting = await envelope<ChatSessionView>(asked);
    expect(waiting.data).toMatchObject({ status: "waiting", ticketId: null, agentId: null });
    expect((await ws.events.next("message", (e) => e.message.role === "system")).message).toMatchObject({
      body: "You asked for a human. An agent will join this chat shortly.",
      meta: { event: "handover", reason: "customer_request" },
    });

    const [ticket, ...others] = await ticketsOf(agent.tenant.id);
    expect(others).toEqual([]);
    expect(ticket).toMatchObject({
      subject: "Chat with Ava Thompson: Where is my order #1042?",
      channel: "chat",
      chat_session_id: id,
      requester_email: "ava.thompson@example.com",
      requester_name: "Ava Thompson",
    });
    const [transcript] = await commentsOf(ticket?.id ?? "");
    expect(transcript).toMatchObject({ public: false, author_type: "system" });
    expect(transcript?.body.split("\n")).toEqual([
      "Chat transcript:",
      expect.stringMatching(
        /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\] Ava Thompson: Where is my order #1042\?$/,
      ),
      expect.stringMatching(/ UTC\] Assistant: It shipped on 31 October\.$/),
      expect.stringMatching(/ UTC\] System: You asked for a human\. An agent will join this chat shortly\.$/),
    ]);
    // The agents see the ticket; the list knows the chat is waiting.
    expect(await agentView(agent.token, id)).toMatchObject({
      status: "waiting",
      ticketId: ticket?.id,
      live: true,
    });
    const waitingList = await envelope<{ items: ChatSessionView[] }>(
      await call(`${CHATS}?status=waiting`, bearer(agent.token)),
    );
    expect(waitingList.data?.items.map((s) => [s.id, s.ticketId])).toEqual([[id, ticket?.id]]);

    // Asking again changes nothing: no second ticket, no second note.
    expect(
      (await call(`${PUBLIC_CHAT}/${id}/handover`, customer(chat.token, { method: "POST" }))).status,
    ).toBe(200);
    expect(await ticketsOf(agent.tenant.id)).toHaveLength(1);

    const joined = await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    expect(joined.status).toBe(200);
    expect((await envelope<ChatSessionView>(joined)).data).toMatchObject({
      status: "agent",
      agentId: agent.id,
    });
    expect(
      (await ws.events.next("message", (e) => e.message.meta?.event === "agent_joined")).message.body,
    ).toBe("Test User joined the chat.");
    await ws.events.next("session", (e) => e.session.status === "agent");

    const reply = await call(
      `${CHATS}/${id}/messages`,
      bearer(agent.token, {
        method: "POST",
        body: { body: "Hi Ava, I have your order here.", clientMessageId: "a-1" },
      }),
    );
    expect(reply.status).toBe(201);
    expect((await ws.events.next("message", (e) => e.message.role === "agent")).message).toMatchObject({
      body: "Hi Ava, I have your order here.",
      authorName: "Test User",
      authorUserId: agent.id,
    });
    // With a human in the chat the customer's messages go to the human, not the AI.
    ws.send({ type: "message", body: "Thank you!" });
    await ws.events.next("message", (e) => e.message.body === "Thank you!");
    const listed = await envelope<{ items: ChatSessionView[] }>(
      await call(`${CHATS}?agentId=${agent.id}`, bearer(agent.token)),
    );
    expect(listed.data?.items.map((s) => s.status)).toEqual(["agent"]);
    expect(await cozeChats(botId)).toBe(1);
  });

  it("the AI hands over when the customer asks it for a person", async () => {
    const { agent } = await chatTenant({ settings: { handoverKeywords: ["human"] } });
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const ws = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    ws.send({ type: "message", body: "Can I talk to a human please?" });
    expect((await ws.events.next("message", (e) => e.message.role === "system")).message).toMatchObject({
      body: "Let me get a human for you. An agent will join this chat shortly.",
      meta: { event: "handover", reason: "ai_handover" },
    });
    // The ticket opens while the AI's reply winds down: wait for its first comment.
    await expect.poll(async () => (await ticketsOf(agent.tenant.id)).length).toBe(1);
    const [ticket] = await ticketsOf(agent.tenant.id);
    expect(ticket?.subject).toBe("Chat with Ava Thompson: Can I talk to a human please?");
    await expect.poll(async () => (await commentsOf(ticket?.id ?? "")).length).toBe(1);
    expect((await commentsOf(ticket?.id ?? ""))[0]?.body).toContain(
      "Ava Thompson: Can I talk to a human please?",
    );
    expect((await agentView(agent.token, id)).ticketId).toBe(ticket?.id);
  });

  it("a failing AI says an agent will reply, hands over once, and is not asked again", async () => {
    const { agent, botId } = await chatTenant();
    // Coze is down: the one retry fails too.
    await scriptBot(botId, [
      { kind: "http_error", status: 502 },
      { kind: "http_error", status: 502 },
    ]);
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const ws = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    ws.send({ type: "message", body: "Do you ship to Norway?" });
    expect((await ws.events.next("message", (e) => e.message.role === "bot")).message).toMatchObject({
      body: "An agent will reply shortly.",
      meta: { replyTo: 1, outcome: "degraded" },
    });
    expect((await ws.events.next("message", (e) => e.message.role === "system")).message.meta).toEqual({
      event: "handover",
      reason: "ai_unavailable",
    });
    await ws.events.next("session", (e) => e.session.status === "waiting");
    const chatsBefore = await cozeChats(botId);
    ws.send({ type: "message", body: "Hello?" });
    await ws.events.next("message", (e) => e.message.body === "Hello?");
    ws.send({ type: "ping" });
    await ws.events.next("pong");
    expect(await cozeChats(botId)).toBe(chatsBefore);
    expect(ws.events.all().filter((e) => e.type === "message" && e.message.role === "bot")).toHaveLength(1);
    await expect.poll(async () => (await ticketsOf(agent.tenant.id)).length).toBe(1);
  });

  it("the last agent leaving: the customer waits again and the ticket gets the rest; or the bot takes over", async () => {
    const { agent, botId } = await chatTenant();
    const chat = await startChat(agent.tenant);
    const id = chat.session.id;
    const ws = await openSocket(`${PUBLIC_CHAT}/${id}/ws`, { authorization: `Bearer ${chat.token}` });
    // An agent can take a chat over from the bot without a handover.
    const took = await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    expect((await envelope<ChatSessionView>(took)).data?.status).toBe("agent");
    expect(await ticketsOf(agent.tenant.id)).toEqual([]);
    await call(
      `${CHATS}/${id}/messages`,
      bearer(agent.token, { method: "POST", body: { body: "I will check the stock." } }),
    );

    const left = await call(`${CHATS}/${id}/leave`, bearer(agent.token, { method: "POST", body: {} }));
    expect(left.status).toBe(200);
    expect((await envelope<ChatSessionView>(left)).data).toMatchObject({ status: "waiting", agentId: null });
    expect(
      (await ws.events.next("message", (e) => e.message.meta?.event === "agent_left")).message.body,
    ).toBe("Test User left the chat.");
    const [ticket] = await ticketsOf(agent.tenant.id);
    expect((await commentsOf(ticket?.id ?? ""))[0]?.body).toContain("Test User: I will check the stock.");

    // Again, handing back to the bot: the AI answers the next message, and the ticket hears the rest.
    await call(`${CHATS}/${id}/join`, bearer(agent.token, { method: "POST" }));
    await call(
      `${CHATS}/${id}/messages`,
      bearer(agent.token, { method: "POST", body: { body: "Back in stock Monday." } }),
    );
    const back = await call(
      `${CHATS}/${id}/leave`,
      bearer(agent.token, { method: "POST", body: { returnToBot: true } }),
    );
    expect((await envelope<ChatSessionView>(back)).data?.status).toBe("bot");
    await ws.events.next("message", (e) => e.message.meta?.event === "returned_to_bot");
    await scriptBot(botId, [{ kind: "answer", deltas: ["Anything else?"] }]);
    ws.send({ type: "message", body: "Thanks" });
    expect((await ws.events.next("message", (e) => e.message.role === "bot")).message.body).toBe(
      "Anything else?",
    );

    // Leaving twice is refused; the ticket is still the one ticket of this chat.
    const again = await call(`${CHATS}/${id}/leave`, bearer(agent.token, { method: "POST" }));
    expect(again.status).toBe(412);
    expect((await envelope(again)).error).toEqual({
      code: "PRECONDITION_FAILED",
      message: "You are not in this chat",
      details: { status: "bot" },
    });
    expect(await ticketsOf(agent.tenant.id)).toHaveLength(1);
    await call(`${PUBLIC_CHAT}/${id}/close`, customer(chat.token, { method: "POST" }));
    const comments = await commentsOf(ticket?.id ?? "");
    expect(comments.map((c) => c.body.split("\n")[0])).toEqual([
      "Chat transcript:",
      "Chat transcript (continued):",
    ]);
    expect(comments[1]?.body).toContain("Test User: Back in stock Monday.");
    expect(comments[1]?.body).toContain("Assistant: Anything else?");
    expect(comments[1]?.body).toContain("System: The customer closed the chat.");
  });

  it("a chat closed while its handover ticket is being opened: the ticket still gets the end of it", async () => {
    const { agent } = await chatTenant();
    const chat = await startChat(agent.tenant, { message: { body: "Where is my parcel?" } });
    const id = chat.session.id;
    const object = chatObject(id);
    // The close arrives while the handover is still writing the ticket (the object awaits Postgres).
    const handedOver = object.handover({ tenantId: agent.tenant.id });
    const closed = object.close({ tenantId: agent.tenant.id, reason: "customer" });
    expect((await handedOver).ok).toBe(true);
    expect(await closed).toMatchObject({ ok: true, value: { status: "closed" } });
    const tickets = await ticketsOf(agent.tenant.id);
    expect(tickets).toHaveLength(1);
    const transcript = (await commentsOf(tickets[0]?.id ?? "")).map((c) => c.body).join("\n");
    expect(transcript).toContain(": Where is my parcel?");
    expect(transcript).toContain("System: The customer closed the chat.");
  });
});
