// Tickets end to end: open → reply → pending (clocks pause) → the customer answers (reopened, clocks run) →
// solved (stopped) → reopened → closed (final), with per-tenant numbers, SLA due times from the policy and the
// team's calendar, linked orders, If-Match, exact error envelopes and the audit trail of every step.
import { describe, expect, it } from "vitest";
import { addBusinessSeconds } from "../../src/domain/sla";
import { addTicketComment } from "../../src/services/tickets/add-ticket-comment";
import { createTicket } from "../../src/services/tickets/create-ticket";
import { createUser, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { ownerSql } from "../support/harness";
import {
  type AuditBody,
  api,
  auditRowsOf,
  createTeam,
  openTicket,
  orderOf,
  slaPolicy,
  TICKETS,
  type TicketBody,
} from "../support/tickets";

const ONE_DB_ROUND_TRIP = /(^|, )db;dur=[\d.]+;desc="1 rt"/;
const HOUR = 3_600_000;

const ms = (iso: string | null) => (iso === null ? Number.NaN : Date.parse(iso));

describe("ticket lifecycle", { timeout: 30_000 }, () => {
  it("runs open → reply → pending → customer reply → solved → reopened → closed, clocks following", async () => {
    const admin = await signedInUser({ superuser: true });
    const policyId = await slaPolicy(admin.tenant, { isDefault: true });
    const order = await orderOf(admin.tenant, admin.token, "#W1042");

    const ticket = await openTicket(admin.token, {
      subject: "Parcel has not moved for a week",
      description: "Tracking still says label created.",
      tags: ["Shipping", " VIP "],
      orderIds: [order],
      requester: { email: "Ava.Thompson@Example.com", name: "Ava Thompson", phone: "+61 2 5550 1234" },
    });
    expect(ticket).toMatchObject({
      number: 1,
      status: "open",
      priority: "normal",
      channel: "email",
      requester: { email: "ava.thompson@example.com", name: "Ava Thompson", phone: "+61 2 5550 1234" },
      tags: ["shipping", "vip"],
      assignee: null,
      team: null,
      createdBy: { type: "user", userId: admin.id },
      commentCount: 0,
      version: 1,
      orders: [{ id: order, externalNumber: "#W1042", status: "created", totalMinor: 4480 }],
    });
    // Default policy, normal priority, around the clock: 8 h to first response, 3 days to resolution.
    expect(ticket.sla.policyId).toBe(policyId);
    expect(ms(ticket.sla.firstResponse.dueAt) - ms(ticket.createdAt)).toBe(8 * HOUR);
    expect(ms(ticket.sla.resolution.dueAt) - ms(ticket.createdAt)).toBe(72 * HOUR);
    expect(ticket.sla.firstResponse).toMatchObject({ status: "ok", breached: false, atRisk: false });

    // The read is one Postgres round trip and carries the version as ETag.
    const read = await api<TicketBody>(admin.token, "GET", `${TICKETS}/${ticket.id}`);
    expect(read.status).toBe(200);
    expect(read.headers.get("etag")).toBe('"1"');
    expect(read.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);

    // An internal note is not a response; the first public agent reply is.
    const note = await api<{ id: string; public: boolean; author: Record<string, unknown> }>(
      admin.token,
      "POST",
      `${TICKETS}/${ticket.id}/comments`,
      { body: "Asked the carrier.", public: false },
    );
    expect(note.status).toBe(201);
    expect(note.body.data).toMatchObject({ public: false, author: { type: "agent", userId: admin.id } });
    expect((await get(admin.token, ticket.id)).firstRespondedAt).toBeNull();
    const reply = await api(admin.token, "POST", `${TICKETS}/${ticket.id}/comments`, {
      body: "Hi Ava, we are on it.",
    });
    expect(reply.status).toBe(201);
    const answered = await get(admin.token, ticket.id);
    expect(answered.firstRespondedAt).not.toBeNull();
    expect(answered.sla.firstResponse).toMatchObject({ dueAt: null, status: "ok" });
    expect(answered.commentCount).toBe(2);

    // Pending on the customer: both clocks pause.
    const pending = await patch(admin.token, ticket.id, { status: "pending" });
    expect(pending.status).toBe("pending");
    expect(pending.sla).toMatchObject({ paused: true, resolution: { dueAt: null } });

    // The customer answers: back to open, the resolution clock runs again.
    const customer = await api<{ author: Record<string, unknown> }>(
      admin.token,
      "POST",
      `${TICKETS}/${ticket.id}/comments`,
      {
        body: "Any news?",
        author: { type: "customer", name: "Ava Thompson", email: "ava.thompson@example.com" },
      },
    );
    expect(customer.body.data?.author).toEqual({
      type: "customer",
      userId: null,
      name: "Ava Thompson",
      email: "ava.thompson@example.com",
    });
    const reopened = await get(admin.token, ticket.id);
    expect(reopened.status).toBe("open");
    expect(reopened.sla.paused).toBe(false);
    expect(ms(reopened.sla.resolution.dueAt)).toBeGreaterThan(ms(reopened.updatedAt));

    const solved = await patch(admin.token, ticket.id, { status: "solved" });
    expect(solved.solvedAt).not.toBeNull();
    expect(solved.sla.resolution.dueAt).toBeNull();
    const again = await patch(admin.token, ticket.id, { status: "open" });
    expect(again).toMatchObject({ status: "open", solvedAt: null });
    expect(again.sla.resolution.dueAt).not.toBeNull();
    const closed = await patch(admin.token, ticket.id, { status: "closed" });
    expect(closed.closedAt).not.toBeNull();
    expect(closed.solvedAt).toBe(closed.closedAt);

    // Closed is final: no change, no comment, no assignment.
    const closedError = {
      code: "PRECONDITION_FAILED",
      message: "A closed ticket cannot be changed",
      details: { status: "closed" },
    };
    for (const [method, path, body] of [
      ["PATCH", `${TICKETS}/${ticket.id}`, { status: "open" }],
      ["PATCH", `${TICKETS}/${ticket.id}`, { priority: "high" }],
      ["POST", `${TICKETS}/${ticket.id}/comments`, { body: "hello?" }],
      ["POST", `${TICKETS}/${ticket.id}/assign`, { assigneeId: admin.id }],
    ] as const) {
      const refused = await api(admin.token, method, path, body);
      expect(refused.status, `${method} ${path}`).toBe(412);
      expect(refused.body.error).toEqual(closedError);
    }

    // The audit trail: every step, in order, with who and what changed.
    const audit = await api<{ items: AuditBody[]; nextCursor: string | null }>(
      admin.token,
      "GET",
      `${TICKETS}/${ticket.id}/audit?limit=50`,
    );
    expect(audit.status).toBe(200);
    const steps = [...(audit.body.data?.items ?? [])].reverse();
    expect(steps.map((s) => `${s.entityType}:${s.action}`)).toEqual([
      "ticket:created",
      "ticket_comment:commented",
      "ticket_comment:commented",
      "ticket:updated", // first response
      "ticket:updated", // pending
      "ticket_comment:commented",
      "ticket:updated", // reopened by the customer
      "ticket:updated", // solved
      "ticket:updated", // reopened
      "ticket:updated", // closed
    ]);
    expect(steps.every((s) => s.actorKey === `user:${admin.id}` && s.requestId?.startsWith("req_"))).toBe(
      true,
    );
    expect(steps[3]?.changes.firstRespondedAt).toEqual({ before: null, after: answered.firstRespondedAt });
    expect(steps[4]?.changes.status).toEqual({ before: "open", after: "pending" });
    expect(steps[6]?.changes.status).toEqual({ before: "pending", after: "open" });
    expect(steps[9]?.changes.status).toEqual({ before: "open", after: "closed" });
    expect(steps[1]?.changes).toMatchObject({
      public: { before: null, after: false },
      authorType: { after: "agent" },
    });
  });

  it("numbers tickets per tenant and links only the tenant's own orders", async () => {
    const a = await signedInUser({ superuser: true });
    const b = await signedInUser({ superuser: true });
    expect((await openTicket(a.token)).number).toBe(1);
    expect((await openTicket(a.token)).number).toBe(2);
    expect((await openTicket(b.token)).number).toBe(1);

    const bOrder = await orderOf(b.tenant, b.token);
    const refused = await api(a.token, "POST", TICKETS, {
      subject: "Someone else's order",
      channel: "api",
      requester: {},
      orderIds: [bOrder],
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Unknown orders",
      details: { orderIds: [`No order ${bOrder} in this tenant`] },
    });
    // Nothing was written: the next ticket still gets the next number.
    expect((await openTicket(a.token)).number).toBe(3);
  });

  it("answers bad input with exact 422 envelopes", async () => {
    const admin = await signedInUser({ superuser: true });
    const other = await signedInUser({ superuser: true });
    const ticket = await openTicket(admin.token);
    const missingTeam = crypto.randomUUID();

    const cases: Array<[string, string, unknown, Record<string, unknown>]> = [
      [
        "POST",
        TICKETS,
        { subject: "  ", channel: "fax", requester: { email: "nope" } },
        { code: "VALIDATION_ERROR", message: "Invalid request body" },
      ],
      [
        "POST",
        TICKETS,
        { subject: "Hi", channel: "api", requester: {}, teamId: missingTeam },
        {
          code: "VALIDATION_ERROR",
          message: "Unknown team",
          details: { teamId: ["No such support team in this tenant"] },
        },
      ],
      [
        "POST",
        TICKETS,
        { subject: "Hi", channel: "api", requester: {}, assigneeId: other.id },
        {
          code: "VALIDATION_ERROR",
          message: "Unknown assignee",
          details: { assigneeId: ["No active user with this id in this tenant"] },
        },
      ],
      [
        "POST",
        TICKETS,
        { subject: "Hi", channel: "api", requester: {}, tags: ["ok", "a,b"] },
        {
          code: "VALIDATION_ERROR",
          message: "Invalid ticket",
          details: { tags: ['Invalid tag "a,b": 1-50 letters, digits, spaces or -_:./, no commas'] },
        },
      ],
      [
        "PATCH",
        `${TICKETS}/${ticket.id}`,
        {},
        {
          code: "VALIDATION_ERROR",
          message: "Invalid request body",
          details: { _root: ["Nothing to change"] },
        },
      ],
      [
        "PATCH",
        `${TICKETS}/${ticket.id}`,
        { status: "archived" },
        { code: "VALIDATION_ERROR", message: "Invalid request body" },
      ],
      [
        "POST",
        `${TICKETS}/${ticket.id}/comments`,
        { body: "I am the customer", public: false, author: { type: "customer" } },
        {
          code: "VALIDATION_ERROR",
          message: "Invalid comment",
          details: { public: ["A customer's message is always public"] },
        },
      ],
      [
        "POST",
        `${TICKETS}/${ticket.id}/assign`,
        {},
        {
          code: "VALIDATION_ERROR",
          message: "Invalid request body",
          details: { _root: ["Give assigneeId (or null), or teamId"] },
        },
      ],
      [
        "POST",
        `${TICKETS}/${ticket.id}/assign`,
        { assigneeId: admin.id, strategy: "round_robin" },
        {
          code: "VALIDATION_ERROR",
          message: "Invalid request body",
          details: { strategy: ["A strategy picks the agent within teamId; leave assigneeId out"] },
        },
      ],
    ];
    for (const [method, path, body, error] of cases) {
      const response = await api(admin.token, method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
      expect(response.body.error).toMatchObject(error);
    }
    const invalid = await api(admin.token, "POST", TICKETS, {
      subject: "  ",
      channel: "fax",
      requester: { email: "x" },
    });
    expect(Object.keys(invalid.body.error?.details ?? {}).sort()).toEqual([
      "channel",
      "requester.email",
      "subject",
    ]);

    const missing = await api(admin.token, "GET", `${TICKETS}/${crypto.randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: "NOT_FOUND", message: "Ticket not found" });
    // Nothing above wrote anything.
    expect(await auditRowsOf(admin.tenant.id, ticket.id)).toHaveLength(1);
  });

  it("refuses a stale If-Match with 412 and writes nothing for a change that changes nothing", async () => {
    const admin = await signedInUser({ superuser: true });
    const ticket = await openTicket(admin.token);

    const first = await api<TicketBody>(
      admin.token,
      "PATCH",
      `${TICKETS}/${ticket.id}`,
      { priority: "high" },
      { "if-match": '"1"' },
    );
    expect(first.status).toBe(200);
    expect(first.headers.get("etag")).toBe('"2"');
    const stale = await api(
      admin.token,
      "PATCH",
      `${TICKETS}/${ticket.id}`,
      { priority: "low" },
      { "if-match": '"1"' },
    );
    expect(stale.status).toBe(412);
    expect(stale.body.error).toEqual({
      code: "PRECONDITION_FAILED",
      message: "The ticket was changed since you read it; reload and try again",
      details: { expectedVersion: 1, currentVersion: 2 },
    });
    const weak = await api<TicketBody>(
      admin.token,
      "PATCH",
      `${TICKETS}/${ticket.id}`,
      { priority: "low" },
      { "if-match": 'W/"2"' },
    );
    expect(weak.body.data?.version).toBe(3);
    const malformed = await api(
      admin.token,
      "PATCH",
      `${TICKETS}/${ticket.id}`,
      { priority: "low" },
      { "if-match": "yesterday" },
    );
    expect(malformed.status).toBe(422);
    expect(malformed.body.error?.details).toHaveProperty("if-match");

    const same = await patch(admin.token, ticket.id, { priority: "low", tags: [] });
    expect(same.version).toBe(3);
    expect((await auditRowsOf(admin.tenant.id, ticket.id)).map((r) => r.action)).toEqual([
      "created",
      "updated",
      "updated",
    ]);
  });

  it("recomputes due times on a priority change and on a team change (the team's policy and calendar)", async () => {
    const admin = await signedInUser({ superuser: true });
    await slaPolicy(admin.tenant, { isDefault: true });
    const ticket = await openTicket(admin.token);

    // Urgent: 15 minutes to first response, counted from creation (elapsed time is kept).
    const urgent = await patch(admin.token, ticket.id, { priority: "urgent" });
    const fromCreation = ms(urgent.sla.firstResponse.dueAt) - ms(ticket.createdAt);
    expect(Math.abs(fromCreation - 15 * 60_000)).toBeLessThanOrEqual(1000);

    // A team that works weekday mornings in Tokyo, with a business-hours policy of 30 minutes at urgent.
    const teamPolicy = await slaPolicy(admin.tenant, {
      businessHoursOnly: true,
      targets: { urgent: { firstResponseMinutes: 30, resolutionMinutes: 600 } },
    });
    const calendar = {
      timezone: "Asia/Tokyo",
      weekly: {
        mon: [["09:00", "12:00"]],
        tue: [["09:00", "12:00"]],
        wed: [["09:00", "12:00"]],
        thu: [["09:00", "12:00"]],
        fri: [["09:00", "12:00"]],
        sat: [],
        sun: [],
      } as Record<"mon" | "tue" | "wed" | "thu" | "fri" | "sat" | "sun", [string, string][]>,
      holidays: ["2026-12-31"],
    };
    const team = await createTeam(admin.token, {
      timezone: calendar.timezone,
      businessHours: {
        mon: calendar.weekly.mon,
        tue: calendar.weekly.tue,
        wed: calendar.weekly.wed,
        thu: calendar.weekly.thu,
        fri: calendar.weekly.fri,
      },
      holidays: calendar.holidays,
      slaPolicyId: teamPolicy,
    });
    const moved = await patch(admin.token, ticket.id, { teamId: team.id });
    expect(moved.team).toEqual({ id: team.id, name: team.name });
    expect(moved.sla.policyId).toBe(teamPolicy);
    const left = 30 * 60 - moved.sla.firstResponse.elapsedSeconds;
    expect(moved.sla.firstResponse.dueAt).toBe(addBusinessSeconds(moved.updatedAt, left, calendar));

    const audit = await auditRowsOf(admin.tenant.id, ticket.id);
    expect(audit.at(-1)?.changes).toMatchObject({
      teamId: { before: null, after: team.id },
      slaPolicyId: { after: teamPolicy },
      firstResponseDueAt: { before: urgent.sla.firstResponse.dueAt, after: moved.sla.firstResponse.dueAt },
    });
  });

  it("shows at-risk and breached targets, and a breach the sweep recorded", async () => {
    const admin = await signedInUser({ superuser: true });
    await slaPolicy(admin.tenant, { isDefault: true });
    const ticket = await openTicket(admin.token);
    const sql = ownerSql();
    await sql`update tickets set first_response_at_risk_after = now() - interval '1 minute' where id = ${ticket.id}`;
    expect((await get(admin.token, ticket.id)).sla.firstResponse).toMatchObject({
      status: "at_risk",
      atRisk: true,
      breached: false,
    });
    await sql`update tickets set first_response_due_at = now() - interval '1 second' where id = ${ticket.id}`;
    expect((await get(admin.token, ticket.id)).sla.firstResponse).toMatchObject({
      status: "breached",
      breached: true,
    });
    await sql`update tickets set resolution_breached_at = now() where id = ${ticket.id}`;
    const swept = await get(admin.token, ticket.id);
    expect(swept.sla.resolution).toMatchObject({ status: "breached", breached: true });
    expect(swept.sla.resolution.breachedAt).not.toBeNull();
  });

  it("is what the chat handover calls: system actor, chat channel, transcript as an internal note", async () => {
    const admin = await signedInUser({ superuser: true });
    const ctx = testContext();
    ctx.tenantId = admin.tenant.id;
    ctx.actor = { type: "system", name: "chat" };
    const chatSessionId = crypto.randomUUID();
    const ticket = await createTicket({
      ctx,
      input: {
        subject: "Chat with Ava",
        description: "Chat handed over to a human: the customer asked for a human.",
        channel: "chat",
        requester: { email: "ava@example.com", name: "Ava" },
        chatSessionId,
        tags: ["chat"],
      },
    });
    const comment = await addTicketComment({
      ctx,
      input: {
        ticketId: ticket.id,
        body: "Ava: where is my parcel?\nBot: let me check…",
        public: false,
        author: { type: "system", name: "chat" },
      },
    });
    await ctx.settle();
    expect(ticket).toMatchObject({
      channel: "chat",
      chatSessionId,
      createdBy: { type: "system", name: "chat" },
    });
    expect(comment).toMatchObject({
      public: false,
      author: { type: "system", userId: null, name: "chat", email: null },
    });
    const rows = await ownerSql()`
      select entity_type, action, actor_key, request_id from audit_log
       where tenant_id = ${admin.tenant.id} order by occurred_at, id`;
    expect(rows).toEqual([
      { entity_type: "ticket", action: "created", actor_key: "system:chat", request_id: null },
      { entity_type: "ticket_comment", action: "commented", actor_key: "system:chat", request_id: null },
    ]);

    // Without an actor (or a principal) nothing is written.
    const anonymous = testContext();
    anonymous.tenantId = admin.tenant.id;
    await expect(
      createTicket({ ctx: anonymous, input: { subject: "x", channel: "api", requester: {} } }),
    ).rejects.toThrow("Authentication required");
  });

  it("lists the conversation oldest first, cursor-paged, replies or notes only", async () => {
    const admin = await signedInUser({ superuser: true });
    const ticket = await openTicket(admin.token);
    for (const [body, isPublic] of [
      ["one", true],
      ["two (note)", false],
      ["three", true],
      ["four (note)", false],
      ["five", true],
    ] as const) {
      await api(admin.token, "POST", `${TICKETS}/${ticket.id}/comments`, { body, public: isPublic });
    }
    type CommentPage = { items: Array<{ body: string; public: boolean }>; nextCursor: string | null };
    const first = await api<CommentPage>(admin.token, "GET", `${TICKETS}/${ticket.id}/comments?limit=2`);
    expect(first.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    expect(first.body.data?.items.map((c) => c.body)).toEqual(["one", "two (note)"]);
    const second = await api<CommentPage>(
      admin.token,
      "GET",
      `${TICKETS}/${ticket.id}/comments?limit=2&cursor=${first.body.data?.nextCursor}`,
    );
    expect(second.body.data?.items.map((c) => c.body)).toEqual(["three", "four (note)"]);
    const last = await api<CommentPage>(
      admin.token,
      "GET",
      `${TICKETS}/${ticket.id}/comments?limit=2&cursor=${second.body.data?.nextCursor}`,
    );
    expect(last.body.data).toMatchObject({ items: [{ body: "five" }], nextCursor: null });
    const replies = await api<CommentPage>(
      admin.token,
      "GET",
      `${TICKETS}/${ticket.id}/comments?public=true`,
    );
    expect(replies.body.data?.items.map((c) => c.body)).toEqual(["one", "three", "five"]);
    const notes = await api<CommentPage>(admin.token, "GET", `${TICKETS}/${ticket.id}/comments?public=false`);
    expect(notes.body.data?.items.map((c) => c.body)).toEqual(["two (note)", "four (note)"]);
    const missing = await api(admin.token, "GET", `${TICKETS}/${crypto.randomUUID()}/comments`);
    expect(missing.body.error).toEqual({ code: "NOT_FOUND", message: "Ticket not found" });
  });

  it("opens a ticket once per Idempotency-Key", async () => {
    const admin = await signedInUser({ superuser: true });
    const body = { subject: "Double click", channel: "web_form", requester: { email: "ava@example.com" } };
    const key = { "idempotency-key": crypto.randomUUID() };
    const first = await api<TicketBody>(admin.token, "POST", TICKETS, body, key);
    const again = await api<TicketBody>(admin.token, "POST", TICKETS, body, key);
    expect(first.status).toBe(201);
    expect(again.status).toBe(201);
    expect(again.headers.get("idempotent-replayed")).toBe("true");
    expect(again.body.data?.id).toBe(first.body.data?.id);
    const other = await api(admin.token, "POST", TICKETS, { ...body, subject: "Something else" }, key);
    expect(other.status).toBe(422);
    const rows = await ownerSql()`select number from tickets where tenant_id = ${admin.tenant.id}`;
    expect(rows).toEqual([{ number: "1" }]);
  });

  it("refuses an agent comment by a user who is not an active user of the tenant", async () => {
    const admin = await signedInUser({ superuser: true });
    const gone = await createUser(admin.tenant);
    await ownerSql()`update users set active = false where id = ${gone.id}`;
    const ticket = await openTicket(admin.token);
    const ctx = testContext();
    ctx.tenantId = admin.tenant.id;
    ctx.actor = { type: "system", name: "chat" };
    await expect(
      addTicketComment({
        ctx,
        input: { ticketId: ticket.id, body: "hi", public: true, author: { type: "agent", userId: gone.id } },
      }),
    ).rejects.toThrow("Invalid comment");
  });
});

async function get(token: string, id: string): Promise<TicketBody> {
  const response = await api<TicketBody>(token, "GET", `${TICKETS}/${id}`);
  if (response.status !== 200 || !response.body.data) throw new Error(`get: ${response.status}`);
  return response.body.data;
}

async function patch(token: string, id: string, body: Record<string, unknown>): Promise<TicketBody> {
  const response = await api<TicketBody>(token, "PATCH", `${TICKETS}/${id}`, body);
  if (response.status !== 200 || !response.body.data) {
    throw new Error(`patch: ${response.status} ${JSON.stringify(response.body.error)}`);
  }
  return response.body.data;
}
