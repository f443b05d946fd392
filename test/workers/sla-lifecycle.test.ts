// A ticket's SLA through the public API: due times at creation, pause while pending, resume, a policy
// change, and a breach found by the every-minute cron (the due time moved into the past as the owner — the
// only way to age a ticket without waiting).
import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CRONS } from "../../src/cron";
import worker from "../../src/index";
import type { TicketSlaView } from "../../src/services/tickets/ticket-view";
import { bearer, signedInUser } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import { createPolicy, insertTicket, minutesFromNow, TARGETS } from "../support/sla";

interface TicketBody {
  id: string;
  status: string;
  createdAt: string;
  updatedAt: string;
  sla: TicketSlaView;
}

const plusSeconds = (iso: string, seconds: number) =>
  new Date(Date.parse(iso) + seconds * 1000).toISOString();

describe("a ticket's SLA through the API", () => {
  it("is due at creation, pauses while pending, resumes, follows a policy change and is breached by the cron", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    // Around the clock, so due times are plain arithmetic on the ticket's own timestamps.
    const policy = await createPolicy(user.token, { isDefault: true, businessHoursOnly: false });
    const ticketApi = (path = "", init: Parameters<typeof bearer>[1] = {}) =>
      call(`/api/v1/tickets${path}`, bearer(user.token, init)).then(async (r) => ({
        status: r.status,
        body: (await envelope<TicketBody>(r)).data,
      }));

    const created = await ticketApi("", {
      method: "POST",
      body: { subject: "Parcel stuck in customs", channel: "api", requester: { email: "ava@example.com" } },
    });
    expect(created.status).toBe(201);
    const ticket = created.body;
    if (!ticket) throw new Error("no ticket");
    expect(ticket.sla).toMatchObject({
      policyId: policy.id,
      paused: false,
      firstResponse: { dueAt: plusSeconds(ticket.createdAt, 3600), status: "ok", breached: false },
      resolution: { dueAt: plusSeconds(ticket.createdAt, 8 * 3600), status: "ok" },
    });

    const pending = await ticketApi(`/${ticket.id}`, { method: "PATCH", body: { status: "pending" } });
    expect(pending.status).toBe(200);
    expect(pending.body?.sla).toMatchObject({
      paused: true,
      firstResponse: { dueAt: null },
      resolution: { dueAt: null },
    });

    const resumed = await ticketApi(`/${ticket.id}`, { method: "PATCH", body: { status: "open" } });
    const used = resumed.body?.sla.firstResponse.elapsedSeconds ?? -1;
    expect(used).toBeGreaterThanOrEqual(0);
    expect(resumed.body?.sla).toMatchObject({
      paused: false,
      firstResponse: { dueAt: plusSeconds(resumed.body?.updatedAt ?? "", 3600 - used) },
    });

    // A shorter first-response target: the open ticket's due time follows at once.
    const patched = await call(
      `/api/v1/sla/policies/${policy.id}`,
      bearer(user.token, {
        method: "PATCH",
        body: {
          targets: {
            normal: { firstResponseMinutes: 20, resolutionMinutes: TARGETS.normal.resolutionMinutes },
          },
        },
      }),
    );
    expect(patched.status).toBe(200);
    const retargeted = await ticketApi(`/${ticket.id}`);
    const usedNow = retargeted.body?.sla.firstResponse.elapsedSeconds ?? -1;
    expect(retargeted.body?.sla.firstResponse.dueAt).toBe(
      plusSeconds(retargeted.body?.updatedAt ?? "", 20 * 60 - usedNow),
    );

    // Age the ticket: its first response was due a minute ago.
    const dueAt = minutesFromNow(-1);
    await ownerSql()`
      update tickets set first_response_due_at = ${dueAt}, first_response_at_risk_after = ${minutesFromNow(-5)}
       where id = ${ticket.id}`;
    const controller = createScheduledController({ cron: CRONS.EVERY_MINUTE, scheduledTime: Date.now() });
    const executionCtx = createExecutionContext();
    await worker.scheduled(controller, env, executionCtx);
    await waitOnExecutionContext(executionCtx);

    const breached = await ticketApi(`/${ticket.id}`);
    expect(breached.body?.sla.firstResponse).toMatchObject({
      breached: true,
      status: "breached",
      breachedAt: dueAt,
    });
    const events = await ownerSql()`
      select type, payload from domain_events where tenant_id = ${user.tenant.id} and subject_id = ${ticket.id}`;
    expect(events.map((e) => [e.type, (e.payload as { target: string }).target])).toEqual([
      ["ticket.sla_breached", "first_response"],
    ]);
  });
});

describe("a target's status once its clock stopped", () => {
  it("is met (ok) when it stopped within the target, however close; a paused clock can still be at risk", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const t = user.tenant.id;
    // Normal priority: 60 minutes to first response, 8 hours to resolution, at risk from 80 %.
    const policy = await createPolicy(user.token, { isDefault: true, businessHoursOnly: false });
    const status = async (id: string) => {
      const response = await call(`/api/v1/tickets/${id}`, bearer(user.token));
      const sla = (await envelope<TicketBody>(response)).data?.sla;
      return { firstResponse: sla?.firstResponse.status, resolution: sla?.resolution.status };
    };

    // Answered after 55 of 60 minutes; still open.
    const answered = await insertTicket(t, {
      createdAt: minutesFromNow(-60),
      firstRespondedAt: minutesFromNow(-5),
      sla: {
        policyId: policy.id,
        firstResponseElapsedSeconds: 55 * 60,
        resolutionElapsedSeconds: 55 * 60,
        clockStartedAt: minutesFromNow(-5),
        resolutionDueAt: minutesFromNow(7 * 60),
      },
    });
    expect(await status(answered)).toEqual({ firstResponse: "ok", resolution: "ok" });
    // Solved after 7.5 of 8 hours.
    const solved = await insertTicket(t, {
      status: "solved",
      createdAt: minutesFromNow(-600),
      firstRespondedAt: minutesFromNow(-590),
      solvedAt: minutesFromNow(-150),
      sla: { policyId: policy.id, firstResponseElapsedSeconds: 600, resolutionElapsedSeconds: 450 * 60 },
    });
    expect(await status(solved)).toEqual({ firstResponse: "ok", resolution: "ok" });
    // Pending on the customer after 7.5 hours: the clock will run again, so the warning stands.
    const pending = await insertTicket(t, {
      status: "pending",
      createdAt: minutesFromNow(-600),
      firstRespondedAt: minutesFromNow(-590),
      sla: {
        policyId: policy.id,
        firstResponseElapsedSeconds: 600,
        resolutionElapsedSeconds: 450 * 60,
        pausedAt: minutesFromNow(-150),
      },
    });
    expect(await status(pending)).toEqual({ firstResponse: "ok", resolution: "at_risk" });
    // Solved late: breached stays breached.
    const late = await insertTicket(t, {
      status: "solved",
      createdAt: minutesFromNow(-600),
      firstRespondedAt: minutesFromNow(-500),
      solvedAt: minutesFromNow(-10),
      sla: { policyId: policy.id, firstResponseElapsedSeconds: 100 * 60, resolutionElapsedSeconds: 590 * 60 },
    });
    expect(await status(late)).toEqual({ firstResponse: "breached", resolution: "breached" });
  });
});
