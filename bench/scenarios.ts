// Benchmark scenarios: later capabilities append theirs. Each is one HTTP request shape hammered by autocannon.
export interface Scenario {
  name: string;
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Status every response must have; others are counted as errors. */
  expectStatus: number;
  /** Overrides BENCH_CONNECTIONS, e.g. for CPU-bound routes that one local isolate serves serially. */
  connections?: number;
  /** Runs once before the load (e.g. signs in) and fills in headers or the path. */
  prepare?: (url: string) => Promise<Partial<Pick<Scenario, "path" | "headers" | "body">>>;
}

const SEED_PASSWORD = process.env.SEED_ADMIN_PASSWORD ?? "tradewind-demo-password";
const demoLogin = JSON.stringify({ tenant: "demo", email: "admin@demo.local", password: SEED_PASSWORD });

async function signIn(url: string): Promise<{ accessToken: string; userId: string }> {
  const res = await fetch(`${url}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": "192.0.2.10" },
    body: demoLogin,
  });
  const body = (await res.json()) as { data?: { accessToken: string } };
  const accessToken = body.data?.accessToken;
  if (!accessToken) throw new Error(`bench sign-in failed: ${res.status} ${JSON.stringify(body)}`);
  const claims = JSON.parse(Buffer.from(accessToken.split(".")[1] ?? "", "base64url").toString()) as {
    sub: string;
  };
  return { accessToken, userId: claims.sub };
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
  {
    name: "POST /auth/login (scrypt verify + 2 round trips + token signing)",
    method: "POST",
    path: "/api/v1/auth/login",
    headers: { "content-type": "application/json" },
    body: demoLogin,
    expectStatus: 200,
    // ~150 ms of scrypt per request: wrangler dev's one isolate does ~6 a second, so 10 connections
    // would only measure queueing (and autocannon's 10 s timeout).
    connections: 2,
  },
  {
    name: "GET /users/{id} authenticated, warm auth cache (1 Postgres round trip)",
    method: "GET",
    path: "/api/v1/users/{id}",
    expectStatus: 200,
    prepare: async (url) => {
      const { accessToken, userId } = await signIn(url);
      const headers = { authorization: `Bearer ${accessToken}` };
      // Warm the auth cache once; the load then measures the steady state.
      await fetch(`${url}/api/v1/users/${userId}`, { headers }).then((r) => r.arrayBuffer());
      return { path: `/api/v1/users/${userId}`, headers };
    },
  },
  {
    name: "GET /orders (filtered page + total, 1 Postgres round trip)",
    method: "GET",
    path: "/api/v1/orders?pageSize=20",
    expectStatus: 200,
    prepare: async (url) => {
      const { accessToken } = await signIn(url);
      const headers = { authorization: `Bearer ${accessToken}` };
      await fetch(`${url}/api/v1/orders?pageSize=20`, { headers }).then((r) => r.arrayBuffer());
      return { headers };
    },
  },
  {
    name: "GET /sync/status (every connection, 1 Postgres round trip + governor reads)",
    method: "GET",
    path: "/api/v1/sync/status",
    expectStatus: 200,
    prepare: async (url) => {
      const { accessToken } = await signIn(url);
      const headers = { authorization: `Bearer ${accessToken}` };
      await fetch(`${url}/api/v1/sync/status`, { headers }).then((r) => r.arrayBuffer());
      return { headers };
    },
  },
];
