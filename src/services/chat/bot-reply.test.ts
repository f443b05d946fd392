import { describe, expect, it } from "vitest";
import type { AiReplyEvent } from "../ai/stream-ai-reply";
import { relayAiReply } from "./bot-reply";
import { AI_UNAVAILABLE_TEXT } from "./chat-model";

async function* stream(events: AiReplyEvent[], options: { throwAfter?: number; hangAfter?: number } = {}) {
  let i = 0;
  for (const event of events) {
    if (options.throwAfter === i) throw new Error("socket hang up");
    if (options.hangAfter === i) await new Promise(() => undefined);
    yield event;
    i++;
  }
}

function relay(events: AsyncIterable<AiReplyEvent>, stillWanted = () => true, gapMs = 1000) {
  const deltas: string[] = [];
  const done = relayAiReply(events, { onDelta: (t) => deltas.push(t), stillWanted, gapMs });
  return { deltas, done };
}

describe("relaying the AI's reply", () => {
  it("hands on each delta and completes with the AI's final text", async () => {
    const { deltas, done } = relay(
      stream([
        { type: "delta", text: "Your order " },
        { type: "delta", text: "shipped on 31 Oct." },
        { type: "completed", text: "Your order shipped on 31 Oct." },
      ]),
    );
    expect(await done).toEqual({ kind: "completed", text: "Your order shipped on 31 Oct." });
    expect(deltas).toEqual(["Your order ", "shipped on 31 Oct."]);
  });

  it("a completed event without text keeps the deltas; a stream that just ends keeps them too", async () => {
    expect(
      await relay(
        stream([
          { type: "delta", text: "Hello" },
          { type: "completed", text: "" },
        ]),
      ).done,
    ).toEqual({ kind: "completed", text: "Hello" });
    expect(await relay(stream([{ type: "delta", text: "Hi there" }])).done).toEqual({
      kind: "completed",
      text: "Hi there",
    });
  });

  it("a handover keeps what was said before it", async () => {
    expect(
      await relay(
        stream([
          { type: "delta", text: "Let me get a colleague." },
          { type: "handover", reason: "The customer asked for a person" },
        ]),
      ).done,
    ).toEqual({
      kind: "handover",
      reason: "The customer asked for a person",
      text: "Let me get a colleague.",
    });
  });

  it("the AI's own degraded text is what the customer reads", async () => {
    expect(
      await relay(
        stream([{ type: "degraded", reason: "rate_limited", text: "An agent will reply shortly." }]),
      ).done,
    ).toEqual({ kind: "degraded", reason: "rate_limited", text: "An agent will reply shortly." });
  });

  it("an empty reply, a failing stream and a silent stream all degrade to the agent text, never throw", async () => {
    expect(await relay(stream([])).done).toEqual({
      kind: "degraded",
      reason: "ai_empty_reply",
      text: AI_UNAVAILABLE_TEXT,
    });
    expect(
      await relay(
        stream(
          [
            { type: "delta", text: "a" },
            { type: "delta", text: "b" },
          ],
          { throwAfter: 1 },
        ),
      ).done,
    ).toMatchObject({
      kind: "degraded",
      reason: "ai_failed",
    });
    const silent = relay(
      stream(
        [
          { type: "delta", text: "a" },
          { type: "delta", text: "b" },
        ],
        { hangAfter: 1 },
      ),
      () => true,
      20,
    );
    expect(await silent.done).toEqual({ kind: "degraded", reason: "ai_timeout", text: AI_UNAVAILABLE_TEXT });
    expect(silent.deltas).toEqual(["a"]);
  });

  it("stops relaying once the reply is no longer wanted (a human took over)", async () => {
    let wanted = true;
    const { deltas, done } = relay(
      (async function* () {
        yield { type: "delta", text: "one " } as AiReplyEvent;
        wanted = false;
        yield { type: "delta", text: "two" } as AiReplyEvent;
        yield { type: "completed", text: "one two" } as AiReplyEvent;
      })(),
      () => wanted,
    );
    expect(await done).toEqual({ kind: "abandoned" });
    expect(deltas).toEqual(["one "]);
  });
});
