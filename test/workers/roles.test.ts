import { describe, expect, it } from "vitest";
import { bearer, createUser, signedInUser } from "../support/auth";
import { call, createTenant, envelope, ownerSql, type TestTenant } from "../support/harness";

const ROLES = "/api/v1/roles";
const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";

interface Role {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  memberCount: number;
  createdAt: string;
  updatedAt: string;
}

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

async function json<T>(response: Response) {
  const body = await envelope<T>(response);
  return { status: response.status, body, data: body.data as T, error: body.error };
}

const send = async <T = Role>(token: string, method: string, path: string, body?: unknown) =>
  json<T>(await call(path, bearer(token, { method, body })));

async function assignRole(tenant: TestTenant, userId: string, roleId: string) {
  await ownerSql()`insert into user_roles (tenant_id, user_id, role_id) values (${tenant.id}, ${userId}, ${roleId})`;
}

describe("roles: authentication and authorization", () => {
  it("answers 401 without a token and 403 without the permission", async () => {
    let res = await call(ROLES);
    expect(res.status).toBe(401);
    expect((await envelope(res)).error?.code).toBe("UNAUTHORIZED");

    const usersOnly = await signedInUser({ permissions: ["users:admin"] });
    res = await call(ROLES, bearer(usersOnly.token));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error).toMatchObject({
      code: "FORBIDDEN",
      details: { permission: "roles:read" },
    });

    const reader = await signedInUser({ tenant: usersOnly.tenant, permissions: ["roles:read"] });
    expect((await call(ROLES, bearer(reader.token))).status).toBe(200);
    const writes: [string, string, unknown][] = [
      ["POST", ROLES, { name: "X", permissions: [] }],
      ["PATCH", `${ROLES}/${MISSING_ID}`, { name: "Y" }],
      ["DELETE", `${ROLES}/${MISSING_ID}`, undefined],
    ];
    for (const [method, path, body] of writes) {
      const r = await send(reader.token, method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.error).toMatchObject({ code: "FORBIDDEN", details: { permission: "roles:admin" } });
    }
  });

  it("answers 404 for another tenant's role and unknown ids, 422 for malformed ids", async () => {
    const root = await signedInUser({ superuser: true });
    const elsewhere = await signedInUser({ superuser: true });
    const theirs = await send(elsewhere.token, "POST", ROLES, {
      name: "Theirs",
      permissions: ["orders:read"],
    });
    expect(theirs.status).toBe(201);
    for (const id of [theirs.data.id, MISSING_ID]) {
      for (const [method, body] of [
        ["GET", undefined],
        ["PATCH", { permissions: ["tenant:admin"] }],
        ["DELETE", undefined],
      ] as const) {
        const r = await send(root.token, method, `${ROLES}/${id}`, body);
        expect(r.status, `${method} ${id}`).toBe(404);
        expect(r.error?.code).toBe("NOT_FOUND");
      }
    }
    const list = await send<Page<Role>>(root.token, "GET", ROLES);
    expect(list.data.items.map((r) => r.name)).not.toContain("Theirs");
    const still = await send(elsewhere.token, "GET", `${ROLES}/${theirs.data.id}`);
    expect(still.data.permissions).toEqual(["orders:read"]);

    const bad = await send(root.token, "GET", `${ROLES}/123`);
    expect(bad.status).toBe(422);
    expect(bad.error?.code).toBe("VALIDATION_ERROR");
  });
});

describe("roles: CRUD", () => {
  it("creates, reads, lists with member counts, updates and deletes", async () => {
    const root = await signedInUser({ superuser: true });
    const created = await send(root.token, "POST", ROLES, {
      name: " Warehouse staff ",
      description: "Pick and pack",
      permissions: ["tickets:write", "orders:read", "orders:read"],
    });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({
      name: "Warehouse staff",
      description: "Pick and pack",
      permissions: ["orders:read", "tickets:write"],
      memberCount: 0,
    });
    const id = created.data.id;
    const [alice, bob, gone] = [
      await createUser(root.tenant),
      await createUser(root.tenant),
      await createUser(root.tenant),
    ];
    for (const u of [alice, bob, gone]) await assignRole(root.tenant, u.id, id);
    await ownerSql()`update users set deleted_at = now() where id = ${gone.id}`;

    const got = await send(root.token, "GET", `${ROLES}/${id}`);
    expect(got.data).toMatchObject({ id, memberCount: 2 });

    await send(root.token, "POST", ROLES, { name: "Auditors", permissions: [] });
    const list = await send<Page<Role>>(root.token, "GET", `${ROLES}?pageSize=1`);
    expect(list.status).toBe(200);
    expect(list.data).toMatchObject({ total: 2, page: 1, pageSize: 1, totalPages: 2 });
    expect(list.data.items.map((r) => r.name)).toEqual(["Auditors"]);
    const second = await send<Page<Role>>(root.token, "GET", `${ROLES}?pageSize=1&page=2`);
    expect(second.data.items[0]).toMatchObject({ name: "Warehouse staff", memberCount: 2 });

    const updated = await send(root.token, "PATCH", `${ROLES}/${id}`, { description: "Pick, pack, ship" });
    expect(updated.status).toBe(200);
    expect(updated.data).toMatchObject({ name: "Warehouse staff", description: "Pick, pack, ship" });

    const deleted = await send(root.token, "DELETE", `${ROLES}/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.data).toEqual({ deleted: true });
    expect((await send(root.token, "GET", `${ROLES}/${id}`)).status).toBe(404);
    const left = await ownerSql()`select count(*)::int as n from user_roles where role_id = ${id}`;
    expect(left[0]?.n).toBe(0);
  });

  it("rejects unknown permissions with 422 naming each of them", async () => {
    const root = await signedInUser({ superuser: true });
    let res = await send(root.token, "POST", ROLES, {
      name: "Typos",
      permissions: ["orders:read", "orders:raed", "everything"],
    });
    expect(res.status).toBe(422);
    expect(res.error?.code).toBe("VALIDATION_ERROR");
    expect(res.error?.details?.permissions).toEqual([
      "Unknown permission 'orders:raed'",
      "Unknown permission 'everything'",
    ]);
    expect(res.error?.message).toContain("orders:raed");
    const ok = await send(root.token, "POST", ROLES, { name: "Fine", permissions: ["orders:read"] });
    res = await send(root.token, "PATCH", `${ROLES}/${ok.data.id}`, { permissions: ["nope:nope"] });
    expect(res.status).toBe(422);
    expect(res.error?.details?.permissions).toEqual(["Unknown permission 'nope:nope'"]);
  });

  it("rejects unknown fields, empty names and empty patches (422)", async () => {
    const root = await signedInUser({ superuser: true });
    for (const body of [
      { name: "A", permissions: [], superuser: true },
      { name: "", permissions: [] },
      { name: "B" },
      { name: "C", permissions: "orders:read" },
    ]) {
      const res = await send(root.token, "POST", ROLES, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
    }
    const role = await send(root.token, "POST", ROLES, { name: "D", permissions: [] });
    const res = await send(root.token, "PATCH", `${ROLES}/${role.data.id}`, {});
    expect(res.status).toBe(422);
  });

  it("rejects a duplicate name, case-insensitively (409)", async () => {
    const root = await signedInUser({ superuser: true });
    expect((await send(root.token, "POST", ROLES, { name: "Finance", permissions: [] })).status).toBe(201);
    let res = await send(root.token, "POST", ROLES, { name: "FINANCE", permissions: [] });
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "CONFLICT", details: { field: "name" } });
    const other = await send(root.token, "POST", ROLES, { name: "Other", permissions: [] });
    res = await send(root.token, "PATCH", `${ROLES}/${other.data.id}`, { name: "finance" });
    expect(res.status).toBe(409);
    // The same name in another tenant is fine.
    const elsewhere = await signedInUser({ superuser: true, tenant: await createTenant() });
    expect((await send(elsewhere.token, "POST", ROLES, { name: "Finance", permissions: [] })).status).toBe(
      201,
    );
  });
});

describe("roles: privilege escalation guard", () => {
  it("a non-superuser creates and edits roles only within its own permissions (403 otherwise)", async () => {
    const admin = await signedInUser({ permissions: ["roles:admin", "orders:write"] });
    let res = await send(admin.token, "POST", ROLES, {
      name: "Too much",
      permissions: ["orders:read", "tenant:admin", "api_keys:admin"],
    });
    expect(res.status).toBe(403);
    expect(res.error).toMatchObject({
      code: "FORBIDDEN",
      details: { permissions: ["api_keys:admin", "tenant:admin"] },
    });

    // orders:write implies orders:read.
    res = await send(admin.token, "POST", ROLES, {
      name: "Order desk",
      permissions: ["orders:read", "roles:read"],
    });
    expect(res.status).toBe(201);
    const id = res.data.id;
    res = await send(admin.token, "PATCH", `${ROLES}/${id}`, {
      permissions: ["orders:write", "users:admin"],
    });
    expect(res.status).toBe(403);
    expect(res.error?.details).toEqual({ permissions: ["users:admin"] });
    res = await send(admin.token, "PATCH", `${ROLES}/${id}`, { permissions: ["orders:write"] });
    expect(res.status).toBe(200);
    expect(res.data.permissions).toEqual(["orders:write"]);
  });

  it("a non-superuser cannot edit or delete a role holding permissions it lacks", async () => {
    const admin = await signedInUser({ permissions: ["roles:admin"] });
    const root = await signedInUser({ tenant: admin.tenant, superuser: true });
    const owners = await send(root.token, "POST", ROLES, { name: "Owners", permissions: ["tenant:admin"] });
    let res = await send(admin.token, "PATCH", `${ROLES}/${owners.data.id}`, { permissions: [] });
    expect(res.status).toBe(403);
    expect(res.error?.code).toBe("FORBIDDEN");
    res = await send(admin.token, "PATCH", `${ROLES}/${owners.data.id}`, { name: "Renamed" });
    expect(res.status).toBe(403);
    res = await send(admin.token, "DELETE", `${ROLES}/${owners.data.id}`);
    expect(res.status).toBe(403);
    const after = await send(root.token, "GET", `${ROLES}/${owners.data.id}`);
    expect(after.data).toMatchObject({ name: "Owners", permissions: ["tenant:admin"] });
    expect((await send(root.token, "DELETE", `${ROLES}/${owners.data.id}`)).status).toBe(200);
  });
});

describe("roles: changes take effect on the members' next request", () => {
  it("a permission change reaches every member at once (their cached permissions are dropped)", async () => {
    const root = await signedInUser({ superuser: true });
    const role = await send(root.token, "POST", ROLES, { name: "Readers", permissions: ["orders:read"] });
    const members = [
      await signedInUser({ tenant: root.tenant }),
      await signedInUser({ tenant: root.tenant }),
    ];
    for (const m of members) await assignRole(root.tenant, m.id, role.data.id);
    for (const m of members) {
      // Twice: the second answer comes from the cached auth record.
      expect((await call("/api/v1/users", bearer(m.token))).status).toBe(403);
      expect((await call("/api/v1/users", bearer(m.token))).status).toBe(403);
    }
    const res = await send(root.token, "PATCH", `${ROLES}/${role.data.id}`, { permissions: ["users:read"] });
    expect(res.status).toBe(200);
    for (const m of members) expect((await call("/api/v1/users", bearer(m.token))).status).toBe(200);

    await send(root.token, "PATCH", `${ROLES}/${role.data.id}`, { permissions: [] });
    for (const m of members) expect((await call("/api/v1/users", bearer(m.token))).status).toBe(403);
  });

  it("deleting a role takes its permissions away from its members at once", async () => {
    const root = await signedInUser({ superuser: true });
    const role = await send(root.token, "POST", ROLES, { name: "Temp", permissions: ["users:read"] });
    const member = await signedInUser({ tenant: root.tenant });
    await assignRole(root.tenant, member.id, role.data.id);
    expect((await call("/api/v1/users", bearer(member.token))).status).toBe(200);
    expect((await call("/api/v1/users", bearer(member.token))).status).toBe(200);
    expect((await send(root.token, "DELETE", `${ROLES}/${role.data.id}`)).status).toBe(200);
    const res = await call("/api/v1/users", bearer(member.token));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error?.code).toBe("FORBIDDEN");
  });
});
