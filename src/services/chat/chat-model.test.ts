import { describe, expect, it } from "vitest";
import { PreconditionFailedError } from "../../lib/errors";
import {
  CHAT_STATUSES,
  type ChatMessageView,
  type ChatStatus,
  type ChatTransition,
  canTransition,
  customerView,
  formatTranscript,
  handoverSubject,
  nextStatus,
} from "./chat-model";

const message = (
  m: Partial<ChatMessageView> & Pick<ChatMessageView, "seq" | "role" | "body">,
): ChatMessageView => ({
  authorUserId: null,
  authorName: null,
  clientMessageId: null,
  meta: null,
  createdAt: "2026-11-02T09:15:04.120Z",
  ...m,
});

describe("chat state machine", () => {
  const table: [ChatStatus, ChatTransition, ChatStatus | null][] = [
    ["bot", "handover", "waiting"],
    ["waiting", "handover", null],
    ["agent", "handover", null],
    ["bot", "agent_join", "agent"],
    ["waiting", "agent_join", "agent"],
    ["agent", "agent_join", "agent"],
    ["agent", "agent_leave", "waiting"],
    ["waiting", "agent_leave", null],
    ["agent", "return_to_bot", "bot"],
    ["waiting", "return_to_bot", "bot"],
    ["bot", "return_to_bot", null],
    ["bot", "close", "closed"],
    ["waiting", "close", "closed"],
    ["agent", "close", "closed"],
  ];
  it.each(table)("%s --%s--> %s", (from, transition, to) => {
    expect(canTransition(from, transition)).toBe(to !== null);
    if (to) expect(nextStatus(from, transition)).toBe(to);
    else expect(() => nextStatus(from, transition)).toThrow(PreconditionFailedError);
  });

  it("closed is terminal: every transition is refused with 'This chat is closed'", () => {
    for (const transition of ["handover", "agent_join", "agent_leave", "return_to_bot", "close"] as const) {
      expect(canTransition("closed", transition)).toBe(false);
      expect(() => nextStatus("closed", transition)).toThrow("This chat is closed");
    }
  });

  it("a refusal names the state and the transition for the 412 body", () => {
    try {
      nextStatus("agent", "handover");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PreconditionFailedError);
      expect((error as PreconditionFailedError).message).toBe(
        "Cannot ask for a human while the chat is agent",
      );
      expect((error as PreconditionFailedError).details).toEqual({ status: "agent", transition: "handover" });
    }
  });

  it("knows every status", () => {
    expect(CHAT_STATUSES).toEqual(["bot", "waiting", "agent", "closed"]);
  });
});

describe("transcript for the handover ticket", () => {
  it("one line per message with UTC time, the customer's name, agents' names, Assistant and System", () => {
    const text = formatTranscript(
      [
        message({ seq: 1, role: "customer", body: "Where is my order #1042?" }),
        message({
          seq: 2,
          role: "bot",
          body: "It shipped on 31 Oct with DHL.",
          createdAt: "2026-11-02T09:15:06.900Z",
        }),
        message({ seq: 3, role: "system", body: "You asked for a human." }),
        message({ seq: 4, role: "agent", authorName: "Lena Park", body: "Hi Ava, let me check." }),
      ],
      { name: "Ava Thompson", email: "ava.thompson@example.com" },
    );
    expect(text).toBe(
      [
        "[2026-11-02 09:15:04 UTC] Ava Thompson: Where is my order #1042?",
        "[2026-11-02 09:15:06 UTC] Assistant: It shipped on 31 Oct with DHL.",
        "[2026-11-02 09:15:04 UTC] System: You asked for a human.",
        "[2026-11-02 09:15:04 UTC] Lena Park: Hi Ava, let me check.",
      ].join("\n"),
    );
  });

  it("falls back to email, phone, then 'Customer' for an anonymous customer", () => {
    const line = (customer: Parameters<typeof formatTranscript>[1]) =>
      formatTranscript([message({ seq: 1, role: "customer", body: "hi" })], customer);
    expect(line({ email: "wei@example.cn" })).toContain("wei@example.cn: hi");
    expect(line({ phone: "+86 138 0000 0000" })).toContain("+86 138 0000 0000: hi");
    expect(line({})).toContain("Customer: hi");
  });

  it("ticket subject: who and the first thing they said, one line, at most 200 characters", () => {
    expect(handoverSubject({ name: "Ava Thompson" }, "Where is\n my order   #1042?")).toBe(
      "Chat with Ava Thompson: Where is my order #1042?",
    );
    expect(handoverSubject({}, undefined)).toBe("Chat with a customer");
    const long = handoverSubject({ email: "a@b.co" }, "x".repeat(500));
    expect(long).toHaveLength(198);
    expect(long.endsWith("…")).toBe(true);
  });
});

describe("the customer's view of a session", () => {
  it("hides the ticket and agents' user ids, keeps names", () => {
    const view = customerView({
      id: "6a1f2b3c-4d5e-4f60-8a7b-9c0d1e2f3a4b",
      status: "agent",
      channel: "web",
      customer: { name: "Ava Thompson" },
      agentId: "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e",
      ticketId: "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f",
      participants: [
        { role: "customer", userId: null, name: "Ava Thompson", online: true, joinedAt: null, leftAt: null },
        {
          role: "agent",
          userId: "0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e",
          name: "Lena Park",
          online: true,
          joinedAt: null,
          leftAt: null,
        },
      ],
      messageCount: 4,
      startedAt: "2026-11-02T09:15:00.000Z",
      lastMessageAt: null,
      closedAt: null,
      closeReason: null,
      live: true,
      archivedAt: null,
    });
    expect(view.agentId).toBeNull();
    expect(view.ticketId).toBeNull();
    expect(view.participants.map((p) => [p.userId, p.name])).toEqual([
      [null, "Ava Thompson"],
      [null, "Lena Park"],
    ]);
  });
});
