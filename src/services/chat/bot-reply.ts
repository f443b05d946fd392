import type { AiReplyEvent } from "../ai/stream-ai-reply";
import { AI_UNAVAILABLE_TEXT } from "./chat-model";

export type BotOutcome =
  /** The full reply (the AI's own final text, else the deltas joined). */
  | { kind: "completed"; text: string }
  /** The AI asks for a human; `text` is whatever it said before (may be empty). */
  | { kind: "handover"; reason: string; text: string }
  /** The AI failed or stalled: `text` is what the customer is told instead. */
  | { kind: "degraded"; reason: string; text: string }
  /** The conversation moved on (a human took over, the chat closed): nothing more is said. */
  | { kind: "abandoned" };

/**
 * Consumes the AI's event stream for one reply: hands every delta to `onDelta` the moment it arrives,
 * and settles on one outcome. Never throws: a stream that fails, ends without a reply, or goes silent
 * for `gapMs` becomes `degraded` with the "an agent will reply" text, so a failing AI can never leave
 * the customer with an error or a loop. `stillWanted` is asked before each event: once false (a human
 * joined, the chat closed) the stream is abandoned and closed.
 */
export async function relayAiReply(
  events: AsyncIterable<AiReplyEvent>,
  options: {
    onDelta: (text: string) => void;
    stillWanted: () => boolean;
    gapMs: number;
    onError?: (error: unknown) => void;
  },
): Promise<BotOutcome> {
  let iterator: AsyncIterator<AiReplyEvent>;
  try {
    iterator = events[Symbol.asyncIterator]();
  } catch (error) {
    options.onError?.(error);
    return degraded("ai_failed");
  }
  let text = "";
  const stop = () => {
    // Closing a stream we gave up on frees its upstream connection; its own failure is of no interest.
    void Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => undefined);
  };
  for (;;) {
    let step: IteratorResult<AiReplyEvent> | "timeout";
    try {
      step = await nextWithin(iterator, options.gapMs);
    } catch (error) {
      options.onError?.(error);
      return degraded("ai_failed");
    }
    if (step === "timeout") {
      stop();
      return degraded("ai_timeout");
    }
    if (!options.stillWanted()) {
      if (!step.done) stop();
      return { kind: "abandoned" };
    }
    if (step.done) {
      // A stream that ends without saying it completed: keep what was said, else degrade.
      return text.trim() ? { kind: "completed", text } : degraded("ai_empty_reply");
    }
    const event = step.value;
    switch (event.type) {
      case "delta":
        if (event.text) {
          text += event.text;
          options.onDelta(event.text);
        }
        break;
      case "completed": {
        stop();
        const full = event.text.trim() ? event.text : text;
        return full.trim() ? { kind: "completed", text: full } : degraded("ai_empty_reply");
      }
      case "handover":
        stop();
        return { kind: "handover", reason: event.reason, text };
      case "degraded":
        stop();
        return {
          kind: "degraded",
          reason: event.reason,
          text: event.text.trim() ? event.text : AI_UNAVAILABLE_TEXT,
        };
    }
  }
}

function degraded(reason: string): BotOutcome {
  return { kind: "degraded", reason, text: AI_UNAVAILABLE_TEXT };
}

async function nextWithin<T>(iterator: AsyncIterator<T>, ms: number): Promise<IteratorResult<T> | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([iterator.next(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
