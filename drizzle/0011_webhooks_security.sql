-- Webhook hardening that drizzle-kit cannot express: FORCE RLS on the new tables, and the three
-- cross-tenant reads the receivers and the cron need. All run as tradewind_lookup, which may read only
-- the columns named here (never sealed secrets, never bodies).
ALTER TABLE "webhook_endpoints" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "webhook_events" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "parcel_trackings" FORCE ROW LEVEL SECURITY;--> statement-breakpoint

-- A channel's signature covers the body only (Shopify: not the webhook id, topic or time headers), so a
-- captured delivery could be replayed under a fresh webhook id: the same signed body for the same topic
-- of the same connection is the same event, and is stored once. app/uninstalled is left out: its body
-- (the shop) can repeat across genuine reinstall/uninstall cycles.
CREATE UNIQUE INDEX "webhook_events_body_key" ON "webhook_events" USING btree ("tenant_id", "connection_id", "topic", "body_sha256")
  WHERE "connection_id" IS NOT NULL AND "source" IN ('shopify', 'tiktok') AND "topic" <> 'app/uninstalled';--> statement-breakpoint

-- 17track pushes name a tracking number, not a tenant: find the tenants that shipped it.
CREATE INDEX "shipments_tracking_numbers_idx" ON "shipments" USING gin ("tracking_numbers");--> statement-breakpoint

GRANT SELECT (tenant_id, id, enabled) ON webhook_endpoints TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "webhook_endpoints_lookup" ON "webhook_endpoints" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
GRANT SELECT (tenant_id, tracking_numbers) ON shipments TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "shipments_lookup" ON "shipments" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
GRANT SELECT (tenant_id, tracking_number) ON parcel_trackings TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "parcel_trackings_lookup" ON "parcel_trackings" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
GRANT SELECT (tenant_id, id, status, received_at, enqueued_at), UPDATE (enqueued_at), DELETE ON webhook_events TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "webhook_events_lookup" ON "webhook_events" AS PERMISSIVE FOR ALL TO "tradewind_lookup" USING (true) WITH CHECK (true);--> statement-breakpoint

-- The tenant that owns a webhook's connection or generic endpoint (null = unknown, or its tenant is not
-- active). Used as the tenant-context expression of the receiver's one transaction, so verifying
-- material is read under RLS in the same round trip.
CREATE OR REPLACE FUNCTION webhook_source_tenant(p_kind text, p_id uuid)
  RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
    SELECT CASE p_kind
      WHEN 'connection' THEN (SELECT c.tenant_id FROM connections c JOIN tenants t ON t.id = c.tenant_id
                               WHERE c.id = p_id AND t.status = 'active')
      WHEN 'endpoint' THEN (SELECT e.tenant_id FROM webhook_endpoints e JOIN tenants t ON t.id = e.tenant_id
                             WHERE e.id = p_id AND t.status = 'active')
    END
  $$;--> statement-breakpoint
ALTER FUNCTION webhook_source_tenant(text, uuid) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION webhook_source_tenant(text, uuid) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION webhook_source_tenant(text, uuid) TO tradewind_app;--> statement-breakpoint

-- The tenants a 17track push is for: the registration tag, when it names an active tenant (Tradewind
-- registers parcels with the tenant id as tag); else every active tenant that shipped or tracks the number.
CREATE OR REPLACE FUNCTION parcel_tenants(p_number text, p_tag text)
  RETURNS TABLE (tenant_id uuid)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
    WITH tagged AS (
      SELECT t.id FROM tenants t
       WHERE t.status = 'active'
         AND t.id = CASE WHEN p_tag ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         THEN p_tag::uuid END
    )
    SELECT id FROM tagged
    UNION
    SELECT x.tenant_id FROM (
      SELECT s.tenant_id FROM shipments s WHERE s.tracking_numbers @> ARRAY[p_number]
      UNION
      SELECT p.tenant_id FROM parcel_trackings p WHERE p.tracking_number = p_number
    ) x JOIN tenants t ON t.id = x.tenant_id
     WHERE t.status = 'active' AND NOT EXISTS (SELECT 1 FROM tagged)
     LIMIT 20
  $$;--> statement-breakpoint
ALTER FUNCTION parcel_tenants(text, text) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION parcel_tenants(text, text) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION parcel_tenants(text, text) TO tradewind_app;--> statement-breakpoint

-- Events stored but not handed to the queue (the send failed after the row committed, or the message was
-- lost): the cron claims them, moving `enqueued_at` so overlapping runs never claim one twice. Refuses to
-- run inside a tenant's transaction, like claim_due_sync_streams.
CREATE OR REPLACE FUNCTION claim_stranded_webhook_events(p_older_than_seconds integer, p_limit integer)
  RETURNS TABLE (tenant_id uuid, id uuid)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  BEGIN
    IF coalesce(current_setting('app.tenant_id', true), '') <> '' THEN
      RAISE EXCEPTION 'claim_stranded_webhook_events runs for no tenant' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
    WITH stranded AS (
      SELECT e.tenant_id, e.id FROM webhook_events e
       WHERE e.status = 'received'
         AND coalesce(e.enqueued_at, e.received_at) < now() - make_interval(secs => greatest(p_older_than_seconds, 1))
       ORDER BY e.received_at
       LIMIT greatest(1, least(p_limit, 1000))
         FOR UPDATE OF e SKIP LOCKED
    )
    UPDATE webhook_events e SET enqueued_at = now()
      FROM stranded
     WHERE e.tenant_id = stranded.tenant_id AND e.id = stranded.id
    RETURNING e.tenant_id, e.id;
  END
  $$;--> statement-breakpoint
ALTER FUNCTION claim_stranded_webhook_events(integer, integer) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION claim_stranded_webhook_events(integer, integer) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION claim_stranded_webhook_events(integer, integer) TO tradewind_app;
--> statement-breakpoint

-- Retention: settled events older than the window are deleted in bounded slices (processed and ignored
-- ones after p_settled_days, dead letters after p_failed_days; `received` ones never). Their dedupe rows
-- go with them, which is safe: a redelivery that old is outside every timestamp window, and an order
-- or level it carries only applies if it is newer than what is stored.
CREATE OR REPLACE FUNCTION purge_webhook_events(p_settled_days integer, p_failed_days integer, p_limit integer)
  RETURNS integer
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  DECLARE
    purged integer;
  BEGIN
    IF coalesce(current_setting('app.tenant_id', true), '') <> '' THEN
      RAISE EXCEPTION 'purge_webhook_events runs for no tenant' USING ERRCODE = '42501';
    END IF;
    WITH old AS (
      SELECT e.tenant_id, e.id FROM webhook_events e
       WHERE (e.status IN ('processed', 'ignored')
              AND e.received_at < now() - make_interval(days => greatest(p_settled_days, 1)))
          OR (e.status = 'failed' AND e.received_at < now() - make_interval(days => greatest(p_failed_days, 1)))
       LIMIT greatest(1, least(p_limit, 50000))
    )
    DELETE FROM webhook_events e USING old WHERE e.tenant_id = old.tenant_id AND e.id = old.id;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
  END
  $$;--> statement-breakpoint
ALTER FUNCTION purge_webhook_events(integer, integer, integer) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION purge_webhook_events(integer, integer, integer) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION purge_webhook_events(integer, integer, integer) TO tradewind_app;
