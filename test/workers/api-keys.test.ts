import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/services/auth/tokens";
import { bearer, signedInUser } from "../support/auth";
import { cacheKey, call, envelope, ownerSql } from "../support/harness";

interface ApiKeyBody {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

interface Page<T> {
  items: T[];
  total: number;
  page: number;
  pageSize: number;
  totalPages: number;
}

function liveRedis() {
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
  });
}

async function createKey(token: string, body: Record<string, unknown>) {
  const res = await call("/api/v1/api-keys", bearer(token, { method: "POST", body }));
  const env = await envelope<ApiKeyBody & { key: string }>(res);
  if (res.status !== 201 || !env.data)
    throw new Error(`create key failed: ${res.status} ${JSON.stringify(env)}`);
  return env.data;
}

describe("POST /api/v1/api-keys", () => {
  it("creates a key shown once; stores only its SHA-256 and a display prefix", async () => {
    const admin = await signedInUser({ superuser: true });
    const res = await call(
      "/api/v1/api-keys",
      bearer(admin.token, {
        method: "POST",
        body: { name: " ERP callback ", scopes: ["users:read", "orders:write", "users:read"] },
      }),
    );
    expect(res.status).toBe(201);
    const body = (await envelope<ApiKeyBody & { key: string }>(res)).data;
    expect(body?.key).toMatch(/^tw_sk_[0-9A-Za-z]{43}$/);
    expect(body).toMatchObject({
      name: "ERP callback",
      prefix: body?.key.slice(0, 12),
      scopes: ["orders:write", "users:read"],
      createdBy: admin.id,
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
    });
    const [row] =
      await ownerSql()`select key_hash, prefix, tenant_id from api_keys where id = ${body?.id ?? ""}`;
    expect(row?.key_hash).toBe(sha256Hex(body?.key ?? ""));
    expect(row?.tenant_id).toBe(admin.tenant.id);
    const stored = JSON.stringify(await ownerSql()`select * from api_keys where id = ${body?.id ?? ""}`);
    expect(stored).not.toContain(body?.key ?? "missing");
  });

  it("422 for unknown scopes, no scopes, a past or malformed expiry, unknown fields, a blank name", async () => {
    const admin = await signedInUser({ superuser: true });
    const cases: [Record<string, unknown>, string][] = [
      [{ name: "k", scopes: ["users:read", "users:delete"] }, "scopes.1"],
      [{ name: "k", scopes: [] }, "scopes"],
      [
        { name: "k", scopes: ["users:read"], expiresAt: new Date(Date.now() - 1000).toISOString() },
        "expiresAt",
      ],
      [{ name: "k", scopes: ["users:read"], expiresAt: "tomorrow" }, "expiresAt"],
      [{ name: "k", scopes: ["users:read"], keyHash: "x" }, "_root"],
      [{ name: "   ", scopes: ["users:read"] }, "name"],
    ];
    for (const [body, field] of cases) {
      const res = await call("/api/v1/api-keys", bearer(admin.token, { method: "POST", body }));
      expect(res.status, JSON.stringify(body)).toBe(422);
      const env = await envelope(res);
      expect(env.error?.code).toBe("VALIDATION_ERROR");
      expect(Object.keys(env.error?.details ?? {})).toContain(field);
    }
  });

  it("a non-superuser can hand out only permissions it holds (403 otherwise)", async () => {
    const keyAdmin = await signedInUser({ permissions: ["api_keys:admin", "users:write"] });
    const beyond = await call(
      "/api/v1/api-keys",
      bearer(keyAdmin.token, { method: "POST", body: { name: "k", scopes: ["users:read", "users:admin"] } }),
    );
    expect(beyond.status).toBe(403);
    const body = await envelope(beyond);
    expect(body.error?.code).toBe("FORBIDDEN");
    expect(body.error?.details).toEqual({ scopes: ["users:admin"] });
    // users:write implies users:read, so both are within reach.
    const within = await createKey(keyAdmin.token, { name: "k", scopes: ["users:read", "users:write"] });
    expect(within.scopes).toEqual(["users:read", "users:write"]);
  });

  it("an API key cannot mint keys, even with api_keys:admin (a leaked key must not outlive its revocation)", async () => {
    const admin = await signedInUser({ superuser: true });
    const parent = await createKey(admin.token, {
      name: "parent",
      scopes: ["api_keys:admin", "orders:read"],
    });
    for (const scopes of [["orders:read"], ["tenant:admin"]]) {
      const denied = await call(
        "/api/v1/api-keys",
        bearer(parent.key, { method: "POST", body: { name: "x", scopes } }),
      );
      expect(denied.status).toBe(403);
      expect((await envelope(denied)).error?.code).toBe("FORBIDDEN");
    }
    const [count] =
      await ownerSql()`select count(*)::int as n from api_keys where tenant_id = ${admin.tenant.id}`;
    expect(count?.n).toBe(1);
  });

  it("401 without a token, 403 without api_keys:admin", async () => {
    const anonymous = await call("/api/v1/api-keys", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "k", scopes: ["users:read"] }),
    });
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error?.code).toBe("UNAUTHORIZED");
    const reader = await signedInUser({ permissions: ["users:read"] });
    for (const res of [
      await call(
        "/api/v1/api-keys",
        bearer(reader.token, { method: "POST", body: { name: "k", scopes: ["users:read"] } }),
      ),
      await call("/api/v1/api-keys", bearer(reader.token)),
      await call(`/api/v1/api-keys/${crypto.randomUUID()}`, bearer(reader.token, { method: "DELETE" })),
    ]) {
      expect(res.status).toBe(403);
      const body = await envelope(res);
      expect(body.error).toMatchObject({ code: "FORBIDDEN", details: { permission: "api_keys:admin" } });
    }
  });
});

describe("GET /api/v1/api-keys", () => {
  it("lists the tenant's keys newest first without keys or hashes; never another tenant's", async () => {
    const admin = await signedInUser({ superuser: true });
    const other = await signedInUser({ superuser: true });
    const first = await createKey(admin.token, { name: "first", scopes: ["users:read"] });
    const second = await createKey(admin.token, {
      name: "second",
      scopes: ["orders:read"],
      expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
    });
    await createKey(other.token, { name: "theirs", scopes: ["users:read"] });

    const res = await call("/api/v1/api-keys", bearer(admin.token));
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(text).not.toContain(first.key);
    expect(text).not.toContain(sha256Hex(first.key));
    expect(text).not.toMatch(/hash/i);
    const page = (JSON.parse(text) as { data: Page<ApiKeyBody> }).data;
    expect(page).toMatchObject({ total: 2, page: 1, pageSize: 50, totalPages: 1 });
    expect(page.items.map((k) => k.name)).toEqual(["second", "first"]);
    expect(page.items[0]).toEqual({
      id: second.id,
      name: "second",
      prefix: second.prefix,
      scopes: ["orders:read"],
      createdBy: admin.id,
      createdAt: second.createdAt,
      expiresAt: second.expiresAt,
      lastUsedAt: null,
      revokedAt: null,
    });

    const paged = await envelope<Page<ApiKeyBody>>(
      await call("/api/v1/api-keys?page=2&pageSize=1", bearer(admin.token)),
    );
    expect(paged.data?.items.map((k) => k.id)).toEqual([first.id]);
    expect(paged.data?.totalPages).toBe(2);
  });
});

describe("authenticating with an API key", () => {
  it("works within its scopes, is 403 outside them and where a signed-in user is required", async () => {
    const admin = await signedInUser({ superuser: true });
    const keyAdmin = await createKey(admin.token, { name: "ops", scopes: ["api_keys:admin"] });
    const reviewer = await createKey(admin.token, { name: "review-bot", scopes: ["applications:review"] });

    const ok = await call("/api/v1/api-keys", bearer(keyAdmin.key));
    expect(ok.status).toBe(200);
    expect((await envelope<Page<ApiKeyBody>>(ok)).data?.total).toBe(2);
    expect((await call("/api/v1/applications", bearer(reviewer.key))).status).toBe(200);

    const outside = await call("/api/v1/api-keys", bearer(reviewer.key));
    expect(outside.status).toBe(403);
    expect((await envelope(outside)).error?.code).toBe("FORBIDDEN");
    const settings = await call("/api/v1/settings/wechat", bearer(keyAdmin.key));
    expect(settings.status).toBe(403);

    const sessions = await call("/api/v1/auth/sessions", bearer(keyAdmin.key));
    expect(sessions.status).toBe(403);
    expect((await envelope(sessions)).error?.code).toBe("FORBIDDEN");

    // last_used_at is stamped on the (uncached) lookup.
    const [row] = await ownerSql()`select last_used_at from api_keys where id = ${keyAdmin.id}`;
    expect(row?.last_used_at).not.toBeNull();
  });

  it("401 for a well-formed key that does not exist", async () => {
    const res = await call("/api/v1/api-keys", bearer(`tw_sk_${"A".repeat(43)}`));
    expect(res.status).toBe(401);
    expect((await envelope(res)).error).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid API key" });
  });

  it("an expired key is 401, from Postgres and from the cached record", async () => {
    const admin = await signedInUser({ superuser: true });
    const stale = await createKey(admin.token, { name: "stale", scopes: ["api_keys:admin"] });
    await ownerSql()`update api_keys set expires_at = now() - interval '1 second' where id = ${stale.id}`;
    const fromPostgres = await call("/api/v1/api-keys", bearer(stale.key));
    expect(fromPostgres.status).toBe(401);
    expect((await envelope(fromPostgres)).error?.code).toBe("UNAUTHORIZED");

    const shortLived = await createKey(admin.token, {
      name: "short",
      scopes: ["api_keys:admin"],
      expiresAt: new Date(Date.now() + 2500).toISOString(),
    });
    expect((await call("/api/v1/api-keys", bearer(shortLived.key))).status).toBe(200);
    expect(await liveRedis().get(cacheKey(`auth:apikey:${sha256Hex(shortLived.key)}`))).not.toBeNull();
    await new Promise((resolve) => setTimeout(resolve, 2700));
    const fromCache = await call("/api/v1/api-keys", bearer(shortLived.key));
    expect(fromCache.status).toBe(401);
  });
});

describe("DELETE /api/v1/api-keys/{id}", () => {
  it("revokes at once even while the key's record is cached; revoking again changes nothing", async () => {
    const admin = await signedInUser({ superuser: true });
    const key = await createKey(admin.token, { name: "doomed", scopes: ["api_keys:admin"] });
    expect((await call("/api/v1/api-keys", bearer(key.key))).status).toBe(200);
    const cached = cacheKey(`auth:apikey:${sha256Hex(key.key)}`);
    expect(await liveRedis().get(cached)).not.toBeNull();

    const res = await call(`/api/v1/api-keys/${key.id}`, bearer(admin.token, { method: "DELETE" }));
    expect(res.status).toBe(200);
    const revoked = (await envelope<ApiKeyBody>(res)).data;
    expect(revoked?.revokedAt).not.toBeNull();
    expect(JSON.stringify(revoked)).not.toContain(sha256Hex(key.key));
    expect(await liveRedis().get(cached)).toEqual({ tombstone: true });

    const after = await call("/api/v1/api-keys", bearer(key.key));
    expect(after.status).toBe(401);
    expect((await envelope(after)).error).toMatchObject({ code: "UNAUTHORIZED", message: "Invalid API key" });

    const again = await call(`/api/v1/api-keys/${key.id}`, bearer(admin.token, { method: "DELETE" }));
    expect(again.status).toBe(200);
    expect((await envelope<ApiKeyBody>(again)).data?.revokedAt).toBe(revoked?.revokedAt);

    const listed = await envelope<Page<ApiKeyBody>>(await call("/api/v1/api-keys", bearer(admin.token)));
    expect(listed.data?.items[0]?.revokedAt).toBe(revoked?.revokedAt);
  });

  it("another tenant's key is 404 and stays live; unknown 404; malformed id 422", async () => {
    const mine = await signedInUser({ superuser: true });
    const theirs = await signedInUser({ superuser: true });
    const theirKey = await createKey(theirs.token, { name: "theirs", scopes: ["api_keys:admin"] });

    const cross = await call(`/api/v1/api-keys/${theirKey.id}`, bearer(mine.token, { method: "DELETE" }));
    expect(cross.status).toBe(404);
    const body = await envelope(cross);
    expect(body.error?.code).toBe("NOT_FOUND");
    expect(JSON.stringify(body)).not.toContain(theirKey.name);
    expect((await call("/api/v1/api-keys", bearer(theirKey.key))).status).toBe(200);

    const unknown = await call(
      `/api/v1/api-keys/${crypto.randomUUID()}`,
      bearer(mine.token, { method: "DELETE" }),
    );
    expect(unknown.status).toBe(404);
    const malformed = await call("/api/v1/api-keys/123", bearer(mine.token, { method: "DELETE" }));
    expect(malformed.status).toBe(422);
    expect((await envelope(malformed)).error?.code).toBe("VALIDATION_ERROR");
  });
});
