import { describe, expect, it } from "vitest";
import { call, createTenant, envelope } from "../support/harness";

function checkSlug(body: string, headers: Record<string, string> = { "content-type": "application/json" }) {
  return call("/api/v1/public/tenants/slug-availability", { method: "POST", headers, body });
}

describe("POST /api/v1/public/tenants/slug-availability", () => {
  it("says a free slug is available, in one round trip", async () => {
    const res = await checkSlug(JSON.stringify({ slug: `Free-${crypto.randomUUID().slice(0, 8)}` }));
    expect(res.status).toBe(200);
    const body = await envelope<{ slug: string; available: boolean }>(res);
    expect(body.data?.available).toBe(true);
    expect(body.data?.slug).toMatch(/^free-/);
    expect(res.headers.get("server-timing")).toMatch(/^db;dur=[\d.]+;desc="1 rt"/);
  });

  it("says a registered slug is taken, case-insensitively", async () => {
    const tenant = await createTenant();
    const body = await envelope(await checkSlug(JSON.stringify({ slug: tenant.slug.toUpperCase() })));
    expect(body.data).toEqual({ slug: tenant.slug, available: false, reason: "taken" });
  });

  it("says a reserved slug is reserved without asking Postgres", async () => {
    const res = await checkSlug(JSON.stringify({ slug: "platform" }));
    expect((await envelope(res)).data).toEqual({ slug: "platform", available: false, reason: "reserved" });
    expect(res.headers.get("server-timing")).toMatch(/^db;dur=0;desc="0 rt"/);
  });

  it("400 for malformed JSON", async () => {
    const res = await checkSlug('{"slug": "acme"');
    expect(res.status).toBe(400);
    const body = await envelope(res);
    expect(body.error?.code).toBe("BAD_REQUEST");
    expect(body.meta.requestId).toBeTruthy();
  });

  it("422 with field details for a bad or missing slug", async () => {
    const bad = await envelope(await checkSlug(JSON.stringify({ slug: "-nope!" })));
    expect(bad.error?.code).toBe("VALIDATION_ERROR");
    expect(Object.keys(bad.error?.details ?? {})).toEqual(["slug"]);
    const missing = await envelope(await checkSlug("{}"));
    expect(missing.error?.details).toHaveProperty("slug");
  });

  it("415 in the envelope for a body that is not JSON", async () => {
    const text = await checkSlug("slug=acme", { "content-type": "text/plain" });
    expect(text.status).toBe(415);
    expect((await envelope(text)).error?.code).toBe("UNSUPPORTED_MEDIA_TYPE");
  });
});
