// The chat API's edges: starting a chat (tenant by slug or id, validation, suspended tenants), the
// customer's chat token (scoped to one session, never an access token), agents' permissions, tenant
// isolation of live and archived chats, rate limits, the inbox list, and every error in the envelope.
import { describe, expect, it } from "vitest";
import type { ChatSessionView } from "../../src/services/chat/chat-model";
import { bearer, randomIp, signedInUser } from "../support/auth";
import { CHATS, chatTenant, customer, openSocket, PUBLIC_CHAT, startChat } from "../support/chat";
import { call, createTenant, envelope, ownerSql } from "../support/harness";

function start(body: unknown, ip = randomIp()) {
  return call(PUBLIC_CHAT, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": ip },
    body: JSON.stringify(body),
  });
}

describe("POST /api/v1/public/chat/sessions", { timeout: 30_000 }, () => {
  it("starts a chat by tenant slug or id: the row exists at once, live, answered by the bot", async () => {
    const agent = await signedInUser({ permissions: ["chat:read"] });
    const bySlug = await start({
      tenant: agent.tenant.slug,
      customer: { name: "Ava Thompson", phone: "+61 2 5550 1234" },
    });
    expect(bySlug.status).toBe(201);
    const started = await envelope<{
      session: ChatSessionView;
      token: string;
      tokenType: string;
      expiresIn: number;
    }>(bySlug);
    expect(started.data).toMatchObject({
      tokenType: "Bearer",
      expiresIn: 14_400,
      session: { status: "bot", channel: "web", live: true, messageCount: 0, ticketId: null },
      message: null,
    });
    const byId = await start({
      tenant: agent.tenant.id.toUpperCase(),
      channel: "api",
      customer: { externalId: "cust-77" },
    });
    expect(byId.status).toBe(201);
    const listed = await envelope<{ items: ChatSessionView[]; total: number }>(
      await call(CHATS, bearer(agent.token)),
    );
    expect(listed.data?.total).toBe(2);
    expect(listed.data?.items.map((s) => [s.channel, s.status, s.live])).toEqual([
      ["api", "bot", true],
      ["web", "bot", true],
    ]);
    const [row] =
      await ownerSql()`select tenant_id, status, customer from chat_sessions where id = ${started.data?.session.id ?? ""}`;
    expect(row).toEqual({
      tenant_id: agent.tenant.id,
      status: "bot",
      customer: { name: "Ava Thompson", phone: "+61 2 5550 1234" },
    });
  });

  it("refuses unknown and suspended tenants and invalid customers, in the envelope", async () => {
    const unknownSlug = await start({ tenant: "no-such-seller-xyz" });
    expect(unknownSlug.status).toBe(404);
    expect((await envelope(unknownSlug)).error).toEqual({
      code: "NOT_FOUND",
      message: "Tenant 'no-such-seller-xyz' not found",
    });
    const unknownId = await start({ tenant: crypto.randomUUID() });
    expect(unknownId.status).toBe(404);
    expect((await envelope(unknownId)).error).toEqual({ code: "NOT_FOUND", message: "Tenant not found" });

    const tenant = await createTenant("Paused Co");
    await ownerSql()`update tenants set status = 'suspended' where id = ${tenant.id}`;
    for (const ref of [tenant.id, tenant.slug]) {
      const suspended = await start({ tenant: ref });
      expect(suspended.status, ref).toBe(403);
      expect((await envelope(suspended)).error).toEqual({
        code: "FORBIDDEN",
        message: "This tenant is suspended",
      });
    }
    expect(await ownerSql()`select id from chat_sessions where tenant_id = ${tenant.id}`).toEqual([]);

    const invalid = await start({
      tenant: "acme",
      channel: "fax",
      customer: { email: "not-an-email", phone: "call me maybe" },
      message: { body: "" },
      extra: true,
    });
    expect(invalid.status).toBe(422);
    const error = (await envelope(invalid)).error;
    expect(error?.code).toBe("VALIDATION_ERROR");
    expect(Object.keys(error?.details ?? {}).sort()).toEqual(
      ["_root", "channel", "customer.email", "customer.phone", "message.body"].sort(),
    );
    const malformed = await call(PUBLIC_CHAT, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{",
    });
    expect(malformed.status).toBe(400);
    expect((await envelope(malformed)).error?.code).toBe("BAD_REQUEST");
  });

  it("rate-limits starts per client address", async () => {
    const agent = await signedInUser({ permissions: ["chat:read"] });
    const ip = randomIp();
    const limits = { RATE_LIMITS: JSON.stringify({ public: { limit: 2, windowSeconds: 60 } }) };
    const send = () =>
      call(
        PUBLIC_CHAT,
        {
          method: "POST",
          headers: { "content-type": "application/json", "cf-connecting-ip": ip },
          body: JSON.stringify({ tenant: agent.tenant.slug }),
        },
        limits,
      );
    expect((await send()).status).toBe(201);
    expect((await send()).status).toBe(201);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await envelope(limited)).error?.code).toBe("RATE_LIMITED");
  });
});

describe("the customer's chat token", { timeout: 30_000 }, () => {
  it("opens only its own session, only as a chat token, from a header, a subprotocol or the query", async () => {
    const agent = await signedInUser({ permissions: ["chat:write"] });
    const x = await startChat(agent.tenant);
    const y = await startChat(agent.tenant);
    const path = `${PUBLIC_CHAT}/${x.session.id}`;

    const none = await call(path);
    expect(none.status).toBe(401);
    expect((await envelope(none)).error).toEqual({ code: "UNAUTHORIZED", message: "Chat token required" });
    for (const token of ["garbage", agent.token]) {
      const refused = await call(path, customer(token));
      expect(refused.status).toBe(401);
      expect((await envelope(refused)).error).toEqual({
        code: "UNAUTHORIZED",
        message: "Invalid or expired chat token",
      });
    }
    // A chat token is no access token.
    const asAccess = await call(`${CHATS}/${x.session.id}`, bearer(x.token));
    expect(asAccess.status).toBe(401);
    expect((await envelope(asAccess)).error?.message).toBe("Invalid or expired access token");
    // X's token cannot touch Y, whatever the route, and Y is unchanged.
    for (const [method, suffix, body] of [
      ["GET", "", undefined],
      ["GET", "/messages", undefined],
      ["POST", "/messages", { body: "pwned" }],
      ["POST", "/handover", undefined],
      ["POST", "/close", undefined],
      ["POST", "/token", undefined],
      ["GET", "/events", undefined],
      ["GET", "/ws", undefined],
    ] as const) {
      const response = await call(
        `${PUBLIC_CHAT}/${y.session.id}${suffix}`,
        customer(x.token, { method, body }),
      );
      expect(response.status, `${method} ${suffix}`).toBe(404);
      expect((await envelope(response)).error).toEqual({
        code: "NOT_FOUND",
        message: "Chat session not found",
      });
    }
    const yNow = await envelope<ChatSessionView>(
      await call(`${PUBLIC_CHAT}/${y.session.id}`, customer(y.token)),
    );
    expect(yNow.data).toMatchObject({ status: "bot", messageCount: 0 });

    // A browser WebSocket: the token rides as a subprotocol and the chat protocol is answered.
    const viaProtocol = await call(`${path}/ws`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `tradewind.chat.v1, bearer.${x.token}` },
    });
    expect(viaProtocol.status).toBe(101);
    expect(viaProtocol.headers.get("sec-websocket-protocol")).toBe("tradewind.chat.v1");
    viaProtocol.webSocket?.accept();
    viaProtocol.webSocket?.close(1000, "done");
    const viaQuery = await openSocket(`${path}/ws?access_token=${x.token}`, {});
    expect(viaQuery.ready.session.id).toBe(x.session.id);
    const notUpgrade = await call(`${path}/ws`, customer(x.token));
    expect(notUpgrade.status).toBe(400);
    expect((await envelope(notUpgrade)).error).toEqual({
      code: "BAD_REQUEST",
      message: "Expected a WebSocket upgrade (Upgrade: websocket)",
    });

    // Renewed before it expires; the new one works.
    const renewed = await call(`${path}/token`, customer(x.token, { method: "POST" }));
    expect(renewed.status).toBe(200);
    const fresh = (await envelope<{ token: string; expiresIn: number }>(renewed)).data;
    expect(fresh?.expiresIn).toBe(14_400);
    expect((await call(path, customer(fresh?.token ?? ""))).status).toBe(200);
  });

  it("validates messages, and rate-limits a session's calls", async () => {
    const agent = await signedInUser({ permissions: ["chat:write"] });
    const chat = await startChat(agent.tenant);
    await call(`${CHATS}/${chat.session.id}/join`, bearer(agent.token, { method: "POST" }));
    const path = `${PUBLIC_CHAT}/${chat.session.id}/messages`;
    const empty = await call(path, customer(chat.token, { method: "POST", body: { body: " " } }));
    expect(empty.status).toBe(422);
    expect((await envelope(empty)).error?.details).toEqual({
      body: ["Too small: expected string to have >=1 characters"],
    });
    const long = await call(path, customer(chat.token, { method: "POST", body: { body: "x".repeat(4001) } }));
    expect(long.status).toBe(422);
    // A fresh session: the calls above already count against this one's window.
    const other = await startChat(agent.tenant);
    const limits = { RATE_LIMITS: JSON.stringify({ chat: { limit: 2, windowSeconds: 60 } }) };
    const send = () =>
      call(
        `${PUBLIC_CHAT}/${other.session.id}/messages`,
        customer(other.token, { method: "POST", body: { body: "hi" } }),
        limits,
      );
    expect((await send()).status).toBe(201);
    expect((await send()).status).toBe(201);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect((await envelope(limited)).error).toMatchObject({
      code: "RATE_LIMITED",
      message: "Rate limit exceeded; slow down",
    });
  });
});

describe("agents: permissions and tenant isolation", { timeout: 30_000 }, () => {
  it("needs chat:read to look, chat:write to take part, and a user (not an API key) to write", async () => {
    const admin = await signedInUser({ superuser: true });
    const nobody = await signedInUser({ tenant: admin.tenant, permissions: ["orders:read"] });
    const reader = await signedInUser({ tenant: admin.tenant, permissions: ["chat:read"] });
    const chat = await startChat(admin.tenant);
    const id = chat.session.id;

    const anonymous = await call(`${CHATS}/${id}`);
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error).toEqual({
      code: "UNAUTHORIZED",
      message: "Authentication required",
    });
    const forbidden = await call(CHATS, bearer(nobody.token));
    expect(forbidden.status).toBe(403);
    expect((await envelope(forbidden)).error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission chat:read",
      details: { permission: "chat:read" },
    });
    expect((await call(`${CHATS}/${id}`, bearer(reader.token))).status).toBe(200);
    for (const suffix of ["/join", "/messages", "/leave", "/close"]) {
      const response = await call(
        `${CHATS}/${id}${suffix}`,
        bearer(reader.token, { method: "POST", body: { body: "x" } }),
      );
      expect(response.status, suffix).toBe(403);
      expect((await envelope(response)).error?.message).toBe("Missing permission chat:write");
    }
    const notJoined = await call(
      `${CHATS}/${id}/messages`,
      bearer(admin.token, { method: "POST", body: { body: "hello" } }),
    );
    expect(notJoined.status).toBe(412);
    expect((await envelope(notJoined)).error).toEqual({
      code: "PRECONDITION_FAILED",
      message: "Join the chat before writing in it",
      details: { status: "bot" },
    });

    const created = await call(
      "/api/v1/api-keys",
      bearer(admin.token, { method: "POST", body: { name: "Helpdesk", scopes: ["chat:write"] } }),
    );
    const key = (await envelope<{ key: string }>(created)).data?.key ?? "";
    expect((await call(CHATS, bearer(key))).status).toBe(200);
    const keyJoin = await call(`${CHATS}/${id}/join`, bearer(key, { method: "POST" }));
    expect(keyJoin.status).toBe(403);
    expect((await envelope(keyJoin)).error).toEqual({
      code: "FORBIDDEN",
      message: "Only a signed-in user can take part in a chat, not an API key",
    });
    // An API key may close a chat (an integration ending stale chats).
    expect((await call(`${CHATS}/${id}/close`, bearer(key, { method: "POST" }))).status).toBe(200);

    const missing = crypto.randomUUID();
    for (const [method, suffix] of [
      ["GET", ""],
      ["GET", "/messages"],
      ["POST", "/join"],
      ["POST", "/close"],
      ["GET", "/events"],
    ] as const) {
      const response = await call(`${CHATS}/${missing}${suffix}`, bearer(admin.token, { method }));
      expect(response.status, suffix).toBe(404);
      expect((await envelope(response)).error).toEqual({
        code: "NOT_FOUND",
        message: "Chat session not found",
      });
    }
    const badId = await call(`${CHATS}/not-a-uuid`, bearer(admin.token));
    expect(badId.status).toBe(422);
  });

  it("another tenant's agent can neither read nor join nor watch a live or an archived chat", async () => {
    const a = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const b = await signedInUser({ superuser: true });
    const live = await startChat(a.agent.tenant, { customer: { name: "Ava Secret" } });
    const archived = await startChat(a.agent.tenant, { customer: { name: "Ava Secret" } });
    await call(`${CHATS}/${archived.session.id}/close`, bearer(a.agent.token, { method: "POST" }));
    for (const id of [live.session.id, archived.session.id]) {
      for (const [method, suffix, body] of [
        ["GET", "", undefined],
        ["GET", "/messages", undefined],
        ["POST", "/join", undefined],
        ["POST", "/messages", { body: "pwned" }],
        ["POST", "/leave", {}],
        ["POST", "/close", undefined],
        ["GET", "/events", undefined],
        ["GET", "/ws", undefined],
      ] as const) {
        const response = await call(`${CHATS}/${id}${suffix}`, bearer(b.token, { method, body }));
        const text = await response.text();
        expect(response.status, `${method} ${suffix} → ${text}`).toBe(404);
        expect(text).not.toContain("Ava Secret");
      }
      const upgrade = await call(`${CHATS}/${id}/ws`, {
        headers: { upgrade: "websocket", authorization: `Bearer ${b.token}` },
      });
      expect(upgrade.status).toBe(404);
    }
    const list = await call(CHATS, bearer(b.token));
    expect(await list.text()).not.toContain("Ava Secret");
    // A's live chat is untouched: still with the bot, nobody joined, nothing written.
    const aView = await envelope<ChatSessionView>(
      await call(`${CHATS}/${live.session.id}`, bearer(a.agent.token)),
    );
    expect(aView.data).toMatchObject({ status: "bot", messageCount: 0, agentId: null });
  });

  it("an agent's browser WebSocket authenticates through the subprotocol", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:read"] });
    const chat = await startChat(agent.tenant);
    const response = await call(`${CHATS}/${chat.session.id}/ws`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": `tradewind.chat.v1, bearer.${agent.token}` },
    });
    expect(response.status).toBe(101);
    expect(response.headers.get("sec-websocket-protocol")).toBe("tradewind.chat.v1");
    response.webSocket?.accept();
    response.webSocket?.close(1000, "done");
    const wrong = await call(`${CHATS}/${chat.session.id}/ws`, {
      headers: { upgrade: "websocket", "sec-websocket-protocol": "tradewind.chat.v1, bearer.not-a-token" },
    });
    expect(wrong.status).toBe(401);
  });
});

describe("GET /api/v1/chats", { timeout: 30_000 }, () => {
  it("filters by status, channel, customer search and start time, and pages", async () => {
    const { agent } = await chatTenant({ ai: false, permissions: ["chat:write"] });
    const web = await startChat(agent.tenant, { customer: { name: "Liam Chen", email: "liam@example.com" } });
    const mini = await startChat(agent.tenant, { channel: "mini_program", customer: { name: "Wang Fang" } });
    const third = await startChat(agent.tenant, { customer: { name: "Zoë 100% Cotton" } });
    await call(`${PUBLIC_CHAT}/${web.session.id}/handover`, customer(web.token, { method: "POST" }));
    await ownerSql()`update chat_sessions set started_at = '2026-01-15T10:00:00Z' where id = ${third.session.id}`;

    const ids = async (query: string) => {
      const response = await call(`${CHATS}${query}`, bearer(agent.token));
      expect(response.status, query).toBe(200);
      return (await envelope<{ items: ChatSessionView[] }>(response)).data?.items.map((s) => s.id) ?? [];
    };
    expect(await ids("?status=waiting")).toEqual([web.session.id]);
    expect(await ids("?status=bot")).toEqual([mini.session.id, third.session.id]);
    expect(await ids("?status=bot,waiting")).toHaveLength(3);
    expect(await ids("?channel=mini_program")).toEqual([mini.session.id]);
    expect(await ids("?search=LIAM")).toEqual([web.session.id]);
    expect(await ids("?search=100%25")).toEqual([third.session.id]);
    expect(await ids("?search=wang")).toEqual([mini.session.id]);
    expect(await ids("?startedTo=2026-01-15")).toEqual([third.session.id]);
    expect(await ids("?startedFrom=2026-01-16")).toEqual([web.session.id, mini.session.id].reverse());
    const page = await envelope<{ items: ChatSessionView[]; total: number; totalPages: number }>(
      await call(`${CHATS}?pageSize=2&page=2`, bearer(agent.token)),
    );
    expect(page.data).toMatchObject({ total: 3, totalPages: 2 });
    expect(page.data?.items).toHaveLength(1);
    const invalid = await call(`${CHATS}?status=sleeping`, bearer(agent.token));
    expect(invalid.status).toBe(422);
  });
});
