import { eq, sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { tenants } from "../../src/db/schema";
import { tenantBatch, tenantTransaction } from "../../src/db/tenant";
import { runWithMetrics } from "../../src/lib/metrics";
import { testContext } from "../support/context";
import { createTenant, ownerSql } from "../support/harness";

describe("connection role", () => {
  it("the Worker connects as the app role: not a superuser, not an owner, no BYPASSRLS", async () => {
    const ctx = testContext();
    const result = await ctx.db.http.execute<{
      current_user: string;
      rolsuper: boolean;
      rolbypassrls: boolean;
    }>(sql`select current_user, r.rolsuper, r.rolbypassrls from pg_roles r where r.rolname = current_user`);
    expect(result.rows[0]).toEqual({ current_user: "tradewind_app", rolsuper: false, rolbypassrls: false });
  });
});

describe("neon-http batch transactions", () => {
  it("runs a batch as one transaction in one round trip", async () => {
    const tenant = await createTenant("Batch Co");
    const ctx = testContext();
    const [updated, read] = await runWithMetrics(ctx.metrics, () =>
      tenantBatch(ctx.db.http, tenant.id, (db) => [
        db.update(tenants).set({ name: "Batch Co (renamed)" }).where(eq(tenants.id, tenant.id)).returning(),
        db.select({ name: tenants.name }).from(tenants).where(eq(tenants.id, tenant.id)),
      ]),
    );
    expect(updated[0]?.name).toBe("Batch Co (renamed)");
    expect(read).toEqual([{ name: "Batch Co (renamed)" }]);
    expect(ctx.metrics.dbRoundTrips).toBe(1);
  });

  it("rolls the whole batch back when a statement fails", async () => {
    const tenant = await createTenant("Atomic Co");
    const ctx = testContext();
    await expect(
      tenantBatch(ctx.db.http, tenant.id, (db) => [
        db.update(tenants).set({ name: "Should not stick" }).where(eq(tenants.id, tenant.id)),
        // Violates the slug format check: the update above must be rolled back with it.
        db.update(tenants).set({ slug: "NOT VALID!" }).where(eq(tenants.id, tenant.id)),
      ]),
    ).rejects.toThrow();
    const rows = await ownerSql()`select name from tenants where id = ${tenant.id}`;
    expect(rows[0]?.name).toBe("Atomic Co");
  });
});

describe("WebSocket interactive transactions", () => {
  it("reads FOR UPDATE then writes, commits, and counts each statement as a round trip", async () => {
    const tenant = await createTenant("Ws Co");
    const ctx = testContext();
    const name = await runWithMetrics(ctx.metrics, () =>
      tenantTransaction(ctx.db, tenant.id, async (tx) => {
        const [row] = await tx.select().from(tenants).where(eq(tenants.id, tenant.id)).for("update");
        await tx
          .update(tenants)
          .set({ name: `${row?.name} v2` })
          .where(eq(tenants.id, tenant.id));
        return row?.name;
      }),
    );
    expect(name).toBe("Ws Co");
    // BEGIN, tenant context, SELECT … FOR UPDATE, UPDATE, COMMIT
    expect(ctx.metrics.dbRoundTrips).toBe(5);
    const rows = await ownerSql()`select name from tenants where id = ${tenant.id}`;
    expect(rows[0]?.name).toBe("Ws Co v2");
  });

  it("rolls back everything when the callback throws", async () => {
    const tenant = await createTenant("Rollback Co");
    const ctx = testContext();
    await expect(
      tenantTransaction(ctx.db, tenant.id, async (tx) => {
        await tx.update(tenants).set({ name: "Half done" }).where(eq(tenants.id, tenant.id));
        throw new Error("payment provider said no");
      }),
    ).rejects.toThrow("payment provider said no");
    const rows = await ownerSql()`select name from tenants where id = ${tenant.id}`;
    expect(rows[0]?.name).toBe("Rollback Co");
  });
});

describe("row-level security", () => {
  it("hides another tenant's row even from a query without a tenant filter (HTTP batch)", async () => {
    const a = await createTenant("Tenant A");
    const b = await createTenant("Tenant B");
    const ctx = testContext();
    const [visible] = await tenantBatch(ctx.db.http, a.id, (db) => [db.select().from(tenants)]);
    expect(visible.map((t) => t.id)).toEqual([a.id]);
    expect(visible.map((t) => t.id)).not.toContain(b.id);
  });

  it("hides it in a WebSocket transaction too, and blocks writes to it", async () => {
    const a = await createTenant("Tenant A");
    const b = await createTenant("Tenant B");
    const ctx = testContext();
    const outcome = await tenantTransaction(ctx.db, a.id, async (tx) => {
      const all = await tx.select({ id: tenants.id }).from(tenants);
      const changed = await tx.update(tenants).set({ name: "pwned" }).where(eq(tenants.id, b.id)).returning();
      return { all, changed };
    });
    expect(outcome.all).toEqual([{ id: a.id }]);
    expect(outcome.changed).toEqual([]);
    const rows = await ownerSql()`select name from tenants where id = ${b.id}`;
    expect(rows[0]?.name).toBe("Tenant B");
  });

  it("refuses to insert a row for another tenant (WITH CHECK)", async () => {
    const a = await createTenant("Tenant A");
    const ctx = testContext();
    await expect(
      tenantBatch(ctx.db.http, a.id, (db) => [
        db.insert(tenants).values({ slug: `x-${a.slug}`, name: "Smuggled" }),
      ]),
    ).rejects.toThrow();
  });

  it("shows nothing when no tenant context is set", async () => {
    await createTenant("Someone");
    const ctx = testContext();
    const rows = await ctx.db.http.select().from(tenants);
    expect(rows).toEqual([]);
  });

  it("holds even when connected as the table owner, because the context drops to the app role", async () => {
    const a = await createTenant("Owner A");
    await createTenant("Owner B");
    const { inject } = await import("vitest");
    const ctx = testContext({ DATABASE_URL: inject("ownerDatabaseUrl") });
    const [visible] = await tenantBatch(ctx.db.http, a.id, (db) => [
      db.select({ id: tenants.id }).from(tenants),
    ]);
    expect(visible).toEqual([{ id: a.id }]);
  });

  it("rejects a malformed tenant id before touching the database", async () => {
    const ctx = testContext();
    await expect(
      tenantBatch(ctx.db.http, "1' or '1'='1", (db) => [db.select().from(tenants)]),
    ).rejects.toThrow("Invalid tenant id");
  });
});
