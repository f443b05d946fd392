import { describe, expect, it } from "vitest";
import type { SlaPolicyView } from "../../src/services/sla/sla-policy-model";
import { bearer, signedInUser } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import { auditRows, createPolicy, insertTeam, insertTicket, TARGETS } from "../support/sla";

const POLICIES = "/api/v1/sla/policies";

async function admin() {
  return signedInUser({ permissions: ["tickets:admin"] });
}

describe("SLA policies API", () => {
  it("creates a policy with defaults, reads it, lists it, changes it and deletes it, with audit rows", async () => {
    const user = await admin();
    const response = await call(
      POLICIES,
      bearer(user.token, {
        method: "POST",
        body: { name: "  Standard support ", description: "Weekdays", targets: TARGETS },
        headers: { "x-request-id": "req_sla_create_0001" },
      }),
    );
    expect(response.status).toBe(201);
    const created = (await envelope<SlaPolicyView>(response)).data;
    expect(created).toMatchObject({
      name: "Standard support",
      description: "Weekdays",
      isDefault: false,
      targets: TARGETS,
      businessHoursOnly: true,
      atRiskPercent: 80,
    });
    const id = created?.id ?? "";

    const one = await call(`${POLICIES}/${id}`, bearer(user.token));
    expect(one.status).toBe(200);
    expect((await envelope(one)).data).toEqual(created);

    const changed = await call(
      `${POLICIES}/${id}`,
      bearer(user.token, {
        method: "PATCH",
        body: {
          name: "Standard",
          targets: { urgent: { firstResponseMinutes: 10, resolutionMinutes: 60 } },
          businessHoursOnly: false,
          atRiskPercent: 75,
        },
      }),
    );
    expect(changed.status).toBe(200);
    const after = (await envelope<SlaPolicyView>(changed)).data;
    expect(after).toMatchObject({
      name: "Standard",
      description: "Weekdays",
      targets: { ...TARGETS, urgent: { firstResponseMinutes: 10, resolutionMinutes: 60 } },
      businessHoursOnly: false,
      atRiskPercent: 75,
    });

    const list = await call(POLICIES, bearer(user.token));
    expect((await envelope<{ items: SlaPolicyView[] }>(list)).data?.items.map((p) => p.id)).toEqual([id]);

    const deleted = await call(`${POLICIES}/${id}`, bearer(user.token, { method: "DELETE" }));
    expect(deleted.status).toBe(200);
    expect((await envelope(deleted)).data).toEqual({ deleted: true });
    expect((await call(`${POLICIES}/${id}`, bearer(user.token))).status).toBe(404);

    const audit = await auditRows(user.tenant.id, "sla_policy");
    expect(audit.map((a) => a.action)).toEqual(["created", "updated", "deleted"]);
    expect(audit[0]).toMatchObject({
      entityId: id,
      actorKey: `user:${user.id}`,
      requestId: "req_sla_create_0001",
      changes: {
        name: { before: null, after: "Standard support" },
        isDefault: { before: null, after: false },
      },
    });
    expect(audit[1]?.changes).toEqual({
      name: { before: "Standard support", after: "Standard" },
      targets: { before: TARGETS, after: after?.targets },
      businessHoursOnly: { before: true, after: false },
      atRiskPercent: { before: 80, after: 75 },
    });
    expect(audit[2]?.changes.name).toEqual({ before: "Standard", after: null });
  });

  it("keeps one default per tenant: a new default takes over from the previous one", async () => {
    const user = await admin();
    const first = await createPolicy(user.token, { name: "First", isDefault: true });
    const second = await createPolicy(user.token, { name: "Second", isDefault: true });
    const list = (await envelope<{ items: SlaPolicyView[] }>(await call(POLICIES, bearer(user.token)))).data
      ?.items;
    expect(list?.map((p) => [p.name, p.isDefault])).toEqual([
      ["Second", true],
      ["First", false],
    ]);

    const back = await call(
      `${POLICIES}/${first.id}`,
      bearer(user.token, { method: "PATCH", body: { isDefault: true } }),
    );
    expect((await envelope<SlaPolicyView>(back)).data?.isDefault).toBe(true);
    const second2 = await call(`${POLICIES}/${second.id}`, bearer(user.token));
    expect((await envelope<SlaPolicyView>(second2)).data?.isDefault).toBe(false);
    const demotions = (await auditRows(user.tenant.id, "sla_policy")).filter(
      (a) => a.action === "updated" && a.changes.isDefault?.after === false,
    );
    expect(demotions.map((a) => a.entityId)).toEqual([first.id, second.id]);
  });

  it("answers every validation error with a 422 envelope naming the field", async () => {
    const user = await admin();
    const cases: [unknown, Record<string, string[]>][] = [
      [{ name: "", targets: TARGETS }, { name: ["Too small: expected string to have >=1 characters"] }],
      [{ name: "x", targets: { ...TARGETS, low: undefined } }, { "targets.low": expect.any(Array) }],
      [
        { name: "x", targets: { ...TARGETS, high: { firstResponseMinutes: 500, resolutionMinutes: 60 } } },
        {
          "targets.high.firstResponseMinutes": [
            "the first-response target cannot be longer than the resolution target",
          ],
        },
      ],
      [
        { name: "x", targets: { ...TARGETS, normal: { firstResponseMinutes: 0, resolutionMinutes: 60 } } },
        { "targets.normal.firstResponseMinutes": expect.any(Array) },
      ],
      [{ name: "x", targets: TARGETS, atRiskPercent: 100 }, { atRiskPercent: expect.any(Array) }],
      [{ name: "x", targets: TARGETS, colour: "red" }, { _root: expect.any(Array) }],
    ];
    for (const [body, details] of cases) {
      const response = await call(POLICIES, bearer(user.token, { method: "POST", body }));
      const error = (await envelope(response)).error;
      expect(response.status, JSON.stringify(body)).toBe(422);
      expect(error?.code).toBe("VALIDATION_ERROR");
      expect(error?.message).toBe("Invalid request body");
      expect(error?.details).toEqual(details);
    }

    const policy = await createPolicy(user.token);
    const empty = await call(`${POLICIES}/${policy.id}`, bearer(user.token, { method: "PATCH", body: {} }));
    expect(empty.status).toBe(422);
    expect((await envelope(empty)).error?.details).toEqual({ _root: ["Nothing to change"] });

    // A patched priority is checked against the targets it is merged with.
    const merged = await call(
      `${POLICIES}/${policy.id}`,
      bearer(user.token, {
        method: "PATCH",
        body: { targets: { low: { firstResponseMinutes: 100_000, resolutionMinutes: 2400 } } },
      }),
    );
    expect(merged.status).toBe(422);
    expect((await envelope(merged)).error?.details).toEqual({
      "targets.low.firstResponseMinutes": [
        "the first-response target cannot be longer than the resolution target",
      ],
    });

    const badId = await call(`${POLICIES}/not-a-uuid`, bearer(user.token));
    expect(badId.status).toBe(422);
    expect((await envelope(badId)).error?.details).toHaveProperty("id");
  });

  it("404 for an unknown id, 409 for a duplicate name (any case)", async () => {
    const user = await admin();
    const missing = crypto.randomUUID();
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { name: "x" }],
      ["DELETE", undefined],
    ] as const) {
      const response = await call(`${POLICIES}/${missing}`, bearer(user.token, { method, body }));
      expect(response.status).toBe(404);
      expect((await envelope(response)).error).toEqual({
        code: "NOT_FOUND",
        message: "SLA policy not found",
      });
    }
    await createPolicy(user.token, { name: "Gold" });
    const duplicate = await call(
      POLICIES,
      bearer(user.token, { method: "POST", body: { name: "GOLD", targets: TARGETS } }),
    );
    expect(duplicate.status).toBe(409);
    expect((await envelope(duplicate)).error).toEqual({
      code: "CONFLICT",
      message: "An SLA policy with this name already exists",
      details: { field: "name" },
    });
  });

  it("refuses to delete a policy a team uses or a ticket was measured against", async () => {
    const user = await admin();
    const teamPolicy = await createPolicy(user.token);
    await insertTeam(user.tenant.id, { slaPolicyId: teamPolicy.id });
    const used = await call(`${POLICIES}/${teamPolicy.id}`, bearer(user.token, { method: "DELETE" }));
    expect(used.status).toBe(409);
    expect((await envelope(used)).error).toMatchObject({
      code: "CONFLICT",
      details: { teams: 1, tickets: 0 },
    });

    const ticketPolicy = await createPolicy(user.token);
    await insertTicket(user.tenant.id, {
      status: "closed",
      createdAt: "2026-01-05T10:00:00Z",
      sla: { policyId: ticketPolicy.id },
    });
    const measured = await call(`${POLICIES}/${ticketPolicy.id}`, bearer(user.token, { method: "DELETE" }));
    expect(measured.status).toBe(409);
    expect((await envelope(measured)).error?.details).toEqual({ teams: 0, tickets: 1 });

    const [still] =
      await ownerSql()`select count(*)::int as n from sla_policies where tenant_id = ${user.tenant.id}`;
    expect(still?.n).toBe(2);
  });

  it("tickets:read reads but cannot write; other permissions get 403; no token gets 401", async () => {
    const owner = await admin();
    const policy = await createPolicy(owner.token);
    const reader = await signedInUser({ tenant: owner.tenant, permissions: ["tickets:read"] });
    const stranger = await signedInUser({ tenant: owner.tenant, permissions: ["orders:read"] });

    expect((await call(POLICIES, bearer(reader.token))).status).toBe(200);
    expect((await call(`${POLICIES}/${policy.id}`, bearer(reader.token))).status).toBe(200);
    const forbidden = [
      [reader.token, "POST", POLICIES, { name: "Nope", targets: TARGETS }],
      [reader.token, "PATCH", `${POLICIES}/${policy.id}`, { name: "Nope" }],
      [reader.token, "DELETE", `${POLICIES}/${policy.id}`, undefined],
      [reader.token, "GET", "/api/v1/sla/report?from=2026-01-01&to=2026-01-31", undefined],
      [stranger.token, "GET", POLICIES, undefined],
      [stranger.token, "GET", `${POLICIES}/${policy.id}`, undefined],
    ] as const;
    for (const [token, method, path, body] of forbidden) {
      const response = await call(path, bearer(token, { method, body }));
      expect(response.status, `${method} ${path}`).toBe(403);
      expect((await envelope(response)).error?.code).toBe("FORBIDDEN");
    }
    const anonymous = await call(POLICIES);
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error?.code).toBe("UNAUTHORIZED");
    expect((await call(`${POLICIES}/${policy.id}`, bearer(owner.token))).status).toBe(200);
  });

  it("another tenant's policy is a 404 and never listed", async () => {
    const a = await admin();
    const b = await admin();
    const bPolicy = await createPolicy(b.token, { name: "B secret policy", isDefault: true });
    for (const [method, body] of [
      ["GET", undefined],
      ["PATCH", { name: "pwned", isDefault: false }],
      ["DELETE", undefined],
    ] as const) {
      const response = await call(`${POLICIES}/${bPolicy.id}`, bearer(a.token, { method, body }));
      expect(response.status, method).toBe(404);
    }
    const list = await call(POLICIES, bearer(a.token));
    expect(await list.text()).not.toContain("B secret policy");
    const bView = await call(`${POLICIES}/${bPolicy.id}`, bearer(b.token));
    expect((await envelope(bView)).data).toEqual(bPolicy);
  });
});
