// The audit log: written in the same transaction as the change (a change that fails leaves neither the
// change nor its row — a constraint violation, a failing statement later in the same transaction, a failing
// part of one statement), queryable per ticket and per actor with cursors, and the recent-activity feed from
// Redis with its Postgres fallback when Redis is down.
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { pgErrorOf } from "../../src/db/errors";
import { tenantBatch } from "../../src/db/tenant";
import { signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, DEAD_REDIS_URL, envelope, ownerSql } from "../support/harness";
import {
  type AuditBody,
  api,
  auditRowsOf,
  createTeam,
  openTicket,
  orderOf,
  signedInAgent,
  slaPolicy,
  TEAMS,
  TICKETS,
  type TicketBody,
} from "../support/tickets";

const AUDIT = "/api/v1/audit";

interface AuditPage {
  items: AuditBody[];
  nextCursor: string | null;
}

/**
 * A trigger, for one tenant only, that makes `event` on `table` fail with `sqlstate`: a failure inside the
 * change's transaction that the API cannot provoke on purpose. Removed by the returned function.
 */
async function failingTrigger(tenantId: string, table: string, event: string, sqlstate: string) {
  const name = `test_fail_${crypto.randomUUID().replace(/-/g, "").slice(0, 12)}`;
  const sql = ownerSql();
  await sql.query(`
    create function ${name}() returns trigger language plpgsql as $$
    begin raise exception 'injected failure' using errcode = '${sqlstate}'; end $$`);
  await sql.query(`
    create trigger ${name} before ${event} on ${table} for each row
      when (new.tenant_id = '${tenantId}'::uuid) execute function ${name}()`);
  return async () => {
    await sql.query(`drop trigger ${name} on ${table}`);
    await sql.query(`drop function ${name}()`);
  };
}

describe("audit rows commit or roll back with their change", { timeout: 60_000 }, () => {
  it("a constraint violation (a team renamed to a taken name) leaves neither the rename nor an audit row", async () => {
    const admin = await signedInUser({ superuser: true });
    await createTeam(admin.token, { name: "Returns" });
    const team = await createTeam(admin.token, { name: "Shipping" });
    const rename = await api(admin.token, "PATCH", `${TEAMS}/${team.id}`, {
      name: "returns",
      timezone: "Europe/Paris",
    });
    expect(rename.status).toBe(409);
    expect(rename.body.error).toEqual({
      code: "CONFLICT",
      message: "A support team with this name already exists",
      details: { field: "name" },
    });
    const [row] = await ownerSql()`select name, timezone from support_teams where id = ${team.id}`;
    expect(row).toEqual({ name: "Shipping", timezone: "UTC" });
    expect((await auditRowsOf(admin.tenant.id, team.id)).map((r) => r.action)).toEqual(["created"]);
  });

  it("a statement failing later in the transaction rolls back the team change and its audit row", async () => {
    const admin = await signedInUser({ superuser: true });
    await slaPolicy(admin.tenant, { isDefault: true, businessHoursOnly: true });
    const nineToFive = [["09:00", "17:00"]];
    const team = await createTeam(admin.token, {
      name: "Night shift",
      businessHours: { mon: nineToFive, tue: nineToFive, wed: nineToFive, thu: nineToFive, fri: nineToFive },
    });
    const ticket = await openTicket(admin.token, { teamId: team.id });
    expect(ticket.sla.firstResponse.dueAt).not.toBeNull();
    // The team update and its audit row run first; the recompute of its tickets then fails.
    const remove = await failingTrigger(admin.tenant.id, "tickets", "update", "P0001");
    try {
      const response = await api(admin.token, "PATCH", `${TEAMS}/${team.id}`, { timezone: "Asia/Tokyo" });
      expect(response.status).toBe(500);
      expect(response.body.error).toEqual({ code: "INTERNAL_ERROR", message: "Internal server error" });
    } finally {
      await remove();
    }
    const [row] = await ownerSql()`select timezone from support_teams where id = ${team.id}`;
    expect(row?.timezone).toBe("UTC");
    expect((await auditRowsOf(admin.tenant.id, team.id)).map((r) => r.action)).toEqual(["created"]);
    expect((await auditRowsOf(admin.tenant.id, ticket.id)).map((r) => r.action)).toEqual(["created"]);
    // Without the fault the same change goes through, with its rows.
    const ok = await api(admin.token, "PATCH", `${TEAMS}/${team.id}`, { timezone: "Asia/Tokyo" });
    expect(ok.status).toBe(200);
    expect((await auditRowsOf(admin.tenant.id, team.id)).map((r) => r.action)).toEqual([
      "created",
      "updated",
    ]);
  });

  it("a reply whose insert fails leaves the ticket as it was: no first response, no version, no audit rows", async () => {
    const admin = await signedInUser({ superuser: true });
    const ticket = await openTicket(admin.token);
    const remove = await failingTrigger(admin.tenant.id, "ticket_comments", "insert", "23514");
    try {
      const response = await api(admin.token, "POST", `${TICKETS}/${ticket.id}/comments`, {
        body: "We are on it",
      });
      expect(response.status).toBe(422);
      expect(response.body.error).toEqual({
        code: "VALIDATION_ERROR",
        message: "The request refers to or sets invalid data",
      });
    } finally {
      await remove();
    }
    const [row] = await ownerSql()`select first_responded_at, version from tickets where id = ${ticket.id}`;
    expect(row).toEqual({ first_responded_at: null, version: 1 });
    const rows = await ownerSql()`select action from audit_log where tenant_id = ${admin.tenant.id}`;
    expect(rows.map((r) => r.action)).toEqual(["created"]);
  });

  it("a ticket whose order link fails is not created, numbered or audited", async () => {
    const admin = await signedInUser({ superuser: true });
    const order = await orderOf(admin.tenant, admin.token);
    const remove = await failingTrigger(admin.tenant.id, "ticket_orders", "insert", "P0001");
    try {
      const response = await api(admin.token, "POST", TICKETS, {
        subject: "Damaged",
        channel: "email",
        requester: {},
        orderIds: [order],
      });
      expect(response.status).toBe(500);
    } finally {
      await remove();
    }
    const sql = ownerSql();
    expect(await sql`select id from tickets where tenant_id = ${admin.tenant.id}`).toEqual([]);
    expect(await sql`select id from audit_log where tenant_id = ${admin.tenant.id}`).toEqual([]);
    expect((await openTicket(admin.token, { orderIds: [order] })).number).toBe(1);
  });
});

describe("the audit log is append-only", { timeout: 60_000 }, () => {
  it("the app can add rows but never edit or erase one, even its own tenant's", async () => {
    const admin = await signedInUser({ superuser: true });
    const ticket = await openTicket(admin.token);
    const t = admin.tenant.id;
    const db = testContext().db.http;
    for (const [what, statement] of [
      ["update", sql`update audit_log set action = 'nothing happened' where tenant_id = ${t}`],
      ["delete", sql`delete from audit_log where tenant_id = ${t}`],
      ["truncate", sql`truncate audit_log`],
    ] as const) {
      const refused = await tenantBatch(db, t, (tx) => [tx.execute(statement)]).then(
        () => null,
        (error: unknown) => error,
      );
      // 42501 insufficient_privilege: the app role holds no UPDATE, DELETE or TRUNCATE on the table.
      expect(pgErrorOf(refused)?.code, what).toBe("42501");
    }
    expect((await auditRowsOf(t, ticket.id)).map((r) => r.action)).toEqual(["created"]);
  });
});

describe("querying the audit log", { timeout: 60_000 }, () => {
  it("per actor, per entity and per ticket, newest first, cursor-paged without gaps or repeats", async () => {
    const admin = await signedInUser({ superuser: true });
    const agent = await signedInAgent(admin.tenant);
    const ticket = await openTicket(admin.token, { subject: "First" });
    await api(agent.token, "PATCH", `${TICKETS}/${ticket.id}`, { priority: "high" });
    await api(agent.token, "POST", `${TICKETS}/${ticket.id}/comments`, { body: "On it" });
    await api(agent.token, "PATCH", `${TICKETS}/${ticket.id}`, { status: "pending" });
    const team = await createTeam(admin.token);

    const byAgent = await api<AuditPage>(admin.token, "GET", `${AUDIT}?actor=user:${agent.id}`);
    expect(byAgent.body.data?.items.map((r) => `${r.entityType}:${r.action}`)).toEqual([
      "ticket:updated",
      "ticket:updated",
      "ticket_comment:commented",
      "ticket:updated",
    ]);
    expect(byAgent.body.data?.items.every((r) => r.actor.userId === agent.id)).toBe(true);
    expect(byAgent.body.data?.items[3]?.changes.priority).toEqual({ before: "normal", after: "high" });
    const teams = await api<AuditPage>(admin.token, "GET", `${AUDIT}?entity=support_team`);
    expect(teams.body.data?.items.map((r) => [r.entityId, r.action])).toEqual([[team.id, "created"]]);
    const one = await api<AuditPage>(
      admin.token,
      "GET",
      `${AUDIT}?entity=ticket&entityId=${ticket.id}&action=updated`,
    );
    expect(one.body.data?.items).toHaveLength(3);

    // Page through everything two at a time.
    const seen: string[] = [];
    let cursor: string | null = "";
    while (cursor !== null) {
      const page: { body: { data?: AuditPage } } = await api<AuditPage>(
        admin.token,
        "GET",
        `${AUDIT}?limit=2${cursor ? `&cursor=${cursor}` : ""}`,
      );
      seen.push(...(page.body.data?.items.map((r) => r.id) ?? []));
      cursor = page.body.data?.nextCursor ?? null;
    }
    const all =
      await ownerSql()`select id from audit_log where tenant_id = ${admin.tenant.id} order by occurred_at desc, id desc`;
    expect(seen).toEqual(all.map((r) => r.id));

    // The ticket's own history (its comments included), paged the same way.
    const first = await api<AuditPage>(agent.token, "GET", `${TICKETS}/${ticket.id}/audit?limit=3`);
    expect(first.body.data?.items.map((r) => r.action)).toEqual(["updated", "updated", "commented"]);
    const rest = await api<AuditPage>(
      agent.token,
      "GET",
      `${TICKETS}/${ticket.id}/audit?limit=3&cursor=${first.body.data?.nextCursor}`,
    );
    expect(rest.body.data).toEqual({
      items: [expect.objectContaining({ action: "updated" }), expect.objectContaining({ action: "created" })],
      nextCursor: null,
    });
  });

  it("needs tickets:admin for the log, tickets:read for a ticket's history and the feed; refuses bad filters", async () => {
    const admin = await signedInUser({ superuser: true });
    const reader = await signedInAgent(admin.tenant, ["tickets:read"]);
    const ticket = await openTicket(admin.token);
    const denied = await api(reader.token, "GET", AUDIT);
    expect(denied.status).toBe(403);
    expect(denied.body.error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission tickets:admin",
      details: { permission: "tickets:admin" },
    });
    expect((await api(reader.token, "GET", `${TICKETS}/${ticket.id}/audit`)).status).toBe(200);
    expect((await api(reader.token, "GET", `${AUDIT}/recent`)).status).toBe(200);
    expect((await call(AUDIT)).status).toBe(401);

    const badActor = await api(admin.token, "GET", `${AUDIT}?actor=root`);
    expect(badActor.status).toBe(422);
    expect(badActor.body.error?.details).toEqual({
      actor: ["Use user:<id>, apiKey:<id>, system:<name> or webhook:<source>"],
    });
    const badCursor = await api(admin.token, "GET", `${AUDIT}?cursor=bm9wZQ`);
    expect(badCursor.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid cursor",
      details: { cursor: ["Use the nextCursor of a previous page"] },
    });
    const missing = await api(admin.token, "GET", `${TICKETS}/${crypto.randomUUID()}/audit`);
    expect(missing.status).toBe(404);
    expect(missing.body.error).toEqual({ code: "NOT_FOUND", message: "Ticket not found" });
  });
});

describe("recent activity feed", { timeout: 60_000 }, () => {
  it("comes from Redis, newest first, matching Postgres; a longer request than Redis holds reads Postgres", async () => {
    const admin = await signedInUser({ superuser: true });
    const ticket = await openTicket(admin.token);
    await api(admin.token, "PATCH", `${TICKETS}/${ticket.id}`, { priority: "urgent" });
    await api(admin.token, "POST", `${TICKETS}/${ticket.id}/comments`, { body: "Looking now" });

    const newest = await ownerSql()`
      select id from audit_log where tenant_id = ${admin.tenant.id} order by occurred_at desc, id desc`;
    const cached = await api<{ items: AuditBody[]; source: string }>(
      admin.token,
      "GET",
      `${AUDIT}/recent?limit=3`,
    );
    expect(cached.body.data?.source).toBe("cache");
    expect(cached.body.data?.items.map((r) => r.id)).toEqual(newest.slice(0, 3).map((r) => r.id));
    expect(cached.headers.get("server-timing")).toMatch(/db;dur=[\d.]+;desc="0 rt"/);
    const longer = await api<{ items: AuditBody[]; source: string }>(
      admin.token,
      "GET",
      `${AUDIT}/recent?limit=50`,
    );
    expect(longer.body.data?.source).toBe("database");
    expect(longer.body.data?.items.map((r) => r.id)).toEqual(newest.map((r) => r.id));
  });

  it("with Redis down: changes still succeed with their audit rows, and the feed is served from Postgres", async () => {
    const admin = await signedInUser({ superuser: true });
    const noRedis = { UPSTASH_REDIS_REST_URL: DEAD_REDIS_URL };
    const created = await call(
      TICKETS,
      {
        method: "POST",
        headers: { authorization: `Bearer ${admin.token}`, "content-type": "application/json" },
        body: JSON.stringify({ subject: "Redis is down", channel: "api", requester: {} }),
      },
      noRedis,
    );
    expect(created.status).toBe(201);
    const ticket = (await envelope<TicketBody>(created)).data;
    expect((await auditRowsOf(admin.tenant.id, ticket?.id ?? "")).map((r) => r.action)).toEqual(["created"]);

    const feed = await call(
      `${AUDIT}/recent?limit=1`,
      { headers: { authorization: `Bearer ${admin.token}` } },
      noRedis,
    );
    expect(feed.status).toBe(200);
    const body = await envelope<{ items: AuditBody[]; source: string }>(feed);
    expect(body.data?.source).toBe("database");
    expect(body.data?.items.map((r) => [r.entityId, r.action])).toEqual([[ticket?.id, "created"]]);
  });
});
