import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { rsaPkcs8Problem } from "../../src/adapters/ai/coze/private-key";
import {
  CozeMalformedEventError,
  cozeFailureKindOf,
  cozeJwtClaims,
  createSseDecoder,
  isCustomerFacingAnswer,
  MAX_MESSAGE_CHARS,
  toAdditionalMessages,
  toCozeEvent,
  tokenExpiresAtMs,
  toolArguments,
} from "../../src/adapters/ai/coze/transform";
import type { CozeStreamEvent, SseFrame } from "../../src/adapters/ai/coze/types";

const fixture = (name: string) =>
  readFileSync(new URL(`../../src/adapters/ai/coze/fixtures/${name}`, import.meta.url), "utf8");

function decodeAll(chunks: string[]): SseFrame[] {
  const decoder = createSseDecoder();
  const frames = chunks.flatMap((chunk) => decoder.push(chunk));
  return [...frames, ...decoder.end()];
}

/** A tiny seeded PRNG: the same "random" splits on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

function splitRandomly(text: string, random: () => number): string[] {
  const chunks: string[] = [];
  let i = 0;
  while (i < text.length) {
    const size = 1 + Math.floor(random() * 40);
    chunks.push(text.slice(i, i + size));
    i += size;
  }
  return chunks;
}

describe("SSE decoding of a Coze answer stream", () => {
  const stream = fixture("chat-stream-answer.sse");
  const whole = decodeAll([stream]);

  it("yields one frame per event, with its event name and data", () => {
    expect(whole.map((f) => f.event)).toEqual([
      "conversation.chat.created",
      "conversation.chat.in_progress",
      "conversation.message.delta",
      "conversation.message.delta",
      "conversation.message.delta",
      "conversation.message.completed",
      "conversation.message.completed",
      "conversation.message.completed",
      "conversation.chat.completed",
      "done",
    ]);
    expect(whole.at(-1)?.data).toBe('"[DONE]"');
  });

  it("gives the same frames however the bytes are split (every two-way split, and random splits)", () => {
    for (let cut = 1; cut < stream.length; cut++) {
      expect(decodeAll([stream.slice(0, cut), stream.slice(cut)])).toEqual(whole);
    }
    const random = seeded(42);
    for (let run = 0; run < 50; run++) expect(decodeAll(splitRandomly(stream, random))).toEqual(whole);
  });

  it("reads CRLF and lone-CR line endings, also when CR and LF arrive in different chunks", () => {
    const crlf = stream.replaceAll("\n", "\r\n");
    expect(decodeAll([crlf])).toEqual(whole);
    for (let cut = 1; cut < 400; cut++)
      expect(decodeAll([crlf.slice(0, cut), crlf.slice(cut)])).toEqual(whole);
    expect(decodeAll(splitRandomly(crlf, seeded(7)))).toEqual(whole);
    expect(decodeAll([stream.replaceAll("\n", "\r")])).toEqual(whole);
  });

  it("joins multi-line data, drops one space after the colon, skips comments and unknown fields", () => {
    const frames = decodeAll([
      ": keep-alive\n",
      "event: conversation.message.delta\nretry: 3000\nid: 7\n",
      'data: {"role":"assistant",\ndata:  "type":"answer"}\n\n',
      "data:no event name\n\n",
      "event:empty\n\n",
    ]);
    expect(frames).toEqual([
      { event: "conversation.message.delta", data: '{"role":"assistant",\n "type":"answer"}', id: "7" },
      { event: "message", data: "no event name", id: "7" },
    ]);
  });

  it("dispatches a last frame the server did not close with a blank line, and ignores a leading BOM", () => {
    expect(decodeAll(["\uFEFFevent:done\ndata:[DONE]"])).toEqual([{ event: "done", data: "[DONE]" }]);
  });

  it("refuses a frame that outgrows the limit, as an unended line or as many data lines: memory stays bounded", () => {
    const endless = createSseDecoder({ maxFrameChars: 100 });
    endless.push("event:conversation.message.delta\ndata:");
    expect(() => endless.push("x".repeat(120))).toThrow(CozeMalformedEventError);

    const piled = createSseDecoder({ maxFrameChars: 100 });
    piled.push("event:conversation.message.delta\n");
    for (let i = 0; i < 9; i++) piled.push("data:0123456789\n");
    expect(() => piled.push("data:0123456789\n")).toThrow("malformed 'conversation.message.delta' event");

    // Frames under the limit, however many, pass: the limit is per frame.
    const steady = createSseDecoder({ maxFrameChars: 100 });
    const frames = Array.from({ length: 50 }, () => steady.push("event:e\ndata:0123456789\n\n")).flat();
    expect(frames).toHaveLength(50);
  });
});

describe("Coze events", () => {
  const events = (name: string): CozeStreamEvent[] => decodeAll([fixture(name)]).map(toCozeEvent);

  it("types an answer stream: chat ids, deltas of the answer, the completed answer, the end", () => {
    const answer = events("chat-stream-answer.sse");
    const created = answer[0];
    expect(created?.type).toBe("chat.created");
    if (created?.type === "chat.created") {
      expect(created.chat.id).toBe("7512093847261530148");
      expect(created.chat.conversation_id).toBe("7512093847261497380");
    }
    const deltas = answer.flatMap((e) => (e.type === "message.delta" ? [e.message.content] : []));
    expect(deltas.join("")).toBe("Your order #1042 shipped yesterday 📦");
    const completedAnswers = answer.flatMap((e) =>
      e.type === "message.completed" && isCustomerFacingAnswer(e.message) ? [e.message.content] : [],
    );
    // The verbose "generate_answer_finish" packet and the follow-up suggestion are not for the customer.
    expect(completedAnswers).toEqual(["Your order #1042 shipped yesterday 📦"]);
    expect(answer.at(-2)?.type).toBe("chat.completed");
    expect(answer.at(-1)).toEqual({ type: "done" });
  });

  it("reads the local-plugin calls a requires_action chat waits for", () => {
    const action = events("chat-stream-requires-action.sse").find((e) => e.type === "chat.requires_action");
    expect(action?.type).toBe("chat.requires_action");
    if (action?.type !== "chat.requires_action") return;
    expect(action.chat.id).toBe("7512101934520336420");
    expect(action.toolCalls).toHaveLength(1);
    const call = action.toolCalls[0];
    expect(call?.function?.name).toBe("look_up_orders");
    expect(call && toolArguments(call)).toEqual({ order_number: "#1042", email: "mia@example.com" });
  });

  it("reads a failed chat's last_error, and a bare { code, msg } error event", () => {
    const failed = events("chat-stream-failed.sse").find((e) => e.type === "chat.failed");
    expect(failed).toEqual({
      type: "chat.failed",
      code: 4013,
      message: "Model service is busy, please try again later.",
    });
    expect(toCozeEvent({ event: "error", data: '{"code":4100,"msg":"authentication is invalid"}' })).toEqual({
      type: "chat.failed",
      code: 4100,
      message: "authentication is invalid",
    });
    expect(toCozeEvent({ event: "error", data: "upstream reset" })).toEqual({
      type: "chat.failed",
      code: null,
      message: "upstream reset",
    });
  });

  it("accepts [DONE] bare or quoted, passes unknown events through as ignored, refuses unreadable data", () => {
    expect(toCozeEvent({ event: "done", data: "[DONE]" })).toEqual({ type: "done" });
    expect(toCozeEvent({ event: "conversation.audio.delta", data: "{}" })).toEqual({
      type: "ignored",
      event: "conversation.audio.delta",
    });
    expect(() => toCozeEvent({ event: "conversation.message.delta", data: "{not json" })).toThrow(
      /malformed 'conversation.message.delta'/,
    );
    expect(() => toCozeEvent({ event: "conversation.chat.created", data: '{"status":"created"}' })).toThrow();
  });

  it("gives tool arguments that are not a JSON object as an empty object", () => {
    expect(toolArguments({ id: "1", type: "function", function: { name: "x", arguments: "[1]" } })).toEqual(
      {},
    );
    expect(toolArguments({ id: "1", type: "function", function: { name: "x", arguments: "{" } })).toEqual({});
    expect(toolArguments({ id: "1", type: "function" })).toEqual({});
  });
});

describe("Coze error codes", () => {
  it.each([
    [4100, "auth"],
    [700012006, "auth"],
    [4101, "auth"],
    [4008, "rate_limited"],
    [4009, "rate_limited"],
    [4013, "rate_limited"],
    [4020, "rate_limited"],
    [4019, "permanent"],
    [4011, "permanent"],
    [4000, "permanent"],
    [4015, "permanent"],
    [5000, "retryable"],
  ] as const)("code %i is %s", (code, kind) => {
    expect(cozeFailureKindOf(code)).toBe(kind);
  });
});

describe("Coze access tokens", () => {
  it("builds the JWT claims the OAuth JWT grant expects", () => {
    expect(
      cozeJwtClaims({
        appId: "1127900106117",
        region: "cn",
        nowSeconds: 1748931800,
        lifetimeSeconds: 300,
        jti: "j1",
      }),
    ).toEqual({ iss: "1127900106117", aud: "api.coze.cn", iat: 1748931800, exp: 1748932100, jti: "j1" });
    expect(
      cozeJwtClaims({ appId: "1", region: "com", nowSeconds: 0, lifetimeSeconds: 1, jti: "j" }).aud,
    ).toBe("api.coze.com");
  });

  it("reads expires_in as the Unix expiry Coze documents, or as a lifetime when too small to be one", () => {
    const tokenJson = JSON.parse(fixture("token-success.json")) as { expires_in: number };
    expect(tokenExpiresAtMs(tokenJson.expires_in, 1748931800_000)).toBe(1748935403_000);
    expect(tokenExpiresAtMs(900, 1748931800_000)).toBe(1748932700_000);
  });
});

describe("conversation sent to Coze", () => {
  it("maps customers to questions and bot or agent lines to answers, the new message last", () => {
    expect(
      toAdditionalMessages(
        [
          { role: "customer", body: "Hi, where is my order?" },
          { role: "bot", body: "Which order number?" },
          { role: "agent", body: "  " },
          { role: "agent", body: "I'm looking too." },
        ],
        "  #1042  ",
      ),
    ).toEqual([
      { role: "user", type: "question", content: "Hi, where is my order?", content_type: "text" },
      { role: "assistant", type: "answer", content: "Which order number?", content_type: "text" },
      { role: "assistant", type: "answer", content: "I'm looking too.", content_type: "text" },
      { role: "user", type: "question", content: "#1042", content_type: "text" },
    ]);
  });

  it("keeps the 99 most recent lines plus the new message, and cuts very long bodies", () => {
    const history = Array.from({ length: 150 }, (_, i) => ({ role: "customer" as const, body: `line ${i}` }));
    const messages = toAdditionalMessages(history, "x".repeat(MAX_MESSAGE_CHARS + 50));
    expect(messages).toHaveLength(100);
    expect(messages[0]?.content).toBe("line 51");
    expect(messages.at(-1)?.content).toHaveLength(MAX_MESSAGE_CHARS + 1);
  });
});

describe("Coze private keys", () => {
  const rsa = (modulusLength: number) => generateKeyPairSync("rsa", { modulusLength });

  it("accepts the RSA PKCS#8 PEM Coze hands out", () => {
    const pem = rsa(2048).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(rsaPkcs8Problem(pem)).toBeNull();
    expect(rsaPkcs8Problem(`\n${pem.replaceAll("\n", "\r\n")}\n`)).toBeNull();
  });

  it("names what is wrong with anything else", () => {
    const { privateKey, publicKey } = rsa(2048);
    expect(rsaPkcs8Problem(privateKey.export({ type: "pkcs1", format: "pem" }).toString())).toBe("pkcs1");
    expect(rsaPkcs8Problem(publicKey.export({ type: "spki", format: "pem" }).toString())).toBe(
      "not_private_key",
    );
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey;
    expect(rsaPkcs8Problem(ec.export({ type: "pkcs8", format: "pem" }).toString())).toBe("not_rsa");
    const short = rsa(1024).privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    expect(rsaPkcs8Problem(short)).toBe("too_short");
    expect(rsaPkcs8Problem("just some text")).toBe("not_pem");
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const lines = pem.trim().split("\n");
    const truncated = [...lines.slice(0, 10), lines.at(-1)].join("\n");
    expect(rsaPkcs8Problem(truncated)).toBe("not_der");
  });
});
