import { describe, expect, it } from "vitest";
import { bearer, createUser, login, randomIp, signedInUser } from "../support/auth";
import { call, createTenant, envelope, ownerSql, type TestTenant } from "../support/harness";

const USERS = "/api/v1/users";
const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";
const ONE_DB_ROUND_TRIP = /(^|, )db;dur=[\d.]+;desc="1 rt"/;

interface User {
  id: string;
  email: string | null;
  username: string | null;
  fullName: string;
  phone: string | null;
  active: boolean;
  superuser: boolean;
  organizationId: string | null;
  organizationName: string | null;
  roles: { id: string; name: string }[];
  hasPassword: boolean;
  lastLoginAt: string | null;
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

async function createViaApi(token: string, body: Record<string, unknown>) {
  return json<User>(await call(USERS, bearer(token, { method: "POST", body })));
}

async function role(
  tenant: TestTenant,
  permissions: string[],
  name = `role-${crypto.randomUUID().slice(0, 8)}`,
) {
  const rows = await ownerSql()`
    insert into roles (tenant_id, name, permissions) values (${tenant.id}, ${name}, ${permissions}) returning id`;
  return { id: String(rows[0]?.id), name };
}

async function organization(tenant: TestTenant, name: string) {
  const rows = await ownerSql()`
    insert into organizations (tenant_id, name) values (${tenant.id}, ${name}) returning id`;
  return { id: String(rows[0]?.id), name };
}

/** A caller that is not a superuser but administers users. */
function userAdmin(tenant?: TestTenant, extra: string[] = []) {
  return signedInUser({ ...(tenant ? { tenant } : {}), permissions: ["users:admin", ...extra] });
}

describe("users: authentication and authorization", () => {
  it("answers 401 without a token on every endpoint", async () => {
    const cases: [string, string][] = [
      ["GET", USERS],
      ["POST", USERS],
      ["GET", `${USERS}/${MISSING_ID}`],
      ["PATCH", `${USERS}/${MISSING_ID}`],
      ["DELETE", `${USERS}/${MISSING_ID}`],
      ["PUT", `${USERS}/${MISSING_ID}/roles`],
    ];
    for (const [method, path] of cases) {
      const res = await call(path, {
        method,
        headers: { "content-type": "application/json" },
        ...(method === "GET" || method === "DELETE" ? {} : { body: "{}" }),
      });
      expect(res.status, `${method} ${path}`).toBe(401);
      expect((await envelope(res)).error?.code).toBe("UNAUTHORIZED");
    }
  });

  it("answers 401 for a garbage token", async () => {
    const res = await call(USERS, bearer("not-a-jwt"));
    expect(res.status).toBe(401);
    expect((await envelope(res)).error?.code).toBe("UNAUTHORIZED");
  });

  it("answers 403 without users:read, and 403 on writes with only users:read", async () => {
    const nobody = await signedInUser({ permissions: ["orders:read"] });
    let res = await call(USERS, bearer(nobody.token));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error).toMatchObject({
      code: "FORBIDDEN",
      details: { permission: "users:read" },
    });

    const reader = await signedInUser({ tenant: nobody.tenant, permissions: ["users:read"] });
    expect((await call(USERS, bearer(reader.token))).status).toBe(200);
    expect((await call(`${USERS}/${reader.id}`, bearer(reader.token))).status).toBe(200);
    const writes: [string, string, unknown][] = [
      ["POST", USERS, { email: "x@example.com", fullName: "X" }],
      ["PATCH", `${USERS}/${nobody.id}`, { fullName: "Y" }],
      ["DELETE", `${USERS}/${nobody.id}`, undefined],
      ["PUT", `${USERS}/${nobody.id}/roles`, { roleIds: [] }],
    ];
    for (const [method, path, body] of writes) {
      res = await call(path, bearer(reader.token, { method, body }));
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await envelope(res)).error).toMatchObject({
        code: "FORBIDDEN",
        details: { permission: "users:admin" },
      });
    }
  });

  it("answers 404 for another tenant's user on every endpoint, and never shows it in lists", async () => {
    const admin = await signedInUser({ superuser: true });
    const other = await createUser(await createTenant(), { fullName: "Zed Outsider" });
    const cases: [string, string, unknown][] = [
      ["GET", `${USERS}/${other.id}`, undefined],
      ["PATCH", `${USERS}/${other.id}`, { fullName: "Hijacked" }],
      ["DELETE", `${USERS}/${other.id}`, undefined],
      ["PUT", `${USERS}/${other.id}/roles`, { roleIds: [] }],
    ];
    for (const [method, path, body] of cases) {
      const res = await call(path, bearer(admin.token, { method, body }));
      expect(res.status, `${method} ${path}`).toBe(404);
      expect((await envelope(res)).error?.code).toBe("NOT_FOUND");
    }
    const list = await json<Page<User>>(await call(`${USERS}?search=outsider`, bearer(admin.token)));
    expect(list.data.total).toBe(0);
    const untouched = await ownerSql()`select full_name, deleted_at from users where id = ${other.id}`;
    expect(untouched[0]).toMatchObject({ full_name: "Zed Outsider", deleted_at: null });
  });

  it("answers 404 for an unknown id and 422 for a malformed one", async () => {
    const admin = await signedInUser({ superuser: true });
    let res = await call(`${USERS}/${MISSING_ID}`, bearer(admin.token));
    expect(res.status).toBe(404);
    expect((await envelope(res)).error?.code).toBe("NOT_FOUND");
    res = await call(`${USERS}/not-a-uuid`, bearer(admin.token));
    expect(res.status).toBe(422);
    const body = await envelope(res);
    expect(body.error?.code).toBe("VALIDATION_ERROR");
    expect(body.error?.details).toHaveProperty("id");
  });
});

describe("POST /users", () => {
  it("creates a user with roles and organization, lower-cases the email, never returns the hash", async () => {
    const admin = await signedInUser({ superuser: true });
    const ops = await role(admin.tenant, ["orders:read"], "Ops");
    const org = await organization(admin.tenant, "Shenzhen warehouse");
    const created = await createViaApi(admin.token, {
      email: "New.Hire@Example.COM",
      username: "new.hire",
      fullName: "  New Hire ",
      password: "a sufficiently long password",
      phone: "+86 138 0000 0000",
      organizationId: org.id,
      roleIds: [ops.id],
    });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({
      email: "new.hire@example.com",
      username: "new.hire",
      fullName: "New Hire",
      phone: "+86 138 0000 0000",
      active: true,
      superuser: false,
      organizationId: org.id,
      organizationName: "Shenzhen warehouse",
      roles: [{ id: ops.id, name: "Ops" }],
      hasPassword: true,
      lastLoginAt: null,
    });
    expect(JSON.stringify(created.body)).not.toMatch(/scrypt|password_?hash/i);

    // The new user can sign in with the password it was given.
    const tokens = await login(
      { email: "new.hire@example.com", tenant: admin.tenant },
      {
        password: "a sufficiently long password",
      },
    );
    expect(tokens.accessToken).toBeTruthy();
  });

  it("creates a username-only user without a password", async () => {
    const admin = await signedInUser({ superuser: true });
    const created = await createViaApi(admin.token, { username: "picker-7", fullName: "Picker Seven" });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({ email: null, username: "picker-7", hasPassword: false, roles: [] });
  });

  it("rejects unknown fields, a missing login, a short password and a password equal to the email (422)", async () => {
    const admin = await signedInUser({ superuser: true });
    const cases: [Record<string, unknown>, string][] = [
      [{ email: "a@example.com", fullName: "A", isAdmin: true }, "_root"],
      [{ fullName: "No Login" }, "email"],
      [{ email: "b@example.com", fullName: "B", password: "short" }, "password"],
      [{ email: "c@example.com", fullName: "C", password: "x".repeat(1025) }, "password"],
      [{ email: "Long.Enough@Example.com", fullName: "D", password: "long.enough@example.com" }, "password"],
      [{ email: "not-an-email", fullName: "E" }, "email"],
      [{ email: "f@example.com", fullName: "" }, "fullName"],
      [{ email: "g@example.com", fullName: "G", roleIds: ["nope"] }, "roleIds.0"],
    ];
    for (const [body, field] of cases) {
      const res = await createViaApi(admin.token, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
      expect(Object.keys(res.error?.details ?? {}), JSON.stringify(res.error)).toContain(field);
    }
  });

  it("rejects a taken email or username (409), case-insensitively; a deleted user's email is free again", async () => {
    const admin = await signedInUser({ superuser: true });
    const first = await createViaApi(admin.token, {
      email: "dup@example.com",
      username: "Dupe",
      fullName: "One",
    });
    expect(first.status).toBe(201);
    let res = await createViaApi(admin.token, { email: "DUP@example.com", fullName: "Two" });
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "CONFLICT", details: { field: "email" } });
    res = await createViaApi(admin.token, { username: "dupe", fullName: "Three" });
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "CONFLICT", details: { field: "username" } });

    expect((await call(`${USERS}/${first.data.id}`, bearer(admin.token, { method: "DELETE" }))).status).toBe(
      200,
    );
    res = await createViaApi(admin.token, { email: "dup@example.com", username: "dupe", fullName: "Again" });
    expect(res.status).toBe(201);
  });

  it("rejects unknown or other-tenant organizations and roles (422 naming them)", async () => {
    const admin = await signedInUser({ superuser: true });
    const elsewhere = await createTenant();
    const foreignOrg = await organization(elsewhere, "Not yours");
    const foreignRole = await role(elsewhere, ["orders:read"]);
    let res = await createViaApi(admin.token, {
      email: "o@example.com",
      fullName: "O",
      organizationId: foreignOrg.id,
    });
    expect(res.status).toBe(422);
    expect(res.error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { organizationId: expect.any(Array) },
    });

    res = await createViaApi(admin.token, {
      email: "r@example.com",
      fullName: "R",
      roleIds: [foreignRole.id, MISSING_ID],
    });
    expect(res.status).toBe(422);
    expect(res.error?.code).toBe("VALIDATION_ERROR");
    expect(res.error?.details?.roleIds).toEqual([
      `Unknown role ${foreignRole.id}`,
      `Unknown role ${MISSING_ID}`,
    ]);
    const rows =
      await ownerSql()`select 1 from users where tenant_id = ${admin.tenant.id} and email in ('o@example.com', 'r@example.com')`;
    expect(rows).toHaveLength(0);
  });

  it("creates a user with roles in one Postgres round trip (warm auth cache)", async () => {
    const admin = await signedInUser({ superuser: true });
    const ops = await role(admin.tenant, ["orders:read"], "Ops");
    expect((await createViaApi(admin.token, { username: "warm-up", fullName: "Warm" })).status).toBe(201);
    const res = await call(
      USERS,
      bearer(admin.token, {
        method: "POST",
        body: { username: "with-roles", fullName: "With Roles", roleIds: [ops.id.toUpperCase()] },
      }),
    );
    expect(res.status).toBe(201);
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    expect((await envelope<User>(res)).data?.roles).toEqual([{ id: ops.id, name: "Ops" }]);
  });

  it("lets only a superuser create a superuser, and guards role escalation (403)", async () => {
    const admin = await userAdmin();
    let res = await createViaApi(admin.token, { email: "su@example.com", fullName: "Su", superuser: true });
    expect(res.status).toBe(403);
    expect(res.error?.code).toBe("FORBIDDEN");

    const tenantAdmin = await role(admin.tenant, ["tenant:admin"]);
    res = await createViaApi(admin.token, {
      email: "esc@example.com",
      fullName: "Esc",
      roleIds: [tenantAdmin.id],
    });
    expect(res.status).toBe(403);
    expect(res.error).toMatchObject({ code: "FORBIDDEN", details: { permissions: ["tenant:admin"] } });

    // users:admin implies users:read, so a role with users:read is within the caller's own permissions.
    const readers = await role(admin.tenant, ["users:read"]);
    res = await createViaApi(admin.token, { email: "ok@example.com", fullName: "Ok", roleIds: [readers.id] });
    expect(res.status).toBe(201);

    const root = await signedInUser({ tenant: admin.tenant, superuser: true });
    res = await createViaApi(root.token, {
      email: "su@example.com",
      fullName: "Su",
      superuser: true,
      roleIds: [tenantAdmin.id],
    });
    expect(res.status).toBe(201);
    expect(res.data.superuser).toBe(true);
  });
});

describe("GET /users", () => {
  async function population() {
    const admin = await signedInUser({ superuser: true });
    const t = admin.tenant;
    const org = await organization(t, "Returns desk");
    const pickers = await role(t, ["orders:read"], "Pickers");
    const sql = ownerSql();
    const make = async (
      email: string,
      fullName: string,
      extra: { active?: boolean; username?: string } = {},
    ) => {
      const rows = await sql`
        insert into users (tenant_id, email, username, full_name, active)
        values (${t.id}, ${email}, ${extra.username ?? null}, ${fullName}, ${extra.active ?? true}) returning id`;
      return String(rows[0]?.id);
    };
    const anna = await make("anna@shop.example", "Anna Zhang", { username: "anna_z" });
    const bob = await make("bob@shop.example", "Bob Li", { active: false });
    const carol = await make("carol@shop.example", "Carol 100% Wu");
    const dan = await make("dan@shop.example", "Dan Chen", { username: "picker_dan" });
    const gone = await make("gone@shop.example", "Anna Gone");
    await sql`update users set organization_id = ${org.id} where id in (${anna}, ${dan})`;
    await sql`insert into user_roles (tenant_id, user_id, role_id) values (${t.id}, ${dan}, ${pickers.id})`;
    await sql`update users set deleted_at = now() where id = ${gone}`;
    return { admin, org, pickers, ids: { anna, bob, carol, dan, gone } };
  }

  const list = async (token: string, query: string) =>
    json<Page<User>>(await call(`${USERS}?${query}`, bearer(token)));

  it("pages through live users with their roles and organization", async () => {
    const { admin, org, pickers, ids } = await population();
    const first = await list(admin.token, "pageSize=2&sort=email");
    expect(first.status).toBe(200);
    // admin + anna, bob, carol, dan; the soft-deleted user is not counted.
    expect(first.data).toMatchObject({ total: 5, page: 1, pageSize: 2, totalPages: 3 });
    expect(first.data.items.map((u) => u.email)).toEqual(["anna@shop.example", "bob@shop.example"]);
    const last = await list(admin.token, "pageSize=2&page=3&sort=email");
    expect(last.data.items.map((u) => u.email)).toEqual([admin.email]);
    const beyond = await list(admin.token, "pageSize=2&page=9");
    expect(beyond.data).toMatchObject({ items: [], total: 5 });

    const dan = (await list(admin.token, "search=picker_dan")).data.items[0];
    expect(dan).toMatchObject({
      id: ids.dan,
      organizationId: org.id,
      organizationName: "Returns desk",
      roles: [{ id: pickers.id, name: "Pickers" }],
    });
    expect(JSON.stringify(first.body)).not.toMatch(/password_?hash|scrypt/i);
  });

  it("searches name, email and username as a substring, case-insensitively, with literal % and _", async () => {
    const { admin, ids } = await population();
    const emails = async (q: string) =>
      (await list(admin.token, `search=${encodeURIComponent(q)}&sort=email`)).data.items.map((u) => u.id);
    expect(await emails("ZHANG")).toEqual([ids.anna]);
    expect(await emails("anna")).toEqual([ids.anna]); // not the deleted Anna
    expect(await emails("bob@shop")).toEqual([ids.bob]);
    expect(await emails("ker_d")).toEqual([ids.dan]);
    expect(await emails("100%")).toEqual([ids.carol]);
    expect(await emails("%")).toEqual([ids.carol]);
    expect(await emails("a_z")).toEqual([ids.anna]);
    expect(await emails("_")).toEqual([ids.anna, ids.dan]);
    expect(await emails("nobody-matches")).toEqual([]);
  });

  it("filters by active, organization, role and superuser, and sorts", async () => {
    const { admin, org, pickers, ids } = await population();
    const idsOf = async (q: string) => (await list(admin.token, q)).data.items.map((u) => u.id);
    expect(await idsOf("active=false")).toEqual([ids.bob]);
    expect((await idsOf("active=true")).sort()).toEqual([admin.id, ids.anna, ids.carol, ids.dan].sort());
    expect(await idsOf(`organizationId=${org.id}&sort=email`)).toEqual([ids.anna, ids.dan]);
    expect(await idsOf(`roleId=${pickers.id}`)).toEqual([ids.dan]);
    expect(await idsOf("superuser=true")).toEqual([admin.id]);
    expect(await idsOf(`superuser=false&organizationId=${org.id}&search=dan`)).toEqual([ids.dan]);
    expect(await idsOf("sort=-fullName&active=true&superuser=false")).toEqual([ids.dan, ids.carol, ids.anna]);
    expect(await idsOf("sort=fullName&superuser=false")).toEqual([ids.anna, ids.bob, ids.carol, ids.dan]);

    for (const bad of ["active=yes", "sort=password", "organizationId=nope", "pageSize=0", "pageSize=201"]) {
      const res = await list(admin.token, bad);
      expect(res.status, bad).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
    }
  });

  it("answers in one Postgres round trip once the caller's auth record is cached", async () => {
    const { admin } = await population();
    await call(USERS, bearer(admin.token));
    const res = await call(`${USERS}?search=a&roleId=${MISSING_ID}`, bearer(admin.token));
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
  });
});

describe("GET /users/{id}", () => {
  it("answers the user with roles and organization in one Postgres round trip (warm auth cache)", async () => {
    const reader = await signedInUser({ permissions: ["users:read"] });
    const org = await organization(reader.tenant, "HQ");
    await ownerSql()`update users set organization_id = ${org.id} where id = ${reader.id}`;
    const first = await call(`${USERS}/${reader.id}`, bearer(reader.token));
    expect(first.status).toBe(200);
    expect(first.headers.get("server-timing")).toMatch(/db;dur=[\d.]+;desc="[12] rt"/);
    const second = await call(`${USERS}/${reader.id}`, bearer(reader.token));
    expect(second.status).toBe(200);
    expect(second.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    const user = (await envelope<User>(second)).data;
    expect(user).toMatchObject({
      id: reader.id,
      email: reader.email,
      organizationId: org.id,
      organizationName: "HQ",
      hasPassword: true,
    });
    expect(user?.roles).toHaveLength(1);
    expect(user?.lastLoginAt).not.toBeNull();
  });
});

describe("PATCH /users/{id}", () => {
  const patch = async (token: string, id: string, body: unknown) =>
    json<User>(await call(`${USERS}/${id}`, bearer(token, { method: "PATCH", body })));

  it("updates the given fields only", async () => {
    const admin = await signedInUser({ superuser: true });
    const target = await createUser(admin.tenant, { fullName: "Old Name" });
    const org = await organization(admin.tenant, "Night shift");
    const res = await patch(admin.token, target.id, {
      fullName: "New Name",
      phone: "021 5555 0000",
      organizationId: org.id,
      email: "Renamed@Example.com",
      username: "renamed",
    });
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({
      id: target.id,
      fullName: "New Name",
      phone: "021 5555 0000",
      organizationId: org.id,
      organizationName: "Night shift",
      email: "renamed@example.com",
      username: "renamed",
      active: true,
    });
    const cleared = await patch(admin.token, target.id, { phone: null, organizationId: null });
    expect(cleared.data).toMatchObject({ phone: null, organizationId: null, fullName: "New Name" });
  });

  it("rejects unknown fields, an empty patch, bad values and a taken email", async () => {
    const admin = await signedInUser({ superuser: true });
    const target = await createUser(admin.tenant);
    const other = await createUser(admin.tenant);
    for (const body of [
      { isAdmin: true },
      {},
      { email: "nope" },
      { password: "short" },
      { active: "no" },
      { email: null },
    ]) {
      const res = await patch(admin.token, target.id, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
    }
    let res = await patch(admin.token, target.id, { password: target.email.toUpperCase() });
    expect(res.status).toBe(422);
    expect(res.error?.details).toHaveProperty("password");
    res = await patch(admin.token, target.id, { email: other.email });
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "CONFLICT", details: { field: "email" } });
    res = await patch(admin.token, target.id, { organizationId: MISSING_ID });
    expect(res.status).toBe(422);
    expect(res.error?.details).toHaveProperty("organizationId");
  });

  it("a new password kills the user's live tokens and sessions; the new password signs in", async () => {
    const admin = await signedInUser({ superuser: true });
    const target = await signedInUser({ tenant: admin.tenant, permissions: ["users:read"] });
    expect((await call(`${USERS}/${target.id}`, bearer(target.token))).status).toBe(200);
    const res = await patch(admin.token, target.id, { password: "a brand new long password" });
    expect(res.status).toBe(200);

    const after = await call(`${USERS}/${target.id}`, bearer(target.token));
    expect(after.status).toBe(401);
    expect((await envelope(after)).error?.code).toBe("UNAUTHORIZED");
    const refresh = await call("/api/v1/auth/refresh", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": randomIp() },
      body: JSON.stringify({ refreshToken: target.tokens.refreshToken }),
    });
    expect(refresh.status).toBe(401);
    await expect(login(target)).rejects.toThrow(/401/);
    const fresh = await login(target, { password: "a brand new long password" });
    expect((await call(`${USERS}/${target.id}`, bearer(fresh.accessToken))).status).toBe(200);
  });

  it("deactivation kills the user's tokens at once; reactivation lets them sign in again", async () => {
    const admin = await signedInUser({ superuser: true });
    const target = await signedInUser({ tenant: admin.tenant, permissions: ["users:read"] });
    expect((await call(USERS, bearer(target.token))).status).toBe(200);
    expect((await patch(admin.token, target.id, { active: false })).data.active).toBe(false);
    expect((await call(USERS, bearer(target.token))).status).toBe(401);
    await expect(login(target)).rejects.toThrow(/401/);
    expect((await patch(admin.token, target.id, { active: true })).data.active).toBe(true);
    const tokens = await login(target);
    expect((await call(USERS, bearer(tokens.accessToken))).status).toBe(200);
  });

  it("only a superuser changes superuser or edits a superuser; nobody locks themselves out", async () => {
    const admin = await userAdmin();
    const plain = await createUser(admin.tenant);
    const root = await signedInUser({ tenant: admin.tenant, superuser: true });

    let res = await patch(admin.token, plain.id, { superuser: true });
    expect(res.status).toBe(403);
    expect(res.error?.code).toBe("FORBIDDEN");
    res = await patch(admin.token, root.id, { password: "taking over the root account" });
    expect(res.status).toBe(403);
    expect(res.error?.code).toBe("FORBIDDEN");
    res = await patch(admin.token, root.id, { fullName: "Renamed Root" });
    expect(res.status).toBe(403);
    const rootRow = await ownerSql()`select full_name from users where id = ${root.id}`;
    expect(rootRow[0]?.full_name).toBe("Test User");

    res = await patch(admin.token, admin.id, { active: false });
    expect(res.status).toBe(409);
    expect(res.error?.code).toBe("CONFLICT");
    res = await patch(root.token, root.id, { superuser: false });
    expect(res.status).toBe(409);
    expect(res.error?.code).toBe("CONFLICT");

    res = await patch(root.token, plain.id, { superuser: true });
    expect(res.status).toBe(200);
    expect(res.data.superuser).toBe(true);
    // Editing yourself otherwise is fine.
    expect((await patch(admin.token, admin.id, { fullName: "Still Me" })).status).toBe(200);
  });

  it("a non-superuser cannot take over a user holding permissions it lacks (403 on every write)", async () => {
    const admin = await userAdmin();
    const owner = await signedInUser({ tenant: admin.tenant, permissions: ["tenant:admin"] });
    const reader = await signedInUser({ tenant: admin.tenant, permissions: ["users:read"] });
    const writes: [string, string, unknown][] = [
      ["PATCH", `${USERS}/${owner.id}`, { password: "now I know the owner's password" }],
      ["PATCH", `${USERS}/${owner.id}`, { email: "attacker@example.com" }],
      ["PUT", `${USERS}/${owner.id}/roles`, { roleIds: [] }],
      ["DELETE", `${USERS}/${owner.id}`, undefined],
    ];
    for (const [method, path, body] of writes) {
      const res = await call(path, bearer(admin.token, { method, body }));
      expect(res.status, `${method} ${path}`).toBe(403);
      expect((await envelope(res)).error?.code).toBe("FORBIDDEN");
    }
    // The owner's token still works: nothing was changed.
    expect((await call("/api/v1/auth/sessions", bearer(owner.token))).status).toBe(200);
    const row = await ownerSql()`select email, deleted_at from users where id = ${owner.id}`;
    expect(row[0]).toEqual({ email: owner.email, deleted_at: null });
    // A user within the caller's own permissions is fine.
    expect((await patch(admin.token, reader.id, { fullName: "Managed" })).status).toBe(200);
  });

  it("promotion to superuser takes effect on the user's next request", async () => {
    const root = await signedInUser({ superuser: true });
    const member = await signedInUser({ tenant: root.tenant, permissions: ["orders:read"] });
    expect((await call(USERS, bearer(member.token))).status).toBe(403);
    expect((await patch(root.token, member.id, { superuser: true })).status).toBe(200);
    expect((await call(USERS, bearer(member.token))).status).toBe(200);
  });
});

describe("DELETE /users/{id}", () => {
  it("soft-deletes: hidden from reads, its token stops working, sessions revoked, row kept", async () => {
    const admin = await signedInUser({ superuser: true });
    const target = await signedInUser({ tenant: admin.tenant, permissions: ["users:read"] });
    expect((await call(`${USERS}/${target.id}`, bearer(target.token))).status).toBe(200);

    const res = await call(`${USERS}/${target.id}`, bearer(admin.token, { method: "DELETE" }));
    expect(res.status).toBe(200);
    expect((await envelope(res)).data).toEqual({ deleted: true });

    const own = await call(`${USERS}/${admin.id}`, bearer(target.token));
    expect(own.status).toBe(401);
    expect((await envelope(own)).error?.code).toBe("UNAUTHORIZED");
    expect((await call(`${USERS}/${target.id}`, bearer(admin.token))).status).toBe(404);
    const list = await json<Page<User>>(await call(USERS, bearer(admin.token)));
    expect(list.data.items.map((u) => u.id)).toEqual([admin.id]);
    await expect(login(target)).rejects.toThrow(/401/);

    const rows = await ownerSql()`
      select u.deleted_at is not null as deleted, u.active,
             (select count(*)::int from auth_sessions s where s.user_id = u.id and s.revoked_at is null) as live_sessions
        from users u where u.id = ${target.id}`;
    expect(rows[0]).toEqual({ deleted: true, active: false, live_sessions: 0 });

    const again = await call(`${USERS}/${target.id}`, bearer(admin.token, { method: "DELETE" }));
    expect(again.status).toBe(404);
    const patchDeleted = await call(
      `${USERS}/${target.id}`,
      bearer(admin.token, { method: "PATCH", body: { fullName: "Zombie" } }),
    );
    expect(patchDeleted.status).toBe(404);
  });

  it("refuses to delete yourself (409) and lets only a superuser delete a superuser (403)", async () => {
    const admin = await userAdmin();
    const root = await signedInUser({ tenant: admin.tenant, superuser: true });
    let res = await call(`${USERS}/${admin.id}`, bearer(admin.token, { method: "DELETE" }));
    expect(res.status).toBe(409);
    expect((await envelope(res)).error?.code).toBe("CONFLICT");
    res = await call(`${USERS}/${root.id}`, bearer(admin.token, { method: "DELETE" }));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error?.code).toBe("FORBIDDEN");
    expect((await call(`${USERS}/${root.id}`, bearer(root.token))).status).toBe(200);
    res = await call(`${USERS}/${admin.id}`, bearer(root.token, { method: "DELETE" }));
    expect(res.status).toBe(200);
  });
});

describe("PUT /users/{id}/roles", () => {
  const setRoles = async (token: string, id: string, roleIds: unknown) =>
    json<User>(await call(`${USERS}/${id}/roles`, bearer(token, { method: "PUT", body: { roleIds } })));

  it("replaces the set of roles", async () => {
    const admin = await signedInUser({ superuser: true });
    const target = await createUser(admin.tenant);
    const [a, b, c] = [
      await role(admin.tenant, ["orders:read"], "Alpha"),
      await role(admin.tenant, ["tickets:read"], "Bravo"),
      await role(admin.tenant, ["sync:read"], "Charlie"),
    ];
    let res = await setRoles(admin.token, target.id, [b.id, a.id, a.id]);
    expect(res.status).toBe(200);
    expect(res.data.roles).toEqual([
      { id: a.id, name: "Alpha" },
      { id: b.id, name: "Bravo" },
    ]);
    res = await setRoles(admin.token, target.id, [c.id, b.id]);
    expect(res.data.roles.map((r) => r.name)).toEqual(["Bravo", "Charlie"]);
    res = await setRoles(admin.token, target.id, []);
    expect(res.data.roles).toEqual([]);
  });

  it("rejects unknown and other-tenant roles with 422 naming them, changing nothing", async () => {
    const admin = await signedInUser({ superuser: true });
    const target = await createUser(admin.tenant);
    const mine = await role(admin.tenant, ["orders:read"]);
    const theirs = await role(await createTenant(), ["orders:read"]);
    await setRoles(admin.token, target.id, [mine.id]);
    let res = await setRoles(admin.token, target.id, [mine.id, theirs.id]);
    expect(res.status).toBe(422);
    expect(res.error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { roleIds: [`Unknown role ${theirs.id}`] },
    });
    res = await setRoles(admin.token, target.id, ["not-a-uuid"]);
    expect(res.status).toBe(422);
    res = await json<User>(
      await call(
        `${USERS}/${target.id}/roles`,
        bearer(admin.token, { method: "PUT", body: { roleIds: [], extra: 1 } }),
      ),
    );
    expect(res.status).toBe(422);
    const rows = await ownerSql()`select role_id from user_roles where user_id = ${target.id}`;
    expect(rows.map((r) => r.role_id)).toEqual([mine.id]);
  });

  it("refuses to assign a role with permissions the caller does not hold (403)", async () => {
    const admin = await userAdmin(undefined, ["orders:read"]);
    const target = await createUser(admin.tenant);
    const powerful = await role(admin.tenant, ["orders:read", "webhooks:admin"]);
    const modest = await role(admin.tenant, ["orders:read", "users:write"]);
    let res = await setRoles(admin.token, target.id, [modest.id, powerful.id]);
    expect(res.status).toBe(403);
    expect(res.error).toMatchObject({ code: "FORBIDDEN", details: { permissions: ["webhooks:admin"] } });
    res = await setRoles(admin.token, target.id, [modest.id]);
    expect(res.status).toBe(200);
    // Nor to yourself.
    res = await setRoles(admin.token, admin.id, [powerful.id]);
    expect(res.status).toBe(403);
  });

  it("is one Postgres round trip (warm auth cache) and accepts upper-case role ids", async () => {
    const admin = await userAdmin(undefined, ["orders:read"]);
    const target = await createUser(admin.tenant);
    const [a, b] = [
      await role(admin.tenant, ["orders:read"], "Alpha"),
      await role(admin.tenant, ["users:read"], "Bravo"),
    ];
    const put = (roleIds: string[]) =>
      call(`${USERS}/${target.id}/roles`, bearer(admin.token, { method: "PUT", body: { roleIds } }));
    expect((await put([a.id])).status).toBe(200);
    const second = await put([a.id.toUpperCase(), b.id.toUpperCase()]);
    expect(second.status).toBe(200);
    expect(second.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    expect((await envelope<User>(second)).data?.roles).toEqual([
      { id: a.id, name: "Alpha" },
      { id: b.id, name: "Bravo" },
    ]);
    // Refusals are one round trip too, and write nothing.
    const powerful = await role(admin.tenant, ["webhooks:admin"]);
    const refused = await put([powerful.id]);
    expect(refused.status).toBe(403);
    expect(refused.headers.get("server-timing")).toMatch(ONE_DB_ROUND_TRIP);
    const unknown = await put([a.id, MISSING_ID]);
    expect(unknown.status).toBe(422);
    expect((await envelope(unknown)).error?.details).toEqual({ roleIds: [`Unknown role ${MISSING_ID}`] });
    const missing = await call(
      `${USERS}/${MISSING_ID}/roles`,
      bearer(admin.token, { method: "PUT", body: { roleIds: [a.id] } }),
    );
    expect(missing.status).toBe(404);
    expect((await envelope(missing)).error?.code).toBe("NOT_FOUND");
    const rows =
      await ownerSql()`select role_id from user_roles where user_id = ${target.id} order by role_id`;
    expect(rows.map((r) => r.role_id)).toEqual([a.id, b.id].sort());
  });

  it("checks the guard after a concurrent promotion commits, so it cannot strip a new superuser's roles", async () => {
    const admin = await userAdmin();
    const target = await createUser(admin.tenant);
    const readers = await role(admin.tenant, ["users:read"]);
    expect((await setRoles(admin.token, target.id, [readers.id])).status).toBe(200);
    // A superuser's transaction holds the target's row while it promotes it; the PUT arrives meanwhile.
    const owner = ownerSql();
    const promotion = owner.transaction([
      owner`select id from users where id = ${target.id} for update`,
      owner`select pg_sleep(0.5)`,
      owner`update users set superuser = true where id = ${target.id}`,
    ]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    const res = await setRoles(admin.token, target.id, []);
    await promotion;
    expect(res.status).toBe(403);
    expect(res.error?.code).toBe("FORBIDDEN");
    const rows = await ownerSql()`select role_id from user_roles where user_id = ${target.id}`;
    expect(rows.map((r) => r.role_id)).toEqual([readers.id]);
  });

  it("takes effect on the user's very next request", async () => {
    const admin = await signedInUser({ superuser: true });
    const member = await signedInUser({ tenant: admin.tenant, permissions: ["orders:read"] });
    const readers = await role(admin.tenant, ["users:read"]);
    // Warm the member's cached auth record, then change its roles.
    expect((await call(USERS, bearer(member.token))).status).toBe(403);
    expect((await call(USERS, bearer(member.token))).status).toBe(403);
    expect((await setRoles(admin.token, member.id, [readers.id])).status).toBe(200);
    expect((await call(USERS, bearer(member.token))).status).toBe(200);
    expect((await setRoles(admin.token, member.id, [])).status).toBe(200);
    expect((await call(USERS, bearer(member.token))).status).toBe(403);
  });
});
