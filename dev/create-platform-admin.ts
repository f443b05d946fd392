// `npm run admin:create`: creates (or resets the password of) a platform admin in any database,
// e.g. production Neon after the first `db:migrate`. Reads DATABASE_URL (an owner connection),
// ADMIN_EMAIL and ADMIN_PASSWORD from the environment, so the password never lands in shell history
// when read with `read -s`.
import { createRequire } from "node:module";
import type * as PgModule from "pg";
import { hashPassword } from "../src/services/auth/password.ts";

const requireCjs = createRequire(import.meta.url);
const pg = requireCjs("pg") as typeof PgModule;
const PLATFORM_TENANT_ID = "00000000-0000-4000-8000-000000000001";

async function main() {
  const url = process.env.DATABASE_URL;
  const email = process.env.ADMIN_EMAIL?.trim().toLowerCase();
  const password = process.env.ADMIN_PASSWORD ?? "";
  if (!url || !email || !/^[^@\s]+@[^@\s]+$/.test(email)) {
    throw new Error("Set DATABASE_URL (owner connection) and ADMIN_EMAIL");
  }
  if (password.length < 12) throw new Error("ADMIN_PASSWORD must be at least 12 characters");
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ id: string }>(
      `insert into users (tenant_id, email, full_name, password_hash, superuser) values ($1, $2, 'Platform Admin', $3, true)
       on conflict (tenant_id, email) where deleted_at is null and email is not null
       do update set password_hash = excluded.password_hash, active = true, superuser = true,
                     tokens_valid_after = now(), updated_at = now()
       returning id`,
      [PLATFORM_TENANT_ID, email, await hashPassword(password)],
    );
    console.log(`platform admin ${email} ready (id ${result.rows[0]?.id}); sign in with tenant "platform"`);
  } finally {
    await client.end();
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
