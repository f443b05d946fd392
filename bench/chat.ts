// The chat bench: live chats through the ChatSession Durable Object of the running stack (wrangler dev),
// measured from the outside over real WebSockets. Part of `npm run bench`; alone: `BENCH_FILTER=chat npm run
// bench`, or `BENCH_URL=http://127.0.0.1:8787 BENCH_COZE_URL=<the stack's Coze fake> node bench/chat.ts`.
//
// In a fresh tenant (made through the platform API, suspended at the end):
// 1. message round trip: a customer sends a `message` frame and waits for its own broadcast (the object
//    stored it, gave it a seq and fanned it out); the time until the agent's socket has it too is the
//    fan-out. An agent has joined, so the AI stays out of it. p50/p99 over N messages, spread over chats of
//    25 messages (a customer's socket may send 30 frames in a burst, then 1 a second). A JSON `ping`
//    after each message measures the same path without storage or fan-out, for comparison.
// 2. time to first token of the AI relay: a customer message in a bot chat until the first `message.delta`
//    reaches the customer's socket, against the Coze fake answering at once (zero latency). The fake's own
//    time to first delta is measured directly (the same request shape, from here), so the relay's overhead
//    is what is left: the frame, the object, the tenant's AI connection and rate limit, the token, the
//    fetch to Coze and the parsing and fan-out of the stream.
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { pathToFileURL } from "node:url";
import { importPKCS8, SignJWT } from "jose";
import { BenchError, type Envelope, hex, http, REQUEST_TIMEOUT_MS, SEED_PASSWORD } from "./http.ts";

export interface ChatBenchTargets {
  /** The Worker (wrangler dev). */
  url: string;
  /** The Coze fake the Worker calls (its COZE_API_BASE); undefined = skip the AI part. */
  cozeUrl: string | undefined;
}

export interface ChatBenchOptions {
  /** Messages of the round-trip run. */
  messages: number;
  /** AI replies of the time-to-first-token run. */
  replies: number;
  log: (line: string) => void;
}

export function chatOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ChatBenchOptions {
  const num = (name: string, fallback: number) => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
    return value;
  };
  return {
    messages: num("BENCH_CHAT_MESSAGES", 500),
    replies: num("BENCH_CHAT_REPLIES", 100),
    log: (line) => console.log(`[chat] ${line}`),
  };
}

/** BENCH_COZE_URL, else the stack's Coze fake on DEMO_COZE_PORT when one is named. */
export function cozeFakeUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (env.BENCH_COZE_URL) return env.BENCH_COZE_URL.replace(/\/+$/, "");
  return env.DEMO_COZE_PORT ? `http://127.0.0.1:${env.DEMO_COZE_PORT}` : undefined;
}

// ───────────────────────────── statistics ─────────────────────────────

interface Summary {
  n: number;
  p50: number;
  p99: number;
  min: number;
  max: number;
}

function summarise(samples: number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? Number.NaN;
  const round = (ms: number) => Math.round(ms * 100) / 100;
  return {
    n: sorted.length,
    p50: round(at(0.5)),
    p99: round(at(0.99)),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

// ───────────────────────────── a tenant of its own ─────────────────────────────

interface BenchTenant {
  id: string;
  slug: string;
  /** Its first administrator (a superuser: chat:write, sync:admin). */
  token: string;
  platformToken: string;
}

async function signIn(url: string, tenant: string, email: string): Promise<string> {
  const { body } = await http<Envelope<{ accessToken: string }>>("POST", `${url}/api/v1/auth/login`, {
    body: { tenant, email, password: SEED_PASSWORD },
  });
  return body.data.accessToken;
}

/** A fresh tenant per run: the bench's chats, AI connection and rate limits touch nothing of the demo's. */
async function createBenchTenant(url: string): Promise<BenchTenant> {
  const platformToken = await signIn(url, "platform", "platform@tradewind.local");
  const slug = `bench-chat-${hex(4)}`;
  const email = `admin@${slug}.example`;
  const { body } = await http<Envelope<{ tenant: { id: string; slug: string } }>>(
    "POST",
    `${url}/api/v1/tenants`,
    {
      token: platformToken,
      body: { slug, name: "Bench chat", adminEmail: email, adminPassword: SEED_PASSWORD },
    },
  );
  return { id: body.data.tenant.id, slug, token: await signIn(url, slug, email), platformToken };
}

// ───────────────────────────── sockets ─────────────────────────────

interface Frame {
  type: string;
  message?: { seq: number; role: string; clientMessageId: string | null };
  error?: { code: string; message: string };
}

/** A WebSocket whose frames can be awaited one predicate at a time. */
class Socket {
  private readonly ws: WebSocket;
  private readonly waiters = new Set<{
    match: (f: Frame) => boolean;
    resolve: (f: Frame) => void;
    reject: (e: Error) => void;
  }>();
  private failure: Error | undefined;

  private constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      const text = String(event.data);
      if (!text.startsWith("{")) return;
      const frame = JSON.parse(text) as Frame;
      if (frame.type === "error") {
        // A refused frame (rate limit, validation) is a bench bug: fail every wait at once.
        this.failure = new BenchError(`chat error frame: ${text}`);
        for (const waiter of this.waiters) waiter.reject(this.failure);
        this.waiters.clear();
        return;
      }
      for (const waiter of this.waiters) {
        if (waiter.match(frame)) {
          this.waiters.delete(waiter);
          waiter.resolve(frame);
        }
      }
    });
  }

  /** Opens and waits for the `ready` frame; browsers' way of authenticating: the subprotocol. */
  static async open(url: string, token: string): Promise<Socket> {
    const ws = new WebSocket(url.replace(/^http/, "ws"), ["tradewind.chat.v1", `bearer.${token}`]);
    const socket = new Socket(ws);
    const ready = socket.next((f) => f.type === "ready");
    await new Promise<void>((resolve, reject) => {
      ws.addEventListener("open", () => resolve(), { once: true });
      ws.addEventListener("error", () => reject(new BenchError(`websocket ${url} failed to open`)), {
        once: true,
      });
    });
    await ready;
    return socket;
  }

  next(match: (f: Frame) => boolean): Promise<Frame> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Frame>((resolve, reject) => {
      const waiter = { match, resolve, reject };
      this.waiters.add(waiter);
      setTimeout(() => {
        if (this.waiters.delete(waiter))
          reject(this.failure ?? new BenchError("no answer within the timeout"));
      }, REQUEST_TIMEOUT_MS);
    });
  }

  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  close(): void {
    this.ws.close(1000, "bench done");
  }
}

interface Chat {
  id: string;
  token: string;
}

async function startChat(url: string, tenant: BenchTenant): Promise<Chat> {
  const { body } = await http<Envelope<{ session: { id: string }; token: string }>>(
    "POST",
    `${url}/api/v1/public/chat/sessions`,
    { body: { tenant: tenant.slug, customer: { name: "Bench Customer", email: "bench@example.com" } } },
  );
  return { id: body.data.session.id, token: body.data.token };
}

async function closeChat(url: string, tenant: BenchTenant, chat: Chat): Promise<void> {
  await http("POST", `${url}/api/v1/chats/${chat.id}/close`, { token: tenant.token, expect: [200] });
}

// ───────────────────────────── 1. message round trip ─────────────────────────────

const MESSAGES_PER_CHAT = 25;

async function measureRoundTrips(url: string, tenant: BenchTenant, options: ChatBenchOptions) {
  const echo: number[] = [];
  const fanOut: number[] = [];
  const ping: number[] = [];
  const warmUp = 10;
  let sent = 0;
  while (echo.length < options.messages) {
    const chat = await startChat(url, tenant);
    await http("POST", `${url}/api/v1/chats/${chat.id}/join`, { token: tenant.token });
    const customer = await Socket.open(`${url}/api/v1/public/chat/sessions/${chat.id}/ws`, chat.token);
    const agent = await Socket.open(`${url}/api/v1/chats/${chat.id}/ws`, tenant.token);
    for (let i = 0; i < MESSAGES_PER_CHAT && echo.length < options.messages; i++) {
      const clientMessageId = `m-${sent++}`;
      const mine = (f: Frame) => f.type === "message" && f.message?.clientMessageId === clientMessageId;
      const echoed = customer.next(mine);
      const relayed = agent.next(mine);
      const started = performance.now();
      customer.send({ type: "message", body: `Round trip ${clientMessageId}`, clientMessageId });
      await echoed;
      const echoMs = performance.now() - started;
      await relayed;
      const fanOutMs = performance.now() - started;
      // The same path without storage or fan-out: a JSON ping answered by the object itself.
      const pong = customer.next((f) => f.type === "pong");
      const pinged = performance.now();
      customer.send({ type: "ping" });
      await pong;
      const pingMs = performance.now() - pinged;
      if (sent > warmUp) {
        echo.push(echoMs);
        fanOut.push(fanOutMs);
        ping.push(pingMs);
      }
    }
    customer.close();
    agent.close();
    await closeChat(url, tenant, chat);
  }
  return { echo: summarise(echo), fanOut: summarise(fanOut), ping: summarise(ping) };
}

// ───────────────────────────── 2. AI relay time to first token ─────────────────────────────

interface CozeApp {
  appId: string;
  keyId: string;
  privateKeyPem: string;
  botId: string;
}

async function cozeControl<T>(cozeUrl: string, path: string, body: unknown): Promise<T> {
  const res = await fetch(`${cozeUrl}/__control${path}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  if (!res.ok) throw new BenchError(`coze control ${path}: ${res.status} ${await res.text()}`);
  return (res.status === 204 ? undefined : await res.json()) as T;
}

/** An app of the fake with a key pair of our own (so the direct measurement can sign its JWTs too). */
async function registerCozeApp(cozeUrl: string): Promise<CozeApp> {
  const pair = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const privateKeyPem = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
  const publicKeyPem = pair.publicKey.export({ type: "spki", format: "pem" }).toString();
  const { appId, keyId } = await cozeControl<{ appId: string; keyId: string }>(cozeUrl, "/apps", {
    publicKeyPem,
  });
  // Coze bot ids are 19-digit decimal strings.
  const botId = `75${Array.from(randomBytes(17), (b) => b % 10).join("")}`;
  return { appId, keyId, privateKeyPem, botId };
}

/** The OAuth JWT grant, as Coze's service apps do it: an RS256 JWT for one access token. */
async function cozeAccessToken(cozeUrl: string, app: CozeApp): Promise<string> {
  const key = await importPKCS8(app.privateKeyPem, "RS256");
  const now = Math.floor(Date.now() / 1000);
  const jwt = await new SignJWT({})
    .setProtectedHeader({ alg: "RS256", typ: "JWT", kid: app.keyId })
    .setIssuer(app.appId)
    .setAudience("api.coze.com")
    .setIssuedAt(now)
    .setExpirationTime(now + 600)
    .setJti(randomUUID())
    .sign(key);
  const res = await fetch(`${cozeUrl}/api/permission/oauth2/token`, {
    method: "POST",
    headers: { authorization: `Bearer ${jwt}`, "content-type": "application/json" },
    body: JSON.stringify({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      duration_seconds: 900,
    }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new BenchError(`coze token: ${res.status} ${JSON.stringify(body)}`);
  return body.access_token;
}

/** The fake's own time to its first delta: a streamed /v3/chat from here, read until the first delta. */
async function directFirstDelta(cozeUrl: string, app: CozeApp, accessToken: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${cozeUrl}/v3/chat`, {
    method: "POST",
    headers: { authorization: `Bearer ${accessToken}`, "content-type": "application/json" },
    body: JSON.stringify({
      bot_id: app.botId,
      user_id: `bench-${hex(4)}`,
      stream: true,
      auto_save_history: true,
      additional_messages: [
        { role: "user", type: "question", content: "Where is my order?", content_type: "text" },
      ],
    }),
  });
  const reader = res.body?.pipeThrough(new TextDecoderStream()).getReader();
  if (!reader) throw new BenchError("coze answered no stream");
  let buffer = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new BenchError(`coze stream ended without a delta: ${buffer.slice(0, 300)}`);
      buffer += value;
      if (buffer.includes("event:conversation.message.delta")) return performance.now() - started;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

async function measureFirstToken(
  url: string,
  tenant: BenchTenant,
  cozeUrl: string,
  options: ChatBenchOptions,
) {
  const app = await registerCozeApp(cozeUrl);
  await http("POST", `${url}/api/v1/connections`, {
    token: tenant.token,
    body: {
      provider: "coze",
      account: app.appId,
      displayName: "Bench bot",
      credentials: { appId: app.appId, keyId: app.keyId, privateKey: app.privateKeyPem },
      settings: { botId: app.botId, region: "com", maxReplySeconds: 30 },
    },
  });
  const perChat = 20;
  const relay: number[] = [];
  let asked = 0;
  while (relay.length < options.replies) {
    const chat = await startChat(url, tenant);
    const customer = await Socket.open(`${url}/api/v1/public/chat/sessions/${chat.id}/ws`, chat.token);
    for (let i = 0; i < perChat && relay.length < options.replies; i++) {
      const clientMessageId = `q-${asked++}`;
      const stored = customer.next(
        (f) => f.type === "message" && f.message?.clientMessageId === clientMessageId,
      );
      const firstDelta = customer.next(
        (f) => f.type === "message.delta" || (f.type === "message" && f.message?.role === "bot"),
      );
      const started = performance.now();
      customer.send({ type: "message", body: `Where is my order ${clientMessageId}?`, clientMessageId });
      const first = await firstDelta;
      const ms = performance.now() - started;
      if (first.type !== "message.delta") {
        throw new BenchError(
          "the AI answered without streaming (degraded): the stack's COZE_API_BASE does not reach the Coze fake " +
            `at ${cozeUrl}`,
        );
      }
      const seq = (await stored).message?.seq ?? 0;
      await customer.next((f) => f.type === "message" && f.message?.role === "bot" && f.message.seq > seq);
      // The first reply of the run also fetches and caches the Coze token: not part of the steady state.
      if (asked > 1) relay.push(ms);
    }
    customer.close();
    await closeChat(url, tenant, chat);
  }
  const accessToken = await cozeAccessToken(cozeUrl, app);
  const direct: number[] = [];
  for (let i = 0; i < options.replies + 1; i++) {
    const ms = await directFirstDelta(cozeUrl, app, accessToken);
    if (i > 0) direct.push(ms);
  }
  const relayed = summarise(relay);
  const own = summarise(direct);
  return {
    relayed,
    direct: own,
    overhead: {
      p50: Math.round((relayed.p50 - own.p50) * 100) / 100,
      p99: Math.round((relayed.p99 - own.p99) * 100) / 100,
    },
  };
}

// ───────────────────────────── the run ─────────────────────────────

export interface ChatBenchReport {
  roundTrip: { echo: Summary; fanOut: Summary; ping: Summary };
  firstToken: Awaited<ReturnType<typeof measureFirstToken>> | { skipped: string };
}

export async function runChatBench(
  targets: ChatBenchTargets,
  options: ChatBenchOptions,
): Promise<ChatBenchReport> {
  const tenant = await createBenchTenant(targets.url);
  options.log(`tenant ${tenant.slug}`);
  try {
    const roundTrip = await measureRoundTrips(targets.url, tenant, options);
    options.log(`round trips: ${roundTrip.echo.n} messages`);
    let firstToken: ChatBenchReport["firstToken"];
    if (targets.cozeUrl) {
      firstToken = await measureFirstToken(targets.url, tenant, targets.cozeUrl, options);
    } else {
      firstToken = { skipped: "no Coze fake named (BENCH_COZE_URL or DEMO_COZE_PORT)" };
    }
    return { roundTrip, firstToken };
  } finally {
    await http("POST", `${targets.url}/api/v1/tenants/${tenant.id}/suspend`, {
      token: tenant.platformToken,
      body: { reason: "bench run over" },
      expect: [200],
    }).catch((error: unknown) => options.log(`could not suspend ${tenant.slug}: ${String(error)}`));
  }
}

export function printChatReport(report: ChatBenchReport): void {
  const row = (name: string, s: Summary) => ({
    measure: name,
    n: s.n,
    "p50 ms": s.p50,
    "p99 ms": s.p99,
    "min ms": s.min,
    "max ms": s.max,
  });
  const rows = [
    row("message round trip (send → own broadcast)", report.roundTrip.echo),
    row("message fan-out (send → agent's socket)", report.roundTrip.fanOut),
    row("ping round trip (same path, no storage)", report.roundTrip.ping),
  ];
  if ("skipped" in report.firstToken) {
    console.log(
      `\nChat (ChatSession Durable Object over WebSocket); AI relay skipped: ${report.firstToken.skipped}`,
    );
  } else {
    rows.push(row("AI first token through the relay (send → first delta)", report.firstToken.relayed));
    rows.push(row("Coze fake's own first delta (direct)", report.firstToken.direct));
    console.log("\nChat (ChatSession Durable Object over WebSocket; the Coze fake answers at once)");
  }
  console.table(rows);
  if (!("skipped" in report.firstToken)) {
    console.log(
      `AI relay time-to-first-token overhead: p50 ${report.firstToken.overhead.p50} ms, p99 ${report.firstToken.overhead.p99} ms`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const url = process.env.BENCH_URL ?? "http://127.0.0.1:8787";
  runChatBench({ url, cozeUrl: cozeFakeUrlFromEnv() }, chatOptionsFromEnv())
    .then(printChatReport)
    .catch((error: unknown) => {
      console.error(error);
      process.exit(1);
    });
}
