import { describe, expect, it } from "vitest";
import { call } from "../support/harness";

interface OpenApiDoc {
  openapi: string;
  info: { title: string; version: string };
  paths: Record<
    string,
    Record<string, { responses: Record<string, unknown>; parameters?: { name: string; in: string }[] }>
  >;
  components?: { schemas?: Record<string, unknown> };
}

describe("OpenAPI", () => {
  it("serves an OpenAPI 3.1 document generated from the route schemas", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    const doc = (await res.json()) as OpenApiDoc;
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.title).toBe("Tradewind API");
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(["/health", "/api/v1/public/tenants/{slug}"]),
    );
    const profile = doc.paths["/api/v1/public/tenants/{slug}"]?.get;
    expect(Object.keys(profile?.responses ?? {})).toEqual(
      expect.arrayContaining(["200", "404", "422", "503"]),
    );
    expect(profile?.parameters?.[0]).toMatchObject({ name: "slug", in: "path" });
    expect(Object.keys(doc.components?.schemas ?? {})).toEqual(
      expect.arrayContaining(["Health", "TenantPublicProfile", "ErrorEnvelope", "Meta"]),
    );
  });

  it("serves the interactive reference at /docs pointing at the document", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/text\/html/);
    const html = await res.text();
    expect(html).toContain('data-url="/openapi.json"');
    expect(html).toContain("@scalar/api-reference");
    // Its own CSP allows the reference's script; the API's locked-down CSP is not applied over it.
    expect(res.headers.get("content-security-policy")).toContain("script-src https://cdn.jsdelivr.net");
  });
});
