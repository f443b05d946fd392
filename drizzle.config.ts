import { defineConfig } from "drizzle-kit";

// Generation only (`npm run db:generate`); migrations are applied by dev/migrate.ts, which also runs in tests.
export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/schema.ts",
  out: "./drizzle",
  dbCredentials: { url: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
  entities: { roles: { provider: "", include: ["tradewind_app"] } },
});
