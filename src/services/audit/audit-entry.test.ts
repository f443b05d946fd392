import { describe, expect, it } from "vitest";
import { ValidationError } from "../../lib/errors";
import { actorKeyOf, auditRecords, changedFields } from "./audit-entry";
import { decodeCursor, encodeCursor, keysetPage } from "./keyset-cursor";

describe("audit entries", () => {
  it("keys every kind of actor for per-actor queries", () => {
    expect(actorKeyOf({ type: "user", userId: "u-1" })).toBe("user:u-1");
    expect(actorKeyOf({ type: "apiKey", keyId: "k-1" })).toBe("apiKey:k-1");
    expect(actorKeyOf({ type: "system", name: "chat" })).toBe("system:chat");
    expect(actorKeyOf({ type: "webhook", source: "shopify" })).toBe("webhook:shopify");
    expect(actorKeyOf({ type: "applicant", applicationId: "a-1" })).toBe("applicant:a-1");
  });

  it("records only fields that changed, comparing arrays and objects by content", () => {
    expect(
      changedFields(
        { status: "open", tags: ["vip"], requester: { email: "a@x.io" }, priority: "normal", teamId: null },
        {
          status: "pending",
          tags: ["vip"],
          requester: { email: "a@x.io" },
          priority: "normal",
          teamId: "t-1",
        },
      ),
    ).toEqual({ status: { before: "open", after: "pending" }, teamId: { before: null, after: "t-1" } });
    expect(changedFields({ tags: ["a", "b"] }, { tags: ["b", "a"] })).toEqual({
      tags: { before: ["a", "b"], after: ["b", "a"] },
    });
    expect(changedFields({}, { assigneeId: undefined })).toEqual({});
  });

  it("gives each record of an operation its own id and the operation's author", () => {
    const author = {
      tenantId: "t",
      actor: { type: "system", name: "chat" } as const,
      actorKey: "system:chat",
      requestId: null,
    };
    const records = auditRecords(
      author,
      [
        { entityType: "ticket", entityId: "x", action: "created", changes: {} },
        { entityType: "ticket", entityId: "x", action: "assigned", changes: {} },
      ],
      "2026-03-02T09:00:00.000Z",
    );
    expect(records.map((r) => [r.action, r.actorKey, r.occurredAt])).toEqual([
      ["created", "system:chat", "2026-03-02T09:00:00.000Z"],
      ["assigned", "system:chat", "2026-03-02T09:00:00.000Z"],
    ]);
    expect(records[0]?.id).not.toBe(records[1]?.id);
  });
});

describe("keyset cursors", () => {
  const position = { at: "2026-03-02T09:00:00.123456Z", id: "0b7d7f5e-6a43-4c1b-9f0e-3b1f3e2d4c5a" };

  it("round-trip the exact microsecond instant and id, URL-safe", () => {
    const cursor = encodeCursor(position);
    expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(cursor)).toEqual(position);
  });

  it("refuse anything else with a 422", () => {
    for (const forged of ["", "xyz", btoa("1|2"), btoa(`2026-03-02T09:00:00Z|${position.id}`)]) {
      expect(() => decodeCursor(forged)).toThrow(ValidationError);
    }
  });

  it("pages from limit + 1 rows", () => {
    const rows = [1, 2, 3].map((n) => ({ id: position.id, cursor_at: position.at, n }));
    expect(keysetPage(rows, 2, (r) => r.n)).toEqual({ items: [1, 2], nextCursor: encodeCursor(position) });
    expect(keysetPage(rows, 3, (r) => r.n)).toEqual({ items: [1, 2, 3], nextCursor: null });
  });
});
