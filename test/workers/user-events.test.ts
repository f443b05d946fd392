import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import worker from "../../src/index";
import { bearer, createUser, signedInUser } from "../support/auth";
import { call, createTenant, envelope, ownerSql } from "../support/harness";

const USERS = "/api/v1/users";
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** An `events` queue that keeps what is sent to it, or fails every send. */
function fakeEventsQueue(options: { failing?: boolean } = {}) {
  const sent: unknown[] = [];
  const queue = {
    async send(body: unknown) {
      if (options.failing) throw new Error("queue unavailable");
      sent.push(body);
    },
    async sendBatch(messages: Iterable<{ body: unknown }>) {
      if (options.failing) throw new Error("queue unavailable");
      for (const m of messages) sent.push(m.body);
    },
  };
  return { sent, overrides: { EVENTS_QUEUE: queue as unknown as Queue } };
}

async function deliver(messages: { id: string; body: unknown; attempts?: number }[]) {
  const batch = createMessageBatch(
    "events",
    messages.map((m) => ({ id: m.id, timestamp: new Date(), attempts: m.attempts ?? 1, body: m.body })),
  );
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

function userEvent(tenantId: string, type: string, data: Record<string, unknown>) {
  return {
    type,
    eventId: crypto.randomUUID(),
    tenantId,
    occurredAt: new Date().toISOString(),
    actor: { type: "user", userId: crypto.randomUUID() },
    data,
  };
}

describe("user events: publishing", () => {
  it("publishes user.created, user.updated (changed field names only) and user.deleted after each write", async () => {
    const admin = await signedInUser({ superuser: true });
    const events = fakeEventsQueue();
    const role = await ownerSql()`
      insert into roles (tenant_id, name, permissions) values (${admin.tenant.id}, 'Ops', ${["orders:read"]}) returning id`;

    const created = await call(
      USERS,
      bearer(admin.token, {
        method: "POST",
        body: { email: "evt@example.com", fullName: "Evt", password: "the first long password" },
      }),
      events.overrides,
    );
    expect(created.status).toBe(201);
    const userId = String((await envelope<{ id: string }>(created)).data?.id);

    const patched = await call(
      `${USERS}/${userId}`,
      bearer(admin.token, {
        method: "PATCH",
        // fullName unchanged: not reported.
        body: { fullName: "Evt", phone: "123456", password: "the second long password" },
      }),
      events.overrides,
    );
    expect(patched.status).toBe(200);
    const roles = await call(
      `${USERS}/${userId}/roles`,
      bearer(admin.token, { method: "PUT", body: { roleIds: [String(role[0]?.id)] } }),
      events.overrides,
    );
    expect(roles.status).toBe(200);
    // Nothing changed: no event.
    await call(
      `${USERS}/${userId}`,
      bearer(admin.token, { method: "PATCH", body: { phone: "123456" } }),
      events.overrides,
    );
    const deleted = await call(
      `${USERS}/${userId}`,
      bearer(admin.token, { method: "DELETE" }),
      events.overrides,
    );
    expect(deleted.status).toBe(200);

    const actor = { type: "user", userId: admin.id };
    expect(events.sent).toEqual([
      {
        type: "user.created",
        eventId: expect.any(String),
        tenantId: admin.tenant.id,
        occurredAt: expect.stringMatching(ISO),
        actor,
        data: { userId },
      },
      {
        type: "user.updated",
        eventId: expect.any(String),
        tenantId: admin.tenant.id,
        occurredAt: expect.stringMatching(ISO),
        actor,
        data: { userId, changes: ["phone", "password"] },
      },
      {
        type: "user.updated",
        eventId: expect.any(String),
        tenantId: admin.tenant.id,
        occurredAt: expect.stringMatching(ISO),
        actor,
        data: { userId, changes: ["roleIds"] },
      },
      {
        type: "user.deleted",
        eventId: expect.any(String),
        tenantId: admin.tenant.id,
        occurredAt: expect.stringMatching(ISO),
        actor,
        data: { userId },
      },
    ]);
    const ids = events.sent.map((e) => (e as { eventId: string }).eventId);
    expect(new Set(ids).size).toBe(4);
    const serialized = JSON.stringify(events.sent);
    expect(serialized).not.toContain("long password");
    expect(serialized).not.toContain("scrypt");
  });

  it("still answers the write when the queue is down (the write is the truth)", async () => {
    const admin = await signedInUser({ superuser: true });
    const down = fakeEventsQueue({ failing: true });
    const res = await call(
      USERS,
      bearer(admin.token, { method: "POST", body: { email: "q@example.com", fullName: "Queue Down" } }),
      down.overrides,
    );
    expect(res.status).toBe(201);
    const id = String((await envelope<{ id: string }>(res)).data?.id);
    expect((await call(`${USERS}/${id}`, bearer(admin.token))).status).toBe(200);
  });

  it("reaches domain_events through the real queue and its consumer", async () => {
    const admin = await signedInUser({ superuser: true });
    const res = await call(
      USERS,
      bearer(admin.token, { method: "POST", body: { username: "queued", fullName: "Through The Queue" } }),
    );
    const id = String((await envelope<{ id: string }>(res)).data?.id);
    let rows: Record<string, unknown>[] = [];
    for (let i = 0; i < 50 && rows.length === 0; i++) {
      rows = await ownerSql()`select type, tenant_id, actor from domain_events where subject_id = ${id}`;
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 100));
    }
    expect(rows).toEqual([
      { type: "user.created", tenant_id: admin.tenant.id, actor: { type: "user", userId: admin.id } },
    ]);
  });
});

describe("user events: the events consumer", () => {
  it("records each event in domain_events once, even when redelivered", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    const event = userEvent(tenant.id, "user.updated", { userId: user.id, changes: ["fullName", "active"] });
    const messageId = `evt-${crypto.randomUUID()}`;
    const first = await deliver([{ id: messageId, body: event }]);
    expect(first.explicitAcks).toEqual([messageId]);
    expect(first.retryMessages).toEqual([]);

    const redelivered = await deliver([{ id: messageId, body: event, attempts: 2 }]);
    expect(redelivered.explicitAcks).toEqual([messageId]);
    expect(redelivered.retryMessages).toEqual([]);

    const rows = await ownerSql()`
      select id, tenant_id, type, subject_id, actor, payload, occurred_at from domain_events where id = ${event.eventId}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      id: event.eventId,
      tenant_id: tenant.id,
      type: "user.updated",
      subject_id: user.id,
      actor: event.actor,
      payload: { userId: user.id, changes: ["fullName", "active"] },
    });
    expect(new Date(String(rows[0]?.occurred_at)).toISOString()).toBe(event.occurredAt);
  });

  it("records a batch of mixed events, each in its own tenant", async () => {
    const [t1, t2] = [await createTenant(), await createTenant()];
    const created = userEvent(t1.id, "user.created", { userId: crypto.randomUUID() });
    const deleted = userEvent(t2.id, "user.deleted", { userId: crypto.randomUUID() });
    const ids = [`evt-${crypto.randomUUID()}`, `evt-${crypto.randomUUID()}`];
    const result = await deliver([
      { id: ids[0] ?? "", body: created },
      { id: ids[1] ?? "", body: deleted },
    ]);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    const rows = await ownerSql()`
      select tenant_id, type from domain_events where id in (${created.eventId}, ${deleted.eventId}) order by type`;
    expect(rows).toEqual([
      { tenant_id: t1.id, type: "user.created" },
      { tenant_id: t2.id, type: "user.deleted" },
    ]);
  });

  it("dead-letters a malformed user event and one whose tenant does not exist, without retrying", async () => {
    const tenant = await createTenant();
    const malformed = {
      ...userEvent(tenant.id, "user.deleted", { userId: crypto.randomUUID() }),
      eventId: "e-1",
    };
    const orphan = userEvent(crypto.randomUUID(), "user.created", { userId: crypto.randomUUID() });
    const ids = [`evt-${crypto.randomUUID()}`, `evt-${crypto.randomUUID()}`];
    const result = await deliver([
      { id: ids[0] ?? "", body: malformed },
      { id: ids[1] ?? "", body: orphan },
    ]);
    expect(result.retryMessages).toEqual([]);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    const dead =
      await ownerSql()`select message_id, error from dead_letters where message_id in (${ids[0]}, ${ids[1]})`;
    const errors = Object.fromEntries(dead.map((d) => [String(d.message_id), String(d.error)]));
    expect(errors[ids[0] ?? ""]).toMatch(/^invalid message/);
    expect(errors[ids[1] ?? ""]).toMatch(/PermanentMessageError: Tenant .* does not exist/);
    const recorded = await ownerSql()`select 1 from domain_events where id = ${orphan.eventId}`;
    expect(recorded).toHaveLength(0);
  });
});
