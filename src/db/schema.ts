import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
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

/* ───────────────────────────── Integration hub ───────────────────────────── */

/**
 * A tenant's link to a sales channel (`kind = channel`: Shopify shop, TikTok shop, …) or an ERP
 * (`kind = erp`: Lingxing app, …). `account` is the upstream's own identifier (shop domain, app id) and
 * names the rate governor of that upstream account. Credentials are sealed with src/lib/secret-box.ts
 * (aad `connection:<tenantId>:<id>`) and never leave the server; `settings` holds sync settings.
 */
export const connections = pgTable(
  "connections",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    kind: text("kind", { enum: ["channel", "erp", "ai", "email"] }).notNull(),
    provider: text("provider").notNull(),
    account: text("account").notNull(),
    displayName: text("display_name").notNull(),
    enabled: boolean("enabled").notNull().default(true),
    settings: jsonb("settings").$type<Record<string, unknown>>().notNull().default({}),
    credentialsSealed: text("credentials_sealed").notNull(),
    /** For a channel: the ERP connection its orders are pushed to (null = store only). */
    erpConnectionId: uuid("erp_connection_id"),
    /**
     * For a channel: its webhook subscriptions at the channel as last synced
     * (`{ status, callbackUrl, topics, syncedAt, error }`); null = never registered.
     */
    webhookState: jsonb("webhook_state").$type<Record<string, unknown>>(),
    ...timestamps,
  },
  (t) => [
    unique("connections_tenant_id_key").on(t.tenantId, t.id),
    unique("connections_tenant_provider_account_key").on(t.tenantId, t.provider, t.account),
    tenantFk("connections_erp_fk", [t.tenantId, t.erpConnectionId], [t.tenantId, t.id]),
    check("connections_kind_valid", sql`${t.kind} in ('channel', 'erp', 'ai', 'email')`),
    check(
      "connections_provider_valid",
      sql`(${t.kind} = 'channel' and ${t.provider} in ('shopify', 'tiktok', 'amazon', 'dsco')) or (${t.kind} = 'erp' and ${t.provider} in ('lingxing', 'eccang')) or (${t.kind} = 'ai' and ${t.provider} = 'coze') or (${t.kind} = 'email' and ${t.provider} = 'smtp')`,
    ),
    check("connections_erp_only_for_channels", sql`${t.erpConnectionId} is null or ${t.kind} = 'channel'`),
    tenantIsolation("connections"),
  ],
);

/**
 * One stream of work per (connection, resource): its schedule, its checkpoint (so a crashed pull resumes
 * after the last saved page) and its lease (so two consumers never pull the same stream at once).
 */
export const syncStreams = pgTable(
  "sync_streams",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    connectionId: uuid("connection_id").notNull(),
    resource: text("resource", { enum: ["orders", "inventory", "shipments", "push_backlog"] }).notNull(),
    checkpoint: jsonb("checkpoint").$type<Record<string, unknown>>().notNull().default({}),
    intervalSeconds: integer("interval_seconds").notNull(),
    nextDueAt: at("next_due_at").notNull().defaultNow(),
    leaseOwner: text("lease_owner"),
    leaseUntil: at("lease_until"),
    currentJobId: uuid("current_job_id"),
    lastRunAt: at("last_run_at"),
    lastSuccessAt: at("last_success_at"),
    lastError: text("last_error"),
    consecutiveFailures: integer("consecutive_failures").notNull().default(0),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: "sync_streams_pkey", columns: [t.tenantId, t.connectionId, t.resource] }),
    tenantFk(
      "sync_streams_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    index("sync_streams_due_idx").on(t.nextDueAt),
    check("sync_streams_interval_positive", sql`${t.intervalSeconds} > 0`),
    tenantIsolation("sync_streams"),
  ],
);

/** Every pull, push and write-back run, so a person can see what happened and when. */
export const syncJobs = pgTable(
  "sync_jobs",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    connectionId: uuid("connection_id").notNull(),
    type: text("type", { enum: ["pull", "backfill", "push", "writeback"] }).notNull(),
    resource: text("resource").notNull(),
    trigger: text("trigger", { enum: ["cron", "manual", "replay", "webhook", "event"] }).notNull(),
    status: text("status", { enum: ["queued", "running", "succeeded", "failed", "skipped"] })
      .notNull()
      .default("queued"),
    attempts: integer("attempts").notNull().default(0),
    itemsProcessed: integer("items_processed").notNull().default(0),
    pages: integer("pages").notNull().default(0),
    params: jsonb("params").$type<Record<string, unknown>>().notNull().default({}),
    cursor: jsonb("cursor").$type<Record<string, unknown>>(),
    lastError: text("last_error"),
    startedAt: at("started_at"),
    finishedAt: at("finished_at"),
    ...timestamps,
  },
  (t) => [
    unique("sync_jobs_tenant_id_key").on(t.tenantId, t.id),
    tenantFk(
      "sync_jobs_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    index("sync_jobs_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("sync_jobs_connection_idx").on(t.tenantId, t.connectionId, t.createdAt),
    tenantIsolation("sync_jobs"),
  ],
);

/**
 * Orders from every channel in one model (src/domain/commerce.ts `Order`, kept whole in `data`), unique by
 * (tenant, channel, external id). `channel_updated_at` decides which update wins: an older one is ignored.
 */
export const orders = pgTable(
  "orders",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    connectionId: uuid("connection_id").notNull(),
    channel: text("channel").notNull(),
    storeId: text("store_id").notNull(),
    externalId: text("external_id").notNull(),
    externalNumber: text("external_number").notNull(),
    status: text("status", {
      enum: ["created", "synced", "shipped", "invoiced", "on_hold", "cancelled", "failed"],
    })
      .notNull()
      .default("created"),
    currency: text("currency").notNull(),
    totalMinor: bigint("total_minor", { mode: "number" }).notNull(),
    customerEmail: text("customer_email"),
    customerName: text("customer_name"),
    searchText: text("search_text").notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull(),
    placedAt: at("placed_at").notNull(),
    channelUpdatedAt: at("channel_updated_at").notNull(),
    /** Bumped by every accepted change; pushes compare it to what the ERP last received. */
    version: integer("version").notNull().default(1),
    ...timestamps,
  },
  (t) => [
    unique("orders_tenant_id_key").on(t.tenantId, t.id),
    unique("orders_tenant_channel_external_key").on(t.tenantId, t.channel, t.externalId),
    tenantFk(
      "orders_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    index("orders_tenant_placed_idx").on(t.tenantId, t.placedAt, t.id),
    index("orders_tenant_status_placed_idx").on(t.tenantId, t.status, t.placedAt),
    index("orders_tenant_connection_placed_idx").on(t.tenantId, t.connectionId, t.placedAt),
    check(
      "orders_status_valid",
      sql`${t.status} in ('created', 'synced', 'shipped', 'invoiced', 'on_hold', 'cancelled', 'failed')`,
    ),
    tenantIsolation("orders"),
  ],
);

/** Every state change of an order: from, to, who, why, when (src/domain/order-state.ts). */
export const orderTransitions = pgTable(
  "order_transitions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    orderId: uuid("order_id").notNull(),
    fromStatus: text("from_status"),
    toStatus: text("to_status").notNull(),
    actor: jsonb("actor").$type<Record<string, unknown>>().notNull(),
    reason: text("reason").notNull(),
    occurredAt: at("occurred_at").notNull().defaultNow(),
  },
  (t) => [
    tenantFk("order_transitions_order_fk", [t.tenantId, t.orderId], [orders.tenantId, orders.id]).onDelete(
      "cascade",
    ),
    index("order_transitions_order_idx").on(t.tenantId, t.orderId, t.occurredAt),
    tenantIsolation("order_transitions"),
  ],
);

/**
 * The push ledger: one row per (order, ERP connection). `in_flight` means a post was sent and its answer
 * is unknown (timeout): before posting again the engine asks the ERP by `reference`, so an order is never
 * created twice even when the ERP accepted it and the answer was lost.
 */
export const erpPushLedger = pgTable(
  "erp_push_ledger",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    orderId: uuid("order_id").notNull(),
    erpConnectionId: uuid("erp_connection_id").notNull(),
    reference: text("reference").notNull(),
    status: text("status", { enum: ["pending", "in_flight", "created", "rejected"] })
      .notNull()
      .default("pending"),
    erpOrderId: text("erp_order_id"),
    attempts: integer("attempts").notNull().default(0),
    pushedVersion: integer("pushed_version"),
    lastError: text("last_error"),
    lastAttemptAt: at("last_attempt_at"),
    confirmedAt: at("confirmed_at"),
    lastShipmentCheckAt: at("last_shipment_check_at"),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: "erp_push_ledger_pkey", columns: [t.tenantId, t.orderId, t.erpConnectionId] }),
    unique("erp_push_ledger_reference_key").on(t.tenantId, t.erpConnectionId, t.reference),
    tenantFk("erp_push_ledger_order_fk", [t.tenantId, t.orderId], [orders.tenantId, orders.id]).onDelete(
      "cascade",
    ),
    tenantFk(
      "erp_push_ledger_erp_fk",
      [t.tenantId, t.erpConnectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    index("erp_push_ledger_status_idx").on(t.tenantId, t.erpConnectionId, t.status),
    tenantIsolation("erp_push_ledger"),
  ],
);

/** Shipments reported by the ERP, and whether they were written back to the channel as fulfilments. */
export const shipments = pgTable(
  "shipments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    orderId: uuid("order_id").notNull(),
    sourceConnectionId: uuid("source_connection_id").notNull(),
    externalId: text("external_id").notNull(),
    carrier: text("carrier").notNull(),
    carrierCode: text("carrier_code"),
    trackingNumbers: text("tracking_numbers").array().notNull(),
    trackingUrl: text("tracking_url"),
    lines: jsonb("lines").$type<Record<string, unknown>[]>().notNull().default([]),
    shippedAt: at("shipped_at").notNull(),
    writebackStatus: text("writeback_status", { enum: ["pending", "done", "failed"] })
      .notNull()
      .default("pending"),
    channelFulfillmentId: text("channel_fulfillment_id"),
    writtenBackAt: at("written_back_at"),
    lastError: text("last_error"),
    ...timestamps,
  },
  (t) => [
    unique("shipments_tenant_id_key").on(t.tenantId, t.id),
    unique("shipments_order_external_key").on(t.tenantId, t.orderId, t.externalId),
    tenantFk("shipments_order_fk", [t.tenantId, t.orderId], [orders.tenantId, orders.id]).onDelete("cascade"),
    index("shipments_writeback_idx").on(t.tenantId, t.writebackStatus),
    /** The parcel-tracking cron registers the numbers of recent shipments (claim_parcel_registrations). */
    index("shipments_created_idx").on(t.createdAt),
    tenantIsolation("shipments"),
  ],
);

export const invoices = pgTable(
  "invoices",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    orderId: uuid("order_id").notNull(),
    source: text("source").notNull(),
    externalId: text("external_id").notNull(),
    number: text("number").notNull(),
    currency: text("currency").notNull(),
    totalMinor: bigint("total_minor", { mode: "number" }).notNull(),
    issuedAt: at("issued_at").notNull(),
    ...timestamps,
  },
  (t) => [
    unique("invoices_order_external_key").on(t.tenantId, t.orderId, t.source, t.externalId),
    tenantFk("invoices_order_fk", [t.tenantId, t.orderId], [orders.tenantId, orders.id]).onDelete("cascade"),
    tenantIsolation("invoices"),
  ],
);

export const inventoryLevels = pgTable(
  "inventory_levels",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    connectionId: uuid("connection_id").notNull(),
    sku: text("sku").notNull(),
    locationId: text("location_id").notNull(),
    available: integer("available").notNull(),
    sourceUpdatedAt: at("source_updated_at").notNull(),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: "inventory_levels_pkey", columns: [t.tenantId, t.connectionId, t.sku, t.locationId] }),
    tenantFk(
      "inventory_levels_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    tenantIsolation("inventory_levels"),
  ],
);

/** Per ERP connection: channel SKU → ERP product code, and default warehouse / logistics channel codes. */
export const erpMappings = pgTable(
  "erp_mappings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    erpConnectionId: uuid("erp_connection_id").notNull(),
    kind: text("kind", { enum: ["sku", "warehouse", "logistics"] }).notNull(),
    source: text("source").notNull(),
    target: text("target").notNull(),
    note: text("note"),
    ...timestamps,
  },
  (t) => [
    unique("erp_mappings_tenant_id_key").on(t.tenantId, t.id),
    unique("erp_mappings_source_key").on(t.tenantId, t.erpConnectionId, t.kind, t.source),
    tenantFk(
      "erp_mappings_erp_fk",
      [t.tenantId, t.erpConnectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    check("erp_mappings_kind_valid", sql`${t.kind} in ('sku', 'warehouse', 'logistics')`),
    tenantIsolation("erp_mappings"),
  ],
);

/**
 * Work that failed for good (permanent errors, exhausted retries): the message as it was (editable), every
 * error seen, and what became of it. One open row per `fingerprint` (e.g. `push:<orderId>`): the same
 * failure again adds to that row's history instead of a duplicate, and a later success resolves it.
 */
export const syncFailures = pgTable(
  "sync_failures",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    connectionId: uuid("connection_id"),
    operation: text("operation", { enum: ["pull", "push", "writeback"] }).notNull(),
    fingerprint: text("fingerprint").notNull(),
    orderId: uuid("order_id"),
    payload: jsonb("payload").$type<Record<string, unknown>>().notNull(),
    status: text("status", { enum: ["open", "replaying", "resolved"] })
      .notNull()
      .default("open"),
    resolution: text("resolution", { enum: ["replayed", "manual", "duplicate", "superseded"] }),
    errorKind: text("error_kind").notNull(),
    lastError: text("last_error").notNull(),
    errors: jsonb("errors").$type<Record<string, unknown>[]>().notNull().default([]),
    occurrences: integer("occurrences").notNull().default(1),
    replayCount: integer("replay_count").notNull().default(0),
    lastReplayedAt: at("last_replayed_at"),
    resolvedAt: at("resolved_at"),
    resolvedBy: jsonb("resolved_by").$type<Record<string, unknown>>(),
    resolutionNote: text("resolution_note"),
    ...timestamps,
  },
  (t) => [
    unique("sync_failures_tenant_id_key").on(t.tenantId, t.id),
    uniqueIndex("sync_failures_open_fingerprint_key")
      .on(t.tenantId, t.fingerprint)
      .where(sql`${t.status} <> 'resolved'`),
    tenantFk(
      "sync_failures_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    index("sync_failures_tenant_status_idx").on(t.tenantId, t.status, t.createdAt),
    check("sync_failures_status_valid", sql`${t.status} in ('open', 'replaying', 'resolved')`),
    tenantIsolation("sync_failures"),
  ],
);

/* ───────────────────────────── Webhooks ───────────────────────────── */

/**
 * A partner system that calls back with Standard Webhooks signatures (`POST /webhooks/generic/{id}`):
 * an ERP, a 3PL, a custom tool. The signing secrets are sealed (aad `webhook-endpoint:<tenantId>:<id>`):
 * the current one and, during a rotation, the previous one until it expires.
 */
export const webhookEndpoints = pgTable(
  "webhook_endpoints",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    /** The connection whose system calls this endpoint (optional; e.g. the ERP that reports shipments). */
    connectionId: uuid("connection_id"),
    secretsSealed: text("secrets_sealed").notNull(),
    /** When the previous secret stops verifying (null = no rotation in progress). */
    previousSecretExpiresAt: at("previous_secret_expires_at"),
    enabled: boolean("enabled").notNull().default(true),
    ...timestamps,
  },
  (t) => [
    unique("webhook_endpoints_tenant_id_key").on(t.tenantId, t.id),
    tenantFk(
      "webhook_endpoints_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    tenantIsolation("webhook_endpoints"),
  ],
);

/**
 * Every verified inbound webhook, stored before it is acknowledged: the headers that matter, the raw body
 * exactly as received, how it was verified, and what processing made of it. `dedupe_key`
 * (`<source>:<scope>:<provider event id>`) is the truth of "seen once": a redelivery hits the unique index
 * even when Redis, the fast path, is down.
 */
export const webhookEvents = pgTable(
  "webhook_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    source: text("source", { enum: ["shopify", "tiktok", "17track", "generic"] }).notNull(),
    connectionId: uuid("connection_id"),
    endpointId: uuid("endpoint_id"),
    dedupeKey: text("dedupe_key").notNull(),
    providerEventId: text("provider_event_id").notNull(),
    topic: text("topic").notNull(),
    status: text("status", { enum: ["received", "processed", "ignored", "failed"] })
      .notNull()
      .default("received"),
    headers: jsonb("headers").$type<Record<string, string>>().notNull().default({}),
    body: text("body").notNull(),
    /** `utf8` normally; `base64` when the bytes were not valid UTF-8 (kept exactly, never altered). */
    bodyEncoding: text("body_encoding", { enum: ["utf8", "base64"] })
      .notNull()
      .default("utf8"),
    bodyBytes: integer("body_bytes").notNull(),
    bodySha256: text("body_sha256").notNull(),
    receivedAt: at("received_at").notNull().defaultNow(),
    /** The sender's own time for the event, where it sends one. */
    triggeredAt: at("triggered_at"),
    verification: jsonb("verification").$type<Record<string, unknown>>().notNull(),
    attempts: integer("attempts").notNull().default(0),
    lastError: jsonb("last_error").$type<Record<string, unknown>>(),
    outcome: jsonb("outcome").$type<Record<string, unknown>>(),
    processedAt: at("processed_at"),
    /** Last hand-over to the queue; a `received` event not handed over recently is re-enqueued by cron. */
    enqueuedAt: at("enqueued_at"),
    replayCount: integer("replay_count").notNull().default(0),
    ...timestamps,
  },
  (t) => [
    unique("webhook_events_tenant_id_key").on(t.tenantId, t.id),
    uniqueIndex("webhook_events_dedupe_key").on(t.tenantId, t.dedupeKey),
    index("webhook_events_tenant_received_idx").on(t.tenantId, t.receivedAt),
    index("webhook_events_tenant_status_idx").on(t.tenantId, t.status, t.receivedAt),
    index("webhook_events_pending_idx").on(t.receivedAt).where(sql`${t.status} = 'received'`),
    tenantFk(
      "webhook_events_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    tenantFk(
      "webhook_events_endpoint_fk",
      [t.tenantId, t.endpointId],
      [webhookEndpoints.tenantId, webhookEndpoints.id],
    ).onDelete("cascade"),
    check("webhook_events_source_valid", sql`${t.source} in ('shopify', 'tiktok', '17track', 'generic')`),
    check("webhook_events_status_valid", sql`${t.status} in ('received', 'processed', 'ignored', 'failed')`),
    tenantIsolation("webhook_events"),
  ],
);

/**
 * The latest known state of a parcel, from 17track pushes (and, later, its queries): newer events win.
 * Read by customer service (order lookup, "where is my parcel").
 */
export const parcelTrackings = pgTable(
  "parcel_trackings",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    trackingNumber: text("tracking_number").notNull(),
    /** 17track carrier code (e.g. 3011 China Post, 100002 UPS). */
    carrierCode: integer("carrier_code"),
    status: text("status").notNull(),
    subStatus: text("sub_status"),
    latestEvent: jsonb("latest_event").$type<Record<string, unknown>>(),
    events: jsonb("events").$type<Record<string, unknown>[]>().notNull().default([]),
    /** 17track stopped tracking it (delivered long ago, expired, or stopped on request). */
    stopped: boolean("stopped").notNull().default(false),
    /** Time of the newest carrier event seen: an older push never overwrites a newer state. */
    sourceUpdatedAt: at("source_updated_at").notNull(),
    lastWebhookEventId: uuid("last_webhook_event_id"),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: "parcel_trackings_pkey", columns: [t.tenantId, t.trackingNumber] }),
    tenantIsolation("parcel_trackings"),
  ],
);

/* ───────────────────────────── Customer service ───────────────────────────── */

/**
 * First-response and resolution targets per priority (`{ urgent|high|normal|low: { firstResponseMinutes,
 * resolutionMinutes } }`, null = no target), measured in the ticket team's business hours when
 * `business_hours_only`. A ticket is at risk once `at_risk_percent` of a target is used.
 */
export const slaPolicies = pgTable(
  "sla_policies",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    isDefault: boolean("is_default").notNull().default(false),
    targets: jsonb("targets")
      .$type<Record<string, { firstResponseMinutes: number | null; resolutionMinutes: number | null }>>()
      .notNull(),
    businessHoursOnly: boolean("business_hours_only").notNull().default(true),
    atRiskPercent: integer("at_risk_percent").notNull().default(80),
    ...timestamps,
  },
  (t) => [
    unique("sla_policies_tenant_id_key").on(t.tenantId, t.id),
    uniqueIndex("sla_policies_tenant_name_key").on(t.tenantId, sql`lower(${t.name})`),
    uniqueIndex("sla_policies_one_default_key").on(t.tenantId).where(sql`${t.isDefault}`),
    check("sla_policies_at_risk_percent_range", sql`${t.atRiskPercent} between 1 and 99`),
    tenantIsolation("sla_policies"),
  ],
);

/**
 * A support team: who works its tickets (members), when (its business calendar: local weekly hours in its
 * IANA timezone plus holidays; null hours = 24/7), how tickets are handed out, and which SLA policy applies.
 * `round_robin_cursor` is the member position the rotation continues from: the next hand-out goes to the
 * first member able to take one at or after it, wrapping round (src/services/tickets/assignment-rules.ts),
 * so no turn is skipped or given twice.
 */
export const supportTeams = pgTable(
  "support_teams",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    name: text("name").notNull(),
    description: text("description"),
    timezone: text("timezone").notNull().default("UTC"),
    /** `{ "mon": [["09:00","18:00"]], …, "sun": [] }` in `timezone`; null = open around the clock. */
    businessHours: jsonb("business_hours").$type<Record<string, [string, string][]>>(),
    /** Local dates (`YYYY-MM-DD`) the team is closed. */
    holidays: jsonb("holidays").$type<string[]>().notNull().default([]),
    assignmentStrategy: text("assignment_strategy", { enum: ["manual", "round_robin", "least_loaded"] })
      .notNull()
      .default("manual"),
    slaPolicyId: uuid("sla_policy_id"),
    roundRobinCursor: bigint("round_robin_cursor", { mode: "number" }).notNull().default(0),
    ...timestamps,
  },
  (t) => [
    unique("support_teams_tenant_id_key").on(t.tenantId, t.id),
    uniqueIndex("support_teams_tenant_name_key").on(t.tenantId, sql`lower(${t.name})`),
    tenantFk(
      "support_teams_sla_policy_fk",
      [t.tenantId, t.slaPolicyId],
      [slaPolicies.tenantId, slaPolicies.id],
    ),
    check(
      "support_teams_assignment_strategy_valid",
      sql`${t.assignmentStrategy} in ('manual', 'round_robin', 'least_loaded')`,
    ),
    tenantIsolation("support_teams"),
  ],
);

/** An agent's membership of a team: rotation order, availability, and an optional cap on open tickets. */
export const supportTeamMembers = pgTable(
  "support_team_members",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    teamId: uuid("team_id").notNull(),
    userId: uuid("user_id").notNull(),
    position: integer("position").notNull(),
    available: boolean("available").notNull().default(true),
    maxOpenTickets: integer("max_open_tickets"),
    lastAssignedAt: at("last_assigned_at"),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "support_team_members_pkey", columns: [t.tenantId, t.teamId, t.userId] }),
    tenantFk(
      "support_team_members_team_fk",
      [t.tenantId, t.teamId],
      [supportTeams.tenantId, supportTeams.id],
    ).onDelete("cascade"),
    tenantFk("support_team_members_user_fk", [t.tenantId, t.userId], [users.tenantId, users.id]).onDelete(
      "cascade",
    ),
    index("support_team_members_user_idx").on(t.tenantId, t.userId),
    check(
      "support_team_members_max_open_positive",
      sql`${t.maxOpenTickets} is null or ${t.maxOpenTickets} > 0`,
    ),
    tenantIsolation("support_team_members"),
  ],
);

/** The last human ticket number handed out per tenant (#1, #2, …), bumped in the ticket's own batch. */
export const ticketCounters = pgTable(
  "ticket_counters",
  {
    tenantId: uuid("tenant_id")
      .primaryKey()
      .references(() => tenants.id, { onDelete: "cascade" }),
    lastNumber: bigint("last_number", { mode: "number" }).notNull().default(0),
  },
  () => [tenantIsolation("ticket_counters")],
);

/**
 * A customer's request. The SLA columns are the state of its two clocks (src/domain/sla.ts): seconds of SLA
 * time used so far, when the running segment started (null = paused or stopped), and the due times that
 * follow (null while paused, after the target was met, or without a policy). Breach and at-risk instants are
 * set once, by the SLA sweep.
 */
export const tickets = pgTable(
  "tickets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    number: bigint("number", { mode: "number" }).notNull(),
    subject: text("subject").notNull(),
    description: text("description").notNull().default(""),
    status: text("status", { enum: ["open", "pending", "on_hold", "solved", "closed"] })
      .notNull()
      .default("open"),
    priority: text("priority", { enum: ["low", "normal", "high", "urgent"] })
      .notNull()
      .default("normal"),
    channel: text("channel", { enum: ["chat", "email", "web_form", "api"] }).notNull(),
    requesterEmail: text("requester_email"),
    requesterName: text("requester_name"),
    requesterPhone: text("requester_phone"),
    assigneeId: uuid("assignee_id"),
    teamId: uuid("team_id"),
    tags: text("tags").array().notNull().default(sql`'{}'::text[]`),
    chatSessionId: uuid("chat_session_id"),
    createdBy: jsonb("created_by").$type<Record<string, unknown>>(),
    slaPolicyId: uuid("sla_policy_id"),
    firstResponseDueAt: at("first_response_due_at"),
    resolutionDueAt: at("resolution_due_at"),
    slaFirstResponseElapsedSeconds: integer("sla_first_response_elapsed_seconds").notNull().default(0),
    slaResolutionElapsedSeconds: integer("sla_resolution_elapsed_seconds").notNull().default(0),
    slaClockStartedAt: at("sla_clock_started_at"),
    slaPausedAt: at("sla_paused_at"),
    firstRespondedAt: at("first_responded_at"),
    solvedAt: at("solved_at"),
    closedAt: at("closed_at"),
    firstResponseBreachedAt: at("first_response_breached_at"),
    resolutionBreachedAt: at("resolution_breached_at"),
    firstResponseAtRiskAt: at("first_response_at_risk_at"),
    resolutionAtRiskAt: at("resolution_at_risk_at"),
    /**
     * From when each running target counts as at risk (computeTicketSla derives it with the due time, in
     * business hours): the SLA sweep is SQL and compares instants, it cannot do calendar math.
     */
    firstResponseAtRiskAfter: at("first_response_at_risk_after"),
    resolutionAtRiskAfter: at("resolution_at_risk_after"),
    /** Bumped by every change: `If-Match` on PATCH compares it. */
    version: integer("version").notNull().default(1),
    ...timestamps,
  },
  (t) => [
    unique("tickets_tenant_id_key").on(t.tenantId, t.id),
    unique("tickets_tenant_number_key").on(t.tenantId, t.number),
    tenantFk("tickets_assignee_fk", [t.tenantId, t.assigneeId], [users.tenantId, users.id]),
    tenantFk("tickets_team_fk", [t.tenantId, t.teamId], [supportTeams.tenantId, supportTeams.id]),
    tenantFk("tickets_sla_policy_fk", [t.tenantId, t.slaPolicyId], [slaPolicies.tenantId, slaPolicies.id]),
    index("tickets_tenant_status_updated_idx").on(t.tenantId, t.status, t.updatedAt),
    index("tickets_tenant_assignee_status_idx").on(t.tenantId, t.assigneeId, t.status),
    index("tickets_tenant_team_status_idx").on(t.tenantId, t.teamId, t.status),
    index("tickets_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    index("tickets_tenant_requester_email_idx").on(t.tenantId, sql`lower(${t.requesterEmail})`),
    index("tickets_tags_idx").using("gin", t.tags),
    index("tickets_first_response_due_idx")
      .on(t.firstResponseDueAt)
      .where(sql`${t.firstResponseDueAt} is not null and ${t.firstResponseBreachedAt} is null`),
    index("tickets_resolution_due_idx")
      .on(t.resolutionDueAt)
      .where(sql`${t.resolutionDueAt} is not null and ${t.resolutionBreachedAt} is null`),
    index("tickets_first_response_at_risk_idx")
      .on(t.firstResponseAtRiskAfter)
      .where(sql`${t.firstResponseAtRiskAfter} is not null and ${t.firstResponseAtRiskAt} is null`),
    index("tickets_resolution_at_risk_idx")
      .on(t.resolutionAtRiskAfter)
      .where(sql`${t.resolutionAtRiskAfter} is not null and ${t.resolutionAtRiskAt} is null`),
    check("tickets_status_valid", sql`${t.status} in ('open', 'pending', 'on_hold', 'solved', 'closed')`),
    check("tickets_priority_valid", sql`${t.priority} in ('low', 'normal', 'high', 'urgent')`),
    check("tickets_channel_valid", sql`${t.channel} in ('chat', 'email', 'web_form', 'api')`),
    check("tickets_subject_not_blank", sql`length(btrim(${t.subject})) > 0`),
    tenantIsolation("tickets"),
  ],
);

/** A reply to the customer (`public`) or an internal note, in the order written. */
export const ticketComments = pgTable(
  "ticket_comments",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    ticketId: uuid("ticket_id").notNull(),
    authorType: text("author_type", { enum: ["agent", "customer", "bot", "system"] }).notNull(),
    authorUserId: uuid("author_user_id"),
    authorName: text("author_name"),
    authorEmail: text("author_email"),
    body: text("body").notNull(),
    public: boolean("public").notNull().default(true),
    emailMessageId: uuid("email_message_id"),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [
    unique("ticket_comments_tenant_id_key").on(t.tenantId, t.id),
    tenantFk("ticket_comments_ticket_fk", [t.tenantId, t.ticketId], [tickets.tenantId, tickets.id]).onDelete(
      "cascade",
    ),
    tenantFk("ticket_comments_author_fk", [t.tenantId, t.authorUserId], [users.tenantId, users.id]),
    index("ticket_comments_ticket_created_idx").on(t.tenantId, t.ticketId, t.createdAt, t.id),
    check(
      "ticket_comments_author_type_valid",
      sql`${t.authorType} in ('agent', 'customer', 'bot', 'system')`,
    ),
    tenantIsolation("ticket_comments"),
  ],
);

/** Orders a ticket is about (the tenant's own, from any store). */
export const ticketOrders = pgTable(
  "ticket_orders",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    ticketId: uuid("ticket_id").notNull(),
    orderId: uuid("order_id").notNull(),
    createdAt: at("created_at").notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ name: "ticket_orders_pkey", columns: [t.tenantId, t.ticketId, t.orderId] }),
    tenantFk("ticket_orders_ticket_fk", [t.tenantId, t.ticketId], [tickets.tenantId, tickets.id]).onDelete(
      "cascade",
    ),
    tenantFk("ticket_orders_order_fk", [t.tenantId, t.orderId], [orders.tenantId, orders.id]).onDelete(
      "cascade",
    ),
    index("ticket_orders_order_idx").on(t.tenantId, t.orderId),
    tenantIsolation("ticket_orders"),
  ],
);

/**
 * Every change to customer-service records: who (`actor`, and `actor_key` = `user:<id>` | `apiKey:<id>` |
 * `system:<name>` | … for per-actor queries), when, what (`entity_type`, `entity_id`, `action`) and the
 * before/after of each changed field. Written in the same transaction as the change it describes.
 */
export const auditLog = pgTable(
  "audit_log",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    entityType: text("entity_type").notNull(),
    entityId: uuid("entity_id").notNull(),
    action: text("action").notNull(),
    actor: jsonb("actor").$type<Record<string, unknown>>().notNull(),
    actorKey: text("actor_key").notNull(),
    changes: jsonb("changes")
      .$type<Record<string, { before: unknown; after: unknown }>>()
      .notNull()
      .default({}),
    requestId: text("request_id"),
    occurredAt: at("occurred_at").notNull().defaultNow(),
  },
  (t) => [
    index("audit_log_entity_idx").on(t.tenantId, t.entityType, t.entityId, t.occurredAt),
    index("audit_log_actor_idx").on(t.tenantId, t.actorKey, t.occurredAt),
    index("audit_log_tenant_occurred_idx").on(t.tenantId, t.occurredAt),
    tenantIsolation("audit_log"),
  ],
);

/**
 * A chat conversation. The live state is in its `ChatSession` Durable Object (named by this id); this row is
 * created when the session starts and completed when it is archived, with its transcript in `chat_messages`.
 */
export const chatSessions = pgTable(
  "chat_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    status: text("status", { enum: ["bot", "waiting", "agent", "closed"] })
      .notNull()
      .default("bot"),
    channel: text("channel", { enum: ["web", "mini_program", "api"] })
      .notNull()
      .default("web"),
    customer: jsonb("customer").$type<Record<string, unknown>>().notNull().default({}),
    agentId: uuid("agent_id"),
    ticketId: uuid("ticket_id"),
    aiConnectionId: uuid("ai_connection_id"),
    messageCount: integer("message_count").notNull().default(0),
    startedAt: at("started_at").notNull().defaultNow(),
    lastMessageAt: at("last_message_at"),
    closedAt: at("closed_at"),
    closeReason: text("close_reason"),
    archivedAt: at("archived_at"),
    ...timestamps,
  },
  (t) => [
    unique("chat_sessions_tenant_id_key").on(t.tenantId, t.id),
    tenantFk("chat_sessions_agent_fk", [t.tenantId, t.agentId], [users.tenantId, users.id]),
    tenantFk("chat_sessions_ticket_fk", [t.tenantId, t.ticketId], [tickets.tenantId, tickets.id]),
    tenantFk(
      "chat_sessions_ai_connection_fk",
      [t.tenantId, t.aiConnectionId],
      [connections.tenantId, connections.id],
    ).onDelete("set null"),
    index("chat_sessions_tenant_status_idx").on(t.tenantId, t.status, t.startedAt),
    index("chat_sessions_tenant_started_idx").on(t.tenantId, t.startedAt, t.id),
    check("chat_sessions_status_valid", sql`${t.status} in ('bot', 'waiting', 'agent', 'closed')`),
    check("chat_sessions_channel_valid", sql`${t.channel} in ('web', 'mini_program', 'api')`),
    tenantIsolation("chat_sessions"),
  ],
);

/** The archived transcript of a chat session, in its Durable Object's order. */
export const chatMessages = pgTable(
  "chat_messages",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    sessionId: uuid("session_id").notNull(),
    seq: integer("seq").notNull(),
    role: text("role", { enum: ["customer", "agent", "bot", "system"] }).notNull(),
    authorUserId: uuid("author_user_id"),
    body: text("body").notNull(),
    meta: jsonb("meta").$type<Record<string, unknown>>(),
    createdAt: at("created_at").notNull(),
  },
  (t) => [
    primaryKey({ name: "chat_messages_pkey", columns: [t.tenantId, t.sessionId, t.seq] }),
    tenantFk(
      "chat_messages_session_fk",
      [t.tenantId, t.sessionId],
      [chatSessions.tenantId, chatSessions.id],
    ).onDelete("cascade"),
    check("chat_messages_role_valid", sql`${t.role} in ('customer', 'agent', 'bot', 'system')`),
    tenantIsolation("chat_messages"),
  ],
);

/** A tenant's email templates, by key (`ticket_reply`, …), rendered with `{{variable}}` substitution. */
export const emailTemplates = pgTable(
  "email_templates",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    key: text("key").notNull(),
    name: text("name").notNull(),
    subject: text("subject").notNull(),
    bodyText: text("body_text").notNull(),
    bodyHtml: text("body_html"),
    ...timestamps,
  },
  (t) => [
    unique("email_templates_tenant_id_key").on(t.tenantId, t.id),
    unique("email_templates_tenant_key_key").on(t.tenantId, t.key),
    tenantIsolation("email_templates"),
  ],
);

/** Every email sent (or attempted) through a tenant's SMTP connection: to whom, what, and what the server said. */
export const emailMessages = pgTable(
  "email_messages",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    connectionId: uuid("connection_id"),
    ticketId: uuid("ticket_id"),
    templateKey: text("template_key"),
    fromAddress: text("from_address").notNull(),
    toAddresses: text("to_addresses").array().notNull(),
    ccAddresses: text("cc_addresses").array().notNull().default(sql`'{}'::text[]`),
    subject: text("subject").notNull(),
    /** The rendered bodies, kept so a retry sends exactly what was accepted and agents see what went out. */
    bodyText: text("body_text"),
    bodyHtml: text("body_html"),
    /** sha256 of the send request: the same idempotency key with a different request is refused (422). */
    requestFingerprint: text("request_fingerprint"),
    /** When a queued retry is due (null once final): the sweep re-enqueues a retry whose message was lost. */
    nextAttemptAt: at("next_attempt_at"),
    status: text("status", { enum: ["queued", "sending", "sent", "failed"] })
      .notNull()
      .default("queued"),
    /** The `Message-ID` header we set. */
    providerMessageId: text("provider_message_id"),
    /** The server's final reply to DATA (e.g. `250 2.0.0 Ok: queued as …`). */
    smtpResponse: text("smtp_response"),
    error: jsonb("error").$type<Record<string, unknown>>(),
    attempts: integer("attempts").notNull().default(0),
    idempotencyKey: text("idempotency_key"),
    sentAt: at("sent_at"),
    ...timestamps,
  },
  (t) => [
    unique("email_messages_tenant_id_key").on(t.tenantId, t.id),
    uniqueIndex("email_messages_idempotency_key")
      .on(t.tenantId, t.idempotencyKey)
      .where(sql`${t.idempotencyKey} is not null`),
    tenantFk(
      "email_messages_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("set null"),
    tenantFk("email_messages_ticket_fk", [t.tenantId, t.ticketId], [tickets.tenantId, tickets.id]).onDelete(
      "set null",
    ),
    index("email_messages_tenant_created_idx").on(t.tenantId, t.createdAt, t.id),
    index("email_messages_tenant_status_idx").on(t.tenantId, t.status, t.createdAt),
    /** The stranded-retry sweep (claim_stranded_email_messages) reads unfinished emails across tenants. */
    index("email_messages_retry_due_idx")
      .on(t.nextAttemptAt)
      .where(sql`${t.status} in ('queued', 'sending')`),
    check("email_messages_status_valid", sql`${t.status} in ('queued', 'sending', 'sent', 'failed')`),
    tenantIsolation("email_messages"),
  ],
);

/** Tracking numbers to register with 17track (tag = tenant id), and how that went. */
export const parcelRegistrations = pgTable(
  "parcel_registrations",
  {
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    trackingNumber: text("tracking_number").notNull(),
    carrierCode: integer("carrier_code"),
    orderId: uuid("order_id"),
    shipmentId: uuid("shipment_id"),
    status: text("status", { enum: ["pending", "registered", "rejected", "failed"] })
      .notNull()
      .default("pending"),
    attempts: integer("attempts").notNull().default(0),
    lastError: jsonb("last_error").$type<Record<string, unknown>>(),
    nextAttemptAt: at("next_attempt_at").notNull().defaultNow(),
    registeredAt: at("registered_at"),
    ...timestamps,
  },
  (t) => [
    primaryKey({ name: "parcel_registrations_pkey", columns: [t.tenantId, t.trackingNumber] }),
    tenantFk("parcel_registrations_order_fk", [t.tenantId, t.orderId], [orders.tenantId, orders.id]).onDelete(
      "set null",
    ),
    index("parcel_registrations_due_idx").on(t.nextAttemptAt).where(sql`${t.status} = 'pending'`),
    /** A 17track push names a number, not a tenant: every tenant tracking it gets a copy (parcel_tenants). */
    index("parcel_registrations_number_idx").on(t.trackingNumber),
    check(
      "parcel_registrations_status_valid",
      sql`${t.status} in ('pending', 'registered', 'rejected', 'failed')`,
    ),
    tenantIsolation("parcel_registrations"),
  ],
);

/** Product images per variant from a channel's product data, matched to order lines by variant id or SKU. */
export const productAssets = pgTable(
  "product_assets",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => tenants.id, { onDelete: "cascade" }),
    connectionId: uuid("connection_id").notNull(),
    externalProductId: text("external_product_id").notNull(),
    externalVariantId: text("external_variant_id").notNull(),
    sku: text("sku"),
    title: text("title").notNull(),
    variantTitle: text("variant_title"),
    imageUrl: text("image_url").notNull(),
    imageAlt: text("image_alt"),
    width: integer("width"),
    height: integer("height"),
    /** Every image of the variant (then product), in display order: `{ url, alt, width, height }`. */
    images: jsonb("images").$type<Record<string, unknown>[]>().notNull().default([]),
    sourceUpdatedAt: at("source_updated_at").notNull(),
    ...timestamps,
  },
  (t) => [
    unique("product_assets_tenant_id_key").on(t.tenantId, t.id),
    unique("product_assets_variant_key").on(t.tenantId, t.connectionId, t.externalVariantId),
    tenantFk(
      "product_assets_connection_fk",
      [t.tenantId, t.connectionId],
      [connections.tenantId, connections.id],
    ).onDelete("cascade"),
    index("product_assets_sku_idx").on(t.tenantId, sql`lower(${t.sku})`),
    tenantIsolation("product_assets"),
  ],
);
