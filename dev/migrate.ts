// Applies drizzle/ migrations with drizzle's own migrator (same journal table as `drizzle-kit migrate`).
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { drizzle } from "drizzle-orm/node-postgres";
import { migrate } from "drizzle-orm/node-postgres/migrator";
import type * as PgModule from "pg";

const requireCjs = createRequire(import.meta.url);
const pg = requireCjs("pg") as typeof PgModule;

export const MIGRATIONS_FOLDER = fileURLToPath(new URL("../drizzle", import.meta.url));

async function withClient<T>(
  connectionString: string,
  fn: (client: PgModule.Client) => Promise<T>,
): Promise<T> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** Runs pending migrations as the connection's user (it becomes the owner of what they create). */
export async function migrateDatabase(connectionString: string): Promise<void> {
  await withClient(connectionString, async (client) => {
    // Notices (e.g. "role already exists") are expected and not worth printing.
    client.on("notice", () => undefined);
    await migrate(drizzle({ client }), { migrationsFolder: MIGRATIONS_FOLDER });
  });
}

/** Creates `name` on the server of `adminUrl` unless it exists. */
export async function ensureDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe database name ${name}`);
  await withClient(adminUrl, async (client) => {
    const exists = await client.query("select 1 from pg_database where datname = $1", [name]);
    if (exists.rowCount === 0) await client.query(`create database "${name}"`);
  });
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`unsafe database name ${name}`);
  await withClient(adminUrl, (client) => client.query(`drop database if exists "${name}" with (force)`));
}

/**
 * Local servers only: lets the app role log in (trust auth, no password) so tests connect exactly as
 * production's app role does — not as a superuser, which would bypass row-level security.
 */
export async function allowAppRoleLogin(adminUrl: string): Promise<void> {
  await withClient(adminUrl, (client) => client.query("alter role tradewind_app login"));
}

/** `postgres://u@h:p/db` with the database (and optionally user) replaced. */
export function withDatabase(url: string, database: string, user?: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  if (user !== undefined) {
    u.username = user;
    u.password = "";
  }
  return u.toString();
}
