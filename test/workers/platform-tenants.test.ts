import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { PERMISSIONS } from "../../src/services/auth/permissions";
import { sha256Hex } from "../../src/services/auth/tokens";
import {
  bearer,
  createUser,
  login,
  PLATFORM_TENANT,
  platformAdmin,
  randomIp,
  signedInUser,
  TEST_PASSWORD,
} from "../support/auth";
import { cacheKey, call, createTenant, envelope, ownerSql } from "../support/harness";

interface TenantBody {
  id: string;
  slug: string;
  name: string;
  status: "active" | "suspended";
  suspendedAt: string | null;
  suspendedReason: string | null;
  createdAt: string;
  updatedAt: string;
}

interface CreatedBody {
  tenant: TenantBody;
  adminUser: {
    id: string;
    email: string;
    fullName: string;
    superuser: true;
    roleId: string;
    createdAt: string;
  };
}

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

const ADMIN_PASSWORD = "a long enough admin password";

/** A direct client on the live test Redis, to look behind the app's back. */
function liveRedis() {
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
  });
}

function newSlug(prefix = "acme") {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}`;
}

async function createViaApi(token: string, body: Record<string, unknown>) {
  return call("/api/v1/tenants", bearer(token, { method: "POST", body }));
}

async function registeredTenant(token: string) {
  const slug = newSlug();
  const adminEmail = `owner-${crypto.randomUUID().slice(0, 8)}@acme.example`;
  const res = await createViaApi(token, {
    slug,
    name: "Acme Trading",
    adminEmail,
    adminPassword: ADMIN_PASSWORD,
  });
  const body = await envelope<CreatedBody>(res);
  if (res.status !== 201 || !body.data)
    throw new Error(`create failed: ${res.status} ${JSON.stringify(body)}`);
  return { ...body.data, adminEmail, slug };
}

describe("POST /api/v1/tenants", () => {
  it("creates the tenant, an Administrator role with every permission, and the first admin", async () => {
    const admin = await platformAdmin();
    const slug = newSlug("New-Co");
    const adminEmail = `Owner-${crypto.randomUUID().slice(0, 8)}@Acme.Example`;
    const res = await createViaApi(admin.token, {
      slug,
      name: "  New Co  ",
      adminEmail,
      adminPassword: ADMIN_PASSWORD,
    });
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain(ADMIN_PASSWORD);
    expect(text).not.toMatch(/scrypt|password/i);
    const body = JSON.parse(text) as { data: CreatedBody };
    expect(body.data.tenant).toMatchObject({
      slug: slug.toLowerCase(),
      name: "New Co",
      status: "active",
      suspendedAt: null,
      suspendedReason: null,
    });
    expect(body.data.adminUser).toMatchObject({ email: adminEmail.toLowerCase(), superuser: true });

    const sql = ownerSql();
    const [role] = await sql`select name, permissions from roles where id = ${body.data.adminUser.roleId}`;
    expect(role?.name).toBe("Administrator");
    expect([...((role?.permissions ?? []) as string[])].sort()).toEqual([...PERMISSIONS].sort());
    const [user] = await sql`
      select u.tenant_id, u.superuser, u.password_hash, ur.role_id from users u
        join user_roles ur on ur.tenant_id = u.tenant_id and ur.user_id = u.id
       where u.id = ${body.data.adminUser.id}`;
    expect(user?.tenant_id).toBe(body.data.tenant.id);
    expect(user?.superuser).toBe(true);
    expect(String(user?.password_hash)).toMatch(/^\$scrypt\$/);
    expect(user?.role_id).toBe(body.data.adminUser.roleId);

    // The first admin signs in to the new tenant and administers it.
    const tokens = await login(
      { email: adminEmail.toLowerCase(), tenant: { slug: slug.toLowerCase() } },
      { password: ADMIN_PASSWORD },
    );
    const keys = await call("/api/v1/api-keys", bearer(tokens.accessToken));
    expect(keys.status).toBe(200);
  });

  it("409 CONFLICT for a taken slug (case-insensitively)", async () => {
    const admin = await platformAdmin();
    const existing = await createTenant();
    const res = await createViaApi(admin.token, {
      slug: existing.slug.toUpperCase(),
      name: "Copycat",
      adminEmail: "x@example.com",
      adminPassword: ADMIN_PASSWORD,
    });
    expect(res.status).toBe(409);
    const body = await envelope(res);
    expect(body.error?.code).toBe("CONFLICT");
    expect(body.error?.details).toEqual({ slug: existing.slug });

    // Two concurrent registrations of one slug: the unique index lets exactly one through.
    const slug = newSlug("race");
    const attempt = (n: number) =>
      createViaApi(admin.token, {
        slug,
        name: `Racer ${n}`,
        adminEmail: `racer${n}@example.com`,
        adminPassword: ADMIN_PASSWORD,
      });
    const statuses = (await Promise.all([attempt(1), attempt(2)])).map((r) => r.status).sort();
    expect(statuses).toEqual([201, 409]);
    const rows = await ownerSql()`select count(*)::int as n from users u join tenants t on t.id = u.tenant_id
                                   where t.slug = ${slug}`;
    expect(rows[0]?.n).toBe(1);
  });

  it("422 for a reserved slug, a malformed slug, a short password, a bad email, unknown fields", async () => {
    const admin = await platformAdmin();
    const base = {
      slug: newSlug(),
      name: "Fine",
      adminEmail: "ok@example.com",
      adminPassword: ADMIN_PASSWORD,
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...base, slug: "platform" }, "slug"],
      [{ ...base, slug: "Admin" }, "slug"],
      [{ ...base, slug: "-bad" }, "slug"],
      [{ ...base, slug: "has space" }, "slug"],
      [{ ...base, adminPassword: "short-11ch!" }, "adminPassword"],
      [{ ...base, adminEmail: "not-an-email" }, "adminEmail"],
      [{ ...base, name: "" }, "name"],
      [{ ...base, superuser: true }, "_root"],
    ];
    for (const [body, field] of cases) {
      const res = await createViaApi(admin.token, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      const env = await envelope(res);
      expect(env.error?.code).toBe("VALIDATION_ERROR");
      expect(Object.keys(env.error?.details ?? {})).toContain(field);
    }
    const rows = await ownerSql()`select 1 from tenants where slug = ${base.slug}`;
    expect(rows).toHaveLength(0);
  });

  it("401 without a token; 403 for a tenant superuser, a platform non-superuser and an API key", async () => {
    const body = { slug: newSlug(), name: "X", adminEmail: "x@example.com", adminPassword: ADMIN_PASSWORD };
    const anonymous = await call("/api/v1/tenants", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error?.code).toBe("UNAUTHORIZED");

    const tenantSuperuser = await signedInUser({ superuser: true });
    const platformStaff = await createUser(PLATFORM_TENANT, { permissions: ["users:read"] });
    const staffToken = (await login(platformStaff)).accessToken;
    const keyRes = await call(
      "/api/v1/api-keys",
      bearer(tenantSuperuser.token, { method: "POST", body: { name: "k", scopes: ["tenant:admin"] } }),
    );
    const apiKey = (await envelope<{ key: string }>(keyRes)).data?.key ?? "";
    const someTenant = await createTenant();
    for (const token of [tenantSuperuser.token, staffToken, apiKey]) {
      const requests = [
        call("/api/v1/tenants", bearer(token, { method: "POST", body })),
        call("/api/v1/tenants", bearer(token)),
        call(`/api/v1/tenants/${someTenant.id}`, bearer(token)),
        call(`/api/v1/tenants/${someTenant.id}/suspend`, bearer(token, { method: "POST", body: {} })),
        call(`/api/v1/tenants/${someTenant.id}/reactivate`, bearer(token, { method: "POST" })),
      ];
      for (const res of await Promise.all(requests)) {
        expect(res.status).toBe(403);
        const env = await envelope(res);
        expect(env.error?.code).toBe("FORBIDDEN");
        expect(env.error?.message).toBe("Platform administrators only");
      }
    }
    const [row] = await ownerSql()`select status from tenants where id = ${someTenant.id}`;
    expect(row?.status).toBe("active");
  });
});

describe("GET /api/v1/tenants", () => {
  it("lists tenants newest first, filters by status, searches slug and name, paginates", async () => {
    const admin = await platformAdmin();
    const marker = crypto.randomUUID().slice(0, 8);
    const a = await createTenant(`Zephyr ${marker} Alpha`);
    const b = await createTenant(`Zephyr ${marker} Beta`);
    const c = await createTenant(`Zephyr ${marker} Gamma`);
    await ownerSql()`update tenants set status = 'suspended' where id = ${c.id}`;

    const all = await envelope<Page<TenantBody>>(
      await call(`/api/v1/tenants?search=${marker}`, bearer(admin.token)),
    );
    expect(all.data?.items.map((t) => t.id)).toEqual([c.id, b.id, a.id]);
    expect(all.data).toMatchObject({ total: 3, page: 1, pageSize: 50, totalPages: 1 });

    const suspended = await envelope<Page<TenantBody>>(
      await call(`/api/v1/tenants?search=${marker}&status=suspended`, bearer(admin.token)),
    );
    expect(suspended.data?.items.map((t) => t.id)).toEqual([c.id]);

    const bySlug = await envelope<Page<TenantBody>>(
      await call(`/api/v1/tenants?search=${a.slug.toUpperCase()}`, bearer(admin.token)),
    );
    expect(bySlug.data?.items.map((t) => t.id)).toEqual([a.id]);

    const page2 = await envelope<Page<TenantBody>>(
      await call(`/api/v1/tenants?search=${marker}&page=2&pageSize=2`, bearer(admin.token)),
    );
    expect(page2.data).toMatchObject({ total: 3, page: 2, pageSize: 2, totalPages: 2 });
    expect(page2.data?.items.map((t) => t.id)).toEqual([a.id]);

    // LIKE wildcards in the search text match literally.
    const wildcard = await envelope<Page<TenantBody>>(
      await call(`/api/v1/tenants?search=${encodeURIComponent("%")}`, bearer(admin.token)),
    );
    expect(wildcard.data?.total).toBe(0);

    const bad = await call("/api/v1/tenants?status=deleted", bearer(admin.token));
    expect(bad.status).toBe(422);
    expect((await envelope(bad)).error?.code).toBe("VALIDATION_ERROR");
  });

  it("gets one tenant; 404 for an unknown id, 422 for a malformed one", async () => {
    const admin = await platformAdmin();
    const tenant = await createTenant("Single Co");
    const res = await call(`/api/v1/tenants/${tenant.id}`, bearer(admin.token));
    expect(res.status).toBe(200);
    expect((await envelope<TenantBody>(res)).data).toMatchObject({
      id: tenant.id,
      slug: tenant.slug,
      name: "Single Co",
      status: "active",
    });
    const missing = await call(`/api/v1/tenants/${crypto.randomUUID()}`, bearer(admin.token));
    expect(missing.status).toBe(404);
    expect((await envelope(missing)).error?.code).toBe("NOT_FOUND");
    const malformed = await call("/api/v1/tenants/not-a-uuid", bearer(admin.token));
    expect(malformed.status).toBe(422);
  });
});

describe("suspend and reactivate", () => {
  it("suspension kills live tokens, API keys and sign-in at once; reactivation restores them", async () => {
    const admin = await platformAdmin();
    const created = await registeredTenant(admin.token);
    const tenantUser = { email: created.adminEmail, tenant: { slug: created.slug } };
    const tokens = await login(tenantUser, { password: ADMIN_PASSWORD });
    const keyRes = await call(
      "/api/v1/api-keys",
      bearer(tokens.accessToken, { method: "POST", body: { name: "erp", scopes: ["api_keys:admin"] } }),
    );
    const apiKey = (await envelope<{ key: string }>(keyRes)).data?.key ?? "";
    // Warm every cache: the auth records and the public profile.
    expect((await call("/api/v1/api-keys", bearer(tokens.accessToken))).status).toBe(200);
    expect((await call("/api/v1/api-keys", bearer(apiKey))).status).toBe(200);
    const profileBefore = await envelope<{ status: string }>(
      await call(`/api/v1/public/tenants/${created.slug}`),
    );
    expect(profileBefore.data?.status).toBe("active");

    const suspend = await call(
      `/api/v1/tenants/${created.tenant.id}/suspend`,
      bearer(admin.token, { method: "POST", body: { reason: "Unpaid invoice" } }),
    );
    expect(suspend.status).toBe(200);
    const suspended = (await envelope<TenantBody>(suspend)).data;
    expect(suspended).toMatchObject({ status: "suspended", suspendedReason: "Unpaid invoice" });
    expect(Date.parse(suspended?.suspendedAt ?? "")).toBeGreaterThan(Date.now() - 60_000);
    const [settings] = await ownerSql()`select settings from tenants where id = ${created.tenant.id}`;
    expect(settings?.settings).toMatchObject({ suspendedReason: "Unpaid invoice", suspendedBy: admin.id });

    for (const token of [tokens.accessToken, apiKey]) {
      const res = await call("/api/v1/api-keys", bearer(token));
      expect(res.status).toBe(403);
      const body = await envelope(res);
      expect(body.error).toMatchObject({ code: "FORBIDDEN", message: "This tenant is suspended" });
    }
    const signIn = await call("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": randomIp() },
      body: JSON.stringify({ tenant: created.slug, email: created.adminEmail, password: ADMIN_PASSWORD }),
    });
    expect(signIn.status).toBe(403);
    expect((await envelope(signIn)).error?.code).toBe("FORBIDDEN");
    const profileAfter = await envelope<{ status: string }>(
      await call(`/api/v1/public/tenants/${created.slug}`),
    );
    expect(profileAfter.data?.status).toBe("suspended");

    const again = await call(
      `/api/v1/tenants/${created.tenant.id}/suspend`,
      bearer(admin.token, { method: "POST" }),
    );
    expect(again.status).toBe(412);
    expect((await envelope(again)).error?.code).toBe("PRECONDITION_FAILED");

    const reactivate = await call(
      `/api/v1/tenants/${created.tenant.id}/reactivate`,
      bearer(admin.token, { method: "POST" }),
    );
    expect(reactivate.status).toBe(200);
    expect((await envelope<TenantBody>(reactivate)).data).toMatchObject({
      status: "active",
      suspendedAt: null,
      suspendedReason: null,
    });
    for (const token of [tokens.accessToken, apiKey]) {
      expect((await call("/api/v1/api-keys", bearer(token))).status).toBe(200);
    }
    await login(tenantUser, { password: ADMIN_PASSWORD });
    const profileBack = await envelope<{ status: string }>(
      await call(`/api/v1/public/tenants/${created.slug}`),
    );
    expect(profileBack.data?.status).toBe("active");

    const reactivateActive = await call(
      `/api/v1/tenants/${created.tenant.id}/reactivate`,
      bearer(admin.token, { method: "POST" }),
    );
    expect(reactivateActive.status).toBe(412);
    expect((await envelope(reactivateActive)).error?.code).toBe("PRECONDITION_FAILED");
  });

  it("drops the cached tenant status and API-key records on suspension, before answering", async () => {
    const admin = await platformAdmin();
    const user = await signedInUser({ superuser: true });
    const keyRes = await call(
      "/api/v1/api-keys",
      bearer(user.token, { method: "POST", body: { name: "k", scopes: ["api_keys:admin"] } }),
    );
    const apiKey = (await envelope<{ key: string }>(keyRes)).data?.key ?? "";
    expect((await call("/api/v1/api-keys", bearer(user.token))).status).toBe(200);
    expect((await call("/api/v1/api-keys", bearer(apiKey))).status).toBe(200);
    const tenantKey = cacheKey(`auth:tenant:${user.tenant.id}`);
    const apiKeyKey = cacheKey(`auth:apikey:${sha256Hex(apiKey)}`);
    expect(await liveRedis().get(tenantKey)).toEqual({ status: "active" });
    expect(await liveRedis().get(apiKeyKey)).toMatchObject({ tenantStatus: "active" });

    const res = await call(
      `/api/v1/tenants/${user.tenant.id}/suspend`,
      bearer(admin.token, { method: "POST" }),
    );
    expect(res.status).toBe(200);
    expect((await envelope<TenantBody>(res)).data?.suspendedReason).toBeNull();
    expect(await liveRedis().get(tenantKey)).toEqual({ tombstone: true });
    expect(await liveRedis().get(apiKeyKey)).toEqual({ tombstone: true });
  });

  it("422 for the platform tenant, 404 for an unknown tenant, 422 for a long reason or unknown field", async () => {
    const admin = await platformAdmin();
    const platform = await call(
      `/api/v1/tenants/${PLATFORM_TENANT.id}/suspend`,
      bearer(admin.token, { method: "POST", body: { reason: "oops" } }),
    );
    expect(platform.status).toBe(422);
    expect((await envelope(platform)).error?.code).toBe("VALIDATION_ERROR");
    // The platform admin is still signed in.
    expect((await call("/api/v1/tenants", bearer(admin.token))).status).toBe(200);

    const unknown = await call(
      `/api/v1/tenants/${crypto.randomUUID()}/suspend`,
      bearer(admin.token, { method: "POST" }),
    );
    expect(unknown.status).toBe(404);
    expect((await envelope(unknown)).error?.code).toBe("NOT_FOUND");
    const unknownReactivate = await call(
      `/api/v1/tenants/${crypto.randomUUID()}/reactivate`,
      bearer(admin.token, { method: "POST" }),
    );
    expect(unknownReactivate.status).toBe(404);

    const tenant = await createTenant();
    const long = await call(
      `/api/v1/tenants/${tenant.id}/suspend`,
      bearer(admin.token, { method: "POST", body: { reason: "x".repeat(501) } }),
    );
    expect(long.status).toBe(422);
    const extra = await call(
      `/api/v1/tenants/${tenant.id}/suspend`,
      bearer(admin.token, { method: "POST", body: { reason: "ok", force: true } }),
    );
    expect(extra.status).toBe(422);
  });

  it("a user of a suspended tenant created with the fixtures cannot sign in", async () => {
    const admin = await platformAdmin();
    const tenant = await createTenant();
    const user = await createUser(tenant);
    await call(`/api/v1/tenants/${tenant.id}/suspend`, bearer(admin.token, { method: "POST" }));
    const res = await call("/api/v1/auth/login", {
      method: "POST",
      headers: { "content-type": "application/json", "cf-connecting-ip": randomIp() },
      body: JSON.stringify({ tenant: tenant.slug, email: user.email, password: TEST_PASSWORD }),
    });
    expect(res.status).toBe(403);
    expect((await envelope(res)).error?.message).toBe("This tenant is suspended");
  });
});
