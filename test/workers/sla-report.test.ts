import { describe, expect, it } from "vitest";
import type { SlaReport } from "../../src/services/sla/get-sla-report";
import { bearer, createUser, signedInUser } from "../support/auth";
import { call, envelope } from "../support/harness";
import { createPolicy, insertTeam, insertTicket, TARGETS } from "../support/sla";

const REPORT = "/api/v1/sla/report";

/**
 * March 2026 at a support desk. Targets: normal 60 min first response / 480 min resolution; low has no
 * resolution target. Elapsed seconds are SLA time as the clocks left them.
 */
async function marchScenario() {
  const user = await signedInUser({ permissions: ["tickets:admin"] });
  const t = user.tenant.id;
  const policy = await createPolicy(user.token, {
    targets: { ...TARGETS, low: { firstResponseMinutes: 240, resolutionMinutes: null } },
  });
  const ann = await createUser(user.tenant, {
    fullName: "Ann Agent",
    email: `ann-${crypto.randomUUID().slice(0, 6)}@example.com`,
  });
  const bob = await createUser(user.tenant, { fullName: "Bob Agent" });
  const alpha = await insertTeam(t, { name: "Alpha" });
  const beta = await insertTeam(t, { name: "Beta" });
  const p = policy.id;

  // 1. Ann/Alpha: answered and solved in time.
  await insertTicket(t, {
    status: "solved",
    assigneeId: ann.id,
    teamId: alpha,
    createdAt: "2026-03-02T10:00:00Z",
    firstRespondedAt: "2026-03-02T10:20:00Z",
    solvedAt: "2026-03-02T12:00:00Z",
    sla: { policyId: p, firstResponseElapsedSeconds: 1200, resolutionElapsedSeconds: 7200 },
  });
  // 2. Ann/Alpha: answered late (4000 s > 3600 s), solved in time.
  await insertTicket(t, {
    status: "solved",
    assigneeId: ann.id,
    teamId: alpha,
    createdAt: "2026-03-02T11:00:00Z",
    firstRespondedAt: "2026-03-02T12:10:00Z",
    solvedAt: "2026-03-03T11:00:00Z",
    sla: { policyId: p, firstResponseElapsedSeconds: 4000, resolutionElapsedSeconds: 20_000 },
  });
  // 3. Ann/Beta: still open, never answered, both due times long past (the sweep has not run).
  await insertTicket(t, {
    assigneeId: ann.id,
    teamId: beta,
    createdAt: "2026-03-03T09:00:00Z",
    sla: {
      policyId: p,
      clockStartedAt: "2026-03-03T09:00:00Z",
      firstResponseDueAt: "2026-03-03T10:00:00Z",
      resolutionDueAt: "2026-03-03T17:00:00Z",
    },
  });
  // 4. Bob/Beta: the sweep marked the first response breached (the policy was relaxed since); resolved in time.
  await insertTicket(t, {
    status: "closed",
    assigneeId: bob.id,
    teamId: beta,
    createdAt: "2026-03-04T09:00:00Z",
    firstRespondedAt: "2026-03-04T09:01:40Z",
    solvedAt: "2026-03-04T09:16:40Z",
    firstResponseBreachedAt: "2026-03-04T09:01:00Z",
    sla: { policyId: p, firstResponseElapsedSeconds: 100, resolutionElapsedSeconds: 1000 },
  });
  // 5. Bob, no team: waiting on the customer, nothing decided.
  await insertTicket(t, {
    status: "pending",
    assigneeId: bob.id,
    createdAt: "2026-03-05T09:00:00Z",
    sla: {
      policyId: p,
      firstResponseElapsedSeconds: 600,
      resolutionElapsedSeconds: 600,
      pausedAt: "2026-03-05T09:10:00Z",
    },
  });
  // 6. Unassigned/Alpha: answered in time, resolution running (due far ahead).
  await insertTicket(t, {
    teamId: alpha,
    createdAt: "2026-03-06T09:00:00Z",
    firstRespondedAt: "2026-03-06T09:05:00Z",
    sla: {
      policyId: p,
      firstResponseElapsedSeconds: 300,
      resolutionElapsedSeconds: 300,
      clockStartedAt: "2026-03-06T09:05:00Z",
      resolutionDueAt: "2099-01-01T00:00:00Z",
    },
  });
  // 7. Ann/Alpha, low priority: answered in time; no resolution target.
  await insertTicket(t, {
    status: "solved",
    priority: "low",
    assigneeId: ann.id,
    teamId: alpha,
    createdAt: "2026-03-06T10:00:00Z",
    firstRespondedAt: "2026-03-06T10:01:40Z",
    solvedAt: "2026-03-06T11:30:00Z",
    sla: { policyId: p, firstResponseElapsedSeconds: 100, resolutionElapsedSeconds: 5000 },
  });
  // Left out: created before the range, and without a policy.
  await insertTicket(t, {
    status: "solved",
    assigneeId: ann.id,
    createdAt: "2026-02-20T10:00:00Z",
    sla: { policyId: p, firstResponseElapsedSeconds: 99_999 },
  });
  await insertTicket(t, { assigneeId: ann.id, createdAt: "2026-03-03T10:00:00Z" });
  // Another tenant's breached ticket in the same range.
  const other = await signedInUser({ permissions: ["tickets:admin"] });
  const otherPolicy = await createPolicy(other.token);
  await insertTicket(other.tenant.id, {
    createdAt: "2026-03-03T10:00:00Z",
    sla: { policyId: otherPolicy.id, firstResponseElapsedSeconds: 99_999 },
  });
  return { user, ann, bob, alpha, beta };
}

const tally = (met: number, breached: number, inProgress: number, percentMet: number | null) => ({
  met,
  breached,
  inProgress,
  percentMet,
});

describe("SLA report", () => {
  it("counts met and breached targets per agent and per team for tickets created in the range", async () => {
    const { user, ann, bob, alpha, beta } = await marchScenario();

    const byAgent = await call(`${REPORT}?from=2026-03-01&to=2026-03-31&groupBy=agent`, bearer(user.token));
    expect(byAgent.status).toBe(200);
    expect((await envelope<SlaReport>(byAgent)).data).toEqual({
      from: "2026-03-01",
      to: "2026-03-31",
      groupBy: "agent",
      rows: [
        {
          agent: { id: ann.id, name: "Ann Agent", email: ann.email },
          tickets: 4,
          firstResponse: tally(2, 2, 0, 50),
          resolution: tally(2, 1, 0, 66.7),
          overall: { met: 4, breached: 3, percentMet: 57.1 },
        },
        {
          agent: { id: bob.id, name: "Bob Agent", email: bob.email },
          tickets: 2,
          firstResponse: tally(0, 1, 1, 0),
          resolution: tally(1, 0, 1, 100),
          overall: { met: 1, breached: 1, percentMet: 50 },
        },
        {
          agent: null,
          tickets: 1,
          firstResponse: tally(1, 0, 0, 100),
          resolution: tally(0, 0, 1, null),
          overall: { met: 1, breached: 0, percentMet: 100 },
        },
      ],
      totals: {
        tickets: 7,
        firstResponse: tally(3, 3, 1, 50),
        resolution: tally(3, 1, 2, 75),
        overall: { met: 6, breached: 4, percentMet: 60 },
      },
    });

    const byTeam = await call(`${REPORT}?from=2026-03-01&to=2026-03-31&groupBy=team`, bearer(user.token));
    const report = (await envelope<SlaReport>(byTeam)).data;
    expect(report?.rows).toEqual([
      {
        team: { id: alpha, name: "Alpha" },
        tickets: 4,
        firstResponse: tally(3, 1, 0, 75),
        resolution: tally(2, 0, 1, 100),
        overall: { met: 5, breached: 1, percentMet: 83.3 },
      },
      {
        team: { id: beta, name: "Beta" },
        tickets: 2,
        firstResponse: tally(0, 2, 0, 0),
        resolution: tally(1, 1, 0, 50),
        overall: { met: 1, breached: 3, percentMet: 25 },
      },
      {
        team: null,
        tickets: 1,
        firstResponse: tally(0, 0, 1, null),
        resolution: tally(0, 0, 1, null),
        overall: { met: 0, breached: 0, percentMet: null },
      },
    ]);
    expect(report?.totals.tickets).toBe(7);

    // Instants bound the range exactly: only tickets 1 and 2 (2 March, 10:00 and 11:00).
    const morning = await call(
      `${REPORT}?from=2026-03-02T10:00:00Z&to=2026-03-02T11:00:00Z&groupBy=team`,
      bearer(user.token),
    );
    expect((await envelope<SlaReport>(morning)).data?.totals).toEqual({
      tickets: 2,
      firstResponse: tally(1, 1, 0, 50),
      resolution: tally(2, 0, 0, 100),
      overall: { met: 3, breached: 1, percentMet: 75 },
    });
  });

  it("an empty range has totals of zero and no rows", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const response = await call(`${REPORT}?from=2020-01-01&to=2020-01-31`, bearer(user.token));
    expect((await envelope<SlaReport>(response)).data).toEqual({
      from: "2020-01-01",
      to: "2020-01-31",
      groupBy: "agent",
      rows: [],
      totals: {
        tickets: 0,
        firstResponse: tally(0, 0, 0, null),
        resolution: tally(0, 0, 0, null),
        overall: { met: 0, breached: 0, percentMet: null },
      },
    });
  });

  it("refuses a missing, reversed, too long or malformed range with 422", async () => {
    const user = await signedInUser({ permissions: ["tickets:admin"] });
    const cases: [string, Record<string, unknown>][] = [
      ["to=2026-03-31", { from: expect.any(Array) }],
      ["from=2026-03-31&to=2026-03-01", { to: ["Must not be before from"] }],
      ["from=2025-01-01&to=2026-03-01", { to: ["The range may span at most 366 days"] }],
      ["from=yesterday&to=2026-03-01", { from: expect.any(Array) }],
      ["from=2026-03-01&to=2026-03-31&groupBy=shift", { groupBy: expect.any(Array) }],
    ];
    for (const [query, details] of cases) {
      const response = await call(`${REPORT}?${query}`, bearer(user.token));
      const error = (await envelope(response)).error;
      expect(response.status, query).toBe(422);
      expect(error?.code).toBe("VALIDATION_ERROR");
      expect(error?.details, query).toEqual(details);
    }
  });

  it("needs tickets:admin; no token is 401", async () => {
    const reader = await signedInUser({ permissions: ["tickets:write"] });
    const forbidden = await call(`${REPORT}?from=2026-03-01&to=2026-03-31`, bearer(reader.token));
    expect(forbidden.status).toBe(403);
    expect((await envelope(forbidden)).error).toMatchObject({
      code: "FORBIDDEN",
      message: "Missing permission tickets:admin",
    });
    expect((await call(`${REPORT}?from=2026-03-01&to=2026-03-31`)).status).toBe(401);
  });
});
