// Assignment: manual, round robin and least loaded, proved under concurrency — concurrent hand-outs in a team
// never give two tickets the same turn nor skip an agent, and one ticket assigned concurrently ends with one
// assignee that matches its audit trail step by step.
import { describe, expect, it } from "vitest";
import { lockTeam, ticketTransaction } from "../../src/services/tickets/ticket-transaction";
import { signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { ownerSql } from "../support/harness";
import {
  agents,
  api,
  createTeam,
  openTicket,
  setMembers,
  TEAMS,
  type TeamBody,
  TICKETS,
  type TicketBody,
} from "../support/tickets";

async function assign(token: string, ticketId: string, body: Record<string, unknown>) {
  const response = await api<TicketBody>(token, "POST", `${TICKETS}/${ticketId}/assign`, body);
  if (response.status !== 200 || !response.body.data) {
    throw new Error(`assign: ${response.status} ${JSON.stringify(response.body.error)}`);
  }
  return response.body.data;
}

/** The tenant's `assigned` audit rows in the order they were written. */
async function assignments(tenantId: string) {
  return ownerSql()`
    select entity_id, changes from audit_log
     where tenant_id = ${tenantId} and action = 'assigned' order by occurred_at, id`;
}

function count(values: Array<string | null | undefined>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const value of values) counts[String(value)] = (counts[String(value)] ?? 0) + 1;
  return counts;
}

describe("concurrent assignment", { timeout: 60_000 }, () => {
  it("12 concurrent round-robin assignments of 12 tickets to a 4-member team give each agent exactly 3, in turn", async () => {
    const admin = await signedInUser({ superuser: true });
    const team = await createTeam(admin.token, { assignmentStrategy: "round_robin" });
    const four = await agents(admin.tenant, 4);
    await setMembers(
      admin.token,
      team.id,
      four.map((a) => ({ userId: a.id })),
    );
    const tickets = await Promise.all(
      Array.from({ length: 12 }, (_, i) => openTicket(admin.token, { subject: `Order ${i}` })),
    );

    const assigned = await Promise.all(
      tickets.map((t) => assign(admin.token, t.id, { teamId: team.id, strategy: "round_robin" })),
    );

    expect(count(assigned.map((t) => t.assignee?.id))).toEqual(
      Object.fromEntries(four.map((a) => [a.id, 3])),
    );
    expect(new Set(assigned.map((t) => t.id)).size).toBe(12);
    // In the order they committed, the turns went round: 1, 2, 3, 4, 1, 2, … — no turn given twice, none skipped.
    const rows = await assignments(admin.tenant.id);
    expect(rows).toHaveLength(12);
    const order = rows.map((r) => (r.changes as { assigneeId: { after: string } }).assigneeId.after);
    expect(order).toEqual([...four, ...four, ...four].map((a) => a.id));
    const [cursor] = await ownerSql()`select round_robin_cursor from support_teams where id = ${team.id}`;
    expect(Number(cursor?.round_robin_cursor)).toBe(4);
  });

  it("8 concurrent least-loaded assignments to a 4-member team give each agent 2", async () => {
    const admin = await signedInUser({ superuser: true });
    const team = await createTeam(admin.token, { assignmentStrategy: "least_loaded" });
    const four = await agents(admin.tenant, 4);
    await setMembers(
      admin.token,
      team.id,
      four.map((a) => ({ userId: a.id })),
    );
    const tickets = await Promise.all(Array.from({ length: 8 }, () => openTicket(admin.token)));

    const assigned = await Promise.all(tickets.map((t) => assign(admin.token, t.id, { teamId: team.id })));

    expect(count(assigned.map((t) => t.assignee?.id))).toEqual(
      Object.fromEntries(four.map((a) => [a.id, 2])),
    );
    const view = await api<TeamBody>(admin.token, "GET", `${TEAMS}/${team.id}`);
    expect(view.body.data?.members.map((m) => m.openTickets)).toEqual([2, 2, 2, 2]);
  });

  it("concurrent assignments of one ticket end with one assignee, the audit trail chaining each step", async () => {
    const admin = await signedInUser({ superuser: true });
    const four = await agents(admin.tenant, 4);
    const ticket = await openTicket(admin.token);

    const results = await Promise.all(
      [...four, ...four].map((agent) => assign(admin.token, ticket.id, { assigneeId: agent.id })),
    );
    expect(results).toHaveLength(8);

    const rows = await assignments(admin.tenant.id);
    const steps = rows.map(
      (r) => (r.changes as { assigneeId: { before: string | null; after: string } }).assigneeId,
    );
    // Each step starts from where the previous one left the ticket: no lost or interleaved update.
    expect(steps[0]?.before).toBeNull();
    for (let i = 1; i < steps.length; i++) expect(steps[i]?.before).toBe(steps[i - 1]?.after);
    const [final] = await ownerSql()`select assignee_id, version from tickets where id = ${ticket.id}`;
    expect(final?.assignee_id).toBe(steps.at(-1)?.after);
    // A no-op (the agent already had it) writes nothing; every real change is one version and one audit row.
    expect(Number(final?.version)).toBe(1 + steps.length);
  });

  it("concurrent round-robin assignments of one ticket rotate it through the team, consistently", async () => {
    const admin = await signedInUser({ superuser: true });
    const team = await createTeam(admin.token, { assignmentStrategy: "round_robin" });
    const three = await agents(admin.tenant, 3);
    await setMembers(
      admin.token,
      team.id,
      three.map((a) => ({ userId: a.id })),
    );
    const ticket = await openTicket(admin.token);

    await Promise.all(Array.from({ length: 6 }, () => assign(admin.token, ticket.id, { teamId: team.id })));

    const rows = await assignments(admin.tenant.id);
    const steps = rows.map(
      (r) => (r.changes as { assigneeId: { before: string | null; after: string } }).assigneeId,
    );
    expect(steps.map((s) => s.after)).toEqual([...three, ...three].map((a) => a.id));
    for (let i = 1; i < steps.length; i++) expect(steps[i]?.before).toBe(steps[i - 1]?.after);
    const current = await api<TicketBody>(admin.token, "GET", `${TICKETS}/${ticket.id}`);
    expect(current.body.data?.assignee?.id).toBe(three[2]?.id);
    expect(current.body.data?.team?.id).toBe(team.id);
  });

  it("teams that share an agent never hand them tickets past their cap, even all at once", async () => {
    const admin = await signedInUser({ superuser: true });
    const [agent] = await agents(admin.tenant, 1);
    if (!agent) throw new Error("agent");
    const teams = await Promise.all(
      Array.from({ length: 6 }, () => createTeam(admin.token, { assignmentStrategy: "least_loaded" })),
    );
    for (const team of teams)
      await setMembers(admin.token, team.id, [{ userId: agent.id, maxOpenTickets: 1 }]);
    const tickets = await Promise.all(teams.map(() => openTicket(admin.token)));

    // Six teams, each locking only itself, route a ticket to the same agent (cap 1) at the same moment.
    const assigned = await Promise.all(
      tickets.map((ticket, i) => assign(admin.token, ticket.id, { teamId: teams[i]?.id })),
    );

    expect(assigned.filter((t) => t.assignee?.id === agent.id)).toHaveLength(1);
    expect(assigned.filter((t) => t.assignee === null)).toHaveLength(5);
    const [load] = await ownerSql()`
      select count(*)::int as open from tickets where tenant_id = ${admin.tenant.id} and assignee_id = ${agent.id}`;
    expect(load?.open).toBe(1);
  });

  it("a hand-out holding its team does not hold up a ticket moving into the team", async () => {
    const admin = await signedInUser({ superuser: true });
    const team = await createTeam(admin.token, { assignmentStrategy: "round_robin" });
    const ticket = await openTicket(admin.token);
    // The ticket's foreign-key check on the team must not wait for the hand-out's lock: a hand-out goes on
    // to lock its ticket, and if that is this one, the two would deadlock.
    const moved = await ticketTransaction(testContext(), admin.tenant.id, async (tx) => {
      expect(await lockTeam(tx, admin.tenant.id, team.id, "update")).not.toBeNull();
      return api<TicketBody>(admin.token, "PATCH", `${TICKETS}/${ticket.id}`, { teamId: team.id });
    });
    expect(moved.status).toBe(200);
    expect(moved.body.data?.team?.id).toBe(team.id);
  });

  it("10 concurrent creations get ticket numbers 1 to 10", async () => {
    const admin = await signedInUser({ superuser: true });
    const created = await Promise.all(Array.from({ length: 10 }, () => openTicket(admin.token)));
    expect(created.map((t) => t.number).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe("assignment rules", { timeout: 60_000 }, () => {
  it("least loaded passes over away and full agents, breaks ties by who was assigned longest ago", async () => {
    const admin = await signedInUser({ superuser: true });
    const [a1, a2, a3, a4] = await agents(admin.tenant, 4);
    if (!a1 || !a2 || !a3 || !a4) throw new Error("agents");
    const team = await createTeam(admin.token, { assignmentStrategy: "least_loaded" });
    await setMembers(admin.token, team.id, [
      { userId: a1.id },
      { userId: a2.id },
      { userId: a3.id, maxOpenTickets: 1 },
      { userId: a4.id, available: false },
    ]);
    // Loads: a1 2, a2 1, a3 1 (at its cap), a4 0 but away. A solved ticket does not count.
    for (const agent of [a1, a1, a2, a3])
      await assign(admin.token, (await openTicket(admin.token)).id, { assigneeId: agent.id });
    const solved = await openTicket(admin.token);
    await assign(admin.token, solved.id, { assigneeId: a2.id });
    await api(admin.token, "PATCH", `${TICKETS}/${solved.id}`, { status: "solved" });

    const first = await assign(admin.token, (await openTicket(admin.token)).id, { teamId: team.id });
    expect(first.assignee?.id).toBe(a2.id);
    // a1 and a2 now both have 2; a1 was never handed one by the team, so it is a1's turn.
    const second = await assign(admin.token, (await openTicket(admin.token)).id, { teamId: team.id });
    expect(second.assignee?.id).toBe(a1.id);

    // Everyone away or full: the ticket waits on the team, unassigned.
    await api(admin.token, "PATCH", `${TEAMS}/${team.id}/members/${a1.id}`, { available: false });
    await api(admin.token, "PATCH", `${TEAMS}/${team.id}/members/${a2.id}`, { available: false });
    const queued = await assign(admin.token, (await openTicket(admin.token)).id, { teamId: team.id });
    expect(queued.assignee).toBeNull();
    expect(queued.team?.id).toBe(team.id);
  });

  it("round robin skips away members for their turn only; a new ticket of the team is assigned on creation", async () => {
    const admin = await signedInUser({ superuser: true });
    const [a1, a2, a3] = await agents(admin.tenant, 3);
    if (!a1 || !a2 || !a3) throw new Error("agents");
    const team = await createTeam(admin.token, { assignmentStrategy: "round_robin" });
    await setMembers(admin.token, team.id, [
      { userId: a1.id },
      { userId: a2.id, available: false },
      { userId: a3.id },
    ]);

    const picks: Array<string | undefined> = [];
    for (let i = 0; i < 3; i++) picks.push((await openTicket(admin.token, { teamId: team.id })).assignee?.id);
    expect(picks).toEqual([a1.id, a3.id, a1.id]);
    await api(admin.token, "PATCH", `${TEAMS}/${team.id}/members/${a2.id}`, { available: true });
    expect((await openTicket(admin.token, { teamId: team.id })).assignee?.id).toBe(a2.id);

    // An explicit null keeps a new ticket unassigned; manual strategy queues it.
    expect((await openTicket(admin.token, { teamId: team.id, assigneeId: null })).assignee).toBeNull();
    const ticket = await openTicket(admin.token, { teamId: team.id });
    const manual = await assign(admin.token, ticket.id, { teamId: team.id, strategy: "manual" });
    expect(manual.assignee).toBeNull();
  });

  it("assigns directly, unassigns, and writes nothing when the agent already has it", async () => {
    const admin = await signedInUser({ superuser: true });
    const [agent] = await agents(admin.tenant, 1);
    if (!agent) throw new Error("agent");
    const ticket = await openTicket(admin.token);
    const assigned = await assign(admin.token, ticket.id, { assigneeId: agent.id });
    expect(assigned.assignee).toEqual({ id: agent.id, name: "Agent 1", email: agent.email });
    expect(assigned.version).toBe(2);
    expect((await assign(admin.token, ticket.id, { assigneeId: agent.id })).version).toBe(2);
    const unassigned = await assign(admin.token, ticket.id, { assigneeId: null });
    expect(unassigned).toMatchObject({ assignee: null, version: 3 });

    const other = await signedInUser({ superuser: true });
    const foreign = await api(admin.token, "POST", `${TICKETS}/${ticket.id}/assign`, {
      assigneeId: other.id,
    });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Unknown assignee",
      details: { assigneeId: ["No active user with this id in this tenant"] },
    });
    const foreignTeam = await createTeam(other.token);
    const wrongTeam = await api(admin.token, "POST", `${TICKETS}/${ticket.id}/assign`, {
      teamId: foreignTeam.id,
    });
    expect(wrongTeam.status).toBe(422);
    expect(wrongTeam.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Unknown team",
      details: { teamId: ["No such support team in this tenant"] },
    });
  });
});
