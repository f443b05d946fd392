// `npm run db:migrate`: applies migrations to DATABASE_URL (the owner's connection, not the app role's).
import { migrateDatabase } from "./migrate.ts";

const url = process.env.DATABASE_URL;
if (!url) {
  console.error("DATABASE_URL is not set (the embedded database is migrated by `npm start` itself).");
  process.exit(2);
}
await migrateDatabase(url);
console.log("migrations applied");
