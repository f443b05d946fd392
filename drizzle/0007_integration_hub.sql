CREATE TABLE "connections" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"provider" text NOT NULL,
	"account" text NOT NULL,
	"display_name" text NOT NULL,
	"enabled" boolean DEFAULT true NOT NULL,
	"settings" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"credentials_sealed" text NOT NULL,
	"erp_connection_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "connections_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "connections_tenant_provider_account_key" UNIQUE("tenant_id","provider","account"),
	CONSTRAINT "connections_kind_valid" CHECK ("connections"."kind" in ('channel', 'erp')),
	CONSTRAINT "connections_provider_valid" CHECK (("connections"."kind" = 'channel' and "connections"."provider" in ('shopify', 'tiktok', 'amazon', 'dsco')) or ("connections"."kind" = 'erp' and "connections"."provider" in ('lingxing', 'eccang'))),
	CONSTRAINT "connections_erp_only_for_channels" CHECK ("connections"."erp_connection_id" is null or "connections"."kind" = 'channel')
);
--> statement-breakpoint
ALTER TABLE "connections" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "erp_mappings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"erp_connection_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"source" text NOT NULL,
	"target" text NOT NULL,
	"note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "erp_mappings_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "erp_mappings_source_key" UNIQUE("tenant_id","erp_connection_id","kind","source"),
	CONSTRAINT "erp_mappings_kind_valid" CHECK ("erp_mappings"."kind" in ('sku', 'warehouse', 'logistics'))
);
--> statement-breakpoint
ALTER TABLE "erp_mappings" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "erp_push_ledger" (
	"tenant_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"erp_connection_id" uuid NOT NULL,
	"reference" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"erp_order_id" text,
	"attempts" integer DEFAULT 0 NOT NULL,
	"pushed_version" integer,
	"last_error" text,
	"last_attempt_at" timestamp with time zone,
	"confirmed_at" timestamp with time zone,
	"last_shipment_check_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "erp_push_ledger_pkey" PRIMARY KEY("tenant_id","order_id","erp_connection_id"),
	CONSTRAINT "erp_push_ledger_reference_key" UNIQUE("tenant_id","erp_connection_id","reference")
);
--> statement-breakpoint
ALTER TABLE "erp_push_ledger" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "inventory_levels" (
	"tenant_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"sku" text NOT NULL,
	"location_id" text NOT NULL,
	"available" integer NOT NULL,
	"source_updated_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "inventory_levels_pkey" PRIMARY KEY("tenant_id","connection_id","sku","location_id")
);
--> statement-breakpoint
ALTER TABLE "inventory_levels" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "invoices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"source" text NOT NULL,
	"external_id" text NOT NULL,
	"number" text NOT NULL,
	"currency" text NOT NULL,
	"total_minor" bigint NOT NULL,
	"issued_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "invoices_order_external_key" UNIQUE("tenant_id","order_id","source","external_id")
);
--> statement-breakpoint
ALTER TABLE "invoices" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "order_transitions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"from_status" text,
	"to_status" text NOT NULL,
	"actor" jsonb NOT NULL,
	"reason" text NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "order_transitions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "orders" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"channel" text NOT NULL,
	"store_id" text NOT NULL,
	"external_id" text NOT NULL,
	"external_number" text NOT NULL,
	"status" text DEFAULT 'created' NOT NULL,
	"currency" text NOT NULL,
	"total_minor" bigint NOT NULL,
	"customer_email" text,
	"customer_name" text,
	"search_text" text NOT NULL,
	"data" jsonb NOT NULL,
	"placed_at" timestamp with time zone NOT NULL,
	"channel_updated_at" timestamp with time zone NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "orders_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "orders_tenant_channel_external_key" UNIQUE("tenant_id","channel","external_id"),
	CONSTRAINT "orders_status_valid" CHECK ("orders"."status" in ('created', 'synced', 'shipped', 'invoiced', 'on_hold', 'cancelled', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "orders" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "shipments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"source_connection_id" uuid NOT NULL,
	"external_id" text NOT NULL,
	"carrier" text NOT NULL,
	"carrier_code" text,
	"tracking_numbers" text[] NOT NULL,
	"tracking_url" text,
	"lines" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"shipped_at" timestamp with time zone NOT NULL,
	"writeback_status" text DEFAULT 'pending' NOT NULL,
	"channel_fulfillment_id" text,
	"written_back_at" timestamp with time zone,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "shipments_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "shipments_order_external_key" UNIQUE("tenant_id","order_id","external_id")
);
--> statement-breakpoint
ALTER TABLE "shipments" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sync_failures" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"connection_id" uuid,
	"operation" text NOT NULL,
	"fingerprint" text NOT NULL,
	"order_id" uuid,
	"payload" jsonb NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"resolution" text,
	"error_kind" text NOT NULL,
	"last_error" text NOT NULL,
	"errors" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"occurrences" integer DEFAULT 1 NOT NULL,
	"replay_count" integer DEFAULT 0 NOT NULL,
	"last_replayed_at" timestamp with time zone,
	"resolved_at" timestamp with time zone,
	"resolved_by" jsonb,
	"resolution_note" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_failures_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "sync_failures_status_valid" CHECK ("sync_failures"."status" in ('open', 'replaying', 'resolved'))
);
--> statement-breakpoint
ALTER TABLE "sync_failures" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sync_jobs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"type" text NOT NULL,
	"resource" text NOT NULL,
	"trigger" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"items_processed" integer DEFAULT 0 NOT NULL,
	"pages" integer DEFAULT 0 NOT NULL,
	"params" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"cursor" jsonb,
	"last_error" text,
	"started_at" timestamp with time zone,
	"finished_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_jobs_tenant_id_key" UNIQUE("tenant_id","id")
);
--> statement-breakpoint
ALTER TABLE "sync_jobs" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sync_streams" (
	"tenant_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"resource" text NOT NULL,
	"checkpoint" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"interval_seconds" integer NOT NULL,
	"next_due_at" timestamp with time zone DEFAULT now() NOT NULL,
	"lease_owner" text,
	"lease_until" timestamp with time zone,
	"current_job_id" uuid,
	"last_run_at" timestamp with time zone,
	"last_success_at" timestamp with time zone,
	"last_error" text,
	"consecutive_failures" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sync_streams_pkey" PRIMARY KEY("tenant_id","connection_id","resource"),
	CONSTRAINT "sync_streams_interval_positive" CHECK ("sync_streams"."interval_seconds" > 0)
);
--> statement-breakpoint
ALTER TABLE "sync_streams" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_erp_fk" FOREIGN KEY ("tenant_id","erp_connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "erp_mappings" ADD CONSTRAINT "erp_mappings_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "erp_mappings" ADD CONSTRAINT "erp_mappings_erp_fk" FOREIGN KEY ("tenant_id","erp_connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "erp_push_ledger" ADD CONSTRAINT "erp_push_ledger_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "erp_push_ledger" ADD CONSTRAINT "erp_push_ledger_order_fk" FOREIGN KEY ("tenant_id","order_id") REFERENCES "public"."orders"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "erp_push_ledger" ADD CONSTRAINT "erp_push_ledger_erp_fk" FOREIGN KEY ("tenant_id","erp_connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_levels" ADD CONSTRAINT "inventory_levels_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "inventory_levels" ADD CONSTRAINT "inventory_levels_connection_fk" FOREIGN KEY ("tenant_id","connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_order_fk" FOREIGN KEY ("tenant_id","order_id") REFERENCES "public"."orders"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_transitions" ADD CONSTRAINT "order_transitions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "order_transitions" ADD CONSTRAINT "order_transitions_order_fk" FOREIGN KEY ("tenant_id","order_id") REFERENCES "public"."orders"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "orders" ADD CONSTRAINT "orders_connection_fk" FOREIGN KEY ("tenant_id","connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipments" ADD CONSTRAINT "shipments_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "shipments" ADD CONSTRAINT "shipments_order_fk" FOREIGN KEY ("tenant_id","order_id") REFERENCES "public"."orders"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_failures" ADD CONSTRAINT "sync_failures_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_failures" ADD CONSTRAINT "sync_failures_connection_fk" FOREIGN KEY ("tenant_id","connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_jobs" ADD CONSTRAINT "sync_jobs_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_jobs" ADD CONSTRAINT "sync_jobs_connection_fk" FOREIGN KEY ("tenant_id","connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_streams" ADD CONSTRAINT "sync_streams_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sync_streams" ADD CONSTRAINT "sync_streams_connection_fk" FOREIGN KEY ("tenant_id","connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "erp_push_ledger_status_idx" ON "erp_push_ledger" USING btree ("tenant_id","erp_connection_id","status");--> statement-breakpoint
CREATE INDEX "order_transitions_order_idx" ON "order_transitions" USING btree ("tenant_id","order_id","occurred_at");--> statement-breakpoint
CREATE INDEX "orders_tenant_placed_idx" ON "orders" USING btree ("tenant_id","placed_at","id");--> statement-breakpoint
CREATE INDEX "orders_tenant_status_placed_idx" ON "orders" USING btree ("tenant_id","status","placed_at");--> statement-breakpoint
CREATE INDEX "orders_tenant_connection_placed_idx" ON "orders" USING btree ("tenant_id","connection_id","placed_at");--> statement-breakpoint
CREATE INDEX "shipments_writeback_idx" ON "shipments" USING btree ("tenant_id","writeback_status");--> statement-breakpoint
CREATE UNIQUE INDEX "sync_failures_open_fingerprint_key" ON "sync_failures" USING btree ("tenant_id","fingerprint") WHERE "sync_failures"."status" <> 'resolved';--> statement-breakpoint
CREATE INDEX "sync_failures_tenant_status_idx" ON "sync_failures" USING btree ("tenant_id","status","created_at");--> statement-breakpoint
CREATE INDEX "sync_jobs_tenant_created_idx" ON "sync_jobs" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "sync_jobs_connection_idx" ON "sync_jobs" USING btree ("tenant_id","connection_id","created_at");--> statement-breakpoint
CREATE INDEX "sync_streams_due_idx" ON "sync_streams" USING btree ("next_due_at");--> statement-breakpoint
CREATE POLICY "connections_isolation" ON "connections" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "erp_mappings_isolation" ON "erp_mappings" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "erp_push_ledger_isolation" ON "erp_push_ledger" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "inventory_levels_isolation" ON "inventory_levels" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "invoices_isolation" ON "invoices" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "order_transitions_isolation" ON "order_transitions" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "orders_isolation" ON "orders" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "shipments_isolation" ON "shipments" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "sync_failures_isolation" ON "sync_failures" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "sync_jobs_isolation" ON "sync_jobs" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "sync_streams_isolation" ON "sync_streams" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());