import { sql } from "drizzle-orm";
import {
  check,
  integer,
  jsonb,
  pgPolicy,
  pgRole,
  pgTable,
  text,
  timestamp,
  unique,
  uuid,
} from "drizzle-orm/pg-core";

/**
 * The role the Worker's queries run as. It owns nothing, so row-level security applies to it; the role
 * itself is created by migration 0000 (cluster-wide, idempotent), hence `.existing()`.
 */
export const appRole = pgRole("tradewind_app").existing();

/** `app_current_tenant()` reads `app.tenant_id`, set per transaction by `src/db/tenant.ts`; unset → NULL → no rows. */
const isCurrentTenant = (column: string) => sql.raw(`${column} = app_current_tenant()`);

export const tenants = pgTable(
  "tenants",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    slug: text("slug").notNull().unique("tenants_slug_key"),
    name: text("name").notNull(),
    status: text("status", { enum: ["active", "suspended"] })
      .notNull()
      .default("active"),
    settings: jsonb("settings").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [
    check("tenants_slug_format", sql`${t.slug} ~ '^[a-z0-9][a-z0-9-]{1,62}$'`),
    check("tenants_status_valid", sql`${t.status} in ('active', 'suspended')`),
    pgPolicy("tenants_isolation", {
      as: "permissive",
      for: "all",
      to: appRole,
      using: isCurrentTenant("id"),
      withCheck: isCurrentTenant("id"),
    }),
  ],
);

export type Tenant = typeof tenants.$inferSelect;

/**
 * Queue messages that could not be processed: exhausted retries (arriving on a `*-dlq` queue) or
 * rejected as permanently bad by a consumer. A platform table read by operators, not by tenants, so it
 * carries no RLS policy; `tenant_id` is kept when the message named one. Unique per (queue, message)
 * so a redelivered dead letter is recorded once.
 */
export const deadLetters = pgTable(
  "dead_letters",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    queue: text("queue").notNull(),
    messageId: text("message_id").notNull(),
    tenantId: uuid("tenant_id"),
    body: jsonb("body").notNull(),
    attempts: integer("attempts").notNull(),
    error: text("error"),
    receivedAt: timestamp("received_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [unique("dead_letters_queue_message_key").on(t.queue, t.messageId)],
);
