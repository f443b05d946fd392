import { describe, expect, it } from "vitest";
import { loadErpMappings } from "../../src/services/connections/load-connection";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { call, envelope, ownerSql } from "../support/harness";
import {
  CONNECTIONS,
  createChannelConnection,
  createErpConnection,
  MAPPINGS,
  type Mapping,
  putMappings,
} from "../support/hub";

const MISSING_ID = "7d4f5b0e-3c1a-4f7e-9a8b-2c6d1e0f3a4b";

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

async function send<T = Mapping>(token: string | undefined, method: string, path: string, body?: unknown) {
  const response = await call(path, token ? bearer(token, { method, body }) : { method });
  const parsed = await envelope<T>(response);
  return { status: response.status, headers: response.headers, data: parsed.data as T, error: parsed.error };
}

async function erpOfNewTenant() {
  const user = await signedInUser({ permissions: ["sync:admin"] });
  const erp = await createErpConnection(user.token);
  return { user, erp, path: `${CONNECTIONS}/${erp.id}/mappings` };
}

describe("mappings: authentication and authorization", () => {
  it("answers 401 without a token, 403 without sync:read or sync:admin", async () => {
    const { user, erp, path } = await erpOfNewTenant();
    const mapping = await send(user.token, "POST", path, { kind: "sku", source: "A", target: "B" });
    for (const [method, url] of [
      ["GET", path],
      ["POST", path],
      ["PUT", path],
      ["PATCH", `${MAPPINGS}/${mapping.data.id}`],
      ["DELETE", `${MAPPINGS}/${mapping.data.id}`],
    ] as const) {
      const res = await send(undefined, method, url);
      expect(res.status, `${method} ${url}`).toBe(401);
      expect(res.error).toEqual({ code: "UNAUTHORIZED", message: "Authentication required" });
    }

    const outsider = await signedInUser({ tenant: user.tenant, permissions: ["orders:write"] });
    const denied = await send(outsider.token, "GET", path);
    expect(denied.status).toBe(403);
    expect(denied.error).toEqual({
      code: "FORBIDDEN",
      message: "Missing permission sync:read",
      details: { permission: "sync:read" },
    });

    const reader = await signedInUser({ tenant: user.tenant, permissions: ["sync:read"] });
    expect((await send(reader.token, "GET", path)).status).toBe(200);
    for (const [method, url, body] of [
      ["POST", path, { kind: "sku", source: "C", target: "D" }],
      ["PUT", path, { mappings: [{ kind: "sku", source: "C", target: "D" }] }],
      ["PATCH", `${MAPPINGS}/${mapping.data.id}`, { target: "X" }],
      ["DELETE", `${MAPPINGS}/${mapping.data.id}`, undefined],
    ] as const) {
      const res = await send(reader.token, method, url, body);
      expect(res.status, `${method} ${url}`).toBe(403);
      expect(res.error).toEqual({
        code: "FORBIDDEN",
        message: "Missing permission sync:admin",
        details: { permission: "sync:admin" },
      });
    }
    const rows =
      await ownerSql()`select source, target from erp_mappings where erp_connection_id = ${erp.id}`;
    expect(rows).toEqual([{ source: "A", target: "B" }]);
  });
});

describe("mappings: one at a time", () => {
  it("adds, lists by kind and source, searches, edits and deletes", async () => {
    const { user, erp, path } = await erpOfNewTenant();
    const created = await send(user.token, "POST", path, {
      kind: "sku",
      source: " TSHIRT-RED-M ",
      target: " LX-100234 ",
      note: "spring range",
    });
    expect(created.status).toBe(201);
    expect(created.data).toMatchObject({
      erpConnectionId: erp.id,
      kind: "sku",
      source: "TSHIRT-RED-M",
      target: "LX-100234",
      note: "spring range",
    });
    await send(user.token, "POST", path, { kind: "sku", source: "MUG_50%", target: "LX-2" });
    await send(user.token, "POST", path, { kind: "warehouse", source: "Main street", target: "WH-SZ" });
    // The same source under another kind is a different mapping.
    expect(
      (await send(user.token, "POST", path, { kind: "logistics", source: "MUG_50%", target: "UPS" })).status,
    ).toBe(201);

    let list = await send<Page<Mapping>>(user.token, "GET", path);
    expect(list.status).toBe(200);
    expect(list.data).toMatchObject({ total: 4, page: 1, pageSize: 50, totalPages: 1 });
    expect(list.data.items.map((m) => `${m.kind}:${m.source}`)).toEqual([
      "logistics:MUG_50%",
      "sku:MUG_50%",
      "sku:TSHIRT-RED-M",
      "warehouse:Main street",
    ]);
    list = await send<Page<Mapping>>(user.token, "GET", `${path}?kind=sku&pageSize=1&page=2`);
    expect(list.data).toMatchObject({ total: 2, totalPages: 2 });
    expect(list.data.items.map((m) => m.source)).toEqual(["TSHIRT-RED-M"]);
    // `%` and `_` are literal characters, not wildcards; matching ignores case.
    list = await send<Page<Mapping>>(user.token, "GET", `${path}?search=${encodeURIComponent("g_50%")}`);
    expect(list.data.items.map((m) => m.kind)).toEqual(["logistics", "sku"]);
    list = await send<Page<Mapping>>(user.token, "GET", `${path}?search=tshirt`);
    expect(list.data.items.map((m) => m.source)).toEqual(["TSHIRT-RED-M"]);
    list = await send<Page<Mapping>>(user.token, "GET", `${path}?search=_`);
    expect(list.data.total).toBe(2);

    const id = created.data.id;
    let res = await send(user.token, "PATCH", `${MAPPINGS}/${id}`, { target: "LX-999", note: null });
    expect(res.status).toBe(200);
    expect(res.data).toMatchObject({ id, source: "TSHIRT-RED-M", target: "LX-999", note: null });
    res = await send(user.token, "PATCH", `${MAPPINGS}/${id}`, { source: "MUG_50%" });
    expect(res.status).toBe(409);
    expect(res.error).toEqual({
      code: "CONFLICT",
      message: "A mapping of this kind for this source already exists on the connection",
      details: { field: "source" },
    });
    res = await send(user.token, "PATCH", `${MAPPINGS}/${id}`, {});
    expect(res.status).toBe(422);
    expect(res.error?.details).toEqual({ _root: ["Give at least one field to change"] });

    const deleted = await send(user.token, "DELETE", `${MAPPINGS}/${id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.data).toEqual({ deleted: true });
    const again = await send(user.token, "DELETE", `${MAPPINGS}/${id}`);
    expect(again.status).toBe(404);
    expect(again.error).toEqual({ code: "NOT_FOUND", message: "Mapping not found" });
  });

  it("refuses a source already mapped (409) and invalid input (422)", async () => {
    const { user, path } = await erpOfNewTenant();
    expect((await send(user.token, "POST", path, { kind: "sku", source: "A-1", target: "X" })).status).toBe(
      201,
    );
    const dup = await send(user.token, "POST", path, { kind: "sku", source: " A-1", target: "Y" });
    expect(dup.status).toBe(409);
    expect(dup.error).toEqual({
      code: "CONFLICT",
      message: "A mapping of this kind for this source already exists on the connection",
      details: { field: "source" },
    });
    const bad = await send(user.token, "POST", path, { kind: "carrier", source: "", target: "Y", extra: 1 });
    expect(bad.status).toBe(422);
    expect(bad.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Invalid request body",
      details: {
        kind: ['Invalid option: expected one of "sku"|"warehouse"|"logistics"'],
        source: ["Too small: expected string to have >=1 characters"],
        _root: ['Unrecognized key: "extra"'],
      },
    });
  });

  it("a sales channel has no mappings (422 on every mapping route)", async () => {
    const user = await signedInUser({ permissions: ["sync:admin"] });
    const shop = await createChannelConnection(user.token);
    const path = `${CONNECTIONS}/${shop.id}/mappings`;
    for (const [method, body] of [
      ["GET", undefined],
      ["POST", { kind: "sku", source: "A", target: "B" }],
      ["PUT", { mappings: [{ kind: "sku", source: "A", target: "B" }] }],
    ] as const) {
      const res = await send(user.token, method, path, body);
      expect(res.status, method).toBe(422);
      expect(res.error).toEqual({
        code: "VALIDATION_ERROR",
        message: "Mappings belong to ERP connections",
        details: {
          id: [
            "This connection is a sales channel; add mappings to the ERP connection its orders are pushed to",
          ],
        },
      });
    }
    const rows =
      await ownerSql()`select count(*)::int as n from erp_mappings where tenant_id = ${user.tenant.id}`;
    expect(rows[0]?.n).toBe(0);
  });
});

describe("mappings: bulk upsert", () => {
  it("creates, replaces and leaves alone in one statement, and reports which", async () => {
    const { user, erp, path } = await erpOfNewTenant();
    let result = await putMappings(user.token, erp.id, [
      { kind: "sku", source: "A", target: "LX-A", note: "first" },
      { kind: "sku", source: "B", target: "LX-B" },
      { kind: "warehouse", source: "A", target: "WH-1" },
    ]);
    expect(result).toEqual({ created: 3, updated: 0, unchanged: 0 });

    const res = await send<typeof result>(user.token, "PUT", path, {
      mappings: [
        { kind: "sku", source: "A", target: "LX-A" },
        { kind: "sku", source: "B", target: "LX-B" },
        { kind: "logistics", source: "Standard", target: "DHL" },
      ],
    });
    expect(res.status).toBe(200);
    // sku:A's note was cleared (a mapping given replaces target and note), sku:B was already so.
    expect(res.data).toEqual({ created: 1, updated: 1, unchanged: 1 });
    expect(res.headers.get("server-timing")).toMatch(/(^|, )db;dur=[\d.]+;desc="1 rt"/);

    const list = await send<Page<Mapping>>(user.token, "GET", path);
    expect(list.data.items.map((m) => [m.kind, m.source, m.target, m.note])).toEqual([
      ["logistics", "Standard", "DHL", null],
      ["sku", "A", "LX-A", null],
      ["sku", "B", "LX-B", null],
      ["warehouse", "A", "WH-1", null],
    ]);

    const many = Array.from({ length: 500 }, (_, i) => ({
      kind: "sku" as const,
      source: `BULK-${i}`,
      target: `T-${i}`,
    }));
    result = await putMappings(user.token, erp.id, many);
    expect(result).toEqual({ created: 500, updated: 0, unchanged: 0 });
  });

  it("refuses repeated entries, more than 500 and an empty list (422), writing nothing", async () => {
    const { user, erp, path } = await erpOfNewTenant();
    let res = await send(user.token, "PUT", path, {
      mappings: [
        { kind: "sku", source: "A", target: "1" },
        { kind: "warehouse", source: "A", target: "2" },
        { kind: "sku", source: " A ", target: "3" },
      ],
    });
    expect(res.status).toBe(422);
    expect(res.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "Repeated mappings",
      details: { "mappings.2.source": ["Repeats mappings.0 (same kind and source)"] },
    });
    const tooMany = Array.from({ length: 501 }, (_, i) => ({ kind: "sku", source: `S${i}`, target: "T" }));
    res = await send(user.token, "PUT", path, { mappings: tooMany });
    expect(res.status).toBe(422);
    expect(res.error?.details).toEqual({ mappings: ["Too big: expected array to have <=500 items"] });
    res = await send(user.token, "PUT", path, { mappings: [] });
    expect(res.status).toBe(422);
    const rows =
      await ownerSql()`select count(*)::int as n from erp_mappings where erp_connection_id = ${erp.id}`;
    expect(rows[0]?.n).toBe(0);
  });
});

describe("mappings: tenant isolation", () => {
  it("answers 404 for another tenant's connection or mapping, and leaves them alone", async () => {
    const mine = await erpOfNewTenant();
    const theirs = await erpOfNewTenant();
    const theirMapping = await send(theirs.user.token, "POST", theirs.path, {
      kind: "sku",
      source: "THEIRS",
      target: "T",
    });
    for (const [method, path, body] of [
      ["GET", theirs.path, undefined],
      ["POST", theirs.path, { kind: "sku", source: "X", target: "Y" }],
      ["PUT", theirs.path, { mappings: [{ kind: "sku", source: "THEIRS", target: "pwned" }] }],
      ["GET", `${CONNECTIONS}/${MISSING_ID}/mappings`, undefined],
    ] as const) {
      const res = await send(mine.user.token, method, path, body);
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.error).toEqual({ code: "NOT_FOUND", message: "Connection not found" });
    }
    for (const [method, body] of [
      ["PATCH", { target: "pwned" }],
      ["DELETE", undefined],
    ] as const) {
      const res = await send(mine.user.token, method, `${MAPPINGS}/${theirMapping.data.id}`, body);
      expect(res.status, method).toBe(404);
      expect(res.error).toEqual({ code: "NOT_FOUND", message: "Mapping not found" });
    }
    const rows =
      await ownerSql()`select source, target from erp_mappings where tenant_id = ${theirs.user.tenant.id}`;
    expect(rows).toEqual([{ source: "THEIRS", target: "T" }]);
  });
});

describe("loadErpMappings (the push engine's lookup)", () => {
  it("returns the ERP connection's mappings by kind, and nothing of another tenant", async () => {
    const { user, erp } = await erpOfNewTenant();
    await putMappings(user.token, erp.id, [
      { kind: "sku", source: "TSHIRT-RED-M", target: "LX-1" },
      { kind: "sku", source: "MUG", target: "LX-2" },
      { kind: "warehouse", source: "Main street", target: "WH-SZ" },
      { kind: "logistics", source: "Standard", target: "DHL" },
    ]);
    const mappings = await loadErpMappings({
      ctx: testContext(),
      input: { tenantId: user.tenant.id, erpConnectionId: erp.id },
    });
    expect(Object.fromEntries(mappings.sku)).toEqual({ "TSHIRT-RED-M": "LX-1", MUG: "LX-2" });
    expect(Object.fromEntries(mappings.warehouse)).toEqual({ "Main street": "WH-SZ" });
    expect(Object.fromEntries(mappings.logistics)).toEqual({ Standard: "DHL" });

    const other = await signedInUser({ permissions: ["sync:read"] });
    const none = await loadErpMappings({
      ctx: testContext(),
      input: { tenantId: other.tenant.id, erpConnectionId: erp.id },
    });
    expect([none.sku.size, none.warehouse.size, none.logistics.size]).toEqual([0, 0, 0]);
  });
});
