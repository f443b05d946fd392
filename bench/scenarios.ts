// Benchmark scenarios: later capabilities append theirs. Each is one HTTP request shape hammered by autocannon.
export interface Scenario {
  name: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Status every response must have; others are counted as errors. */
  expectStatus: number;
}

export const scenarios: Scenario[] = [
  {
    name: "GET /health (1 Postgres + 1 Redis round trip)",
    method: "GET",
    path: "/health",
    expectStatus: 200,
  },
  {
    name: "404 through the whole middleware chain",
    method: "GET",
    path: "/no/such/route",
    expectStatus: 404,
  },
  {
    name: "GET public tenant profile (1 Postgres round trip, cache refresh after)",
    method: "GET",
    path: "/api/v1/public/tenants/demo",
    expectStatus: 200,
  },
  {
    name: "POST slug availability (JSON body, validation, 1 round trip)",
    method: "POST",
    path: "/api/v1/public/tenants/slug-availability",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ slug: "acme-trading" }),
    expectStatus: 200,
  },
];
