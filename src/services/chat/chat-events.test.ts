import { describe, expect, it } from "vitest";
import { BadRequestError, ValidationError } from "../../lib/errors";
import { errorEvent, parseClientFrame, resumeSeqOf, toServerSentEvent } from "./chat-events";

describe("client frames", () => {
  it("parses each frame type, trimming bodies", () => {
    expect(
      parseClientFrame('{"type":"message","body":"  Where is my parcel?  ","clientMessageId":"m-1"}'),
    ).toEqual({
      type: "message",
      body: "Where is my parcel?",
      clientMessageId: "m-1",
    });
    expect(parseClientFrame('{"type":"typing","typing":true}')).toEqual({ type: "typing", typing: true });
    expect(parseClientFrame('{"type":"handover"}')).toEqual({ type: "handover" });
    expect(parseClientFrame('{"type":"resume","afterSeq":12}')).toEqual({ type: "resume", afterSeq: 12 });
    expect(parseClientFrame('{"type":"ping"}')).toEqual({ type: "ping" });
  });

  it("binary, oversized and non-JSON frames are bad requests", () => {
    expect(parseClientFrame(new ArrayBuffer(4))).toEqual(
      new BadRequestError("Frames must be JSON text, not binary"),
    );
    const big = parseClientFrame(JSON.stringify({ type: "message", body: "x".repeat(30_000) }));
    expect(big).toBeInstanceOf(BadRequestError);
    expect((big as BadRequestError).details).toEqual({ maxBytes: 20_000 });
    expect(parseClientFrame("{not json")).toEqual(new BadRequestError("Frame is not valid JSON"));
  });

  it("a frame of the wrong shape is a validation error naming the field", () => {
    const empty = parseClientFrame('{"type":"message","body":"   "}');
    expect(empty).toBeInstanceOf(ValidationError);
    expect((empty as ValidationError).details).toEqual({ body: ["Must not be empty"] });
    const unknown = parseClientFrame('{"type":"dance"}');
    expect(unknown).toBeInstanceOf(ValidationError);
    expect(Object.keys((unknown as ValidationError).details ?? {})).toEqual(["type"]);
    const tooLong = parseClientFrame(JSON.stringify({ type: "message", body: "y".repeat(4001) }));
    expect(Object.keys((tooLong as ValidationError).details ?? {})).toEqual(["body"]);
  });
});

describe("server-sent events", () => {
  it("stored messages carry their seq as the event id; other events have none", () => {
    const message = {
      seq: 7,
      role: "customer" as const,
      authorUserId: null,
      authorName: "Ava",
      body: "line one\nline two",
      clientMessageId: null,
      meta: null,
      createdAt: "2026-11-02T09:15:04.120Z",
    };
    const text = toServerSentEvent({ type: "message", message });
    expect(text).toBe(`id: 7\nevent: message\ndata: ${JSON.stringify({ type: "message", message })}\n\n`);
    // A newline in a body is escaped inside the one data line.
    expect(text.split("\n")).toHaveLength(5);
    expect(toServerSentEvent({ type: "message.delta", replyId: "rpl_1", replyTo: 7, text: "It " })).toBe(
      'event: message.delta\ndata: {"type":"message.delta","replyId":"rpl_1","replyTo":7,"text":"It "}\n\n',
    );
  });

  it("Last-Event-ID: a positive integer resumes after it; anything else starts over", () => {
    expect(resumeSeqOf("42")).toBe(42);
    expect(resumeSeqOf(" 3 ")).toBe(3);
    for (const bad of [null, undefined, "", "abc", "-1", "1.5", "0"]) expect(resumeSeqOf(bad)).toBe(0);
  });

  it("error events carry the code, message and details of the error", () => {
    expect(errorEvent(new ValidationError("Invalid frame", { body: ["Required"] }), "m-9")).toEqual({
      type: "error",
      error: { code: "VALIDATION_ERROR", message: "Invalid frame", details: { body: ["Required"] } },
      clientMessageId: "m-9",
    });
  });
});
