// What the bot's tools hand back to Coze: a JSON string the model reads, never cut in the middle.
import { describe, expect, it } from "vitest";
import { toolOutput } from "../../src/services/ai/bot-tools";

const MAX = 8000;

function outputOf(value: unknown): unknown {
  const result = toolOutput(value);
  if (result.kind !== "output") throw new Error("expected an output");
  expect(result.output.length).toBeLessThanOrEqual(MAX);
  return JSON.parse(result.output);
}

const order = (n: number, itemCount: number) => ({
  orderNumber: `#${1000 + n}`,
  items: Array.from({ length: itemCount }, (_, i) => ({
    title: `Item ${i} of a long catalogue`,
    quantity: 1,
  })),
});

describe("bot tool outputs", () => {
  it("passes a short answer whole", () => {
    const answer = { found: 1, orders: [order(1, 2)] };
    expect(outputOf(answer)).toEqual(answer);
  });

  it("keeps fewer orders when the answer is too long, and says it did", () => {
    const answer = { found: 5, orders: Array.from({ length: 5 }, (_, n) => order(n, 30)) };
    expect(JSON.stringify(answer).length).toBeGreaterThan(MAX);
    const shown = outputOf(answer) as { found: number; orders: unknown[]; truncated: boolean };
    expect(shown.found).toBe(5);
    expect(shown.truncated).toBe(true);
    expect(shown.orders.length).toBeGreaterThan(0);
    expect(shown.orders.length).toBeLessThanOrEqual(2);
  });

  it("answers valid JSON with a note when even one order is too long (never a string cut mid-way)", () => {
    const answer = { found: 2, orders: [order(1, 400), order(2, 400)] };
    expect(outputOf(answer)).toMatchObject({ truncated: true, note: expect.any(String) });
    expect(outputOf({ events: "x".repeat(MAX * 2) })).toMatchObject({ truncated: true });
  });
});
