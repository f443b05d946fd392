import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  boolean,
  check,
  foreignKey,
  index,
  inet,
  integer,
  jsonb,
  pgPolicy,
  pgRole,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
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

const timestamps = {
  createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
};

const at = (name: string) => timestamp(name, { withTimezone: true, mode: "string" });

/** The standard policy of a tenant-owned table: rows of the transaction's tenant only, for every command. */
const tenantIsolation = (table: string) =>
  pgPolicy(`${table}_isolation`, {
    as: "permissive",
    for: "all",
    to: appRole,
    using: isCurrentTenant("tenant_id"),
    withCheck: isCurrentTenant("tenant_id"),
  });

/** Tenant-owned tables reference each other by (tenant_id, id), so a row can never point into another tenant. */
const tenantFk = (name: string, columns: [AnyPgColumn, AnyPgColumn], foreign: [AnyPgColumn, AnyPgColumn]) =>
  foreignKey({ name, columns, foreignColumns: foreign });

export const organizations = pgTable(
  "organizations",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    parentId: uuid("parent_id"),
    name: text("name").notNull(),
    type: text("type", { enum: ["company", "division", "department", "team", "store", "warehouse"] })
      .notNull()
      .default("department"),
    description: text("description"),
    ...timestamps,
  },
  (t) => [
    unique("organizations_tenant_id_key").on(t.tenantId, t.id),
    tenantFk("organizations_parent_fk", [t.tenantId, t.parentId], [t.tenantId, t.id]),
    index("organizations_tenant_parent_idx").on(t.tenantId, t.parentId),
    uniqueIndex("organizations_tenant_parent_name_key").on(
      t.tenantId,
      sql`coalesce(${t.parentId}, '00000000-0000-0000-0000-000000000000'::uuid)`,
      sql`lower(${t.name})`,
    ),
    check("organizations_not_own_parent", sql`${t.parentId} is distinct from ${t.id}`),
    tenantIsolation("organizations"),
  ],
);

export const users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    /** Stored lower-cased; null for staff who joined through WeChat and have no email yet. */
    email: text("email"),
    username: text("username"),
    fullName: text("full_name").notNull().default(""),
    phone: text("phone"),
    /** PHC-style scrypt hash (src/services/auth/password.ts); null = no password login. */
    passwordHash: text("password_hash"),
    active: boolean("active").notNull().default(true),
    superuser: boolean("superuser").notNull().default(false),
    organizationId: uuid("organization_id"),
    /** Access tokens issued before this instant are dead (logout-all, password change, deactivation). */
    tokensValidAfter: at("tokens_valid_after"),
    lastLoginAt: at("last_login_at"),
    ...timestamps,
    deletedAt: at("deleted_at"),
  },
  (t) => [
    unique("users_tenant_id_key").on(t.tenantId, t.id),
    tenantFk(
      "users_organization_fk",
      [t.tenantId, t.organizationId],
      [organizations.tenantId, organizations.id],
    ),
    uniqueIndex("users_tenant_email_key")
      .on(t.tenantId, t.email)
      .where(sql`${t.deletedAt} is null and ${t.email} is not null`),
    uniqueIndex("users_tenant_username_key")
      .on(t.tenantId, sql`lower(${t.username})`)
      .where(sql`${t.deletedAt} is null and ${t.username} is not null`),
    index("users_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    index("users_tenant_org_idx").on(t.tenantId, t.organizationId),
    check("users_email_lowercase", sql`${t.email} = lower(${t.email})`),
    tenantIsolation("users"),
  ],
);

export const roles = pgTable(
  "roles",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description").notNull().default(""),
    permissions: text("permissions").array().notNull().default(sql`'{}'::text[]`),
    ...timestamps,
  },
  (t) => [
    unique("roles_tenant_id_key").on(t.tenantId, t.id),
    uniqueIndex("roles_tenant_name_key").on(t.tenantId, sql`lower(${t.name})`),
    tenantIsolation("roles"),
  ],
);

export const userRoles = pgTable(
  "user_roles",
  {
    tenantId: uuid("tenant_id").notNull(),
    userId: uuid("user_id").notNull(),
    roleId: uuid("role_id").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "user_roles_pkey", columns: [t.tenantId, t.userId, t.roleId] }),
    tenantFk("user_roles_user_fk", [t.tenantId, t.userId], [users.tenantId, users.id]).onDelete("cascade"),
    tenantFk("user_roles_role_fk", [t.tenantId, t.roleId], [roles.tenantId, roles.id]).onDelete("cascade"),
    index("user_roles_role_idx").on(t.tenantId, t.roleId),
    tenantIsolation("user_roles"),
  ],
);

/** One row per signed-in device: the refresh-token family. Revoking it kills the refresh chain and its access tokens. */
export const authSessions = pgTable(
  "auth_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id").notNull(),
    userId: uuid("user_id").notNull(),
    method: text("method", { enum: ["password", "wechat", "refresh"] }).notNull(),
    deviceLabel: text("device_label"),
    userAgent: text("user_agent"),
    ip: inet("ip"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    lastUsedAt: timestamp("last_used_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    /** Absolute lifetime: rotation never extends a session past this. */
    expiresAt: at("expires_at").notNull(),
    revokedAt: at("revoked_at"),
    revokedReason: text("revoked_reason"),
  },
  (t) => [
    unique("auth_sessions_tenant_id_key").on(t.tenantId, t.id),
    tenantFk("auth_sessions_user_fk", [t.tenantId, t.userId], [users.tenantId, users.id]).onDelete("cascade"),
    index("auth_sessions_user_idx").on(t.tenantId, t.userId, t.lastUsedAt),
    tenantIsolation("auth_sessions"),
  ],
);

export const refreshTokens = pgTable(
  "refresh_tokens",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id").notNull(),
    userId: uuid("user_id").notNull(),
    /** The session (token family). */
    familyId: uuid("family_id").notNull(),
    parentId: uuid("parent_id"),
    /** SHA-256 of the token, hex. The token itself is never stored. */
    tokenHash: text("token_hash").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    expiresAt: at("expires_at").notNull(),
    usedAt: at("used_at"),
    revokedAt: at("revoked_at"),
  },
  (t) => [
    uniqueIndex("refresh_tokens_hash_key").on(t.tokenHash),
    tenantFk(
      "refresh_tokens_family_fk",
      [t.tenantId, t.familyId],
      [authSessions.tenantId, authSessions.id],
    ).onDelete("cascade"),
    index("refresh_tokens_family_idx").on(t.tenantId, t.familyId),
    tenantIsolation("refresh_tokens"),
  ],
);

export const apiKeys = pgTable(
  "api_keys",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    /** The first characters of the key, shown in lists so a person can tell keys apart. */
    prefix: text("prefix").notNull(),
    /** SHA-256 of the whole key, hex. */
    keyHash: text("key_hash").notNull(),
    scopes: text("scopes").array().notNull().default(sql`'{}'::text[]`),
    createdBy: uuid("created_by"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    expiresAt: at("expires_at"),
    lastUsedAt: at("last_used_at"),
    revokedAt: at("revoked_at"),
  },
  (t) => [
    uniqueIndex("api_keys_hash_key").on(t.keyHash),
    index("api_keys_tenant_created_idx").on(t.tenantId, t.createdAt),
    tenantIsolation("api_keys"),
  ],
);

/** A tenant's WeChat mini-program: the app id is public, the secret sealed with src/lib/secret-box.ts. */
export const wechatApps = pgTable(
  "wechat_apps",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    appId: text("app_id").notNull(),
    secretSealed: text("secret_sealed").notNull(),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: "wechat_apps_pkey", columns: [t.tenantId] }),
    uniqueIndex("wechat_apps_app_id_key").on(t.appId),
    tenantIsolation("wechat_apps"),
  ],
);

export const wechatIdentities = pgTable(
  "wechat_identities",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    appId: text("app_id").notNull(),
    openId: text("open_id").notNull(),
    unionId: text("union_id"),
    userId: uuid("user_id"),
    createdAt: timestamp("created_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
    lastLoginAt: at("last_login_at"),
  },
  (t) => [
    unique("wechat_identities_tenant_id_key").on(t.tenantId, t.id),
    uniqueIndex("wechat_identities_openid_key").on(t.tenantId, t.appId, t.openId),
    index("wechat_identities_unionid_idx").on(t.tenantId, t.unionId),
    tenantFk("wechat_identities_user_fk", [t.tenantId, t.userId], [users.tenantId, users.id]),
    tenantIsolation("wechat_identities"),
  ],
);

export const staffApplications = pgTable(
  "staff_applications",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    wechatIdentityId: uuid("wechat_identity_id").notNull(),
    status: text("status", { enum: ["pending", "approved", "rejected"] })
      .notNull()
      .default("pending"),
    fullName: text("full_name"),
    phone: text("phone"),
    note: text("note"),
    reviewerId: uuid("reviewer_id"),
    reviewedAt: at("reviewed_at"),
    reason: text("reason"),
    userId: uuid("user_id"),
    ...timestamps,
  },
  (t) => [
    tenantFk(
      "staff_applications_identity_fk",
      [t.tenantId, t.wechatIdentityId],
      [wechatIdentities.tenantId, wechatIdentities.id],
    ).onDelete("cascade"),
    uniqueIndex("staff_applications_one_pending_key")
      .on(t.tenantId, t.wechatIdentityId)
      .where(sql`${t.status} = 'pending'`),
    index("staff_applications_tenant_status_idx").on(t.tenantId, t.status, t.createdAt),
    check("staff_applications_status_valid", sql`${t.status} in ('pending', 'approved', 'rejected')`),
    tenantIsolation("staff_applications"),
  ],
);

/** Domain events (user.created, …) as recorded by the `events` queue consumer; idempotent on the event id. */
export const domainEvents = pgTable(
  "domain_events",
  {
    id: uuid("id").primaryKey(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    type: text("type").notNull(),
    subjectId: uuid("subject_id"),
    actor: jsonb("actor").$type<Record<string, unknown>>(),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    occurredAt: at("occurred_at").notNull(),
    recordedAt: timestamp("recorded_at", { withTimezone: true, mode: "string" }).notNull().defaultNow(),
  },
  (t) => [
    index("domain_events_tenant_type_idx").on(t.tenantId, t.type, t.occurredAt),
    tenantIsolation("domain_events"),
  ],
);
