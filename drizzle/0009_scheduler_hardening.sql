-- The scheduler's cross-tenant function, tightened (review of 0008):
-- * its role reads only the three columns of `connections` it needs, never the sealed credentials;
-- * it refuses to run inside a tenant's transaction, so no tenant-scoped statement (nor an injection
--   into one) can claim, and thereby silently skip, other tenants' due streams.
REVOKE SELECT ON connections FROM tradewind_lookup;--> statement-breakpoint
GRANT SELECT (tenant_id, id, enabled) ON connections TO tradewind_lookup;--> statement-breakpoint
CREATE OR REPLACE FUNCTION claim_due_sync_streams(p_limit integer)
  RETURNS TABLE (tenant_id uuid, connection_id uuid, resource text)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  BEGIN
    IF coalesce(current_setting('app.tenant_id', true), '') <> '' THEN
      RAISE EXCEPTION 'claim_due_sync_streams runs for no tenant' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
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
    RETURNING s.tenant_id, s.connection_id, s.resource;
  END
  $$;
