import { describe, expect, inject, it } from "vitest";
import {
  bearer,
  createUser,
  login,
  platformAdmin,
  randomIp,
  signedInUser,
  type TestUser,
} from "../support/auth";
import { call, createTenant, envelope, ownerSql, type TestTenant } from "../support/harness";

// ---------------------------------------------------------------------------------------------------------
// The WeChat fake (test/fakes/wechat.ts), driven over its HTTP control API: tests run in workerd.

const FAKE = inject("wechatApiBase");

async function control(path: string, body?: Record<string, unknown>): Promise<Response> {
  const res = await fetch(`${FAKE}/__control${path}`, {
    method: body ? "POST" : "GET",
    ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
  });
  if (res.status >= 400 && res.status !== 404) throw new Error(`fake control ${path}: ${res.status}`);
  return res;
}

function hex(bytes: number): string {
  return [...crypto.getRandomValues(new Uint8Array(bytes))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

const newAppId = () => `wx${hex(8)}`;
const newSecret = () => hex(16);
const newOpenId = () => `o${hex(14)}`;

async function issueCode(appId: string, openId: string, unionId?: string): Promise<string> {
  const res = await control("/codes", { appId, openId, ...(unionId ? { unionId } : {}) });
  return ((await res.json()) as { code: string }).code;
}

async function failNext(appId: string, failure: number | "http500", times = 1): Promise<void> {
  for (let i = 0; i < times; i++) await control("/fail-next", { appId, failure });
}

async function sessionKeyOf(openId: string): Promise<string | undefined> {
  const res = await control(`/session-keys/${openId}`);
  return res.status === 200 ? ((await res.json()) as { sessionKey: string }).sessionKey : undefined;
}

async function fakeCalls(): Promise<number> {
  return ((await (await control("/calls")).json()) as { calls: number }).calls;
}

/** stable_token requests the fake received for one app (other test files share the fake). */
async function tokenCallsFor(appId: string): Promise<number> {
  return ((await (await control(`/calls?appId=${appId}`)).json()) as { tokenCalls: number }).tokenCalls;
}

/** The mini-program exists at WeChat (the fake) with this secret. */
async function registerApp(appId: string, secret: string): Promise<void> {
  await control("/apps", { appId, secret });
}

async function accessTokenOf(appId: string): Promise<string | undefined> {
  const res = await control(`/access-tokens/${appId}`);
  return res.status === 200 ? ((await res.json()) as { accessToken: string }).accessToken : undefined;
}

function putWechatSettings(token: string, body: Record<string, unknown>) {
  return call("/api/v1/settings/wechat", bearer(token, { method: "PUT", body }));
}

async function storedWechatApp(tenantId: string) {
  const rows = await ownerSql()`select app_id, secret_sealed from wechat_apps where tenant_id = ${tenantId}`;
  return rows[0];
}

// ---------------------------------------------------------------------------------------------------------

interface WechatTenant {
  tenant: TestTenant;
  admin: TestUser & { token: string };
  appId: string;
  secret: string;
}

/** A tenant with a superuser admin and a configured mini-program that the fake knows. */
async function wechatTenant(): Promise<WechatTenant> {
  const admin = await signedInUser({ superuser: true });
  const appId = newAppId();
  const secret = newSecret();
  await registerApp(appId, secret);
  const res = await putWechatSettings(admin.token, { appId, appSecret: secret });
  if (res.status !== 200) throw new Error(`wechat settings failed: ${res.status} ${await res.text()}`);
  return { tenant: admin.tenant, admin, appId, secret };
}

function wechatLogin(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call("/api/v1/auth/wechat", {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": randomIp(), ...headers },
    body: JSON.stringify(body),
  });
}

interface PendingBody {
  status: "pending";
  accessToken: string;
  tokenType: "Bearer";
  expiresIn: number;
  applicationId: string;
}

interface ActiveBody {
  status: "active";
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
}

interface ApplicationBody {
  id: string;
  status: "pending" | "approved" | "rejected";
  fullName: string | null;
  phone: string | null;
  note: string | null;
  reason: string | null;
  reviewerId: string | null;
  reviewedAt: string | null;
  userId: string | null;
  wechatIdentityId: string;
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

/** A new WeChat user signs in and becomes a pending applicant. */
async function applicant(t: WechatTenant, openId = newOpenId()) {
  const res = await wechatLogin({ code: await issueCode(t.appId, openId), appId: t.appId });
  const body = await envelope<PendingBody>(res);
  if (res.status !== 200 || body.data?.status !== "pending") {
    throw new Error(`expected a pending sign-in: ${res.status} ${JSON.stringify(body)}`);
  }
  return { openId, ...body.data };
}

const BAD_CODE = "WeChat login code is invalid or expired";

// ---------------------------------------------------------------------------------------------------------

describe("WeChat settings", () => {
  it("verifies the pair with WeChat, stores the secret sealed and never returns it", async () => {
    const admin = await signedInUser({ permissions: ["tenant:admin"] });
    const empty = await call("/api/v1/settings/wechat", bearer(admin.token));
    expect(empty.status).toBe(200);
    expect((await envelope(empty)).data).toEqual({ appId: null, secretSet: false, updatedAt: null });

    const appId = newAppId();
    const secret = newSecret();
    await registerApp(appId, secret);
    const put = await putWechatSettings(admin.token, { appId, appSecret: secret });
    expect(put.status).toBe(200);
    expect(await tokenCallsFor(appId)).toBe(1);
    const putText = await put.text();
    expect(putText).not.toContain(secret);
    expect(putText).not.toContain((await accessTokenOf(appId)) ?? "missing");
    const stored = JSON.parse(putText) as { data: { appId: string; secretSet: boolean; updatedAt: string } };
    expect(stored.data).toMatchObject({ appId, secretSet: true });

    const get = await call("/api/v1/settings/wechat", bearer(admin.token));
    const getText = await get.text();
    expect(getText).not.toContain(secret);
    expect(JSON.parse(getText).data).toEqual(stored.data);

    const [row] =
      await ownerSql()`select app_id, secret_sealed from wechat_apps where tenant_id = ${admin.tenant.id}`;
    expect(row?.app_id).toBe(appId);
    expect(String(row?.secret_sealed)).toMatch(/^v1\.test1\./);
    expect(String(row?.secret_sealed)).not.toContain(secret);

    // Replacing the configuration keeps one row per tenant.
    const next = newAppId();
    const nextSecret = newSecret();
    await registerApp(next, nextSecret);
    const again = await putWechatSettings(admin.token, { appId: next, appSecret: nextSecret });
    expect((await envelope<{ appId: string }>(again)).data?.appId).toBe(next);
    const rows = await ownerSql()`select app_id from wechat_apps where tenant_id = ${admin.tenant.id}`;
    expect(rows.map((r) => r.app_id)).toEqual([next]);
  });

  it("422 and nothing stored when WeChat rejects the secret or the app id", async () => {
    const admin = await signedInUser({ superuser: true });
    const appId = newAppId();
    const secret = newSecret();
    await registerApp(appId, secret);

    const wrongSecret = newSecret();
    const wrong = await putWechatSettings(admin.token, { appId, appSecret: wrongSecret });
    expect(wrong.status).toBe(422);
    const wrongText = await wrong.text();
    expect(wrongText).not.toContain(wrongSecret);
    expect(JSON.parse(wrongText).error).toEqual({
      code: "VALIDATION_ERROR",
      message: "WeChat rejected this appId/appSecret pair",
      details: { appSecret: ["WeChat rejected this appId/appSecret pair"] },
    });
    expect(await storedWechatApp(admin.tenant.id)).toBeUndefined();

    const unknown = await putWechatSettings(admin.token, { appId: newAppId(), appSecret: secret });
    expect(unknown.status).toBe(422);
    expect((await envelope(unknown)).error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { appId: ["WeChat rejected this appId/appSecret pair"] },
    });
    expect(await storedWechatApp(admin.tenant.id)).toBeUndefined();
    const get = await call("/api/v1/settings/wechat", bearer(admin.token));
    expect((await envelope(get)).data).toEqual({ appId: null, secretSet: false, updatedAt: null });

    // A rejected replacement leaves the working configuration as it was.
    expect((await putWechatSettings(admin.token, { appId, appSecret: secret })).status).toBe(200);
    const before = await storedWechatApp(admin.tenant.id);
    const other = newAppId();
    await registerApp(other, newSecret());
    const rejected = await putWechatSettings(admin.token, { appId: other, appSecret: newSecret() });
    expect(rejected.status).toBe(422);
    expect(await storedWechatApp(admin.tenant.id)).toEqual(before);
  });

  it("a tenant cannot squat another tenant's app id with a guessed secret (422); the owner keeps working", async () => {
    const owner = await wechatTenant();
    const squatter = await signedInUser({ superuser: true });
    const squat = await putWechatSettings(squatter.token, { appId: owner.appId, appSecret: newSecret() });
    expect(squat.status).toBe(422);
    const squatBody = await envelope(squat);
    expect(squatBody.error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { appSecret: expect.any(Array) },
    });
    // No 409: a caller without the secret learns nothing about who configured the app id.
    expect(JSON.stringify(squatBody)).not.toContain(owner.tenant.id);
    expect(await storedWechatApp(squatter.tenant.id)).toBeUndefined();

    // An app id nobody configured yet cannot be claimed without its secret either.
    const unclaimed = newAppId();
    await registerApp(unclaimed, newSecret());
    const early = await putWechatSettings(squatter.token, { appId: unclaimed, appSecret: newSecret() });
    expect(early.status).toBe(422);
    expect(await storedWechatApp(squatter.tenant.id)).toBeUndefined();

    // The owner's sign-ins still resolve to the owner.
    const res = await wechatLogin({ code: await issueCode(owner.appId, newOpenId()), appId: owner.appId });
    expect(res.status).toBe(200);
    expect((await envelope<PendingBody>(res)).data?.status).toBe("pending");
  });

  it("422 when the app's API IP whitelist is on or its secret frozen; WeChat quota 429; WeChat down 502", async () => {
    const admin = await signedInUser({ superuser: true });
    const appId = newAppId();
    const secret = newSecret();
    await registerApp(appId, secret);
    const put = () => putWechatSettings(admin.token, { appId, appSecret: secret });

    await failNext(appId, 40164);
    const whitelisted = await put();
    expect(whitelisted.status).toBe(422);
    const whitelistError = (await envelope(whitelisted)).error;
    expect(whitelistError?.code).toBe("VALIDATION_ERROR");
    expect(JSON.stringify(whitelistError?.details)).toMatch(/no fixed egress IP address/);

    await failNext(appId, 40243);
    const frozen = await put();
    expect(frozen.status).toBe(422);
    expect((await envelope(frozen)).error?.details).toEqual({ appSecret: [expect.stringMatching(/frozen/)] });

    await failNext(appId, 45011);
    const quota = await put();
    expect(quota.status).toBe(429);
    expect(quota.headers.get("retry-after")).toBe("60");
    expect((await envelope(quota)).error).toMatchObject({
      code: "RATE_LIMITED",
      details: { retryAfterSeconds: 60 },
    });

    await failNext(appId, -1, 3);
    const busy = await put();
    expect(busy.status).toBe(502);
    const busyText = await busy.text();
    expect(busyText).not.toContain(secret);
    expect(JSON.parse(busyText).error).toEqual({
      code: "UPSTREAM_ERROR",
      message: "An upstream service failed",
    });
    expect(await storedWechatApp(admin.tenant.id)).toBeUndefined();

    // One busy answer is absorbed by the retry.
    await failNext(appId, -1, 1);
    const before = await tokenCallsFor(appId);
    expect((await put()).status).toBe(200);
    expect(await tokenCallsFor(appId)).toBe(before + 2);
    expect((await storedWechatApp(admin.tenant.id))?.app_id).toBe(appId);
  });

  it("409 when another tenant configured the app id (even with its secret); 422 for bad input; 401/403 for outsiders", async () => {
    const first = await wechatTenant();
    const second = await signedInUser({ superuser: true });
    const taken = await putWechatSettings(second.token, { appId: first.appId, appSecret: first.secret });
    expect(taken.status).toBe(409);
    expect((await envelope(taken)).error?.code).toBe("CONFLICT");
    expect(await storedWechatApp(second.tenant.id)).toBeUndefined();

    for (const body of [
      { appId: "not-an-app", appSecret: newSecret() },
      { appId: newAppId(), appSecret: "short" },
      { appId: newAppId() },
      { appId: newAppId(), appSecret: newSecret(), extra: 1 },
    ]) {
      const res = await call("/api/v1/settings/wechat", bearer(second.token, { method: "PUT", body }));
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await envelope(res)).error?.code).toBe("VALIDATION_ERROR");
    }

    const anonymous = await call("/api/v1/settings/wechat");
    expect(anonymous.status).toBe(401);
    const reader = await signedInUser({ permissions: ["users:read"] });
    for (const res of [
      await call("/api/v1/settings/wechat", bearer(reader.token)),
      await call(
        "/api/v1/settings/wechat",
        bearer(reader.token, { method: "PUT", body: { appId: newAppId(), appSecret: newSecret() } }),
      ),
    ]) {
      expect(res.status).toBe(403);
      expect((await envelope(res)).error?.details).toEqual({ permission: "tenant:admin" });
    }
  });
});

describe("POST /api/v1/auth/wechat", () => {
  it("a new WeChat user gets a pending application and an applicant token; the session key stays server-side", async () => {
    const t = await wechatTenant();
    const openId = newOpenId();
    const unionId = `u${hex(10)}`;
    const res = await wechatLogin({ code: await issueCode(t.appId, openId, unionId), appId: t.appId });
    expect(res.status).toBe(200);
    const text = await res.text();
    const sessionKey = await sessionKeyOf(openId);
    expect(sessionKey).toBeTruthy();
    expect(text).not.toContain(sessionKey ?? "missing");
    expect(text).not.toContain(t.secret);
    expect(text).not.toContain(openId);
    const body = (JSON.parse(text) as { data: PendingBody }).data;
    expect(body).toEqual({
      status: "pending",
      accessToken: expect.any(String),
      tokenType: "Bearer",
      expiresIn: 900,
      applicationId: expect.any(String),
    });
    expect(body).not.toHaveProperty("refreshToken");

    const [identity] = await ownerSql()`
      select i.union_id, i.user_id, a.status, a.id as application_id from wechat_identities i
        join staff_applications a on a.tenant_id = i.tenant_id and a.wechat_identity_id = i.id
       where i.tenant_id = ${t.tenant.id} and i.open_id = ${openId}`;
    expect(identity).toEqual({
      union_id: unionId,
      user_id: null,
      status: "pending",
      application_id: body.applicationId,
    });

    // Signing in again (a fresh code) is idempotent: the same one pending application.
    const again = await applicant(t, openId);
    expect(again.applicationId).toBe(body.applicationId);
    const [count] = await ownerSql()`
      select count(*)::int as n from staff_applications a join wechat_identities i on i.id = a.wechat_identity_id
       where i.tenant_id = ${t.tenant.id} and i.open_id = ${openId}`;
    expect(count?.n).toBe(1);
  });

  it("concurrent first sign-ins of one WeChat user make one identity and one application", async () => {
    const t = await wechatTenant();
    const openId = newOpenId();
    const codes = await Promise.all([issueCode(t.appId, openId), issueCode(t.appId, openId)]);
    const results = await Promise.all(codes.map((code) => wechatLogin({ code, appId: t.appId })));
    const bodies = await Promise.all(results.map((r) => envelope<PendingBody>(r)));
    expect(results.map((r) => r.status)).toEqual([200, 200]);
    expect(bodies[0]?.data?.applicationId).toBe(bodies[1]?.data?.applicationId);
    const [count] = await ownerSql()`
      select count(*)::int as n from staff_applications a join wechat_identities i on i.id = a.wechat_identity_id
       where i.tenant_id = ${t.tenant.id} and i.open_id = ${openId}`;
    expect(count?.n).toBe(1);
  });

  it("takes the app id from the mini-program Referer when the body has none", async () => {
    const t = await wechatTenant();
    const res = await wechatLogin(
      { code: await issueCode(t.appId, newOpenId()) },
      { referer: `https://servicewechat.com/${t.appId}/12/page-frame.html` },
    );
    expect(res.status).toBe(200);
    expect((await envelope<PendingBody>(res)).data?.status).toBe("pending");

    const noAppId = await wechatLogin({ code: await issueCode(t.appId, newOpenId()) });
    expect(noAppId.status).toBe(422);
    expect((await envelope(noAppId)).error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { appId: expect.any(Array) },
    });
    const foreignReferer = await wechatLogin(
      { code: await issueCode(t.appId, newOpenId()) },
      { referer: `https://evil.example/${t.appId}/12/page-frame.html` },
    );
    expect(foreignReferer.status).toBe(422);
  });

  it("unknown app id, invalid code and used code are the same 401", async () => {
    const t = await wechatTenant();
    const responses = [
      await wechatLogin({ code: await issueCode(t.appId, newOpenId()), appId: newAppId() }),
      await wechatLogin({ code: "0716AVll20uHk94SLDml27etM946AVlq", appId: t.appId }),
    ];
    const used = await issueCode(t.appId, newOpenId());
    expect((await wechatLogin({ code: used, appId: t.appId })).status).toBe(200);
    responses.push(await wechatLogin({ code: used, appId: t.appId }));
    const bodies = [];
    for (const res of responses) {
      expect(res.status).toBe(401);
      const body = await envelope(res);
      bodies.push(body.error);
    }
    for (const error of bodies) expect(error).toEqual({ code: "UNAUTHORIZED", message: BAD_CODE });
  });

  it("maps WeChat failures to clean envelopes: 403 blocked, 429 quota with Retry-After, 502 upstream", async () => {
    const t = await wechatTenant();
    const openId = newOpenId();
    const code = await issueCode(t.appId, openId);

    await failNext(t.appId, 40226);
    const blocked = await wechatLogin({ code, appId: t.appId });
    expect(blocked.status).toBe(403);
    expect((await envelope(blocked)).error).toMatchObject({ code: "FORBIDDEN", details: { errcode: 40226 } });

    await failNext(t.appId, 45011);
    const quota = await wechatLogin({ code, appId: t.appId });
    expect(quota.status).toBe(429);
    expect(quota.headers.get("retry-after")).toBe("60");
    expect((await envelope(quota)).error).toMatchObject({
      code: "RATE_LIMITED",
      details: { retryAfterSeconds: 60 },
    });

    // Busy (-1) and HTTP 500 are retried (3 attempts); exhausted, they are a 502 without internals.
    await failNext(t.appId, -1, 3);
    const busy = await wechatLogin({ code, appId: t.appId });
    expect(busy.status).toBe(502);
    expect((await envelope(busy)).error).toEqual({
      code: "UPSTREAM_ERROR",
      message: "An upstream service failed",
    });
    await failNext(t.appId, "http500", 3);
    const down = await wechatLogin({ code, appId: t.appId });
    expect(down.status).toBe(502);
    const downText = await down.text();
    expect(downText).not.toContain(t.secret);
    expect(downText).not.toContain(code);

    // One transient failure is absorbed by the retry; the code (not consumed by failures) still works.
    const before = await fakeCalls();
    await failNext(t.appId, -1, 1);
    const recovered = await wechatLogin({ code, appId: t.appId });
    expect(recovered.status).toBe(200);
    expect(await fakeCalls()).toBeGreaterThanOrEqual(before + 2);
  });

  it("502 when WeChat refuses the tenant's stored secret, and the secret appears nowhere", async () => {
    const t = await wechatTenant();
    await control("/apps", { appId: t.appId, secret: newSecret() });
    const res = await wechatLogin({ code: await issueCode(t.appId, newOpenId()), appId: t.appId });
    expect(res.status).toBe(502);
    const text = await res.text();
    expect(text).not.toContain(t.secret);
    expect(JSON.parse(text).error).toEqual({ code: "UPSTREAM_ERROR", message: "An upstream service failed" });
  });

  it("403 for a suspended tenant, before WeChat is asked", async () => {
    const t = await wechatTenant();
    await ownerSql()`update tenants set status = 'suspended' where id = ${t.tenant.id}`;
    const before = await fakeCalls();
    const res = await wechatLogin({ code: await issueCode(t.appId, newOpenId()), appId: t.appId });
    expect(res.status).toBe(403);
    expect((await envelope(res)).error).toMatchObject({
      code: "FORBIDDEN",
      message: "This tenant is suspended",
    });
    expect(await fakeCalls()).toBe(before);
  });

  it("is rate limited per IP in the auth group (429 with Retry-After)", async () => {
    const ip = randomIp();
    const limits = { RATE_LIMITS: JSON.stringify({ auth: { limit: 2, windowSeconds: 60 } }) };
    const hit = () =>
      call(
        "/api/v1/auth/wechat",
        {
          method: "POST",
          headers: { "content-type": "application/json", "cf-connecting-ip": ip },
          body: JSON.stringify({ code: "nope", appId: newAppId() }),
        },
        limits,
      );
    expect((await hit()).status).toBe(401);
    expect((await hit()).status).toBe(401);
    const limited = await hit();
    expect(limited.status).toBe(429);
    expect((await envelope(limited)).error?.code).toBe("RATE_LIMITED");
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
  });

  it("422 for a missing code or unknown fields", async () => {
    const t = await wechatTenant();
    for (const body of [
      { appId: t.appId },
      { code: "", appId: t.appId },
      { code: "x", appId: t.appId, openId: "o" },
    ]) {
      const res = await wechatLogin(body);
      expect(res.status, JSON.stringify(body)).toBe(422);
      expect((await envelope(res)).error?.code).toBe("VALIDATION_ERROR");
    }
  });
});

describe("the applicant token", () => {
  it("reads and edits only its own application, and is 403 everywhere else", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    const other = await applicant(t);

    const mine = await call("/api/v1/auth/wechat/application", bearer(me.accessToken));
    expect(mine.status).toBe(200);
    expect((await envelope<ApplicationBody>(mine)).data).toMatchObject({
      id: me.applicationId,
      status: "pending",
    });

    const patched = await call(
      "/api/v1/auth/wechat/application",
      bearer(me.accessToken, {
        method: "PATCH",
        body: { fullName: " Li Wei ", phone: "+86 138 0013 8000", note: "Warehouse B, night shift" },
      }),
    );
    expect(patched.status).toBe(200);
    expect((await envelope<ApplicationBody>(patched)).data).toMatchObject({
      id: me.applicationId,
      fullName: "Li Wei",
      phone: "+86 138 0013 8000",
      note: "Warehouse B, night shift",
    });
    const [theirs] =
      await ownerSql()`select full_name from staff_applications where id = ${other.applicationId}`;
    expect(theirs?.full_name).toBeNull();

    for (const [path, init] of [
      ["/api/v1/applications", bearer(me.accessToken)],
      [`/api/v1/applications/${other.applicationId}`, bearer(me.accessToken)],
      [
        `/api/v1/applications/${me.applicationId}/approve`,
        bearer(me.accessToken, { method: "POST", body: {} }),
      ],
      ["/api/v1/api-keys", bearer(me.accessToken)],
      ["/api/v1/settings/wechat", bearer(me.accessToken)],
      ["/api/v1/auth/sessions", bearer(me.accessToken)],
    ] as const) {
      const res = await call(path, init);
      expect(res.status, path).toBe(403);
      expect((await envelope(res)).error).toMatchObject({
        code: "FORBIDDEN",
        message: "This account is awaiting approval",
      });
    }

    for (const body of [{}, { fullName: "x", role: "admin" }, { phone: "call me" }]) {
      const res = await call(
        "/api/v1/auth/wechat/application",
        bearer(me.accessToken, { method: "PATCH", body }),
      );
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
  });

  it("a user token is 403 on the applicant routes; no token 401", async () => {
    const user = await signedInUser({ superuser: true });
    const res = await call("/api/v1/auth/wechat/application", bearer(user.token));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error?.code).toBe("FORBIDDEN");
    const anonymous = await call("/api/v1/auth/wechat/application");
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error?.code).toBe("UNAUTHORIZED");
  });

  it("dies with the tenant's suspension", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    expect((await call("/api/v1/auth/wechat/application", bearer(me.accessToken))).status).toBe(200);
    const platform = await platformAdmin();
    await call(`/api/v1/tenants/${t.tenant.id}/suspend`, bearer(platform.token, { method: "POST" }));
    const res = await call("/api/v1/auth/wechat/application", bearer(me.accessToken));
    expect(res.status).toBe(403);
    expect((await envelope(res)).error?.message).toBe("This tenant is suspended");
  });
});

describe("reviewing applications", () => {
  it("approval creates the user and links WeChat; the next sign-in is a user session", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    await call(
      "/api/v1/auth/wechat/application",
      bearer(me.accessToken, { method: "PATCH", body: { fullName: "Li Wei", phone: "+8613800138000" } }),
    );
    const reviewer = await createUser(t.tenant, { permissions: ["applications:review", "orders:read"] });
    const reviewerToken = (await login(reviewer)).accessToken;
    const [role] = await ownerSql()`
      insert into roles (tenant_id, name, permissions) values (${t.tenant.id}, 'Picker', ${["orders:read"]})
      returning id`;
    const [org] = await ownerSql()`
      insert into organizations (tenant_id, name) values (${t.tenant.id}, 'Warehouse B') returning id`;

    const res = await call(
      `/api/v1/applications/${me.applicationId}/approve`,
      bearer(reviewerToken, {
        method: "POST",
        body: { email: "Li.Wei@Example.com", roleIds: [role?.id], organizationId: org?.id },
      }),
    );
    expect(res.status).toBe(200);
    const approved = (await envelope<ApplicationBody>(res)).data;
    expect(approved).toMatchObject({ id: me.applicationId, status: "approved", reviewerId: reviewer.id });
    expect(approved?.reviewedAt).toBeTruthy();
    const [user] = await ownerSql()`
      select u.email, u.full_name, u.phone, u.password_hash, u.organization_id, u.superuser,
             array(select role_id from user_roles ur where ur.user_id = u.id) as roles,
             (select user_id from wechat_identities i where i.id = ${approved?.wechatIdentityId ?? ""}) as linked
        from users u where u.id = ${approved?.userId ?? ""}`;
    expect(user).toEqual({
      email: "li.wei@example.com",
      full_name: "Li Wei",
      phone: "+8613800138000",
      password_hash: null,
      organization_id: org?.id,
      superuser: false,
      roles: [role?.id],
      linked: approved?.userId,
    });

    // The applicant token now reports the decision; a fresh WeChat sign-in is a real session.
    const status = await envelope<ApplicationBody>(
      await call("/api/v1/auth/wechat/application", bearer(me.accessToken)),
    );
    expect(status.data?.status).toBe("approved");
    const signIn = await wechatLogin({ code: await issueCode(t.appId, me.openId), appId: t.appId });
    expect(signIn.status).toBe(200);
    const active = (await envelope<ActiveBody>(signIn)).data;
    expect(active).toEqual({
      status: "active",
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(/^rt_/),
      tokenType: "Bearer",
      expiresIn: 900,
    });
    const sessions = await call("/api/v1/auth/sessions", bearer(active?.accessToken ?? ""));
    expect(sessions.status).toBe(200);
    expect((await envelope<{ items: { method: string }[] }>(sessions)).data?.items[0]?.method).toBe("wechat");
    // No new application was opened for a linked identity.
    const [count] = await ownerSql()`
      select count(*)::int as n from staff_applications where wechat_identity_id = ${approved?.wechatIdentityId ?? ""}`;
    expect(count?.n).toBe(1);
  });

  it("two concurrent approvals: exactly one 200 and one 409, one user", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    const approve = () =>
      call(
        `/api/v1/applications/${me.applicationId}/approve`,
        bearer(t.admin.token, { method: "POST", body: {} }),
      );
    const results = await Promise.all([approve(), approve()]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 409]);
    const loser = results.find((r) => r.status === 409);
    expect((await envelope(loser ?? new Response("{}"))).error?.code).toBe("CONFLICT");
    const [count] = await ownerSql()`
      select count(*)::int as n from users where tenant_id = ${t.tenant.id} and password_hash is null`;
    expect(count?.n).toBe(1);
  });

  it("rejection: the applicant sees the reason and WeChat sign-in answers 403 with it", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    const res = await call(
      `/api/v1/applications/${me.applicationId}/reject`,
      bearer(t.admin.token, { method: "POST", body: { reason: "Not on the staff roster" } }),
    );
    expect(res.status).toBe(200);
    expect((await envelope<ApplicationBody>(res)).data).toMatchObject({
      status: "rejected",
      reason: "Not on the staff roster",
      reviewerId: t.admin.id,
      userId: null,
    });
    const mine = await envelope<ApplicationBody>(
      await call("/api/v1/auth/wechat/application", bearer(me.accessToken)),
    );
    expect(mine.data).toMatchObject({ status: "rejected", reason: "Not on the staff roster" });
    const patch = await call(
      "/api/v1/auth/wechat/application",
      bearer(me.accessToken, { method: "PATCH", body: { note: "please" } }),
    );
    expect(patch.status).toBe(412);
    expect((await envelope(patch)).error?.code).toBe("PRECONDITION_FAILED");

    const signIn = await wechatLogin({ code: await issueCode(t.appId, me.openId), appId: t.appId });
    expect(signIn.status).toBe(403);
    expect((await envelope(signIn)).error).toMatchObject({
      code: "FORBIDDEN",
      details: { reason: "Not on the staff roster" },
    });

    // Reviewed applications are final.
    const approveRejected = await call(
      `/api/v1/applications/${me.applicationId}/approve`,
      bearer(t.admin.token, { method: "POST", body: {} }),
    );
    expect(approveRejected.status).toBe(409);
    const rejectAgain = await call(
      `/api/v1/applications/${me.applicationId}/reject`,
      bearer(t.admin.token, { method: "POST", body: { reason: "again" } }),
    );
    expect(rejectAgain.status).toBe(409);
    expect((await envelope(rejectAgain)).error?.code).toBe("CONFLICT");
  });

  it("lists by status and page; 404 for another tenant's application ids, never data", async () => {
    const t = await wechatTenant();
    const a = await applicant(t);
    const b = await applicant(t);
    const c = await applicant(t);
    await call(
      `/api/v1/applications/${c.applicationId}/reject`,
      bearer(t.admin.token, { method: "POST", body: { reason: "no" } }),
    );

    const all = await envelope<Page<ApplicationBody>>(
      await call("/api/v1/applications", bearer(t.admin.token)),
    );
    expect(all.data?.items.map((x) => x.id)).toEqual([c.applicationId, b.applicationId, a.applicationId]);
    expect(all.data).toMatchObject({ total: 3, totalPages: 1 });
    const pending = await envelope<Page<ApplicationBody>>(
      await call("/api/v1/applications?status=pending&pageSize=1&page=2", bearer(t.admin.token)),
    );
    expect(pending.data).toMatchObject({ total: 2, page: 2, pageSize: 1, totalPages: 2 });
    expect(pending.data?.items.map((x) => x.id)).toEqual([a.applicationId]);
    const one = await call(`/api/v1/applications/${a.applicationId}`, bearer(t.admin.token));
    expect((await envelope<ApplicationBody>(one)).data?.id).toBe(a.applicationId);

    const outsider = await signedInUser({ superuser: true });
    const outsiderList = await envelope<Page<ApplicationBody>>(
      await call("/api/v1/applications", bearer(outsider.token)),
    );
    expect(outsiderList.data?.total).toBe(0);
    for (const [path, init] of [
      [`/api/v1/applications/${a.applicationId}`, bearer(outsider.token)],
      [
        `/api/v1/applications/${a.applicationId}/approve`,
        bearer(outsider.token, { method: "POST", body: {} }),
      ],
      [
        `/api/v1/applications/${a.applicationId}/reject`,
        bearer(outsider.token, { method: "POST", body: { reason: "x" } }),
      ],
      [`/api/v1/applications/${crypto.randomUUID()}/approve`, bearer(t.admin.token, { method: "POST" })],
    ] as const) {
      const res = await call(path, init);
      expect(res.status, path).toBe(404);
      const body = await envelope(res);
      expect(body.error?.code).toBe("NOT_FOUND");
    }
    const [row] = await ownerSql()`select status from staff_applications where id = ${a.applicationId}`;
    expect(row?.status).toBe("pending");

    const bad = await call("/api/v1/applications?status=maybe", bearer(t.admin.token));
    expect(bad.status).toBe(422);
  });

  it("401 without a token; 403 without applications:review", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    expect((await call("/api/v1/applications")).status).toBe(401);
    const reader = await createUser(t.tenant, { permissions: ["users:read"] });
    const token = (await login(reader)).accessToken;
    for (const [path, init] of [
      ["/api/v1/applications", bearer(token)],
      [`/api/v1/applications/${me.applicationId}/approve`, bearer(token, { method: "POST", body: {} })],
      [
        `/api/v1/applications/${me.applicationId}/reject`,
        bearer(token, { method: "POST", body: { reason: "x" } }),
      ],
    ] as const) {
      const res = await call(path, init);
      expect(res.status, path).toBe(403);
      expect((await envelope(res)).error?.details).toEqual({ permission: "applications:review" });
    }
  });

  it("approval input errors: foreign or unknown roles 422, roles beyond the reviewer 403, taken email 409", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    const other = await createTenant();
    const [foreignRole] = await ownerSql()`
      insert into roles (tenant_id, name, permissions) values (${other.id}, 'Foreign', ${["orders:read"]}) returning id`;
    const [adminRole] = await ownerSql()`
      insert into roles (tenant_id, name, permissions) values (${t.tenant.id}, 'Admins', ${["users:admin"]}) returning id`;
    const approve = (token: string, body: Record<string, unknown>) =>
      call(`/api/v1/applications/${me.applicationId}/approve`, bearer(token, { method: "POST", body }));

    for (const roleId of [foreignRole?.id, crypto.randomUUID()]) {
      const res = await approve(t.admin.token, { roleIds: [roleId] });
      expect(res.status).toBe(422);
      expect((await envelope(res)).error).toMatchObject({
        code: "VALIDATION_ERROR",
        details: { roleIds: expect.any(Array) },
      });
    }
    const foreignOrg = await ownerSql()`
      insert into organizations (tenant_id, name) values (${other.id}, 'Elsewhere') returning id`;
    const orgRes = await approve(t.admin.token, { organizationId: foreignOrg[0]?.id });
    expect(orgRes.status).toBe(422);
    expect((await envelope(orgRes)).error?.details).toHaveProperty("organizationId");

    const reviewer = await createUser(t.tenant, { permissions: ["applications:review"] });
    const reviewerToken = (await login(reviewer)).accessToken;
    const escalation = await approve(reviewerToken, { roleIds: [adminRole?.id] });
    expect(escalation.status).toBe(403);
    expect((await envelope(escalation)).error).toMatchObject({
      code: "FORBIDDEN",
      details: { permissions: ["users:admin"] },
    });

    const existing = await createUser(t.tenant);
    const taken = await approve(t.admin.token, { email: existing.email.toUpperCase() });
    expect(taken.status).toBe(409);
    expect((await envelope(taken)).error?.code).toBe("CONFLICT");

    for (const body of [{ email: "nope" }, { roleIds: ["x"] }, { password: "secret" }]) {
      const res = await approve(t.admin.token, body);
      expect(res.status, JSON.stringify(body)).toBe(422);
    }
    const reject = await call(
      `/api/v1/applications/${me.applicationId}/reject`,
      bearer(t.admin.token, { method: "POST", body: {} }),
    );
    expect(reject.status).toBe(422);

    // Nothing above left a trace: still pending, no user made. A superuser may grant any role.
    const [state] = await ownerSql()`
      select a.status, (select count(*)::int from users u where u.tenant_id = a.tenant_id and u.password_hash is null) as made
        from staff_applications a where a.id = ${me.applicationId}`;
    expect(state).toEqual({ status: "pending", made: 0 });
    const ok = await approve(t.admin.token, { roleIds: [adminRole?.id], username: "li.wei" });
    expect(ok.status).toBe(200);
  });

  it("a deactivated user's WeChat sign-in is 403", async () => {
    const t = await wechatTenant();
    const me = await applicant(t);
    const res = await call(
      `/api/v1/applications/${me.applicationId}/approve`,
      bearer(t.admin.token, { method: "POST", body: {} }),
    );
    const userId = (await envelope<ApplicationBody>(res)).data?.userId ?? "";
    await ownerSql()`update users set active = false where id = ${userId}`;
    const signIn = await wechatLogin({ code: await issueCode(t.appId, me.openId), appId: t.appId });
    expect(signIn.status).toBe(403);
    expect((await envelope(signIn)).error).toMatchObject({
      code: "FORBIDDEN",
      message: "This account is deactivated",
    });
  });
});

describe("OpenAPI", () => {
  it("documents the platform, API-key, settings, WeChat and application routes", async () => {
    const doc = (await (await call("/openapi.json")).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, unknown> };
    };
    const expected: [string, string, string[]][] = [
      ["/api/v1/tenants", "post", ["201", "401", "403", "409", "422"]],
      ["/api/v1/tenants", "get", ["200"]],
      ["/api/v1/tenants/{id}", "get", ["200", "404"]],
      ["/api/v1/tenants/{id}/suspend", "post", ["200", "404", "412", "422"]],
      ["/api/v1/tenants/{id}/reactivate", "post", ["200", "404", "412"]],
      ["/api/v1/api-keys", "post", ["201", "403", "422"]],
      ["/api/v1/api-keys", "get", ["200"]],
      ["/api/v1/api-keys/{id}", "delete", ["200", "404"]],
      ["/api/v1/settings/wechat", "get", ["200"]],
      ["/api/v1/settings/wechat", "put", ["200", "409", "422", "429", "502"]],
      ["/api/v1/auth/wechat", "post", ["200", "401", "403", "429", "502"]],
      ["/api/v1/auth/wechat/application", "get", ["200", "401", "403"]],
      ["/api/v1/auth/wechat/application", "patch", ["200", "412"]],
      ["/api/v1/applications", "get", ["200"]],
      ["/api/v1/applications/{id}", "get", ["200", "404"]],
      ["/api/v1/applications/{id}/approve", "post", ["200", "404", "409"]],
      ["/api/v1/applications/{id}/reject", "post", ["200", "404", "409"]],
    ];
    for (const [path, method, statuses] of expected) {
      const operation = doc.paths[path]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(statuses));
    }
    expect(Object.keys(doc.components.schemas)).toEqual(
      expect.arrayContaining(["Tenant", "ApiKey", "CreatedApiKey", "WechatSettings", "StaffApplication"]),
    );
    expect(JSON.stringify(doc)).not.toMatch(/secret_sealed|key_hash|session_?key/i);
  });
});

it("approval accepts upper-case role ids (normalised to lower case)", async () => {
  const t = await wechatTenant();
  const me = await applicant(t);
  const [role] = await ownerSql()`
    insert into roles (tenant_id, name, permissions) values (${t.tenant.id}, 'Packers', ${["orders:read"]})
    returning id`;
  const roleId = String(role?.id);
  const res = await call(
    `/api/v1/applications/${me.applicationId}/approve`,
    bearer(t.admin.token, {
      method: "POST",
      body: { username: "packer.one", roleIds: [roleId.toUpperCase(), roleId] },
    }),
  );
  expect(res.status).toBe(200);
  const userId = (await envelope<ApplicationBody>(res)).data?.userId ?? "";
  const rows = await ownerSql()`select role_id from user_roles where user_id = ${userId}`;
  expect(rows.map((r) => r.role_id)).toEqual([roleId]);
});
