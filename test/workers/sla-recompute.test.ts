import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { computeTicketSla, type SlaPolicyRules } from "../../src/domain/sla";
import { recomputeTicketSla } from "../../src/services/sla/recompute-ticket-sla";
import { ticketTransaction } from "../../src/services/tickets/ticket-transaction";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, ownerSql } from "../support/harness";
import {
  auditRows,
  createPolicy,
  insertTeam,
  insertTicket,
  minutesFromNow,
  TARGETS,
  ticketSla,
  weeklyHours,
} from "../support/sla";

const SECOND = 1000;

/** A ticket opened `minutesAgo` under `policy` with no team (wall clock), its state as the tickets service stores it. */
async function openTicket(tenantId: string, policy: SlaPolicyRules, minutesAgo: number, extra = {}) {
  const createdAt = minutesFromNow(-minutesAgo);
  const sla = computeTicketSla({
    previous: null,
    facts: { status: "open", priority: "normal", createdAt, firstRespondedAt: null, solvedAt: null },
    policy,
    calendar: null,
    now: createdAt,
  });
  return insertTicket(tenantId, { createdAt, sla, ...extra });
}

function rulesOf(view: {
  id: string;
  targets: typeof TARGETS;
  businessHoursOnly: boolean;
  atRiskPercent: number;
}) {
  return {
    id: view.id,
    targets: view.targets,
    businessHoursOnly: view.businessHoursOnly,
    atRiskPercent: view.atRiskPercent,
  };
}

const plus = (iso: string | null, seconds: number) =>
  new Date(Date.parse(iso ?? "") + seconds * SECOND).toISOString();

describe("policy changes recompute the due times of open tickets", () => {
  it("a new default and changed targets move the open tickets under them, banking time already used", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const t = user.tenant.id;
    const old = await createPolicy(user.token, { name: "Old", isDefault: true });
    const open = await openTicket(t, rulesOf(old), 20);
    const pending = await insertTicket(t, {
      status: "pending",
      createdAt: minutesFromNow(-90),
      sla: {
        policyId: old.id,
        firstResponseElapsedSeconds: 600,
        resolutionElapsedSeconds: 600,
        pausedAt: minutesFromNow(-80),
      },
    });
    const solved = await insertTicket(t, {
      status: "solved",
      createdAt: minutesFromNow(-300),
      solvedAt: minutesFromNow(-200),
      sla: { policyId: old.id, resolutionElapsedSeconds: 6000, firstResponseElapsedSeconds: 60 },
    });
    const teamPolicy = await createPolicy(user.token, { name: "Team's own" });
    const team = await insertTeam(t, { slaPolicyId: teamPolicy.id });
    const teamTicket = await openTicket(t, rulesOf(teamPolicy), 5, { teamId: team });
    const untouched = await Promise.all([solved, teamTicket].map(ticketSla));

    // A new default: the tickets without a team fall under it.
    const fresh = await createPolicy(user.token, {
      name: "New default",
      isDefault: true,
      targets: { ...TARGETS, normal: { firstResponseMinutes: 30, resolutionMinutes: 240 } },
    });
    const moved = await ticketSla(open);
    expect(moved.sla_policy_id).toBe(fresh.id);
    // ~20 minutes used under the old policy (wall clock): due at the new 30 minutes.
    expect(Math.abs(moved.sla_first_response_elapsed_seconds - 1200)).toBeLessThan(30);
    expect(moved.first_response_due_at).toBe(
      plus(moved.sla_clock_started_at, 30 * 60 - moved.sla_first_response_elapsed_seconds),
    );
    expect(moved.resolution_due_at).toBe(
      plus(moved.sla_clock_started_at, 240 * 60 - moved.sla_resolution_elapsed_seconds),
    );
    expect(moved.first_response_at_risk_after).toBe(
      plus(moved.sla_clock_started_at, 24 * 60 - moved.sla_first_response_elapsed_seconds),
    );
    expect(moved.version).toBe(2);
    const paused = await ticketSla(pending);
    expect(paused).toMatchObject({
      sla_policy_id: fresh.id,
      first_response_due_at: null,
      sla_first_response_elapsed_seconds: 600,
      sla_clock_started_at: null,
    });
    expect(await Promise.all([solved, teamTicket].map(ticketSla))).toEqual(untouched);

    let ticketAudit = await auditRows(t, "ticket");
    expect(ticketAudit.map((a) => [a.entityId, a.action])).toEqual(
      expect.arrayContaining([
        [open, "sla_recomputed"],
        [pending, "sla_recomputed"],
      ]),
    );
    expect(ticketAudit).toHaveLength(2);
    const openAudit = ticketAudit.find((a) => a.entityId === open);
    expect(openAudit?.actorKey).toBe(`user:${user.id}`);
    expect(openAudit?.changes.slaPolicyId).toEqual({ before: old.id, after: fresh.id });
    expect(openAudit?.changes.firstResponseDueAt?.after).toBe(moved.first_response_due_at);
    expect(ticketAudit.find((a) => a.entityId === pending)?.changes).toEqual({
      slaPolicyId: { before: old.id, after: fresh.id },
    });

    // Changed targets: due times follow; a name change alone recomputes nothing.
    const patched = await call(
      `/api/v1/sla/policies/${fresh.id}`,
      bearer(user.token, {
        method: "PATCH",
        body: { targets: { normal: { firstResponseMinutes: 45, resolutionMinutes: 240 } } },
      }),
    );
    expect(patched.status).toBe(200);
    const retargeted = await ticketSla(open);
    expect(retargeted.first_response_due_at).toBe(
      plus(retargeted.sla_clock_started_at, 45 * 60 - retargeted.sla_first_response_elapsed_seconds),
    );
    expect(retargeted.version).toBe(3);
    const renamed = await call(
      `/api/v1/sla/policies/${fresh.id}`,
      bearer(user.token, { method: "PATCH", body: { name: "Renamed" } }),
    );
    expect(renamed.status).toBe(200);
    expect((await ticketSla(open)).version).toBe(3);
    ticketAudit = await auditRows(t, "ticket");
    expect(ticketAudit.filter((a) => a.entityId === open)).toHaveLength(2);

    // The at-risk share moves the at-risk instants.
    const wall = await call(
      `/api/v1/sla/policies/${fresh.id}`,
      bearer(user.token, { method: "PATCH", body: { atRiskPercent: 50 } }),
    );
    expect(wall.status).toBe(200);
    const halfway = await ticketSla(open);
    expect(halfway.first_response_at_risk_after).toBe(
      plus(halfway.sla_clock_started_at, 22.5 * 60 - halfway.sla_first_response_elapsed_seconds),
    );
  });

  it("leaves other tenants' tickets alone", async () => {
    const a = await signedInUser({ permissions: ["tickets:admin"] });
    const b = await signedInUser({ permissions: ["tickets:admin"] });
    const bPolicy = await createPolicy(b.token, { isDefault: true });
    const bTicket = await openTicket(b.tenant.id, rulesOf(bPolicy), 10);
    const before = await ticketSla(bTicket);
    await createPolicy(a.token, { isDefault: true });
    expect(await ticketSla(bTicket)).toEqual(before);
  });
});

describe("recomputeTicketSla for a team's change", () => {
  it("banks the time used under the team's old calendar when told it, then follows the new one", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const t = user.tenant.id;
    const policy = await createPolicy(user.token, { businessHoursOnly: true });
    // Two 24/7 teams (no hours) in UTC; their tickets have been open 10 minutes.
    const told = await insertTeam(t, { slaPolicyId: policy.id, businessHours: null });
    const untold = await insertTeam(t, { slaPolicyId: policy.id, businessHours: null });
    const toldTicket = await openTicket(t, rulesOf(policy), 10, { teamId: told });
    const untoldTicket = await openTicket(t, rulesOf(policy), 10, { teamId: untold });
    const elsewhere = await openTicket(t, rulesOf(policy), 10);
    const elsewhereBefore = await ticketSla(elsewhere);

    // Both teams close (no opening hours at all): nothing can be due any more.
    const closed = JSON.stringify(weeklyHours({}));
    await ownerSql()`update support_teams set business_hours = ${closed}::jsonb where id in (${told}, ${untold})`;
    const ctx = Object.assign(testContext(), {
      tenantId: t,
      actor: { type: "system" as const, name: "support-teams" },
    });
    // Told the old calendar (24/7), the ten minutes are banked; not told, they are measured in the new
    // (closed) calendar, where they count nothing.
    expect(await recomputeTicketSla({ ctx, input: { teamId: told, before: { calendar: null } } })).toEqual({
      recomputed: 1,
    });
    expect(await recomputeTicketSla({ ctx, input: { teamId: untold } })).toEqual({ recomputed: 1 });
    const banked = await ticketSla(toldTicket);
    expect(Math.abs(banked.sla_first_response_elapsed_seconds - 600)).toBeLessThan(30);
    expect(banked).toMatchObject({ first_response_due_at: null, resolution_due_at: null });
    expect(await ticketSla(untoldTicket)).toMatchObject({
      sla_first_response_elapsed_seconds: 0,
      first_response_due_at: null,
    });
    expect(await ticketSla(elsewhere)).toEqual(elsewhereBefore);

    // Open around the clock again: due times come back from what was used.
    await ownerSql()`update support_teams set business_hours = null where id = ${told}`;
    expect(
      await recomputeTicketSla({
        ctx,
        input: {
          teamId: told,
          before: { calendar: { timezone: "UTC", weekly: weeklyHours({}), holidays: [] } },
        },
      }),
    ).toEqual({
      recomputed: 1,
    });
    const reopened = await ticketSla(toldTicket);
    expect(reopened.sla_first_response_elapsed_seconds).toBe(banked.sla_first_response_elapsed_seconds);
    expect(reopened.first_response_due_at).toBe(
      plus(reopened.sla_clock_started_at, 60 * 60 - reopened.sla_first_response_elapsed_seconds),
    );
    const audit = (await auditRows(t, "ticket")).filter((a) => a.entityId === toldTicket);
    expect(audit.map((a) => [a.action, a.actorKey])).toEqual([
      ["sla_recomputed", "system:support-teams"],
      ["sla_recomputed", "system:support-teams"],
    ]);
    expect(audit[1]?.changes.firstResponseDueAt).toEqual({
      before: null,
      after: reopened.first_response_due_at,
    });
    await ctx.settle();
  });

  it("needs a signed-in caller (or Tradewind acting for a tenant), and a scope", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    await expect(
      recomputeTicketSla({ ctx: testContext(), input: { policyId: crypto.randomUUID() } }),
    ).rejects.toMatchObject({ code: "UNAUTHORIZED" });
    const system = Object.assign(testContext(), {
      tenantId: user.tenant.id,
      actor: { type: "system" as const, name: "support-teams" },
    });
    await expect(recomputeTicketSla({ ctx: system, input: {} })).rejects.toMatchObject({
      code: "VALIDATION_ERROR",
      details: { _root: ["Give policyId or teamId"] },
    });
  });
});

describe("a ticket moving to another team", () => {
  it("keeps the time used under its old team's calendar and counts on under the new one's", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin", "tickets:write"] });
    const t = user.tenant.id;
    const policy = await createPolicy(user.token, { businessHoursOnly: true });
    const aroundTheClock = await insertTeam(t, { slaPolicyId: policy.id, businessHours: null });
    const neverOpen = await insertTeam(t, { slaPolicyId: policy.id, businessHours: weeklyHours({}) });
    const move = async (ticketId: string, body: Record<string, unknown>, path = "") => {
      const response = await call(
        `/api/v1/tickets/${ticketId}${path}`,
        bearer(user.token, { method: path === "" ? "PATCH" : "POST", body }),
      );
      expect(response.status).toBe(200);
      return ticketSla(ticketId);
    };

    // Half an hour in the 24/7 team, then to a team that never opens: the half hour stays used.
    const fromOpen = await openTicket(t, rulesOf(policy), 30, { teamId: aroundTheClock });
    const parked = await move(fromOpen, { teamId: neverOpen });
    expect(Math.abs(parked.sla_first_response_elapsed_seconds - 1800)).toBeLessThan(30);
    expect(Math.abs(parked.sla_resolution_elapsed_seconds - 1800)).toBeLessThan(30);
    expect(parked).toMatchObject({ first_response_due_at: null, resolution_due_at: null });
    // Routed back (the assign route): nothing was used while parked; the 30 minutes left run from now.
    const back = await move(fromOpen, { teamId: aroundTheClock, strategy: "manual" }, "/assign");
    expect(back.sla_first_response_elapsed_seconds).toBe(parked.sla_first_response_elapsed_seconds);
    expect(back.first_response_due_at).toBe(
      plus(back.sla_clock_started_at, 60 * 60 - back.sla_first_response_elapsed_seconds),
    );

    // Half an hour in the team that never opens, then to the 24/7 team: nothing was used.
    const createdAt = minutesFromNow(-30);
    const closedSla = computeTicketSla({
      previous: null,
      facts: { status: "open", priority: "normal", createdAt, firstRespondedAt: null, solvedAt: null },
      policy: rulesOf(policy),
      calendar: { timezone: "UTC", weekly: weeklyHours({}), holidays: [] },
      now: createdAt,
    });
    const fromClosed = await insertTicket(t, { createdAt, teamId: neverOpen, sla: closedSla });
    const opened = await move(fromClosed, { teamId: aroundTheClock });
    expect(opened.sla_first_response_elapsed_seconds).toBe(0);
    expect(opened.first_response_due_at).toBe(plus(opened.sla_clock_started_at, 60 * 60));
  });
});

/** Waits until some transaction waits for the tenant's SLA-rules lock (the one ticketTransaction takes). */
async function untilSomeoneWaitsForSlaRules(tenantId: string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const [row] = await ownerSql()`
      select count(*)::int as waiting from pg_locks l
       where l.locktype = 'advisory' and not l.granted
         and ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended(${`tradewind:sla-rules:${tenantId}`}, 0)`;
    if (Number(row?.waiting) > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error("no ticket write ever waited for the rule change");
}

describe("ticket writes and rule changes in flight", () => {
  it("a ticket write that comes during a rule change waits for it, then uses the new rules", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin", "tickets:write"] });
    const t = user.tenant.id;
    const policy = await createPolicy(user.token, { isDefault: true, businessHoursOnly: false });
    const ticket = await openTicket(t, rulesOf(policy), 0);

    // A rule change in flight (as updateSlaPolicy runs it): the urgent first-response target becomes 5 minutes.
    let write: Promise<Response> | undefined;
    await ticketTransaction(
      testContext(),
      t,
      async (tx) => {
        await tx.execute(sql`
          update sla_policies set targets = jsonb_set(targets, '{urgent,firstResponseMinutes}', '5')
           where tenant_id = ${t} and id = ${policy.id}::uuid`);
        // Meanwhile an agent makes the ticket urgent: the write waits for the change to commit.
        write = call(
          `/api/v1/tickets/${ticket}`,
          bearer(user.token, { method: "PATCH", body: { priority: "urgent" } }),
        );
        await untilSomeoneWaitsForSlaRules(t);
      },
      "change",
    );
    expect((await write)?.status).toBe(200);
    const urgent = await ticketSla(ticket);
    expect(urgent.first_response_due_at).toBe(
      plus(urgent.sla_clock_started_at, 5 * 60 - urgent.sla_first_response_elapsed_seconds),
    );
  });
});
