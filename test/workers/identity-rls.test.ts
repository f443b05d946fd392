import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { tenantBatch } from "../../src/db/tenant";
import { createUser } from "../support/auth";
import { testContext } from "../support/context";
import { createTenant } from "../support/harness";

const TABLES = [
  "users",
  "organizations",
  "roles",
  "user_roles",
  "auth_sessions",
  "refresh_tokens",
  "api_keys",
  "wechat_apps",
  "wechat_identities",
  "staff_applications",
  "domain_events",
  // Integration hub tables read and written by the orders and sync APIs.
  "orders",
  "order_transitions",
  "erp_push_ledger",
  "shipments",
  "invoices",
  "sync_jobs",
  "sync_failures",
  "inventory_levels",
  // Webhooks: raw events, partner endpoints (sealed secrets), parcel tracking.
  "webhook_events",
  "webhook_endpoints",
  "parcel_trackings",
  "support_teams",
  "support_team_members",
  "sla_policies",
  "ticket_counters",
  "tickets",
  "ticket_comments",
  "ticket_orders",
  "audit_log",
  "chat_sessions",
  "chat_messages",
  "email_templates",
  "email_messages",
  "parcel_registrations",
  "product_assets",
] as const;

describe("row-level security on every identity table", () => {
  it("every tenant table has RLS enabled and forced, with a policy for the app role", async () => {
    const ctx = testContext();
    const result = await ctx.db.http.execute<{
      relname: string;
      rls: boolean;
      forced: boolean;
      policies: number;
    }>(sql`
      select c.relname, c.relrowsecurity as rls, c.relforcerowsecurity as forced,
             (select count(*)::int from pg_policies p where p.tablename = c.relname and 'tradewind_app' = any(p.roles)) as policies
        from pg_class c where c.relkind = 'r' and c.relname in ${[...TABLES]} order by c.relname`);
    expect(result.rows).toHaveLength(TABLES.length);
    for (const row of result.rows)
      expect(row, row.relname).toMatchObject({ rls: true, forced: true, policies: 1 });
  });

  it("the pre-tenant lookups run as a non-superuser role under RLS policies of their own", async () => {
    const ctx = testContext();
    const result = await ctx.db.http.execute<{
      proname: string;
      owner: string;
      rolsuper: boolean;
      rolbypassrls: boolean;
    }>(sql`
      select p.proname, r.rolname as owner, r.rolsuper, r.rolbypassrls
        from pg_proc p join pg_roles r on r.oid = p.proowner
       where p.prosecdef order by p.proname`);
    expect(result.rows).toEqual(
      [
        "auth_api_key_lookup",
        "claim_due_sync_streams",
        "claim_parcel_registrations",
        "claim_sla_transitions",
        "claim_stranded_email_messages",
        "claim_stranded_webhook_events",
        "order_lookup_warm_candidates",
        "parcel_tenants",
        "purge_webhook_events",
        "tenant_public_profile",
        "webhook_source_tenant",
        "wechat_app_tenant",
      ].map((proname) => ({
        proname,
        owner: "tradewind_lookup",
        rolsuper: false,
        rolbypassrls: false,
      })),
    );
    const tenant = await createTenant("Lookup Co");
    const found = await ctx.db.http.execute<{ id: string }>(
      sql`select id from tenant_public_profile(${tenant.slug})`,
    );
    expect(found.rows).toEqual([{ id: tenant.id }]);
  });

  it("a query without a tenant filter sees only the context tenant's rows, and nothing without a context", async () => {
    const a = await createTenant("Tenant A");
    const b = await createTenant("Tenant B");
    const userA = await createUser(a, { permissions: ["users:read"] });
    const userB = await createUser(b, { permissions: ["users:read"] });
    const ctx = testContext();

    for (const table of TABLES) {
      const bare = await ctx.db.http.execute<{ n: number }>(
        sql`select count(*)::int as n from ${sql.identifier(table)}`,
      );
      expect(bare.rows[0]?.n, `${table} without context`).toBe(0);
    }
    const [users, roles] = await tenantBatch(ctx.db.http, a.id, (db) => [
      db.execute<{ id: string }>(sql`select id from users`),
      db.execute<{ tenant_id: string }>(sql`select tenant_id from roles`),
    ]);
    expect(users.rows.map((r) => r.id)).toEqual([userA.id]);
    expect(new Set(roles.rows.map((r) => r.tenant_id))).toEqual(new Set([a.id]));
    expect(users.rows.map((r) => r.id)).not.toContain(userB.id);
  });

  it("tenant A's context can neither write rows into tenant B nor change B's rows", async () => {
    const a = await createTenant("Tenant A");
    const b = await createTenant("Tenant B");
    const userB = await createUser(b);
    const ctx = testContext();
    await expect(
      tenantBatch(ctx.db.http, a.id, (db) => [
        db.execute(sql`insert into roles (tenant_id, name) values (${b.id}, 'smuggled')`),
      ]),
    ).rejects.toThrow(/row-level security/);
    const [updated] = await tenantBatch(ctx.db.http, a.id, (db) => [
      db.execute(sql`update users set full_name = 'pwned' where id = ${userB.id} returning id`),
    ]);
    expect(updated.rows).toHaveLength(0);
    // Composite foreign keys: even a row in A cannot point at B's user.
    await expect(
      tenantBatch(ctx.db.http, a.id, (db) => [
        db.execute(sql`insert into auth_sessions (tenant_id, user_id, method, expires_at)
                       values (${a.id}, ${userB.id}, 'password', now() + interval '1 day')`),
      ]),
    ).rejects.toThrow();
  });

  it("the organization tree refuses a cycle even when two moves race", async () => {
    const t = await createTenant();
    const ctx = testContext();
    const [rows] = await tenantBatch(ctx.db.http, t.id, (db) => [
      db.execute<{ id: string; name: string }>(sql`
        with x as (insert into organizations (tenant_id, name) values (${t.id}, 'X') returning id),
             y as (insert into organizations (tenant_id, name) values (${t.id}, 'Y') returning id)
        select (select id from x) as x, (select id from y) as y`),
    ]);
    const { x, y } = rows.rows[0] as unknown as { x: string; y: string };
    const move = (child: string, parent: string) =>
      tenantBatch(ctx.db.http, t.id, (db) => [
        db.execute(sql`update organizations set parent_id = ${parent} where id = ${child}`),
      ]);
    const results = await Promise.allSettled([move(x, y), move(y, x)]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const [after] = await tenantBatch(ctx.db.http, t.id, (db) => [
      db.execute<{ n: number }>(
        sql`select count(*)::int as n from organizations where parent_id is not null`,
      ),
    ]);
    expect(after.rows[0]?.n).toBe(1);
  });
});
