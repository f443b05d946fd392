// Idempotency-Key on client writes: the same request twice does the work once and answers the same;
// a reused key with another request is refused; a key still in progress is a 409.

import { env } from "cloudflare:workers";
import { createHash } from "node:crypto";
import { Redis } from "@upstash/redis/cloudflare";
import { describe, expect, it } from "vitest";
import { bearer, signedInUser } from "../support/auth";
import { cacheKey, call, envelope, ownerSql } from "../support/harness";

function redis() {
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
  });
}

async function roleCount(tenantId: string): Promise<number> {
  const rows =
    (await ownerSql()`select count(*)::int as n from roles where tenant_id = ${tenantId}`) as unknown as {
      n: number;
    }[];
  return rows[0]?.n ?? 0;
}

describe("Idempotency-Key", () => {
  it("the same write twice creates once and answers the same, marked as a replay", async () => {
    const user = await signedInUser({ superuser: true });
    const key = crypto.randomUUID();
    const send = () =>
      call(
        "/api/v1/roles",
        bearer(user.token, {
          method: "POST",
          body: { name: "Packers", permissions: ["orders:read"] },
          headers: { "idempotency-key": key },
        }),
      );
    const before = await roleCount(user.tenant.id);
    const first = await send();
    const second = await send();
    expect(first.status).toBe(201);
    expect(second.status).toBe(201);
    expect(second.headers.get("idempotent-replayed")).toBe("true");
    expect(first.headers.get("idempotent-replayed")).toBeNull();
    expect((await envelope<{ id: string }>(second)).data?.id).toBe(
      (await envelope<{ id: string }>(first)).data?.id,
    );
    expect(await roleCount(user.tenant.id)).toBe(before + 1);
  });

  it("the same key with a different body is a 422; without a key nothing is remembered", async () => {
    const user = await signedInUser({ superuser: true });
    const key = crypto.randomUUID();
    const post = (name: string, headers: Record<string, string> = { "idempotency-key": key }) =>
      call("/api/v1/roles", bearer(user.token, { method: "POST", body: { name, permissions: [] }, headers }));
    expect((await post("Pickers")).status).toBe(201);
    const reused = await post("Someone else");
    expect(reused.status).toBe(422);
    expect((await envelope(reused)).error).toMatchObject({
      code: "VALIDATION_ERROR",
      details: { "Idempotency-Key": ["Already used with another method, path or body; use a new key"] },
    });
    expect((await post("Loaders", {})).status).toBe(201);
    expect((await post("Loaders", {})).status).toBe(409);
  });

  it("a key whose first request is still running is a 409; keys are per caller", async () => {
    const user = await signedInUser({ superuser: true });
    const other = await signedInUser({ superuser: true, tenant: user.tenant });
    const key = crypto.randomUUID();
    const body = { name: "Night shift", permissions: [] };
    const fingerprint = createHash("sha256")
      .update(`POST /api/v1/roles\n${JSON.stringify(body)}`)
      .digest("hex");
    const keyHash = createHash("sha256").update(key).digest("hex");
    await redis().set(cacheKey(`idem:${user.tenant.id}:u:${user.id}:${keyHash}`), {
      state: "pending",
      fingerprint,
    });
    const busy = await call(
      "/api/v1/roles",
      bearer(user.token, { method: "POST", body, headers: { "idempotency-key": key } }),
    );
    expect(busy.status).toBe(409);
    // Another user of the same tenant with the same key is another request altogether.
    const theirs = await call(
      "/api/v1/roles",
      bearer(other.token, { method: "POST", body, headers: { "idempotency-key": key } }),
    );
    expect(theirs.status).toBe(201);
  });

  it("answers that depend on the moment are not kept: a 403 is not replayed once the caller may", async () => {
    const user = await signedInUser({ permissions: ["users:read"] });
    const key = crypto.randomUUID();
    const send = () =>
      call(
        "/api/v1/roles",
        bearer(user.token, {
          method: "POST",
          body: { name: "Auditors", permissions: [] },
          headers: { "idempotency-key": key },
        }),
      );
    expect((await send()).status).toBe(403);
    expect((await send()).headers.get("idempotent-replayed")).toBeNull();
  });

  it("refuses a malformed key with a 422 naming the header", async () => {
    const user = await signedInUser({ superuser: true });
    const response = await call(
      "/api/v1/roles",
      bearer(user.token, {
        method: "POST",
        body: { name: "X", permissions: [] },
        headers: { "idempotency-key": "a b" },
      }),
    );
    expect(response.status).toBe(422);
    expect((await envelope(response)).error?.details).toHaveProperty("Idempotency-Key");
  });
});
