-- Identity hardening that drizzle-kit cannot express: FORCE RLS, search, the organization tree's cycle
-- guard, the platform tenant, the platform-admin policy on tenants, and the few SECURITY DEFINER lookups
-- that must run before a tenant is known (each returns only what its caller needs).
ALTER TABLE "organizations" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "users" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "roles" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "user_roles" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "auth_sessions" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "refresh_tokens" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "api_keys" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "wechat_apps" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "wechat_identities" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "staff_applications" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "domain_events" FORCE ROW LEVEL SECURITY;--> statement-breakpoint

-- Substring search over name, email and username (`GET /users?search=`), served by a trigram index.
CREATE EXTENSION IF NOT EXISTS pg_trgm;--> statement-breakpoint
CREATE OR REPLACE FUNCTION user_search_text(full_name text, email text, username text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT lower(coalesce(full_name, '') || ' ' || coalesce(email, '') || ' ' || coalesce(username, '')) $$;--> statement-breakpoint
CREATE INDEX "users_search_trgm_idx" ON "users" USING gin (user_search_text("full_name", "email", "username") gin_trgm_ops)
  WHERE "deleted_at" IS NULL;--> statement-breakpoint

-- Moving a node under its own descendant would cut the subtree off the tree. The advisory lock per tenant
-- serializes concurrent moves, so two moves that are each fine alone cannot together make a loop.
CREATE OR REPLACE FUNCTION organizations_prevent_cycle() RETURNS trigger
  LANGUAGE plpgsql
  AS $$
BEGIN
  IF NEW.parent_id IS NULL THEN
    RETURN NEW;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('organizations:' || NEW.tenant_id::text, 0));
  IF EXISTS (
    WITH RECURSIVE ancestors(id, parent_id, depth) AS (
      SELECT o.id, o.parent_id, 1 FROM organizations o WHERE o.tenant_id = NEW.tenant_id AND o.id = NEW.parent_id
      UNION ALL
      SELECT o.id, o.parent_id, a.depth + 1
        FROM organizations o JOIN ancestors a ON o.id = a.parent_id AND o.tenant_id = NEW.tenant_id
       WHERE a.depth < 10000
    )
    SELECT 1 FROM ancestors WHERE ancestors.id = NEW.id
  ) THEN
    RAISE EXCEPTION 'An organization cannot be moved under itself or one of its descendants'
      USING ERRCODE = 'check_violation', CONSTRAINT = 'organizations_no_cycle';
  END IF;
  RETURN NEW;
END
$$;--> statement-breakpoint
CREATE TRIGGER organizations_no_cycle BEFORE INSERT OR UPDATE OF parent_id ON organizations
  FOR EACH ROW EXECUTE FUNCTION organizations_prevent_cycle();--> statement-breakpoint

-- The platform's own tenant: its superusers are platform admins (POST /tenants, suspend, reactivate).
-- The slug is reserved, so no customer can register it.
INSERT INTO tenants (id, slug, name) VALUES ('00000000-0000-4000-8000-000000000001', 'platform', 'Tradewind platform')
  ON CONFLICT DO NOTHING;--> statement-breakpoint

-- Platform admins act across tenants only on the tenants table, and only in transactions that the
-- service layer opened with `app.platform_admin = on` after verifying the caller (src/db/tenant.ts).
CREATE OR REPLACE FUNCTION app_is_platform_admin() RETURNS boolean
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT coalesce(current_setting('app.platform_admin', true), '') = 'on' $$;--> statement-breakpoint
CREATE POLICY "tenants_platform_admin" ON "tenants" AS PERMISSIVE FOR ALL TO "tradewind_app"
  USING (app_is_platform_admin()) WITH CHECK (app_is_platform_admin());--> statement-breakpoint

-- API-key authentication: the key names no tenant, so its hash is resolved here, before any tenant
-- context exists. Returns only what the auth middleware needs.
CREATE OR REPLACE FUNCTION auth_api_key_lookup(p_key_hash text)
  RETURNS TABLE (id uuid, tenant_id uuid, scopes text[], expires_at timestamptz, revoked_at timestamptz, tenant_status text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
    SELECT k.id, k.tenant_id, k.scopes, k.expires_at, k.revoked_at, t.status
      FROM api_keys k JOIN tenants t ON t.id = k.tenant_id
     WHERE k.key_hash = p_key_hash
  $$;--> statement-breakpoint
REVOKE ALL ON FUNCTION auth_api_key_lookup(text) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION auth_api_key_lookup(text) TO tradewind_app;--> statement-breakpoint

-- WeChat login: the mini-program's app id identifies the tenant.
CREATE OR REPLACE FUNCTION wechat_app_tenant(p_app_id text)
  RETURNS TABLE (tenant_id uuid, tenant_status text)
  LANGUAGE sql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
    SELECT t.id, t.status FROM wechat_apps w JOIN tenants t ON t.id = w.tenant_id WHERE w.app_id = p_app_id
  $$;--> statement-breakpoint
REVOKE ALL ON FUNCTION wechat_app_tenant(text) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION wechat_app_tenant(text) TO tradewind_app;
