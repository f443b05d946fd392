-- The SECURITY DEFINER lookups (tenant by slug, API key by hash, tenant by WeChat app id) used to run as
-- the migration owner. With FORCE RLS and every policy written for tradewind_app, an owner that is not a
-- superuser (or lacks BYPASSRLS) would see no rows through them. They now run as a dedicated NOLOGIN role
-- that may read exactly the tables they need, under explicit policies, whatever the owner's attributes.
DO $$
BEGIN
  CREATE ROLE tradewind_lookup NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;--> statement-breakpoint
DO $$
BEGIN
  EXECUTE format('GRANT tradewind_lookup TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'could not grant tradewind_lookup to %: %', current_user, SQLERRM;
END
$$;--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO tradewind_lookup;--> statement-breakpoint
GRANT SELECT ON tenants, api_keys, wechat_apps TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "tenants_lookup" ON "tenants" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
CREATE POLICY "api_keys_lookup" ON "api_keys" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
CREATE POLICY "wechat_apps_lookup" ON "wechat_apps" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
ALTER FUNCTION tenant_public_profile(text) OWNER TO tradewind_lookup;--> statement-breakpoint
ALTER FUNCTION auth_api_key_lookup(text) OWNER TO tradewind_lookup;--> statement-breakpoint
ALTER FUNCTION wechat_app_tenant(text) OWNER TO tradewind_lookup;
