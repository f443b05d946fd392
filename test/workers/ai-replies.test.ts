// AI replies through Coze (src/services/ai/stream-ai-reply.ts), called directly as the chat Durable Object
// calls it, against the Coze fake (test/fakes/coze.ts) and the real Postgres and Redis. Each test has its
// own tenant, Coze app and bot, so counters and scripts never mix.
import { describe, expect, inject, it } from "vitest";
import { type AiReplyEvent, type AiReplyInput, streamAiReply } from "../../src/services/ai/stream-ai-reply";
import type { ServiceContext } from "../../src/services/context";
import type { ChatRecord, FakeReply, ToolOutputRecord } from "../fakes/coze";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql, type TestTenant } from "../support/harness";

const COZE = inject("cozeFakeUrl");
const PRIVATE_KEY = inject("cozePrivateKey");
const DEGRADED_TEXT = "An agent will reply shortly.";

async function control<T>(path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${COZE}/__control${path}`, {
    method: body === undefined ? "GET" : "POST",
    ...(body === undefined
      ? {}
      : { headers: { "content-type": "application/json" }, body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`coze control ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

interface AppStats {
  tokenExchanges: number;
  tokenRefusals: number;
  chats: number;
  toolSubmissions: number;
}

const stats = (appId: string) => control<AppStats>(`/apps/${appId}/stats`);
const script = (botId: string, replies: FakeReply[]) => control<void>(`/bots/${botId}/replies`, { replies });
const chatsOf = (botId: string) =>
  control<{ chats: ChatRecord[]; toolOutputs: ToolOutputRecord[] }>(`/bots/${botId}/chats`);

function randomBotId(): string {
  return `75${Array.from(crypto.getRandomValues(new Uint8Array(17)), (b) => b % 10).join("")}`;
}

interface CozeSetup {
  tenant: TestTenant;
  token: string;
  appId: string;
  botId: string;
  connectionId: string;
  /** A service context acting for the tenant as the chat does (system actor). */
  ctx(overrides?: Partial<Env>): ServiceContext;
}

/** A tenant with a Coze connection (created through the API) to a fresh app and bot of the fake. */
async function cozeTenant(
  options: { settings?: Record<string, unknown>; app?: Record<string, unknown> } = {},
): Promise<CozeSetup> {
  const admin = await signedInUser({ permissions: ["sync:admin"] });
  const { appId, keyId } = await control<{ appId: string; keyId: string }>("/apps", options.app ?? {});
  const botId = randomBotId();
  const response = await call(
    "/api/v1/connections",
    bearer(admin.token, {
      method: "POST",
      body: {
        provider: "coze",
        account: appId,
        displayName: "Support bot",
        credentials: { appId, keyId, privateKey: PRIVATE_KEY },
        settings: { botId, region: "com", maxReplySeconds: 20, ...options.settings },
      },
    }),
  );
  const created = await envelope<{ id: string; kind: string }>(response);
  if (response.status !== 201 || !created.data) {
    throw new Error(`coze connection: ${response.status} ${JSON.stringify(created.error)}`);
  }
  const tenant = admin.tenant;
  return {
    tenant,
    token: admin.token,
    appId,
    botId,
    connectionId: created.data.id,
    ctx: (overrides = {}) => chatContext(tenant.id, overrides),
  };
}

function chatContext(tenantId: string, overrides: Partial<Env> = {}): ServiceContext {
  const ctx = testContext(overrides);
  ctx.tenantId = tenantId;
  ctx.actor = { type: "system", name: "chat" };
  return ctx;
}

const input = (overrides: Partial<AiReplyInput> = {}): AiReplyInput => ({
  sessionId: crypto.randomUUID(),
  customer: { name: "Mia Wong" },
  history: [],
  message: "Where is my order?",
  ...overrides,
});

async function reply(ctx: ServiceContext, request: AiReplyInput = input()): Promise<AiReplyEvent[]> {
  const events: AiReplyEvent[] = [];
  for await (const event of streamAiReply({ ctx, input: request })) events.push(event);
  return events;
}

const deltas = (events: AiReplyEvent[]) => events.flatMap((e) => (e.type === "delta" ? [e.text] : []));

/** The reply ended with exactly one final event, and it is this one. */
function expectEndsWith(events: AiReplyEvent[], last: AiReplyEvent) {
  expect(events.at(-1)).toEqual(last);
  const finals = events.filter((e) => e.type !== "delta");
  expect(finals).toHaveLength(1);
}

describe("AI replies: streaming", () => {
  it("relays the bot's deltas in order, then the completed reply, sending the transcript to Coze", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [
      { kind: "answer", deltas: ["Your order ", "#1042 ", "shipped ", "yesterday."] },
    ]);
    const request = input({
      history: [
        { role: "customer", body: "Hi" },
        { role: "bot", body: "Hello! How can I help?" },
        { role: "system", body: "An agent joined" },
        { role: "agent", body: "I'm here too." },
      ],
      message: "Where is #1042?",
    });

    const events = await reply(coze.ctx(), request);

    expect(deltas(events)).toEqual(["Your order ", "#1042 ", "shipped ", "yesterday."]);
    expectEndsWith(events, { type: "completed", text: "Your order #1042 shipped yesterday." });
    const { chats } = await chatsOf(coze.botId);
    expect(chats).toHaveLength(1);
    const chat = chats[0];
    expect(chat?.appId).toBe(coze.appId);
    expect(chat?.userId).toMatch(/^tw_[0-9a-f]{32}$/);
    expect(chat?.autoSaveHistory).toBe(true);
    expect(chat?.customVariables).toEqual({ customer_name: "Mia Wong" });
    expect(chat?.metaData).toEqual({ tradewind_session: request.sessionId });
    expect(chat?.additionalMessages).toEqual([
      { role: "user", type: "question", content: "Hi", content_type: "text" },
      { role: "assistant", type: "answer", content: "Hello! How can I help?", content_type: "text" },
      { role: "assistant", type: "answer", content: "I'm here too.", content_type: "text" },
      { role: "user", type: "question", content: "Where is #1042?", content_type: "text" },
    ]);
  });

  it("relays deltas as they arrive, not when the reply ends (a stream that stalls still delivered them)", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [{ kind: "stall", deltas: ["Let me ", "check that"] }]);
    const events = await reply(coze.ctx());
    expect(deltas(events)).toEqual(["Let me ", "check that"]);
    // The stall is Coze going quiet mid-reply: no retry (half an answer was shown), one degraded event.
    expectEndsWith(events, { type: "degraded", reason: "timeout", text: DEGRADED_TEXT });
    expect((await stats(coze.appId)).chats).toBe(1);
  }, 15_000);

  it("keeps the same Coze user for every message of a session, and a different one per session", async () => {
    const coze = await cozeTenant();
    const sessionId = crypto.randomUUID();
    await reply(coze.ctx(), input({ sessionId }));
    await reply(coze.ctx(), input({ sessionId }));
    await reply(coze.ctx(), input());
    const users = (await chatsOf(coze.botId)).chats.map((c) => c.userId);
    expect(users[0]).toBe(users[1]);
    expect(users[2]).not.toBe(users[0]);
  });
});

describe("AI replies: Coze access tokens", () => {
  it("mints one token and reuses it across replies and concurrent chats, sealed in Redis", async () => {
    const coze = await cozeTenant();
    const ctx = coze.ctx();
    const first = await reply(ctx);
    expect(first.at(-1)?.type).toBe("completed");
    const concurrent = await Promise.all([reply(coze.ctx()), reply(coze.ctx()), reply(coze.ctx())]);
    for (const events of concurrent) expect(events.at(-1)?.type).toBe("completed");

    expect(await stats(coze.appId)).toMatchObject({ tokenExchanges: 1, chats: 4 });
    const sealed = await ctx.cache.redis?.get<string>(ctx.cache.key(`coze:token:${coze.connectionId}`));
    expect(sealed).toMatch(/^v1\./);
    expect(sealed).not.toContain("czs_");
  });

  it("shares one mint between isolates: a fresh connection asked by several chats at once mints once", async () => {
    const coze = await cozeTenant();
    const replies = await Promise.all(Array.from({ length: 4 }, () => reply(coze.ctx())));
    for (const events of replies) expect(events.at(-1)?.type).toBe("completed");
    expect((await stats(coze.appId)).tokenExchanges).toBe(1);
  });

  it("mints a new token once the cached one nears its expiry", async () => {
    // Tokens of this app live 2 s; one is used until a fifth of its life is left.
    const coze = await cozeTenant({ app: { tokenLifetimeSeconds: 2 } });
    await reply(coze.ctx());
    await reply(coze.ctx());
    expect((await stats(coze.appId)).tokenExchanges).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const events = await reply(coze.ctx());
    expect(events.at(-1)?.type).toBe("completed");
    expect((await stats(coze.appId)).tokenExchanges).toBe(2);
  }, 15_000);

  it("drops a token Coze refuses (700012006), mints a new one and asks again, once", async () => {
    const coze = await cozeTenant();
    await reply(coze.ctx());
    await control(`/apps/${coze.appId}/revoke-tokens`, {});
    await script(coze.botId, [{ kind: "answer", deltas: ["Still ", "here."] }]);

    const events = await reply(coze.ctx());

    expect(deltas(events)).toEqual(["Still ", "here."]);
    expectEndsWith(events, { type: "completed", text: "Still here." });
    expect(await stats(coze.appId)).toMatchObject({ tokenExchanges: 2, chats: 2 });
  });

  it("degrades (unavailable) when Coze refuses the app's credentials, without retrying in a loop", async () => {
    const coze = await cozeTenant();
    await control(`/apps/${coze.appId}/token-failures`, { status: 401, errorCode: "invalid_client" });
    const events = await reply(coze.ctx());
    expect(events).toEqual([{ type: "degraded", reason: "unavailable", text: DEGRADED_TEXT }]);
    expect(await stats(coze.appId)).toMatchObject({ tokenExchanges: 1, chats: 0 });
  });

  it("retries a token exchange that failed on Coze's side (5xx) once", async () => {
    const coze = await cozeTenant();
    await control(`/apps/${coze.appId}/token-failures`, { status: 500, errorCode: "internal_error" });
    const events = await reply(coze.ctx());
    expect(events.at(-1)?.type).toBe("completed");
    expect(await stats(coze.appId)).toMatchObject({ tokenExchanges: 2, chats: 1 });
  });

  it("checks the JWT like Coze: a key that does not match the app's public key is refused", async () => {
    const { pem } = await generatedPublicKeyPem();
    const coze = await cozeTenant({ app: { publicKeyPem: pem } });
    const events = await reply(coze.ctx());
    expect(events).toEqual([{ type: "degraded", reason: "unavailable", text: DEGRADED_TEXT }]);
    expect(await stats(coze.appId)).toMatchObject({ tokenExchanges: 0, tokenRefusals: 1, chats: 0 });
  });
});

/** A public key the fake will verify against, whose private half the Worker does not have. */
async function generatedPublicKeyPem(): Promise<{ pem: string }> {
  const pair = (await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  )) as CryptoKeyPair;
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  const base64 = btoa(String.fromCharCode(...spki));
  return {
    pem: `-----BEGIN PUBLIC KEY-----\n${base64.match(/.{1,64}/g)?.join("\n")}\n-----END PUBLIC KEY-----\n`,
  };
}

describe("AI replies: the bot's tools", () => {
  async function storeOrder(tenant: TestTenant, seed: { number: string; email: string }) {
    const sql = ownerSql();
    const [shop] = await sql`
      insert into connections (tenant_id, kind, provider, account, display_name, credentials_sealed, enabled)
      values (${tenant.id}, 'channel', 'shopify', ${`s-${crypto.randomUUID().slice(0, 8)}.myshopify.com`},
              'Acme Store', 'sealed', false)
      returning id`;
    const placedAt = "2026-03-10T08:30:00.000Z";
    const data = {
      channel: "shopify",
      storeId: "acme.myshopify.com",
      externalId: `gid://shopify/Order/${crypto.randomUUID()}`,
      externalNumber: seed.number,
      currency: "USD",
      customer: { externalId: null, email: seed.email, phone: "+1 650 555 0101", name: "Mia Wong" },
      shippingAddress: {
        name: "Mia Wong",
        company: null,
        line1: "1 Market St",
        line2: null,
        city: "San Francisco",
        province: "California",
        provinceCode: "CA",
        postalCode: "94105",
        countryCode: "US",
        phone: null,
      },
      billingAddress: null,
      lines: [
        {
          externalLineId: "1",
          sku: "TEE-BLK-M",
          title: "Tee",
          variantTitle: "Black / M",
          productExternalId: null,
          variantExternalId: null,
          quantity: 2,
          unitPriceMinor: 2500,
          discountMinor: 0,
          taxMinor: 0,
        },
      ],
      shippingLines: [],
      taxLines: [],
      discountCodes: [],
      subtotalMinor: 5000,
      shippingMinor: 0,
      taxMinor: 0,
      discountMinor: 0,
      totalMinor: 5000,
      financialStatus: "PAID",
      fulfillmentStatus: "FULFILLED",
      cancelledAt: null,
      placedAt,
      updatedAt: placedAt,
      note: null,
      tags: [],
    };
    await sql`
      insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, status,
                          currency, total_minor, customer_email, customer_name, search_text, data, placed_at,
                          channel_updated_at)
      values (${tenant.id}, ${String(shop?.id)}, 'shopify', 'acme.myshopify.com', ${data.externalId}, ${seed.number},
              'shipped', 'USD', 5000, ${seed.email}, 'Mia Wong',
              ${`${seed.number} ${seed.email} mia wong +1 650 555 0101`.toLowerCase()},
              ${JSON.stringify(data)}::jsonb, ${placedAt}, ${placedAt})`;
  }

  it("answers look_up_orders with the customer's order (number + email), then relays the bot's answer", async () => {
    const coze = await cozeTenant();
    await storeOrder(coze.tenant, { number: "#1042", email: "mia@example.com" });
    await script(coze.botId, [
      {
        kind: "tool_calls",
        calls: [{ name: "look_up_orders", arguments: { order_number: "#1042", email: "mia@example.com" } }],
        afterOutputs: { kind: "answer", deltas: ["Order #1042 ", "was fulfilled."] },
      },
    ]);

    const events = await reply(coze.ctx(), input({ message: "Order #1042, mia@example.com" }));

    expect(deltas(events)).toEqual(["Order #1042 ", "was fulfilled."]);
    expectEndsWith(events, { type: "completed", text: "Order #1042 was fulfilled." });
    const { toolOutputs } = await chatsOf(coze.botId);
    expect(toolOutputs).toHaveLength(1);
    const submitted = toolOutputs[0]?.outputs[0];
    expect(submitted?.name).toBe("look_up_orders");
    const answer = JSON.parse(submitted?.output ?? "{}");
    expect(answer).toMatchObject({
      found: 1,
      orders: [
        {
          orderNumber: "#1042",
          store: "Acme Store",
          status: "shipped",
          fulfillment: "FULFILLED",
          total: "50.00 USD",
          items: [{ title: "Tee", variant: "Black / M", quantity: 2 }],
        },
      ],
    });
    // Never the address or the contact details: the person chatting is not authenticated.
    expect(submitted?.output).not.toContain("Market St");
    expect(submitted?.output).not.toContain("mia@example.com");
    expect(submitted?.output).not.toContain("555");
  });

  it("uses the session's email to check an order number, and asks for it when there is none", async () => {
    const coze = await cozeTenant();
    await storeOrder(coze.tenant, { number: "#2001", email: "lee@example.com" });
    const lookUp = (): FakeReply => ({
      kind: "tool_calls",
      calls: [{ name: "look_up_orders", arguments: { order_number: "#2001" } }],
      afterOutputs: { kind: "answer", deltas: ["ok"] },
    });
    await script(coze.botId, [lookUp(), lookUp(), lookUp()]);

    await reply(coze.ctx(), input({ customer: { email: "lee@example.com" } }));
    await reply(coze.ctx(), input({ customer: { email: "someone.else@example.com" } }));
    await reply(coze.ctx(), input({ customer: {} }));

    const outputs = (await chatsOf(coze.botId)).toolOutputs.map((t) =>
      JSON.parse(t.outputs[0]?.output ?? "{}"),
    );
    expect(outputs[0]).toMatchObject({ found: 1, orders: [{ orderNumber: "#2001" }] });
    expect(outputs[1]).toMatchObject({ found: 0, orders: [] });
    expect(outputs[2]).toMatchObject({ error: "verification_required" });
  });

  it("answers get_tracking for a number the shop does not track with found: false", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [
      {
        kind: "tool_calls",
        calls: [{ name: "get_tracking", arguments: { tracking_number: "YT2412345678901234" } }],
        afterOutputs: { kind: "answer", deltas: ["Please check the number."] },
      },
    ]);
    const events = await reply(coze.ctx());
    expectEndsWith(events, { type: "completed", text: "Please check the number." });
    const output = JSON.parse((await chatsOf(coze.botId)).toolOutputs[0]?.outputs[0]?.output ?? "{}");
    expect(output).toMatchObject({ found: false });
  });

  it("hands over when the bot calls request_human, without submitting anything back", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [
      {
        kind: "tool_calls",
        calls: [{ name: "request_human", arguments: { reason: "Refund over policy limit" } }],
      },
    ]);
    const events = await reply(coze.ctx());
    expect(events).toEqual([{ type: "handover", reason: "Refund over policy limit" }]);
    expect((await stats(coze.appId)).toolSubmissions).toBe(0);
  });

  it("hands over at once on a handover keyword, without asking the bot", async () => {
    const coze = await cozeTenant({ settings: { handoverKeywords: ["human", "人工"] } });
    const events = await reply(coze.ctx(), input({ message: "I want a HUMAN please" }));
    expect(events).toEqual([{ type: "handover", reason: 'The customer asked for a person ("human")' }]);
    expect((await reply(coze.ctx(), input({ message: "转人工" }))).at(-1)?.type).toBe("handover");
    expect((await stats(coze.appId)).chats).toBe(0);
  });
});

describe("AI replies: limits and failures end with exactly one degraded event", () => {
  it("limits AI replies per tenant; another tenant is not affected", async () => {
    const limits = { RATE_LIMITS: JSON.stringify({ ai: { limit: 2, windowSeconds: 60 } }) };
    const busy = await cozeTenant();
    const calm = await cozeTenant();
    expect((await reply(busy.ctx(limits))).at(-1)?.type).toBe("completed");
    expect((await reply(busy.ctx(limits))).at(-1)?.type).toBe("completed");
    expect(await reply(busy.ctx(limits))).toEqual([
      { type: "degraded", reason: "rate_limited", text: DEGRADED_TEXT },
    ]);
    expect((await reply(calm.ctx(limits))).at(-1)?.type).toBe("completed");
    expect((await stats(busy.appId)).chats).toBe(2);
  });

  it("degrades (unavailable) when the tenant has no enabled AI connection", async () => {
    const admin = await signedInUser();
    expect(await reply(chatContext(admin.tenant.id))).toEqual([
      { type: "degraded", reason: "unavailable", text: DEGRADED_TEXT },
    ]);
    const coze = await cozeTenant();
    await ownerSql()`update connections set enabled = false where id = ${coze.connectionId}`;
    expect(await reply(coze.ctx())).toEqual([
      { type: "degraded", reason: "unavailable", text: DEGRADED_TEXT },
    ]);
  });

  it("does not retry Coze's rate limit (HTTP 429, code 4020)", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [{ kind: "http_error", status: 429, code: 4020, retryAfterSeconds: 30 }]);
    expect(await reply(coze.ctx())).toEqual([
      { type: "degraded", reason: "rate_limited", text: DEGRADED_TEXT },
    ]);
    expect((await stats(coze.appId)).chats).toBe(1);
  });

  it("retries a 5xx once before the first delta: a second failure degrades, a success answers", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [
      { kind: "http_error", status: 502 },
      { kind: "http_error", status: 503 },
      { kind: "http_error", status: 502 },
      { kind: "answer", deltas: ["Back ", "again."] },
    ]);
    expect(await reply(coze.ctx())).toEqual([{ type: "degraded", reason: "failed", text: DEGRADED_TEXT }]);
    expect((await stats(coze.appId)).chats).toBe(2);
    const second = await reply(coze.ctx());
    expectEndsWith(second, { type: "completed", text: "Back again." });
    expect((await stats(coze.appId)).chats).toBe(4);
  });

  it("never restarts a reply that failed after the customer saw part of it", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [
      { kind: "fail_mid_stream", deltas: ["Let me ", "look"], code: 5000, msg: "internal" },
    ]);
    const events = await reply(coze.ctx());
    expect(deltas(events)).toEqual(["Let me ", "look"]);
    expectEndsWith(events, { type: "degraded", reason: "failed", text: DEGRADED_TEXT });
    expect((await stats(coze.appId)).chats).toBe(1);
  });

  it("treats a stream that closes before the chat ends as a failure, not as the whole answer", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [
      { kind: "cut_off", deltas: [] },
      { kind: "answer", deltas: ["Fine ", "now."] },
      { kind: "cut_off", deltas: ["Half an "] },
    ]);
    expectEndsWith(await reply(coze.ctx()), { type: "completed", text: "Fine now." });
    const cut = await reply(coze.ctx());
    expect(deltas(cut)).toEqual(["Half an "]);
    expectEndsWith(cut, { type: "degraded", reason: "failed", text: DEGRADED_TEXT });
    expect((await stats(coze.appId)).chats).toBe(3);
  });

  it("degrades a chat Coze reports failed (model busy, 4013) as rate limited", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [{ kind: "fail_mid_stream", deltas: [], code: 4013 }]);
    expect(await reply(coze.ctx())).toEqual([
      { type: "degraded", reason: "rate_limited", text: DEGRADED_TEXT },
    ]);
  });

  it("degrades (unavailable) when Coze refuses the bot (4015 not published to the API)", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [{ kind: "refusal", code: 4015, msg: "The bot is not published to API" }]);
    expect(await reply(coze.ctx())).toEqual([
      { type: "degraded", reason: "unavailable", text: DEGRADED_TEXT },
    ]);
    expect((await stats(coze.appId)).chats).toBe(1);
  });

  it("times out when Coze sends nothing: one retry, then one degraded event", async () => {
    const coze = await cozeTenant();
    await script(coze.botId, [{ kind: "hang" }, { kind: "hang" }]);
    expect(await reply(coze.ctx())).toEqual([{ type: "degraded", reason: "timeout", text: DEGRADED_TEXT }]);
    expect((await stats(coze.appId)).chats).toBe(2);
  }, 15_000);

  it("stops a bot that keeps calling tools", async () => {
    const coze = await cozeTenant();
    const again = (depth: number): FakeReply =>
      depth === 0
        ? { kind: "answer", deltas: ["never reached"] }
        : {
            kind: "tool_calls",
            calls: [{ name: "get_tracking", arguments: { tracking_number: "YT2412345678901234" } }],
            afterOutputs: again(depth - 1),
          };
    await script(coze.botId, [again(6)]);
    expect(await reply(coze.ctx())).toEqual([{ type: "degraded", reason: "failed", text: DEGRADED_TEXT }]);
    // Four rounds of tool outputs went back; the fifth request for tools ended the reply, in one chat.
    expect(await stats(coze.appId)).toMatchObject({ chats: 1, toolSubmissions: 4 });
  });
});

describe("AI connections", () => {
  it("refuses a private key that is not the PKCS#8 RSA key Coze hands out, naming the field only", async () => {
    const admin = await signedInUser({ permissions: ["sync:admin"] });
    const pkcs1 = PRIVATE_KEY.replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY");
    const response = await call(
      "/api/v1/connections",
      bearer(admin.token, {
        method: "POST",
        body: {
          provider: "coze",
          account: "7000000001",
          displayName: "Support bot",
          credentials: { appId: "7000000001", keyId: "kid", privateKey: pkcs1 },
          settings: { botId: "not-digits" },
        },
      }),
    );
    expect(response.status).toBe(422);
    const body = await envelope(response);
    expect(body.error?.code).toBe("VALIDATION_ERROR");
    expect(body.error?.details).toMatchObject({
      "credentials.privateKey": [expect.stringContaining("PKCS#1")],
      "settings.botId": [expect.stringContaining("digits")],
    });
    expect(JSON.stringify(body)).not.toContain(PRIVATE_KEY.slice(40, 80));
  });
});
