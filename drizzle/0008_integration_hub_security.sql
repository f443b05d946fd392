-- Integration hub hardening that drizzle-kit cannot express: FORCE RLS, order search, and the one
-- cross-tenant read the scheduler needs.
ALTER TABLE "connections" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "sync_streams" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "sync_jobs" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "orders" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "order_transitions" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "erp_push_ledger" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "shipments" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "invoices" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "inventory_levels" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "erp_mappings" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "sync_failures" FORCE ROW LEVEL SECURITY;--> statement-breakpoint

-- Order search (number, customer email/name/phone) by substring, like users.
CREATE INDEX "orders_search_trgm_idx" ON "orders" USING gin ("search_text" gin_trgm_ops);--> statement-breakpoint

-- The cron runs for no tenant: it claims every stream that is due (moving its next run one interval on,
-- so two overlapping cron runs never enqueue the same stream twice) and returns which ones to enqueue.
-- Disabled connections and suspended tenants are skipped. Runs as tradewind_lookup, which may read the
-- three tables and move only `next_due_at`.
GRANT SELECT ON sync_streams, connections TO tradewind_lookup;--> statement-breakpoint
GRANT UPDATE (next_due_at) ON sync_streams TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "sync_streams_lookup" ON "sync_streams" AS PERMISSIVE FOR ALL TO "tradewind_lookup" USING (true) WITH CHECK (true);--> statement-breakpoint
CREATE POLICY "connections_lookup" ON "connections" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
CREATE OR REPLACE FUNCTION claim_due_sync_streams(p_limit integer)
  RETURNS TABLE (tenant_id uuid, connection_id uuid, resource text)
  LANGUAGE sql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
    WITH due AS (
      SELECT s.tenant_id, s.connection_id, s.resource
        FROM sync_streams s
        JOIN connections c ON c.tenant_id = s.tenant_id AND c.id = s.connection_id
        JOIN tenants t ON t.id = s.tenant_id
       WHERE s.next_due_at <= now() AND c.enabled AND t.status = 'active'
       ORDER BY s.next_due_at
       LIMIT greatest(1, least(p_limit, 5000))
         FOR UPDATE OF s SKIP LOCKED
    )
    UPDATE sync_streams s
       SET next_due_at = now() + make_interval(secs => s.interval_seconds)
      FROM due
     WHERE s.tenant_id = due.tenant_id AND s.connection_id = due.connection_id AND s.resource = due.resource
    RETURNING s.tenant_id, s.connection_id, s.resource
  $$;--> statement-breakpoint
ALTER FUNCTION claim_due_sync_streams(integer) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION claim_due_sync_streams(integer) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION claim_due_sync_streams(integer) TO tradewind_app;
