-- The Worker's role. It owns no table, so row-level security always applies to it (owners and superusers
-- bypass RLS). Roles are cluster-wide: create it only once, whichever database migrates first.
DO $$
BEGIN
  CREATE ROLE tradewind_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
EXCEPTION WHEN duplicate_object THEN NULL;
END
$$;--> statement-breakpoint
-- Lets a connection that logged in as the migration owner still drop to the app role per transaction
-- (src/db/tenant.ts does `set_config('role', 'tradewind_app', true)`), so RLS holds even then.
DO $$
BEGIN
  EXECUTE format('GRANT tradewind_app TO %I', current_user);
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'could not grant tradewind_app to %: %', current_user, SQLERRM;
END
$$;--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO tradewind_app;--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO tradewind_app;--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO tradewind_app;--> statement-breakpoint
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT EXECUTE ON FUNCTIONS TO tradewind_app;--> statement-breakpoint
-- The tenant of the current transaction, or NULL when none was set (then every tenant policy hides all rows).
CREATE OR REPLACE FUNCTION app_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('app.tenant_id', true), '')::uuid $$;
