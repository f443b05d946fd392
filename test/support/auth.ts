// Identity fixtures for workers tests: users arranged directly in Postgres (as the owner), sign-in through
// the real API. Every test makes its own tenant and users; nothing is shared.
import { hashPassword } from "../../src/services/auth/password";
import { call, createTenant, envelope, ownerSql, type TestTenant } from "./harness";

export const TEST_PASSWORD = "correct horse battery staple";

export interface TestUser {
  id: string;
  email: string;
  tenant: TestTenant;
}

let cachedHash: Promise<string> | undefined;
/** scrypt costs ~100 ms; one hash of TEST_PASSWORD serves every fixture user. */
function passwordHash(password: string): Promise<string> {
  if (password !== TEST_PASSWORD) return hashPassword(password);
  cachedHash ??= hashPassword(TEST_PASSWORD);
  return cachedHash;
}

export async function createUser(
  tenant: TestTenant,
  options: {
    email?: string;
    password?: string;
    superuser?: boolean;
    permissions?: string[];
    fullName?: string;
  } = {},
): Promise<TestUser> {
  const email = (options.email ?? `user-${crypto.randomUUID().slice(0, 8)}@example.com`).toLowerCase();
  const hash = await passwordHash(options.password ?? TEST_PASSWORD);
  const sql = ownerSql();
  const rows = await sql`
    insert into users (tenant_id, email, full_name, password_hash, superuser)
    values (${tenant.id}, ${email}, ${options.fullName ?? "Test User"}, ${hash}, ${options.superuser ?? false})
    returning id`;
  const id = String(rows[0]?.id);
  if (options.permissions && options.permissions.length > 0) {
    const role = await sql`
      insert into roles (tenant_id, name, permissions)
      values (${tenant.id}, ${`role-${crypto.randomUUID().slice(0, 8)}`}, ${options.permissions})
      returning id`;
    await sql`insert into user_roles (tenant_id, user_id, role_id) values (${tenant.id}, ${id}, ${String(role[0]?.id)})`;
  }
  return { id, email, tenant };
}

export interface Tokens {
  accessToken: string;
  refreshToken: string;
  tokenType: "Bearer";
  expiresIn: number;
}

/** A random client IP per call site keeps per-IP limits of one test from touching another. */
export function randomIp(): string {
  const b = crypto.getRandomValues(new Uint8Array(3));
  return `10.${b[0]}.${b[1]}.${b[2]}`;
}

export async function login(
  user: { email: string; tenant: { slug: string } },
  options: { password?: string; ip?: string } = {},
): Promise<Tokens> {
  const response = await call("/api/v1/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", "cf-connecting-ip": options.ip ?? randomIp() },
    body: JSON.stringify({
      tenant: user.tenant.slug,
      email: user.email,
      password: options.password ?? TEST_PASSWORD,
    }),
  });
  const body = await envelope<Tokens>(response);
  if (response.status !== 200 || !body.data)
    throw new Error(`login failed: ${response.status} ${JSON.stringify(body)}`);
  return body.data;
}

/** A tenant with a signed-in user holding `permissions` (or a superuser). */
export async function signedInUser(
  options: { tenant?: TestTenant; superuser?: boolean; permissions?: string[] } = {},
): Promise<TestUser & { token: string; tokens: Tokens }> {
  const tenant = options.tenant ?? (await createTenant());
  const user = await createUser(tenant, options);
  const tokens = await login(user);
  return { ...user, token: tokens.accessToken, tokens };
}

/** Request init with the bearer token and, for bodies, JSON. */
export function bearer(
  token: string,
  init: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...init.headers };
  if (init.body !== undefined) headers["content-type"] = "application/json";
  return {
    method: init.method ?? "GET",
    headers,
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  };
}

export const PLATFORM_TENANT = {
  id: "00000000-0000-4000-8000-000000000001",
  slug: "platform",
  name: "Tradewind platform",
};

/** A platform admin (superuser of the platform tenant), signed in. */
export async function platformAdmin(): Promise<TestUser & { token: string }> {
  const user = await createUser(PLATFORM_TENANT, { superuser: true });
  const tokens = await login(user);
  return { ...user, token: tokens.accessToken };
}
