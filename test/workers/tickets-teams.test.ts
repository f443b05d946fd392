// Support teams: CRUD with the business calendar (IANA timezone, weekly hours, holidays), assignment strategy
// and SLA policy; members (active users of the tenant only) and availability; deletion rules; and the
// security of the tickets and teams APIs (401, 403, another tenant's ids → 404).
import { describe, expect, it } from "vitest";
import { createUser, signedInUser } from "../support/auth";
import { call, ownerSql } from "../support/harness";
import {
  agents,
  api,
  auditRowsOf,
  createTeam,
  openTicket,
  setMembers,
  signedInAgent,
  slaPolicy,
  TEAMS,
  type TeamBody,
  TICKETS,
  type TicketBody,
} from "../support/tickets";

const closed: [string, string][] = [];

describe("support teams", { timeout: 60_000 }, () => {
  it("creates, reads, lists, changes and deletes a team with its calendar", async () => {
    const admin = await signedInUser({ superuser: true });
    const policy = await slaPolicy(admin.tenant);
    const team = await createTeam(admin.token, {
      name: "EU support",
      description: "Berlin office",
      timezone: "Europe/Berlin",
      businessHours: {
        mon: [["09:00", "18:00"]],
        fri: [
          ["09:00", "13:00"],
          ["14:00", "17:00"],
        ],
      },
      holidays: ["2026-12-26", "2026-12-25", "2026-12-25"],
      assignmentStrategy: "round_robin",
      slaPolicyId: policy,
    });
    expect(team).toMatchObject({
      name: "EU support",
      timezone: "Europe/Berlin",
      businessHours: {
        mon: [["09:00", "18:00"]],
        tue: closed,
        wed: closed,
        thu: closed,
        fri: [
          ["09:00", "13:00"],
          ["14:00", "17:00"],
        ],
        sat: closed,
        sun: closed,
      },
      holidays: ["2026-12-25", "2026-12-26"],
      assignmentStrategy: "round_robin",
      slaPolicy: { id: policy },
      members: [],
      activeTickets: 0,
    });
    const other = await createTeam(admin.token, { name: "APAC support" });
    expect(other).toMatchObject({
      timezone: "UTC",
      businessHours: null,
      holidays: [],
      assignmentStrategy: "manual",
      slaPolicy: null,
    });

    const listed = await api<{ items: TeamBody[] }>(admin.token, "GET", TEAMS);
    expect(listed.body.data?.items.map((t) => t.name)).toEqual(["APAC support", "EU support"]);
    const changed = await api<TeamBody>(admin.token, "PATCH", `${TEAMS}/${team.id}`, {
      businessHours: null,
      slaPolicyId: null,
      assignmentStrategy: "least_loaded",
    });
    expect(changed.body.data).toMatchObject({
      businessHours: null,
      slaPolicy: null,
      assignmentStrategy: "least_loaded",
    });
    expect((await auditRowsOf(admin.tenant.id, team.id)).at(-1)?.changes).toEqual({
      businessHours: { before: team.businessHours, after: null },
      slaPolicyId: { before: policy, after: null },
      assignmentStrategy: { before: "round_robin", after: "least_loaded" },
    });

    const deleted = await api(admin.token, "DELETE", `${TEAMS}/${other.id}`);
    expect(deleted.body.data).toEqual({ deleted: true, detachedTickets: 0 });
    expect((await api(admin.token, "GET", `${TEAMS}/${other.id}`)).status).toBe(404);
  });

  it("refuses unknown timezones, malformed hours and dates, unknown policies and taken names", async () => {
    const admin = await signedInUser({ superuser: true });
    const bad = async (body: Record<string, unknown>) => {
      const response = await api(admin.token, "POST", TEAMS, { name: "Team", ...body });
      return { status: response.status, error: response.body.error };
    };
    expect(await bad({ timezone: "Mars/Olympus_Mons" })).toEqual({
      status: 422,
      error: {
        code: "VALIDATION_ERROR",
        message: "Invalid request body",
        details: { timezone: ["unknown IANA timezone"] },
      },
    });
    const hours = await bad({ businessHours: { mon: [["25:00", "26:00"]], funday: [] } });
    expect(hours.status).toBe(422);
    expect(Object.keys(hours.error?.details ?? {}).sort()).toEqual([
      "businessHours",
      "businessHours.mon.0.0",
      "businessHours.mon.0.1",
    ]);
    expect((await bad({ holidays: ["2026-02-30"] })).error?.details).toEqual({
      "holidays.0": ["holidays are local dates YYYY-MM-DD"],
    });
    const otherTenantPolicy = await slaPolicy((await signedInUser()).tenant);
    expect(await bad({ slaPolicyId: otherTenantPolicy })).toEqual({
      status: 422,
      error: {
        code: "VALIDATION_ERROR",
        message: "Unknown SLA policy",
        details: { slaPolicyId: ["No such SLA policy in this tenant"] },
      },
    });
    await createTeam(admin.token, { name: "Returns" });
    expect(await bad({ name: "RETURNS" })).toEqual({
      status: 409,
      error: {
        code: "CONFLICT",
        message: "A support team with this name already exists",
        details: { field: "name" },
      },
    });
  });

  it("sets members (active users of the tenant only) in rotation order and keeps availability on reorder", async () => {
    const admin = await signedInUser({ superuser: true });
    const [a1, a2, a3] = await agents(admin.tenant, 3);
    if (!a1 || !a2 || !a3) throw new Error("agents");
    const team = await createTeam(admin.token);
    const set = await setMembers(admin.token, team.id, [
      { userId: a2.id, maxOpenTickets: 5 },
      { userId: a1.id, available: false },
    ]);
    expect(set.members.map((m) => [m.userId, m.position, m.available, m.maxOpenTickets])).toEqual([
      [a2.id, 0, true, 5],
      [a1.id, 1, false, null],
    ]);
    const reordered = await setMembers(admin.token, team.id, [
      { userId: a1.id },
      { userId: a3.id },
      { userId: a2.id },
    ]);
    expect(reordered.members.map((m) => [m.userId, m.position, m.available, m.maxOpenTickets])).toEqual([
      [a1.id, 0, false, null],
      [a3.id, 1, true, null],
      [a2.id, 2, true, 5],
    ]);

    const outsider = await signedInUser();
    const inactive = await createUser(admin.tenant);
    await ownerSql()`update users set active = false where id = ${inactive.id}`;
    const refused = await api(admin.token, "PUT", `${TEAMS}/${team.id}/members`, {
      members: [
        { userId: a1.id },
        { userId: outsider.id },
        { userId: inactive.id },
        { userId: crypto.randomUUID() },
      ],
    });
    expect(refused.status).toBe(422);
    expect(refused.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Unknown members",
      details: {
        "members.1.userId": ["No active user with this id in this tenant"],
        "members.2.userId": ["No active user with this id in this tenant"],
        "members.3.userId": ["No active user with this id in this tenant"],
      },
    });
    const twice = await api(admin.token, "PUT", `${TEAMS}/${team.id}/members`, {
      members: [{ userId: a1.id }, { userId: a1.id }],
    });
    expect(twice.body.error?.details).toEqual({ "members.1.userId": ["Listed twice"] });
    const audit = await auditRowsOf(admin.tenant.id, team.id);
    expect(audit.map((r) => r.action)).toEqual(["created", "members_changed", "members_changed"]);
  });

  it("lets agents set their own availability; others need tickets:admin", async () => {
    const admin = await signedInUser({ superuser: true });
    const me = await signedInAgent(admin.tenant);
    const [colleague] = await agents(admin.tenant, 1);
    if (!colleague) throw new Error("agent");
    const team = await createTeam(admin.token);
    await setMembers(admin.token, team.id, [{ userId: me.id }, { userId: colleague.id }]);

    const away = await api<TeamBody>(me.token, "PATCH", `${TEAMS}/${team.id}/members/${me.id}`, {
      available: false,
    });
    expect(away.status).toBe(200);
    expect(away.body.data?.members.find((m) => m.userId === me.id)?.available).toBe(false);
    const notMine = await api(me.token, "PATCH", `${TEAMS}/${team.id}/members/${colleague.id}`, {
      available: false,
    });
    expect(notMine.status).toBe(403);
    expect(notMine.body.error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission tickets:admin",
      details: { permission: "tickets:admin" },
    });
    const stranger = await createUser(admin.tenant);
    const notMember = await api(admin.token, "PATCH", `${TEAMS}/${team.id}/members/${stranger.id}`, {
      available: true,
    });
    expect(notMember.status).toBe(404);
    expect(notMember.body.error).toEqual({
      code: "NOT_FOUND",
      message: "This user is not a member of the team",
    });
    const audit = await auditRowsOf(admin.tenant.id, team.id);
    expect(audit.at(-1)?.changes).toEqual({ [`members.${me.id}.available`]: { before: true, after: false } });
  });

  it("refuses to delete a team with active tickets; keeps its solved tickets without a team", async () => {
    const admin = await signedInUser({ superuser: true });
    const team = await createTeam(admin.token);
    const ticket = await openTicket(admin.token, { teamId: team.id });
    const refused = await api(admin.token, "DELETE", `${TEAMS}/${team.id}`);
    expect(refused.status).toBe(409);
    expect(refused.body.error).toEqual({
      code: "CONFLICT",
      message: "The team still has 1 open, pending or on-hold tickets; move them to another team first",
      details: { activeTickets: 1 },
    });
    await api(admin.token, "PATCH", `${TICKETS}/${ticket.id}`, { status: "closed" });
    const deleted = await api(admin.token, "DELETE", `${TEAMS}/${team.id}`);
    expect(deleted.body.data).toEqual({ deleted: true, detachedTickets: 1 });
    const after = await api<TicketBody>(admin.token, "GET", `${TICKETS}/${ticket.id}`);
    expect(after.body.data).toMatchObject({ team: null, status: "closed" });
    expect((await auditRowsOf(admin.tenant.id, ticket.id)).at(-1)?.changes).toEqual({
      teamId: { before: team.id, after: null },
    });
    expect((await auditRowsOf(admin.tenant.id, team.id)).map((r) => r.action)).toEqual([
      "created",
      "deleted",
    ]);
  });

  it("a new team policy recomputes the due times of the team's open tickets", async () => {
    const admin = await signedInUser({ superuser: true });
    await slaPolicy(admin.tenant, { isDefault: true });
    const faster = await slaPolicy(admin.tenant, {
      targets: { normal: { firstResponseMinutes: 30, resolutionMinutes: 240 } },
    });
    const team = await createTeam(admin.token);
    const ticket = await openTicket(admin.token, { teamId: team.id });
    await api(admin.token, "PATCH", `${TEAMS}/${team.id}`, { slaPolicyId: faster });
    const after = await api<TicketBody>(admin.token, "GET", `${TICKETS}/${ticket.id}`);
    expect(after.body.data?.sla.policyId).toBe(faster);
    const fromCreation =
      Date.parse(after.body.data?.sla.firstResponse.dueAt ?? "") - Date.parse(ticket.createdAt);
    expect(Math.abs(fromCreation - 30 * 60_000)).toBeLessThanOrEqual(1000);
  });
});

describe("tickets and teams API security", { timeout: 60_000 }, () => {
  it("401 without a token, 403 without the permission, 404 for another tenant's ids", async () => {
    const admin = await signedInUser({ superuser: true });
    const reader = await signedInAgent(admin.tenant, ["tickets:read"]);
    const nobody = await signedInAgent(admin.tenant, ["orders:read"]);
    const ticket = await openTicket(admin.token);
    const team = await createTeam(admin.token);

    const routes: Array<[string, string, unknown, "read" | "write" | "admin"]> = [
      ["GET", TICKETS, undefined, "read"],
      ["POST", TICKETS, { subject: "x", channel: "api", requester: {} }, "write"],
      ["GET", `${TICKETS}/${ticket.id}`, undefined, "read"],
      ["PATCH", `${TICKETS}/${ticket.id}`, { priority: "high" }, "write"],
      ["GET", `${TICKETS}/${ticket.id}/comments`, undefined, "read"],
      ["POST", `${TICKETS}/${ticket.id}/comments`, { body: "x" }, "write"],
      ["POST", `${TICKETS}/${ticket.id}/assign`, { assigneeId: null }, "write"],
      ["GET", `${TICKETS}/${ticket.id}/audit`, undefined, "read"],
      ["GET", TEAMS, undefined, "read"],
      ["POST", TEAMS, { name: "x" }, "admin"],
      ["GET", `${TEAMS}/${team.id}`, undefined, "read"],
      ["PATCH", `${TEAMS}/${team.id}`, { name: "y" }, "admin"],
      ["DELETE", `${TEAMS}/${team.id}`, undefined, "admin"],
      ["PUT", `${TEAMS}/${team.id}/members`, { members: [] }, "admin"],
      ["PATCH", `${TEAMS}/${team.id}/members/${admin.id}`, { available: false }, "write"],
    ];
    for (const [method, path, body, level] of routes) {
      const anonymous = await call(path, {
        method,
        headers: { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      expect(anonymous.status, `${method} ${path}`).toBe(401);
      expect((await api(nobody.token, method, path, body)).status, `${method} ${path}`).toBe(403);
      if (level !== "read") {
        const denied = await api(reader.token, method, path, body);
        expect(denied.status, `${method} ${path}`).toBe(403);
        expect(denied.body.error?.code).toBe("FORBIDDEN");
      }
    }

    const other = await signedInUser({ superuser: true });
    for (const [method, path, body] of routes.filter(
      ([, path]) => path.includes(ticket.id) || path.includes(team.id),
    )) {
      const response = await api(other.token, method, path, body);
      expect(response.status, `${method} ${path}`).toBe(404);
    }
    // Nothing of the first tenant changed.
    const [row] = await ownerSql()`select version from tickets where id = ${ticket.id}`;
    expect(row?.version).toBe(1);
    expect((await api<TeamBody>(admin.token, "GET", `${TEAMS}/${team.id}`)).body.data?.name).toBe(team.name);
  });
});
