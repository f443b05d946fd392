import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { decodeProtectedHeader, importSPKI, jwtVerify } from "jose";
import { describe, expect, it } from "vitest";
import { CozeError, type CozeFetch, createCozeClient } from "../../src/adapters/ai/coze/client";
import type { CozeStreamEvent } from "../../src/adapters/ai/coze/types";

const fixture = (name: string) =>
  readFileSync(new URL(`../../src/adapters/ai/coze/fixtures/${name}`, import.meta.url), "utf8");

const keys = generateKeyPairSync("rsa", { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
const publicKey = keys.publicKey.export({ type: "spki", format: "pem" }).toString();
const credentials = {
  appId: "1127900106117",
  keyId: "_v0VjcMlLdQc3tRTD3jC5Xz29TUnKQOhtuD5k-gpyf4",
  privateKey,
};
const API = "https://api.coze.test";

interface Sent {
  url: string;
  init: RequestInit;
}

function recordingFetch(answer: (request: Sent) => Response | Promise<Response>) {
  const sent: Sent[] = [];
  const fetch: CozeFetch = async (url, init) => {
    const request = { url, init };
    sent.push(request);
    return answer(request);
  };
  return { fetch, sent };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/** A streamed body: each chunk is enqueued as its own read; `stall` leaves it open after the chunks. */
function sse(chunks: string[], options: { stall?: boolean; signal?: AbortSignal | null } = {}): Response {
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(encoder.encode(chunk));
      if (!options.stall) controller.close();
      options.signal?.addEventListener("abort", () => controller.error(new Error("aborted")));
    },
  });
  return new Response(body, { status: 200, headers: { "content-type": "text/event-stream" } });
}

async function collect(events: AsyncIterable<CozeStreamEvent>): Promise<CozeStreamEvent[]> {
  const out: CozeStreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

async function failure(promise: Promise<unknown>): Promise<CozeError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof CozeError) return error;
    throw error;
  }
  throw new Error("expected a CozeError");
}

const chatInput = {
  accessToken: "czs_test_access_token",
  botId: "7509871234567012345",
  userId: "u_3f9a",
  additionalMessages: [
    { role: "user" as const, type: "question" as const, content: "Hi", content_type: "text" as const },
  ],
};

describe("Coze OAuth JWT grant", () => {
  it("signs RS256 with the app's key id and claims, and exchanges the JWT for an access token", async () => {
    const { fetch, sent } = recordingFetch(() => json(200, JSON.parse(fixture("token-success.json"))));
    const now = Date.parse("2025-06-03T06:23:20Z");
    const client = createCozeClient({
      apiBase: `${API}/`,
      region: "com",
      credentials,
      fetch,
      now: () => now,
    });

    const token = await client.issueAccessToken({ durationSeconds: 900 });

    expect(token).toEqual({
      accessToken: "czs_RQOhsc7vmUzK4bNgb7hn4wqOgRBYAO6xvpFHNbnl6RiQJX3cSXSguIhFDzgyT2Ms",
      expiresAt: 1748935403_000,
    });
    const request = sent[0];
    expect(request?.url).toBe(`${API}/api/permission/oauth2/token`);
    expect(request?.init.method).toBe("POST");
    expect(JSON.parse(String(request?.init.body))).toEqual({
      grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer",
      duration_seconds: 900,
    });
    const headers = new Headers(request?.init.headers);
    const jwt = headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
    expect(decodeProtectedHeader(jwt)).toEqual({ alg: "RS256", typ: "JWT", kid: credentials.keyId });
    const { payload } = await jwtVerify(jwt, await importSPKI(publicKey, "RS256"), {
      issuer: credentials.appId,
      audience: "api.coze.com",
      currentDate: new Date(now),
    });
    expect(payload.iat).toBe(now / 1000);
    expect(Number(payload.exp) - Number(payload.iat)).toBe(300);
    expect(String(payload.jti).length).toBeGreaterThanOrEqual(32);
  });

  it("uses a new jti for every JWT (Coze refuses a replayed one)", async () => {
    const { fetch, sent } = recordingFetch(() =>
      json(200, { access_token: "czs_x", expires_in: 2_000_000_000 }),
    );
    const client = createCozeClient({ apiBase: API, region: "cn", credentials, fetch });
    await client.issueAccessToken();
    await client.issueAccessToken();
    const jtis = await Promise.all(
      sent.map(async (s) => {
        const jwt = new Headers(s.init.headers).get("authorization")?.slice(7) ?? "";
        const { payload } = await jwtVerify(jwt, await importSPKI(publicKey, "RS256"), {
          audience: "api.coze.cn",
        });
        return payload.jti;
      }),
    );
    expect(new Set(jtis).size).toBe(2);
  });

  it("classifies refusals: invalid_client is auth, 5xx retryable, 429 rate limited", async () => {
    const answers = [
      json(401, JSON.parse(fixture("token-invalid-client.json"))),
      json(500, { error_code: "internal_error", error_message: "Service internal error." }),
      json(429, { code: 4013, msg: "too many requests" }, { "retry-after": "3" }),
    ];
    const { fetch } = recordingFetch(() => answers.shift() ?? json(500, {}));
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch });

    const refused = await failure(client.issueAccessToken());
    expect(refused.kind).toBe("auth");
    expect(refused.retryable).toBe(false);
    expect(refused.message).toContain("invalid_client");
    expect(refused.message).not.toContain("BEGIN");
    expect((await failure(client.issueAccessToken())).kind).toBe("retryable");
    const limited = await failure(client.issueAccessToken());
    expect(limited.kind).toBe("rate_limited");
    expect(limited.retryAfterSeconds).toBe(3);
  });

  it("reports a private key that cannot be imported as an auth failure without calling Coze", async () => {
    const { fetch, sent } = recordingFetch(() => json(200, {}));
    const client = createCozeClient({
      apiBase: API,
      region: "com",
      credentials: {
        ...credentials,
        privateKey: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----",
      },
      fetch,
    });
    const error = await failure(client.issueAccessToken());
    expect(error.kind).toBe("auth");
    expect(sent).toHaveLength(0);
  });
});

describe("Coze streaming chat", () => {
  it("posts the chat with the bearer token and yields events as the stream arrives in odd chunks", async () => {
    const stream = fixture("chat-stream-answer.sse");
    const chunks = stream.match(/[\s\S]{1,37}/g) ?? [];
    const { fetch, sent } = recordingFetch(() => sse(chunks));
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch });

    const events = await collect(
      client.streamChat({
        ...chatInput,
        customVariables: { customer_name: "Mia" },
        metaData: { session: "s1" },
      }),
    );

    expect(events.map((e) => e.type)).toEqual([
      "chat.created",
      "chat.in_progress",
      "message.delta",
      "message.delta",
      "message.delta",
      "message.completed",
      "message.completed",
      "message.completed",
      "chat.completed",
      "done",
    ]);
    const request = sent[0];
    expect(request?.url).toBe(`${API}/v3/chat`);
    expect(new Headers(request?.init.headers).get("authorization")).toBe("Bearer czs_test_access_token");
    expect(JSON.parse(String(request?.init.body))).toEqual({
      bot_id: "7509871234567012345",
      user_id: "u_3f9a",
      stream: true,
      auto_save_history: true,
      additional_messages: chatInput.additionalMessages,
      custom_variables: { customer_name: "Mia" },
      meta_data: { session: "s1" },
    });
  });

  it("continues a chat with tool outputs on the submit_tool_outputs stream", async () => {
    const { fetch, sent } = recordingFetch(() => sse([fixture("chat-stream-answer.sse")]));
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch });
    const events = await collect(
      client.submitToolOutputs({
        accessToken: "czs_t",
        conversationId: "7512101934520303652",
        chatId: "7512101934520336420",
        toolOutputs: [{ tool_call_id: "call-1", output: '{"orders":[]}' }],
      }),
    );
    expect(events.at(-1)).toEqual({ type: "done" });
    expect(sent[0]?.url).toBe(
      `${API}/v3/chat/submit_tool_outputs?conversation_id=7512101934520303652&chat_id=7512101934520336420`,
    );
    expect(JSON.parse(String(sent[0]?.init.body))).toEqual({
      stream: true,
      tool_outputs: [{ tool_call_id: "call-1", output: '{"orders":[]}' }],
    });
  });

  it("turns a JSON refusal into a classified CozeError (4100: the token was refused)", async () => {
    const answers = [
      json(200, JSON.parse(fixture("error-4100-authentication-invalid.json")), { "x-tt-logid": "LOG1" }),
      json(429, JSON.parse(fixture("error-4020-rpm-exceeded.json")), { "retry-after": "20" }),
      new Response("<html>bad gateway</html>", { status: 502, headers: { "content-type": "text/html" } }),
      json(200, { code: 4015, msg: "The bot is not published to the API channel" }),
    ];
    const { fetch } = recordingFetch(() => answers.shift() ?? json(500, {}));
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch });

    const auth = await failure(collect(client.streamChat(chatInput)));
    expect(auth).toMatchObject({ kind: "auth", cozeCode: 4100, tokenRejected: true, afterFirstEvent: false });
    expect(auth.details).toMatchObject({ upstream: "coze", cozeCode: 4100, logId: "LOG1" });
    const limited = await failure(collect(client.streamChat(chatInput)));
    expect(limited).toMatchObject({ kind: "rate_limited", cozeCode: 4020, retryAfterSeconds: 20 });
    const gateway = await failure(collect(client.streamChat(chatInput)));
    expect(gateway).toMatchObject({ kind: "retryable", cozeCode: null, tokenRejected: false });
    const refused = await failure(collect(client.streamChat(chatInput)));
    expect(refused).toMatchObject({ kind: "permanent", cozeCode: 4015 });
  });

  it("times out when no response arrives (first byte) and says so", async () => {
    const fetch: CozeFetch = (_url, init) =>
      new Promise((_resolve, reject) =>
        init.signal?.addEventListener("abort", () => reject(new Error("aborted"))),
      );
    const client = createCozeClient({
      apiBase: API,
      region: "com",
      credentials,
      fetch,
      firstByteTimeoutMs: 30,
    });
    const error = await failure(collect(client.streamChat(chatInput)));
    expect(error).toMatchObject({ kind: "retryable", timeout: "first_byte", afterFirstEvent: false });
  });

  it("times out when the stream goes quiet mid-reply (idle), after the events already received", async () => {
    const frames = fixture("chat-stream-answer.sse").split("\n\n").slice(0, 3).join("\n\n").concat("\n\n");
    const fetch: CozeFetch = async (_url, init) =>
      sse([frames], { stall: true, signal: init.signal ?? null });
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch, idleTimeoutMs: 30 });
    const received: CozeStreamEvent[] = [];
    const error = await failure(
      (async () => {
        for await (const event of client.streamChat(chatInput)) received.push(event);
      })(),
    );
    expect(received.map((e) => e.type)).toEqual(["chat.created", "chat.in_progress", "message.delta"]);
    expect(error).toMatchObject({ kind: "retryable", timeout: "idle", afterFirstEvent: true });
  });

  it("does not count the consumer's own pauses between events as Coze's silence", async () => {
    const fetch: CozeFetch = async () => sse([fixture("chat-stream-answer.sse")]);
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch, idleTimeoutMs: 20 });
    const types: string[] = [];
    for await (const event of client.streamChat(chatInput)) {
      types.push(event.type);
      await new Promise((resolve) => setTimeout(resolve, 40));
    }
    expect(types.at(-1)).toBe("done");
  });

  it("stops when the caller aborts (its reply deadline), and closes the connection when the caller stops reading", async () => {
    const deadline = new AbortController();
    let upstreamSignal: AbortSignal | undefined;
    const fetch: CozeFetch = async (_url, init) => {
      upstreamSignal = init.signal ?? undefined;
      const firstFrames = fixture("chat-stream-answer.sse").split("\n\n").slice(0, 4).join("\n\n");
      return sse([`${firstFrames}\n\n`], { stall: true, signal: init.signal ?? null });
    };
    const client = createCozeClient({
      apiBase: API,
      region: "com",
      credentials,
      fetch,
      idleTimeoutMs: 10_000,
    });
    const aborted = failure(
      (async () => {
        for await (const event of client.streamChat({ ...chatInput, signal: deadline.signal })) {
          if (event.type === "message.delta") deadline.abort();
        }
      })(),
    );
    expect(await aborted).toMatchObject({ aborted: true, timeout: null, afterFirstEvent: true });

    for await (const event of client.streamChat(chatInput)) {
      if (event.type === "chat.created") break;
    }
    expect(upstreamSignal?.aborted).toBe(true);
  });

  it("ends a stream whose frame never ends (past the decoder's limit) with a retryable failure", async () => {
    const line = "x".repeat(64 * 1024);
    const chunks = ["event:conversation.message.delta\ndata:", ...Array.from({ length: 20 }, () => line)];
    const fetch: CozeFetch = async () => sse(chunks, { stall: true });
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch });
    expect(await failure(collect(client.streamChat(chatInput)))).toMatchObject({
      kind: "retryable",
      afterFirstEvent: false,
      timeout: null,
    });
  });

  it("reports a malformed event as a retryable failure", async () => {
    const fetch: CozeFetch = async () => sse(["event:conversation.message.delta\ndata:{oops\n\n"]);
    const client = createCozeClient({ apiBase: API, region: "com", credentials, fetch });
    expect(await failure(collect(client.streamChat(chatInput)))).toMatchObject({ kind: "retryable" });
  });
});
