-- Owners are subject to the policies too (superusers still are not: the app never connects as one).
ALTER TABLE "tenants" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
-- The one cross-tenant read the public API needs before anyone is signed in: a login page resolving a
-- tenant slug to its display name and status. SECURITY DEFINER runs it as the owner, so it returns only
-- these public columns and never the tenant's settings.
CREATE OR REPLACE FUNCTION tenant_public_profile(p_slug text)
  RETURNS TABLE (id uuid, slug text, name text, status text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$ SELECT t.id, t.slug, t.name, t.status FROM tenants t WHERE t.slug = lower(p_slug) $$;--> statement-breakpoint
REVOKE ALL ON FUNCTION tenant_public_profile(text) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION tenant_public_profile(text) TO tradewind_app;
