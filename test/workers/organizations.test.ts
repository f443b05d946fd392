import { describe, expect, it } from "vitest";
import { bearer, createUser, signedInUser } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";

const ORGS = "/api/v1/organizations";
const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";

interface Organization {
  id: string;
  parentId: string | null;
  name: string;
  type: string;
  description: string | null;
  memberCount: number;
  createdAt: string;
  updatedAt: string;
}

interface OrganizationNode extends Organization {
  children: OrganizationNode[];
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

const send = async <T = Organization>(token: string, method: string, path: string, body?: unknown) =>
  json<T>(await call(path, bearer(token, { method, body })));

async function create(token: string, body: Record<string, unknown>): Promise<Organization> {
  const res = await send(token, "POST", ORGS, body);
  if (res.status !== 201) throw new Error(`create failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.data;
}

/** A→B→C plus a separate root D. */
async function chain(token: string) {
  const a = await create(token, { name: "A", type: "company" });
  const b = await create(token, { name: "B", parentId: a.id, type: "division" });
  const c = await create(token, { name: "C", parentId: b.id });
  const d = await create(token, { name: "D", type: "warehouse" });
  return { a, b, c, d };
}

/** Keeps only what the tree shape is about. */
function shape(nodes: OrganizationNode[]): unknown[] {
  return nodes.map((n) => ({ name: n.name, children: shape(n.children) }));
}

describe("organizations: authentication and authorization", () => {
  it("answers 401 without a token, 403 without the permission", async () => {
    let res = await call(ORGS);
    expect(res.status).toBe(401);
    expect((await envelope(res)).error?.code).toBe("UNAUTHORIZED");

    const outsider = await signedInUser({ permissions: ["users:read"] });
    res = await call(ORGS, bearer(outsider.token));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error).toMatchObject({
      code: "FORBIDDEN",
      details: { permission: "organizations:read" },
    });

    const reader = await signedInUser({ tenant: outsider.tenant, permissions: ["organizations:read"] });
    expect((await call(`${ORGS}?tree=true`, bearer(reader.token))).status).toBe(200);
    for (const [method, path, body] of [
      ["POST", ORGS, { name: "X" }],
      ["PATCH", `${ORGS}/${MISSING_ID}`, { name: "Y" }],
      ["DELETE", `${ORGS}/${MISSING_ID}`, undefined],
    ] as const) {
      const r = await send(reader.token, method, path, body);
      expect(r.status, `${method} ${path}`).toBe(403);
      expect(r.error).toMatchObject({ code: "FORBIDDEN", details: { permission: "organizations:write" } });
    }
  });

  it("answers 404 for another tenant's organization and unknown ids; 422 for malformed ids", async () => {
    const mine = await signedInUser({ permissions: ["organizations:write"] });
    const theirs = await signedInUser({ permissions: ["organizations:write"] });
    const foreign = await create(theirs.token, { name: "Foreign HQ" });
    for (const id of [foreign.id, MISSING_ID]) {
      for (const [method, body] of [
        ["GET", undefined],
        ["PATCH", { name: "Taken over" }],
        ["DELETE", undefined],
      ] as const) {
        const r = await send(mine.token, method, `${ORGS}/${id}`, body);
        expect(r.status, `${method} ${id}`).toBe(404);
        expect(r.error?.code).toBe("NOT_FOUND");
      }
    }
    const list = await send<Page<Organization>>(mine.token, "GET", ORGS);
    expect(list.data.total).toBe(0);
    expect((await send(theirs.token, "GET", `${ORGS}/${foreign.id}`)).data.name).toBe("Foreign HQ");
    const bad = await send(mine.token, "GET", `${ORGS}/xyz`);
    expect(bad.status).toBe(422);
    expect(bad.error?.code).toBe("VALIDATION_ERROR");
  });
});

describe("organizations: CRUD", () => {
  it("creates, reads, updates and deletes", async () => {
    const admin = await signedInUser({ permissions: ["organizations:write"] });
    const root = await create(admin.token, { name: "Acme Trading", type: "company", description: "HQ" });
    expect(root).toMatchObject({
      parentId: null,
      name: "Acme Trading",
      type: "company",
      description: "HQ",
      memberCount: 0,
    });
    const team = await create(admin.token, { name: "Support", parentId: root.id });
    expect(team).toMatchObject({ parentId: root.id, type: "department", description: null });

    const got = await send(admin.token, "GET", `${ORGS}/${team.id}`);
    expect(got.status).toBe(200);
    expect(got.data).toEqual(team);

    const updated = await send(admin.token, "PATCH", `${ORGS}/${team.id}`, {
      name: "Customer support",
      type: "team",
      description: "Tier 1",
    });
    expect(updated.status).toBe(200);
    expect(updated.data).toMatchObject({
      name: "Customer support",
      type: "team",
      description: "Tier 1",
      parentId: root.id,
    });
    const moved = await send(admin.token, "PATCH", `${ORGS}/${team.id}`, {
      parentId: null,
      description: null,
    });
    expect(moved.data).toMatchObject({ parentId: null, description: null });

    const deleted = await send(admin.token, "DELETE", `${ORGS}/${team.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.data).toEqual({ deleted: true });
    expect((await send(admin.token, "GET", `${ORGS}/${team.id}`)).status).toBe(404);
    expect((await send(admin.token, "DELETE", `${ORGS}/${team.id}`)).status).toBe(404);
  });

  it("rejects unknown fields, bad types, empty names and empty patches (422)", async () => {
    const admin = await signedInUser({ permissions: ["organizations:write"] });
    for (const body of [
      { name: "A", color: "red" },
      { name: "B", type: "galaxy" },
      { name: "" },
      { name: "C", parentId: "nope" },
    ]) {
      const res = await send(admin.token, "POST", ORGS, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect(res.error?.code).toBe("VALIDATION_ERROR");
    }
    const org = await create(admin.token, { name: "D" });
    expect((await send(admin.token, "PATCH", `${ORGS}/${org.id}`, {})).status).toBe(422);
  });

  it("rejects an unknown or other-tenant parent (422 on parentId)", async () => {
    const admin = await signedInUser({ permissions: ["organizations:write"] });
    const other = await signedInUser({ permissions: ["organizations:write"] });
    const foreign = await create(other.token, { name: "Elsewhere" });
    for (const parentId of [foreign.id, MISSING_ID]) {
      const res = await send(admin.token, "POST", ORGS, { name: "Child", parentId });
      expect(res.status).toBe(422);
      expect(res.error).toMatchObject({ code: "VALIDATION_ERROR", details: { parentId: expect.any(Array) } });
    }
    const mine = await create(admin.token, { name: "Mine" });
    const res = await send(admin.token, "PATCH", `${ORGS}/${mine.id}`, { parentId: foreign.id });
    expect(res.status).toBe(422);
    expect(res.error?.details).toHaveProperty("parentId");
  });

  it("rejects a sibling with the same name (409), allows it under another parent", async () => {
    const admin = await signedInUser({ permissions: ["organizations:write"] });
    const a = await create(admin.token, { name: "North" });
    const b = await create(admin.token, { name: "South" });
    await create(admin.token, { name: "Sales", parentId: a.id });
    let res = await send(admin.token, "POST", ORGS, { name: "SALES", parentId: a.id });
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "CONFLICT", details: { field: "name" } });
    res = await send(admin.token, "POST", ORGS, { name: "north" });
    expect(res.status).toBe(409);
    const other = await create(admin.token, { name: "Sales", parentId: b.id });
    res = await send(admin.token, "PATCH", `${ORGS}/${other.id}`, { parentId: a.id });
    expect(res.status).toBe(409);
  });
});

describe("organizations: the tree", () => {
  it("rejects moving A under its own descendant C, and under itself (422 on parentId)", async () => {
    const admin = await signedInUser({ permissions: ["organizations:write"] });
    const { a, b, c } = await chain(admin.token);
    let res = await send(admin.token, "PATCH", `${ORGS}/${a.id}`, { parentId: c.id });
    expect(res.status).toBe(422);
    expect(res.error).toMatchObject({ code: "VALIDATION_ERROR", details: { parentId: expect.any(Array) } });
    res = await send(admin.token, "PATCH", `${ORGS}/${a.id}`, { parentId: b.id });
    expect(res.status).toBe(422);
    res = await send(admin.token, "PATCH", `${ORGS}/${a.id}`, { parentId: a.id });
    expect(res.status).toBe(422);
    expect(res.error?.details).toHaveProperty("parentId");
    // Nothing moved.
    expect((await send(admin.token, "GET", `${ORGS}/${a.id}`)).data.parentId).toBeNull();
    // Moving the other way round is fine: C becomes a root, then A goes under C.
    expect((await send(admin.token, "PATCH", `${ORGS}/${c.id}`, { parentId: null })).status).toBe(200);
    expect((await send(admin.token, "PATCH", `${ORGS}/${a.id}`, { parentId: c.id })).data.parentId).toBe(
      c.id,
    );
  });

  it("answers the nested tree, roots and siblings by name, from one query", async () => {
    const admin = await signedInUser({ permissions: ["organizations:write"] });
    const { a, b } = await chain(admin.token);
    await create(admin.token, { name: "Aa", parentId: a.id });
    const member = await createUser(admin.tenant);
    await ownerSql()`update users set organization_id = ${b.id} where id = ${member.id}`;

    await call(`${ORGS}?tree=true`, bearer(admin.token));
    const res = await call(`${ORGS}?tree=true`, bearer(admin.token));
    expect(res.status).toBe(200);
    expect(res.headers.get("server-timing")).toMatch(/(^|, )db;dur=[\d.]+;desc="1 rt"/);
    const tree = (await envelope<{ items: OrganizationNode[]; total: number }>(res)).data;
    expect(tree?.total).toBe(5);
    expect(shape(tree?.items ?? [])).toEqual([
      {
        name: "A",
        children: [
          { name: "Aa", children: [] },
          { name: "B", children: [{ name: "C", children: [] }] },
        ],
      },
      { name: "D", children: [] },
    ]);
    const nodeB = tree?.items[0]?.children[1];
    expect(nodeB).toMatchObject({ id: b.id, parentId: a.id, type: "division", memberCount: 1 });
    expect(Object.keys(nodeB ?? {}).sort()).toEqual([
      "children",
      "createdAt",
      "description",
      "id",
      "memberCount",
      "name",
      "parentId",
      "type",
      "updatedAt",
    ]);
  });

  it("lists flat, paginated, optionally the children of one parent", async () => {
    const admin = await signedInUser({ permissions: ["organizations:read", "organizations:write"] });
    const { a, b } = await chain(admin.token);
    const page = await send<Page<Organization>>(admin.token, "GET", `${ORGS}?pageSize=3`);
    expect(page.status).toBe(200);
    expect(page.data).toMatchObject({ total: 4, page: 1, pageSize: 3, totalPages: 2 });
    expect(page.data.items.map((o) => o.name)).toEqual(["A", "B", "C"]);
    expect(page.data.items[0]).not.toHaveProperty("children");
    const next = await send<Page<Organization>>(admin.token, "GET", `${ORGS}?pageSize=3&page=2`);
    expect(next.data.items.map((o) => o.name)).toEqual(["D"]);
    const children = await send<Page<Organization>>(
      admin.token,
      "GET",
      `${ORGS}?parentId=${a.id}&tree=false`,
    );
    expect(children.data.items.map((o) => o.id)).toEqual([b.id]);
    expect((await send(admin.token, "GET", `${ORGS}?tree=maybe`)).status).toBe(422);
  });

  it("refuses to delete an organization with children or members (409)", async () => {
    const admin = await signedInUser({ permissions: ["organizations:write"] });
    const { a, b, c } = await chain(admin.token);
    let res = await send(admin.token, "DELETE", `${ORGS}/${a.id}`);
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "CONFLICT", details: { children: 1, members: 0 } });

    const member = await createUser(admin.tenant);
    await ownerSql()`update users set organization_id = ${c.id} where id = ${member.id}`;
    res = await send(admin.token, "DELETE", `${ORGS}/${c.id}`);
    expect(res.status).toBe(409);
    expect(res.error).toMatchObject({ code: "CONFLICT", details: { children: 0, members: 1 } });

    // A soft-deleted member does not block the delete; it is detached.
    await ownerSql()`update users set deleted_at = now() where id = ${member.id}`;
    expect((await send(admin.token, "DELETE", `${ORGS}/${c.id}`)).status).toBe(200);
    const detached = await ownerSql()`select organization_id from users where id = ${member.id}`;
    expect(detached[0]?.organization_id).toBeNull();
    expect((await send(admin.token, "DELETE", `${ORGS}/${b.id}`)).status).toBe(200);
    expect((await send(admin.token, "DELETE", `${ORGS}/${a.id}`)).status).toBe(200);
  });
});
