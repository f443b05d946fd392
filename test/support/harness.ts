// Helpers for workers-runtime tests: call the Worker exactly as the runtime does, with optional env
// overrides (e.g. a dead Postgres), and reach the test database as its owner to arrange fixtures.

import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { neon, neonConfig } from "@neondatabase/serverless";
import { inject } from "vitest";
import worker from "../../src/index";

export const BASE = "http://tradewind.test";

export async function call(
  path: string,
  init: RequestInit = {},
  overrides: Partial<Env> = {},
): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await worker.fetch(new Request(`${BASE}${path}`, init), { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

export interface Envelope<T = unknown> {
  success: boolean;
  data?: T;
  error?: { code: string; message: string; details?: Record<string, unknown> };
  meta: { requestId: string; timestamp: string };
}

export async function envelope<T = unknown>(response: Response): Promise<Envelope<T>> {
  return (await response.json()) as Envelope<T>;
}

/** A Postgres port nothing listens on: the gateway's connect fails at once, like a Neon outage. */
export const DEAD_DATABASE_URL = "postgres://tradewind_app@127.0.0.1:1/none";
/** A Redis REST endpoint nothing listens on. */
export const DEAD_REDIS_URL = "http://127.0.0.1:1";

/** SQL as the database owner (migrations' user) for arranging fixtures the API cannot create yet. */
export function ownerSql() {
  neonConfig.fetchEndpoint = env.NEON_HTTP_ENDPOINT;
  return neon(inject("ownerDatabaseUrl"));
}

export interface TestTenant {
  id: string;
  slug: string;
  name: string;
}

/** A fresh tenant per test; no shared mutable seed data. */
export async function createTenant(name = "Test Tenant"): Promise<TestTenant> {
  const slug = `t-${crypto.randomUUID().slice(0, 8)}`;
  const rows =
    await ownerSql()`insert into tenants (slug, name) values (${slug}, ${name}) returning id, slug, name`;
  const row = rows[0];
  if (!row) throw new Error("tenant insert returned nothing");
  return { id: String(row.id), slug: String(row.slug), name: String(row.name) };
}

export function cacheKey(name: string): string {
  return `${env.CACHE_KEY_PREFIX}${name}`;
}
