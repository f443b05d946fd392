// GET /api/v1/tickets: every filter (alone and combined), full-text search and requester email, sorting,
// page pagination, one Postgres round trip, and the exact errors for bad parameters.
import { describe, expect, it } from "vitest";
import { signedInUser } from "../support/auth";
import { ownerSql } from "../support/harness";
import {
  agents,
  api,
  apiKeyFor,
  createTeam,
  openTicket,
  signedInAgent,
  slaPolicy,
  TICKETS,
  type TicketBody,
} from "../support/tickets";

interface Page {
  items: TicketBody[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

const ONE_DB_ROUND_TRIP = /(^|, )db;dur=[\d.]+;desc="1 rt"/;

async function list(token: string, query: string) {
  const response = await api<Page>(token, "GET", `${TICKETS}${query}`);
  if (response.status !== 200 || !response.body.data) {
    throw new Error(`list ${query}: ${response.status} ${JSON.stringify(response.body.error)}`);
  }
  return response.body.data;
}

const subjects = (page: Page) => page.items.map((t) => t.subject).sort();

describe("GET /api/v1/tickets", { timeout: 60_000 }, () => {
  it("filters by status, priority, channel, assignee (id, me, none), team (id, none) and tags", async () => {
    const admin = await signedInUser({ superuser: true });
    const me = await signedInAgent(admin.tenant);
    const [other] = await agents(admin.tenant, 1);
    if (!other) throw new Error("agent");
    const team = await createTeam(admin.token);
    const open = await openTicket(admin.token, {
      subject: "A open urgent",
      priority: "urgent",
      assigneeId: me.id,
      tags: ["vip", "refund"],
    });
    const pending = await openTicket(admin.token, {
      subject: "B pending",
      channel: "chat",
      assigneeId: other.id,
      tags: ["vip"],
    });
    await api(admin.token, "PATCH", `${TICKETS}/${pending.id}`, { status: "pending" });
    const solved = await openTicket(admin.token, {
      subject: "C solved",
      channel: "web_form",
      teamId: team.id,
      tags: ["refund"],
    });
    await api(admin.token, "PATCH", `${TICKETS}/${solved.id}`, { status: "solved" });
    await openTicket(admin.token, { subject: "D low api", priority: "low", channel: "api" });
    expect(open.number).toBe(1);

    expect(subjects(await list(admin.token, "?status=pending"))).toEqual(["B pending"]);
    expect(subjects(await list(admin.token, "?status=pending&status=solved"))).toEqual([
      "B pending",
      "C solved",
    ]);
    expect(subjects(await list(admin.token, "?status=open,solved"))).toEqual([
      "A open urgent",
      "C solved",
      "D low api",
    ]);
    expect(subjects(await list(admin.token, "?priority=urgent,low"))).toEqual(["A open urgent", "D low api"]);
    expect(subjects(await list(admin.token, "?channel=chat&channel=web_form"))).toEqual([
      "B pending",
      "C solved",
    ]);
    expect(subjects(await list(me.token, "?assignee=me"))).toEqual(["A open urgent"]);
    expect(subjects(await list(admin.token, `?assignee=${other.id}`))).toEqual(["B pending"]);
    expect(subjects(await list(admin.token, "?assignee=none"))).toEqual(["C solved", "D low api"]);
    expect(subjects(await list(admin.token, `?team=${team.id}`))).toEqual(["C solved"]);
    expect(subjects(await list(admin.token, "?team=none"))).toEqual([
      "A open urgent",
      "B pending",
      "D low api",
    ]);
    expect(subjects(await list(admin.token, "?tag=vip"))).toEqual(["A open urgent", "B pending"]);
    expect(subjects(await list(admin.token, "?tag=VIP&tag=refund"))).toEqual(["A open urgent"]);
    expect(subjects(await list(admin.token, "?tag=vip&status=pending&assignee=none"))).toEqual([]);
  });

  it("searches subject and description by word prefixes, and the requester's email", async () => {
    const admin = await signedInUser({ superuser: true });
    await openTicket(admin.token, {
      subject: "Refund for order #1042",
      description: "The parcel arrived damaged",
      requester: { email: "ava.thompson@example.com" },
    });
    await openTicket(admin.token, {
      subject: "Where is my parcel?",
      description: "Tracking has not moved",
      requester: { email: "bo.li@example.org" },
    });
    await openTicket(admin.token, { subject: "Invoice copy", requester: { email: "carla@shop.example" } });

    expect(subjects(await list(admin.token, "?search=parcel"))).toEqual([
      "Refund for order #1042",
      "Where is my parcel?",
    ]);
    expect(subjects(await list(admin.token, "?search=refu%20ord"))).toEqual(["Refund for order #1042"]);
    expect(subjects(await list(admin.token, "?search=1042"))).toEqual(["Refund for order #1042"]);
    expect(subjects(await list(admin.token, "?search=DAMAGED"))).toEqual(["Refund for order #1042"]);
    expect(subjects(await list(admin.token, "?search=tracking%20moved"))).toEqual(["Where is my parcel?"]);
    expect(subjects(await list(admin.token, "?search=bo.li%40example"))).toEqual(["Where is my parcel?"]);
    expect(subjects(await list(admin.token, "?search=CARLA%40SHOP.EXAMPLE"))).toEqual(["Invoice copy"]);
    // tsquery syntax typed by a person is just words, never an error.
    expect(subjects(await list(admin.token, "?search=parcel%20%26%20!%3A*%20(")).sort()).toEqual([
      "Refund for order #1042",
      "Where is my parcel?",
    ]);
    expect((await list(admin.token, "?search=%26%26%26")).total).toBe(0);
    expect((await list(admin.token, "?search=nothing-like-this")).total).toBe(0);
  });

  it("finds a requester's email by prefix through an index (not by reading every ticket of the tenant)", async () => {
    const admin = await signedInUser({ superuser: true });
    await openTicket(admin.token, { requester: { email: "ava.thompson@example.com" } });
    expect(subjects(await list(admin.token, "?search=ava.thompson%40ex"))).toEqual(["Where is my order?"]);
    // The email half of the predicate as listTickets writes it, against a throw-away copy of `tickets` with
    // its indexes and enough rows of one tenant that the planner's choice is real: the prefix must become an
    // index range (`~>=~ … ~<~`), not a filter over every ticket of the tenant.
    const sql = ownerSql();
    const tenant = admin.tenant.id;
    const results = await sql.transaction([
      sql`create temp table tickets_probe (like tickets including defaults including indexes) on commit drop`,
      sql`insert into tickets_probe (tenant_id, number, subject, channel, requester_email)
          select ${tenant}, g, 'Where is my order?', 'email', 'customer' || g || '@example.com'
            from generate_series(1, 5000) g`,
      sql`analyze tickets_probe`,
      sql`explain select t.id from tickets_probe t
           where t.tenant_id = ${tenant} and lower(t.requester_email) like ${"customer123@ex%"}`,
    ]);
    const plan = (results.at(-1) as Array<Record<string, string>>).map((row) => Object.values(row).join(" "));
    expect(plan.join("\n")).toMatch(/Index Cond: .*lower\(requester_email\) ~>=~ 'customer123@ex'/);
  });

  it("sorts by update, creation, priority and next due time, and pages with totals in one round trip", async () => {
    const admin = await signedInUser({ superuser: true });
    await slaPolicy(admin.tenant, { isDefault: true });
    const low = await openTicket(admin.token, { subject: "low", priority: "low" });
    const urgent = await openTicket(admin.token, { subject: "urgent", priority: "urgent" });
    const normal = await openTicket(admin.token, { subject: "normal" });
    const high = await openTicket(admin.token, { subject: "high", priority: "high" });
    await api(admin.token, "PATCH", `${TICKETS}/${low.id}`, { tags: ["touched"] });

    const order = async (sort: string) =>
      (await list(admin.token, `?sort=${sort}`)).items.map((t) => t.subject);
    expect(await order("-updatedAt")).toEqual(["low", "high", "normal", "urgent"]);
    expect(await order("createdAt")).toEqual(["low", "urgent", "normal", "high"]);
    expect(await order("-createdAt")).toEqual(["high", "normal", "urgent", "low"]);
    expect(await order("-priority")).toEqual(["urgent", "high", "normal", "low"]);
    expect(await order("priority")).toEqual(["low", "normal", "high", "urgent"]);
    // Next due: urgent (15 min), high (1 h), normal (8 h), low (24 h).
    expect(await order("dueAt")).toEqual(["urgent", "high", "normal", "low"]);
    expect(await order("-dueAt")).toEqual(["low", "normal", "high", "urgent"]);
    expect([urgent, normal, high].every((t) => t.sla.firstResponse.dueAt !== null)).toBe(true);

    const response = await api<Page>(admin.token, "GET", `${TICKETS}?pageSize=3&page=2&sort=createdAt`);
    expect(response.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    expect(response.body.data).toMatchObject({ total: 4, page: 2, pageSize: 3, totalPages: 2 });
    expect(response.body.data?.items.map((t) => t.subject)).toEqual(["high"]);
  });

  it("answers bad parameters with 422 and `assignee=me` for an API key with a clear message", async () => {
    const admin = await signedInUser({ superuser: true });
    for (const query of [
      "?status=archived",
      "?priority=p1",
      "?assignee=someone",
      "?team=x",
      "?sort=name",
      "?pageSize=500",
      "?tag=",
    ]) {
      const response = await api(admin.token, "GET", `${TICKETS}${query}`);
      expect(response.status, query).toBe(422);
      expect(response.body.error?.code).toBe("VALIDATION_ERROR");
    }
    const key = await apiKeyFor(admin.token, ["tickets:read"]);
    const response = await api(key, "GET", `${TICKETS}?assignee=me`);
    expect(response.status).toBe(422);
    expect(response.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid query parameters",
      details: { assignee: ["`me` needs a signed-in user; an API key has no tickets of its own"] },
    });
  });
});
