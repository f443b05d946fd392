import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import {
  bearer,
  createUser,
  login,
  randomIp,
  signedInUser,
  TEST_PASSWORD,
  type Tokens,
} from "../support/auth";
import { call, createTenant, envelope, ownerSql } from "../support/harness";

const json = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", "cf-connecting-ip": randomIp(), ...headers },
  body: JSON.stringify(body),
});

async function refresh(refreshToken: string, overrides: Partial<Env> = {}) {
  const response = await call("/api/v1/auth/refresh", json({ refreshToken }), overrides);
  return { response, body: await envelope<Tokens>(response) };
}

async function sessions(token: string) {
  return call("/api/v1/auth/sessions", bearer(token));
}

describe("POST /api/v1/auth/login", () => {
  it("signs in by email and by username and returns a Bearer pair with an EdDSA at+jwt access token", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    await ownerSql()`update users set username = 'Ops.Lead' where id = ${user.id}`;
    const byEmail = await login(user);
    expect(byEmail).toMatchObject({ tokenType: "Bearer", expiresIn: 900 });
    expect(byEmail.refreshToken).toMatch(/^rt_[0-9a-f]{32}_[0-9a-f]{32}_[0-9A-Za-z]{43}$/);
    const header = decodeProtectedHeader(byEmail.accessToken);
    expect(header).toMatchObject({ alg: "EdDSA", typ: "at+jwt", kid: "test-active" });

    const response = await call(
      "/api/v1/auth/login",
      json({ tenant: tenant.slug.toUpperCase(), username: "ops.lead", password: TEST_PASSWORD }),
    );
    expect(response.status).toBe(200);
  });

  it("answers unknown tenant, unknown user, wrong password and password-less user with the same 401", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    const noPassword = await createUser(tenant);
    await ownerSql()`update users set password_hash = null where id = ${noPassword.id}`;
    const attempts = [
      { tenant: "no-such-tenant", email: user.email, password: TEST_PASSWORD },
      { tenant: tenant.slug, email: "nobody@example.com", password: TEST_PASSWORD },
      { tenant: tenant.slug, email: user.email, password: "wrong password!!" },
      { tenant: tenant.slug, email: noPassword.email, password: TEST_PASSWORD },
    ];
    const bodies = [];
    for (const attempt of attempts) {
      const response = await call("/api/v1/auth/login", json(attempt));
      expect(response.status).toBe(401);
      bodies.push((await envelope(response)).error);
    }
    for (const error of bodies) {
      expect(error).toEqual({ code: "UNAUTHORIZED", message: "Invalid tenant, login or password" });
    }
  });

  it("rejects unknown fields and ambiguous logins with 422 (no mass assignment)", async () => {
    const strict = await call(
      "/api/v1/auth/login",
      json({ tenant: "x", email: "a@b.co", password: "p", superuser: true }),
    );
    expect(strict.status).toBe(422);
    expect((await envelope(strict)).error?.code).toBe("VALIDATION_ERROR");
    const both = await call(
      "/api/v1/auth/login",
      json({ tenant: "x", email: "a@b.co", username: "a", password: "p" }),
    );
    expect(both.status).toBe(422);
    expect((await envelope(both)).error?.details).toHaveProperty("email");
  });

  it("answers values Postgres cannot store with 422, never 500, and survives a malformed client address", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    const nul = await call(
      "/api/v1/auth/login",
      json({ tenant: "a\u0000b", email: user.email, password: "x" }),
    );
    expect(nul.status).toBe(422);
    expect((await envelope(nul)).error?.code).toBe("VALIDATION_ERROR");
    const label = await call(
      "/api/v1/auth/login",
      json({ tenant: tenant.slug, email: user.email, password: TEST_PASSWORD, deviceLabel: "x\u0000y" }),
    );
    expect(label.status).toBe(422);
    const odd = await call(
      "/api/v1/auth/login",
      json(
        { tenant: tenant.slug, email: user.email, password: TEST_PASSWORD },
        { "cf-connecting-ip": "1:2:3" },
      ),
    );
    expect(odd.status).toBe(200);
  });

  it("refuses a deactivated user and, after the right password, a suspended tenant", async () => {
    const tenant = await createTenant();
    const inactive = await createUser(tenant);
    await ownerSql()`update users set active = false where id = ${inactive.id}`;
    const r1 = await call(
      "/api/v1/auth/login",
      json({ tenant: tenant.slug, email: inactive.email, password: TEST_PASSWORD }),
    );
    expect(r1.status).toBe(401);

    const user = await createUser(tenant);
    await ownerSql()`update tenants set status = 'suspended' where id = ${tenant.id}`;
    const r2 = await call(
      "/api/v1/auth/login",
      json({ tenant: tenant.slug, email: user.email, password: TEST_PASSWORD }),
    );
    expect(r2.status).toBe(403);
    expect((await envelope(r2)).error).toMatchObject({
      code: "FORBIDDEN",
      message: "This tenant is suspended",
    });
  });
});

describe("access tokens", () => {
  it("verify against the published JWKS, which holds public keys only", async () => {
    const me = await signedInUser();
    const response = await call("/.well-known/jwks.json");
    expect(response.status).toBe(200);
    const set = (await response.json()) as { keys: Array<Record<string, unknown>> };
    expect(set.keys.map((k) => k.kid)).toEqual(["test-active", "test-previous"]);
    for (const key of set.keys) {
      expect(key).not.toHaveProperty("d");
      expect(key).toMatchObject({ kty: "OKP", crv: "Ed25519", alg: "EdDSA", use: "sig" });
    }
    const { payload } = await jwtVerify(me.token, createLocalJWKSet(set as never), {
      issuer: "tradewind",
      audience: "tradewind-api",
      typ: "at+jwt",
    });
    expect(payload).toMatchObject({ sub: me.id, tid: me.tenant.id });
  });

  it("rejects tampered, foreign-signed, unsigned and wrong-audience tokens with 401", async () => {
    const me = await signedInUser();
    const [h, p, s] = me.token.split(".");
    const claims = JSON.parse(atob((p ?? "").replace(/-/g, "+").replace(/_/g, "/"))) as Record<
      string,
      unknown
    >;
    const forgedPayload = btoa(JSON.stringify({ ...claims, sub: crypto.randomUUID() }))
      .replace(/=+$/, "")
      .replace(/\+/g, "-")
      .replace(/\//g, "_");
    const tampered = `${h}.${forgedPayload}.${s}`;
    const unsigned = `${btoa(JSON.stringify({ alg: "none", typ: "at+jwt", kid: "test-active" })).replace(/=+$/, "")}.${p}.`;
    const foreignKey = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
    const foreign = await new SignJWT(claims)
      .setProtectedHeader({ alg: "EdDSA", kid: "test-active", typ: "at+jwt" })
      .sign((foreignKey as CryptoKeyPair).privateKey);
    for (const token of [tampered, unsigned, foreign, "garbage", `${me.token}x`]) {
      const response = await sessions(token);
      expect(response.status).toBe(401);
      expect((await envelope(response)).error?.code).toBe("UNAUTHORIZED");
    }
    const wrongAudience = await call("/api/v1/auth/sessions", bearer(me.token), {
      JWT_AUDIENCE: "someone-else",
    });
    expect(wrongAudience.status).toBe(401);
    const missing = await call("/api/v1/auth/sessions");
    expect(missing.status).toBe(401);
  });
});

describe("POST /api/v1/auth/refresh", () => {
  it("rotates: the new pair works and the old refresh token is spent", async () => {
    const me = await signedInUser();
    const first = await refresh(me.tokens.refreshToken);
    expect(first.response.status).toBe(200);
    expect(first.body.data?.refreshToken).not.toBe(me.tokens.refreshToken);
    expect((await sessions(first.body.data?.accessToken ?? "")).status).toBe(200);
    const second = await refresh(first.body.data?.refreshToken ?? "");
    expect(second.response.status).toBe(200);
    const rows =
      await ownerSql()`select count(*)::int as n, count(used_at)::int as used from refresh_tokens where user_id = ${me.id}`;
    expect(rows[0]).toEqual({ n: 3, used: 2 });
  });

  it("treats concurrent refreshes of one token within the grace window as one client, not theft", async () => {
    const me = await signedInUser();
    const results = await Promise.all([refresh(me.tokens.refreshToken), refresh(me.tokens.refreshToken)]);
    expect(results.map((r) => r.response.status)).toEqual([200, 200]);
    for (const r of results) expect((await sessions(r.body.data?.accessToken ?? "")).status).toBe(200);
  });

  it("revokes the whole family when a spent token is replayed after the grace window", async () => {
    const me = await signedInUser();
    const noGrace = { REFRESH_REUSE_GRACE_SECONDS: "0" };
    const rotated = await refresh(me.tokens.refreshToken, noGrace);
    expect(rotated.response.status).toBe(200);
    const child = rotated.body.data as Tokens;

    const replay = await refresh(me.tokens.refreshToken, noGrace);
    expect(replay.response.status).toBe(401);
    expect(replay.body.error?.message).toMatch(/already used/);

    // The legitimate child, and the session's live access tokens, are dead too.
    expect((await refresh(child.refreshToken, noGrace)).response.status).toBe(401);
    expect((await sessions(child.accessToken)).status).toBe(401);
    expect((await sessions(me.token)).status).toBe(401);
    const family = await ownerSql()`select revoked_reason from auth_sessions where user_id = ${me.id}`;
    expect(family[0]?.revoked_reason).toBe("refresh_token_reuse");
  });

  it("answers malformed, unknown and other-tenant-forged tokens with 401, and bad bodies with 422", async () => {
    const me = await signedInUser();
    const other = await createTenant();
    const forged = me.tokens.refreshToken.replace(/^rt_[0-9a-f]{32}/, `rt_${other.id.replaceAll("-", "")}`);
    const otherSession = me.tokens.refreshToken.replace(
      /^(rt_[0-9a-f]{32}_)[0-9a-f]{32}/,
      `$1${crypto.randomUUID().replaceAll("-", "")}`,
    );
    for (const token of [
      "nope",
      `rt_${"0".repeat(32)}_${"0".repeat(32)}_${"a".repeat(43)}`,
      forged,
      otherSession,
    ]) {
      const { response, body } = await refresh(token);
      expect(response.status).toBe(401);
      expect(body.error?.code).toBe("UNAUTHORIZED");
    }
    const bad = await call("/api/v1/auth/refresh", json({ refreshToken: "x", extra: 1 }));
    expect(bad.status).toBe(422);
  });

  it("stops refreshing for a deactivated user", async () => {
    const me = await signedInUser();
    await ownerSql()`update users set active = false where id = ${me.id}`;
    expect((await refresh(me.tokens.refreshToken)).response.status).toBe(401);
  });
});

describe("logout, logout-all and sessions", () => {
  it("logout kills this session's access and refresh tokens, not the user's other sessions", async () => {
    const me = await signedInUser();
    const laptop = await login(me);
    const out = await call("/api/v1/auth/logout", bearer(me.token, { method: "POST" }));
    expect(out.status).toBe(200);
    expect((await envelope(out)).data).toEqual({ signedOut: true });
    expect((await sessions(me.token)).status).toBe(401);
    expect((await refresh(me.tokens.refreshToken)).response.status).toBe(401);
    expect((await sessions(laptop.accessToken)).status).toBe(200);
  });

  it("logout-all kills every live access token of the user at once; a new sign-in works right after", async () => {
    const me = await signedInUser();
    const phone = await login(me);
    // Warm the auth cache for both tokens, so the test proves invalidation rather than a cold read.
    expect((await sessions(me.token)).status).toBe(200);
    expect((await sessions(phone.accessToken)).status).toBe(200);

    const out = await call("/api/v1/auth/logout-all", bearer(me.token, { method: "POST" }));
    expect(out.status).toBe(200);
    expect((await envelope(out)).data).toEqual({ sessionsRevoked: 2 });
    expect((await sessions(me.token)).status).toBe(401);
    expect((await sessions(phone.accessToken)).status).toBe(401);
    expect((await refresh(phone.refreshToken)).response.status).toBe(401);

    const again = await login(me);
    expect((await sessions(again.accessToken)).status).toBe(200);
    // The invalidation left a tombstone that read-through writers (SET NX) cannot overwrite, so a request
    // that read Postgres before the logout-all can never put the old record back.
    const { env } = await import("cloudflare:workers");
    const { Redis } = await import("@upstash/redis/cloudflare");
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    expect(await redis.get(`${env.CACHE_KEY_PREFIX}auth:user:${me.tenant.id}:${me.id}`)).toEqual({
      tombstone: true,
    });
  });

  it("lists the user's sessions and revokes one device; other users' sessions are 404", async () => {
    const me = await signedInUser();
    const tablet = await login(me);
    const colleague = await signedInUser({ tenant: me.tenant });

    const list = await envelope<{ items: Array<{ id: string; current: boolean; ip: string | null }> }>(
      await sessions(me.token),
    );
    expect(list.data?.items).toHaveLength(2);
    const current = list.data?.items.find((s) => s.current);
    const other = list.data?.items.find((s) => !s.current);
    expect(current?.ip).toMatch(/^10\./);

    const theirs = await envelope<{ items: Array<{ id: string }> }>(await sessions(colleague.token));
    const theirId = theirs.data?.items[0]?.id ?? "";
    const notMine = await call(`/api/v1/auth/sessions/${theirId}`, bearer(me.token, { method: "DELETE" }));
    expect(notMine.status).toBe(404);
    expect((await sessions(colleague.token)).status).toBe(200);

    const revoked = await call(`/api/v1/auth/sessions/${other?.id}`, bearer(me.token, { method: "DELETE" }));
    expect(revoked.status).toBe(200);
    expect((await sessions(tablet.accessToken)).status).toBe(401);
    expect((await sessions(me.token)).status).toBe(200);

    const again = await call(`/api/v1/auth/sessions/${other?.id}`, bearer(me.token, { method: "DELETE" }));
    expect(again.status).toBe(404);
    const malformed = await call("/api/v1/auth/sessions/not-a-uuid", bearer(me.token, { method: "DELETE" }));
    expect(malformed.status).toBe(422);
  });
});

describe("brute-force protection", () => {
  it("locks an account after repeated failures, even for the right password, without touching other accounts", async () => {
    const tenant = await createTenant();
    const victim = await createUser(tenant);
    const bystander = await createUser(tenant);
    const limits = { LOGIN_MAX_FAILURES_PER_ACCOUNT: "3", LOGIN_MAX_FAILURES_PER_IP: "100" };
    for (let i = 0; i < 3; i++) {
      const r = await call(
        "/api/v1/auth/login",
        json({ tenant: tenant.slug, email: victim.email, password: `wrong-${i}-password` }),
        limits,
      );
      expect(r.status).toBe(401);
    }
    const locked = await call(
      "/api/v1/auth/login",
      json({ tenant: tenant.slug, email: victim.email, password: TEST_PASSWORD }),
      limits,
    );
    expect(locked.status).toBe(429);
    expect(Number(locked.headers.get("retry-after"))).toBeGreaterThan(0);
    expect((await envelope(locked)).error?.code).toBe("RATE_LIMITED");

    const fine = await call(
      "/api/v1/auth/login",
      json({ tenant: tenant.slug, email: bystander.email, password: TEST_PASSWORD }),
      limits,
    );
    expect(fine.status).toBe(200);
  });

  it("counts unknown accounts like real ones (no enumeration through lockout)", async () => {
    const tenant = await createTenant();
    const limits = { LOGIN_MAX_FAILURES_PER_ACCOUNT: "2", LOGIN_MAX_FAILURES_PER_IP: "100" };
    const attempt = () =>
      call(
        "/api/v1/auth/login",
        json({ tenant: tenant.slug, email: "ghost@example.com", password: "whatever-pass" }),
        limits,
      );
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(401);
    expect((await attempt()).status).toBe(429);
  });

  it("escalates: each further lockout lasts twice as long", async () => {
    const tenant = await createTenant();
    const user = await createUser(tenant);
    const limits = {
      LOGIN_MAX_FAILURES_PER_ACCOUNT: "1",
      LOGIN_MAX_FAILURES_PER_IP: "100",
      LOGIN_FAILURE_WINDOW_SECONDS: "60",
    };
    const fail = () =>
      call(
        "/api/v1/auth/login",
        json({ tenant: tenant.slug, email: user.email, password: "wrong-password" }),
        limits,
      );
    expect((await fail()).status).toBe(401);
    const first = await fail();
    expect(first.status).toBe(429);
    const firstWait = Number(first.headers.get("retry-after"));
    expect(firstWait).toBeGreaterThan(50);
    expect(firstWait).toBeLessThanOrEqual(60);
    // Simulate the first lockout running out, then fail again.
    const { env } = await import("cloudflare:workers");
    const { Redis } = await import("@upstash/redis/cloudflare");
    const redis = new Redis({ url: env.UPSTASH_REDIS_REST_URL, token: env.UPSTASH_REDIS_REST_TOKEN });
    await redis.del(`${env.CACHE_KEY_PREFIX}auth:lock:${tenant.slug}:${user.email}`);
    expect((await fail()).status).toBe(401);
    const second = await fail();
    expect(second.status).toBe(429);
    expect(Number(second.headers.get("retry-after"))).toBeGreaterThan(100);
  });

  it("limits failures per IP across accounts", async () => {
    const tenant = await createTenant();
    const ip = randomIp();
    const limits = { LOGIN_MAX_FAILURES_PER_ACCOUNT: "100", LOGIN_MAX_FAILURES_PER_IP: "2" };
    for (const who of ["a", "b"]) {
      const r = await call(
        "/api/v1/auth/login",
        json(
          { tenant: tenant.slug, email: `${who}@example.com`, password: "wrong-password" },
          { "cf-connecting-ip": ip },
        ),
        limits,
      );
      expect(r.status).toBe(401);
    }
    const blocked = await call(
      "/api/v1/auth/login",
      json(
        { tenant: tenant.slug, email: "c@example.com", password: "wrong-password" },
        { "cf-connecting-ip": ip },
      ),
      limits,
    );
    expect(blocked.status).toBe(429);
  });

  it("limits failed authentications per IP (429 instead of 401), and remembers unknown API keys in Redis", async () => {
    const ip = randomIp();
    const limits = { RATE_LIMITS: JSON.stringify({ auth: { limit: 2, windowSeconds: 60 } }) };
    const unknownKey = `tw_sk_${"A".repeat(43)}`;
    const attempt = () =>
      call(
        "/api/v1/auth/sessions",
        { headers: { authorization: `Bearer ${unknownKey}`, "cf-connecting-ip": ip } },
        limits,
      );
    const first = await attempt();
    expect(first.status).toBe(401);
    const second = await attempt();
    expect(second.status).toBe(401);
    // The second lookup was answered from the remembered miss: no Postgres round trip.
    expect(second.headers.get("server-timing")).toMatch(/db;dur=[\d.]+;desc="0 rt"/);
    const third = await attempt();
    expect(third.status).toBe(429);
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("limits refreshes per session, whatever the client address", async () => {
    const me = await signedInUser();
    const limits = { RATE_LIMITS: JSON.stringify({ refresh: { limit: 2, windowSeconds: 60 } }) };
    const first = await refresh(me.tokens.refreshToken, limits);
    expect(first.response.status).toBe(200);
    const second = await refresh(first.body.data?.refreshToken ?? "", limits);
    expect(second.response.status).toBe(200);
    const third = await refresh(second.body.data?.refreshToken ?? "", limits);
    expect(third.response.status).toBe(429);
    expect(Number(third.response.headers.get("retry-after"))).toBeGreaterThan(0);
    // Another session of the same user is not affected.
    const laptop = await login(me);
    expect((await refresh(laptop.refreshToken, limits)).response.status).toBe(200);
  });

  it("rate-limits the auth route group per IP with RateLimit-* headers", async () => {
    const ip = randomIp();
    const limits = { RATE_LIMITS: JSON.stringify({ auth: { limit: 2, windowSeconds: 60 } }) };
    const hit = () =>
      call("/api/v1/auth/refresh", json({ refreshToken: "nope" }, { "cf-connecting-ip": ip }), limits);
    const first = await hit();
    expect(first.status).toBe(401);
    expect(first.headers.get("ratelimit-limit")).toBe("2");
    expect(first.headers.get("ratelimit-remaining")).toBe("1");
    expect((await hit()).status).toBe(401);
    const third = await hit();
    expect(third.status).toBe(429);
    expect(third.headers.get("ratelimit-remaining")).toBe("0");
    expect(Number(third.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(Number(third.headers.get("ratelimit-reset"))).toBeGreaterThan(0);
  });
});
