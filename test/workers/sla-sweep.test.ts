import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CRONS } from "../../src/cron";
import worker from "../../src/index";
import { sweepSlaTransitions } from "../../src/services/sla/sweep-sla-transitions";
import { bearer, createUser, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import { auditRows, createPolicy, insertTeam, insertTicket, minutesFromNow, ticketSla } from "../support/sla";

/** Runs the every-minute cron exactly as Cloudflare does (it also runs the other every-minute jobs). */
async function runEveryMinuteCron(): Promise<void> {
  const controller = createScheduledController({ cron: CRONS.EVERY_MINUTE, scheduledTime: Date.now() });
  const ctx = createExecutionContext();
  await worker.scheduled(controller, env, ctx);
  await waitOnExecutionContext(ctx);
}

async function eventsOf(tenantId: string) {
  const rows = await ownerSql()`
    select type, subject_id, actor, payload, occurred_at from domain_events
     where tenant_id = ${tenantId} and type like 'ticket.sla_%' order by occurred_at, type`;
  return rows.map((r) => ({
    type: String(r.type),
    subjectId: String(r.subject_id),
    actor: r.actor,
    payload: r.payload as Record<string, unknown>,
    occurredAt: new Date(r.occurred_at as string).toISOString(),
  }));
}

describe("SLA sweep (cron)", () => {
  it("marks each crossed target once and records an event and an audit row per transition", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const t = user.tenant.id;
    const policy = await createPolicy(user.token);
    const agent = await createUser(user.tenant);
    const team = await insertTeam(t, { slaPolicyId: policy.id });
    const sla = { policyId: policy.id, clockStartedAt: minutesFromNow(-50) };

    // First response at risk (due in 10 min), resolution overdue.
    const crossing = await insertTicket(t, {
      priority: "high",
      assigneeId: agent.id,
      teamId: team,
      createdAt: minutesFromNow(-50),
      sla: {
        ...sla,
        firstResponseAtRiskAfter: minutesFromNow(-2),
        firstResponseDueAt: minutesFromNow(10),
        resolutionAtRiskAfter: minutesFromNow(-20),
        resolutionDueAt: minutesFromNow(-1),
      },
    });
    // Nothing crossed yet.
    const calm = await insertTicket(t, {
      createdAt: minutesFromNow(-5),
      sla: { ...sla, firstResponseAtRiskAfter: minutesFromNow(40), firstResponseDueAt: minutesFromNow(55) },
    });
    // Paused (pending): no due times.
    const paused = await insertTicket(t, {
      status: "pending",
      createdAt: minutesFromNow(-500),
      sla: { policyId: policy.id, firstResponseElapsedSeconds: 4000, pausedAt: minutesFromNow(-300) },
    });
    // Breach already recorded by an earlier run.
    const known = await insertTicket(t, {
      createdAt: minutesFromNow(-500),
      firstResponseBreachedAt: minutesFromNow(-400),
      sla: { ...sla, firstResponseDueAt: minutesFromNow(-400) },
    });
    // Solved: stale due times never count.
    const solved = await insertTicket(t, {
      status: "solved",
      createdAt: minutesFromNow(-500),
      solvedAt: minutesFromNow(-30),
      sla: { policyId: policy.id, resolutionDueAt: minutesFromNow(-10) },
    });
    const before = await Promise.all([calm, paused, known, solved].map(ticketSla));

    await runEveryMinuteCron();

    const marked = await ticketSla(crossing);
    expect(marked.first_response_at_risk_at).toBe(marked.first_response_at_risk_after);
    expect(marked.resolution_breached_at).toBe(marked.resolution_due_at);
    // Overdue at its first sweep: straight to breached, no late at-risk.
    expect(marked.resolution_at_risk_at).toBeNull();
    expect(marked.first_response_breached_at).toBeNull();
    expect(await Promise.all([calm, paused, known, solved].map(ticketSla))).toEqual(before);

    const events = await eventsOf(t);
    const common = {
      ticketId: crossing,
      ticketNumber: 1,
      priority: "high",
      assigneeId: agent.id,
      teamId: team,
      policyId: policy.id,
    };
    expect(events).toEqual([
      {
        type: "ticket.sla_at_risk",
        subjectId: crossing,
        actor: { type: "system", name: "sla" },
        payload: {
          ...common,
          target: "first_response",
          dueAt: marked.first_response_due_at,
          atRiskAt: marked.first_response_at_risk_after,
        },
        occurredAt: marked.first_response_at_risk_after,
      },
      {
        type: "ticket.sla_breached",
        subjectId: crossing,
        actor: { type: "system", name: "sla" },
        payload: { ...common, target: "resolution", dueAt: marked.resolution_due_at },
        occurredAt: marked.resolution_due_at,
      },
    ]);
    const audit = await auditRows(t, "ticket");
    expect(audit.map((a) => [a.entityId, a.action, a.actorKey, a.changes])).toEqual(
      expect.arrayContaining([
        [
          crossing,
          "sla_at_risk",
          "system:sla",
          { firstResponseAtRiskAt: { before: null, after: marked.first_response_at_risk_after } },
        ],
        [
          crossing,
          "sla_breached",
          "system:sla",
          { resolutionBreachedAt: { before: null, after: marked.resolution_due_at } },
        ],
      ]),
    );
    expect(audit).toHaveLength(2);

    // The next run finds nothing new for this tenant.
    await runEveryMinuteCron();
    expect(await eventsOf(t)).toHaveLength(2);
    expect(await auditRows(t, "ticket")).toHaveLength(2);

    // Later the first response turns overdue too: one more event, the at-risk one is not repeated.
    await ownerSql()`update tickets set first_response_due_at = ${minutesFromNow(-1)} where id = ${crossing}`;
    await runEveryMinuteCron();
    const after = await eventsOf(t);
    expect(after.map((e) => [e.type, e.payload.target])).toEqual([
      ["ticket.sla_at_risk", "first_response"],
      ["ticket.sla_breached", "resolution"],
      ["ticket.sla_breached", "first_response"],
    ]);
  });

  it("overlapping runs record every transition exactly once", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const t = user.tenant.id;
    const policy = await createPolicy(user.token);
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      ids.push(
        await insertTicket(t, {
          createdAt: minutesFromNow(-100),
          sla: {
            policyId: policy.id,
            clockStartedAt: minutesFromNow(-100),
            firstResponseDueAt: minutesFromNow(-1 - i),
            resolutionAtRiskAfter: minutesFromNow(-1),
            resolutionDueAt: minutesFromNow(60),
          },
        }),
      );
    }
    const ctx = testContext();
    await Promise.all([
      sweepSlaTransitions({ ctx }),
      sweepSlaTransitions({ ctx }),
      sweepSlaTransitions({ ctx }),
    ]);
    await ctx.settle();

    const events = await eventsOf(t);
    expect(events).toHaveLength(24);
    for (const id of ids) {
      expect(
        events
          .filter((e) => e.subjectId === id)
          .map((e) => e.type)
          .sort(),
        id,
      ).toEqual(["ticket.sla_at_risk", "ticket.sla_breached"]);
    }
    expect(await auditRows(t, "ticket")).toHaveLength(24);
  });

  it("leaves suspended tenants alone until they are active again", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const t = user.tenant.id;
    const policy = await createPolicy(user.token);
    const ticket = await insertTicket(t, {
      createdAt: minutesFromNow(-100),
      sla: {
        policyId: policy.id,
        clockStartedAt: minutesFromNow(-100),
        firstResponseDueAt: minutesFromNow(-5),
      },
    });
    await ownerSql()`update tenants set status = 'suspended' where id = ${t}`;
    await sweepSlaTransitions({ ctx: testContext() });
    expect((await ticketSla(ticket)).first_response_breached_at).toBeNull();
    await ownerSql()`update tenants set status = 'active' where id = ${t}`;
    await sweepSlaTransitions({ ctx: testContext() });
    expect((await ticketSla(ticket)).first_response_breached_at).not.toBeNull();
    expect(await eventsOf(t)).toHaveLength(1);
  });

  it("the claim refuses to run inside a tenant's transaction", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const sql = ownerSql();
    await expect(
      sql.transaction([
        sql`select set_config('app.tenant_id', ${user.tenant.id}, true)`,
        sql`select * from claim_sla_transitions(10)`,
      ]),
    ).rejects.toThrow(/claim_sla_transitions runs for no tenant/);
  });
});

describe("a breach the sweep has not reached yet", () => {
  it("is recorded by the ticket write that stops or pauses the overdue clock, once", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const t = user.tenant.id;
    const agent = await createUser(user.tenant, { permissions: ["tickets:write"] });
    await createPolicy(user.token, { isDefault: true, businessHoursOnly: false });
    const api = (path: string, init: Parameters<typeof bearer>[1]) =>
      call(`/api/v1/tickets${path}`, bearer(user.token, init));
    const created = await api("", {
      method: "POST",
      body: { subject: "Late", channel: "api", requester: {}, assigneeId: agent.id },
    });
    const ticket = (await envelope<{ id: string; number: number }>(created)).data;
    if (!ticket) throw new Error("no ticket");
    // Both targets passed their due time a moment ago; the every-minute sweep has not run since.
    const firstDue = minutesFromNow(-0.5);
    const resolutionDue = minutesFromNow(-0.2);
    await ownerSql()`
      update tickets set first_response_due_at = ${firstDue}, resolution_due_at = ${resolutionDue}
       where id = ${ticket.id}`;

    // The late first reply stops the first-response clock: its breach is recorded with it.
    const reply = await api(`/${ticket.id}/comments`, {
      method: "POST",
      body: { body: "Sorry for the wait" },
    });
    expect(reply.status).toBe(201);
    const replied = await ticketSla(ticket.id);
    expect(replied.first_response_breached_at).toBe(firstDue);
    expect(replied.resolution_breached_at).toBe(resolutionDue);
    expect(await eventsOf(t)).toEqual([
      expect.objectContaining({
        type: "ticket.sla_breached",
        subjectId: ticket.id,
        actor: { type: "system", name: "sla" },
        occurredAt: firstDue,
        payload: expect.objectContaining({ target: "first_response", dueAt: firstDue, assigneeId: agent.id }),
      }),
      expect.objectContaining({
        type: "ticket.sla_breached",
        occurredAt: resolutionDue,
        payload: expect.objectContaining({ target: "resolution", ticketNumber: ticket.number }),
      }),
    ]);
    const audit = (await auditRows(t, "ticket")).filter((a) => a.action === "sla_breached");
    expect(
      audit.map((a) => [a.actorKey, a.changes, a.requestId === reply.headers.get("x-request-id")]),
    ).toEqual([
      ["system:sla", { firstResponseBreachedAt: { before: null, after: firstDue } }, true],
      ["system:sla", { resolutionBreachedAt: { before: null, after: resolutionDue } }, true],
    ]);

    // Later writes and the sweep find both recorded: nothing more.
    expect((await api(`/${ticket.id}`, { method: "PATCH", body: { status: "pending" } })).status).toBe(200);
    await runEveryMinuteCron();
    expect(await eventsOf(t)).toHaveLength(2);
    expect((await auditRows(t, "ticket")).filter((a) => a.action === "sla_breached")).toHaveLength(2);
  });
});
