CREATE TABLE "audit_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"entity_type" text NOT NULL,
	"entity_id" uuid NOT NULL,
	"action" text NOT NULL,
	"actor" jsonb NOT NULL,
	"actor_key" text NOT NULL,
	"changes" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"request_id" text,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "audit_log" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "chat_messages" (
	"tenant_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"role" text NOT NULL,
	"author_user_id" uuid,
	"body" text NOT NULL,
	"meta" jsonb,
	"created_at" timestamp with time zone NOT NULL,
	CONSTRAINT "chat_messages_pkey" PRIMARY KEY("tenant_id","session_id","seq"),
	CONSTRAINT "chat_messages_role_valid" CHECK ("chat_messages"."role" in ('customer', 'agent', 'bot', 'system'))
);
--> statement-breakpoint
ALTER TABLE "chat_messages" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "chat_sessions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"status" text DEFAULT 'bot' NOT NULL,
	"channel" text DEFAULT 'web' NOT NULL,
	"customer" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"agent_id" uuid,
	"ticket_id" uuid,
	"ai_connection_id" uuid,
	"message_count" integer DEFAULT 0 NOT NULL,
	"started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_message_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"close_reason" text,
	"archived_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chat_sessions_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "chat_sessions_status_valid" CHECK ("chat_sessions"."status" in ('bot', 'waiting', 'agent', 'closed')),
	CONSTRAINT "chat_sessions_channel_valid" CHECK ("chat_sessions"."channel" in ('web', 'mini_program', 'api'))
);
--> statement-breakpoint
ALTER TABLE "chat_sessions" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "email_messages" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"connection_id" uuid,
	"ticket_id" uuid,
	"template_key" text,
	"from_address" text NOT NULL,
	"to_addresses" text[] NOT NULL,
	"cc_addresses" text[] DEFAULT '{}'::text[] NOT NULL,
	"subject" text NOT NULL,
	"body_text" text,
	"body_html" text,
	"request_fingerprint" text,
	"next_attempt_at" timestamp with time zone,
	"status" text DEFAULT 'queued' NOT NULL,
	"provider_message_id" text,
	"smtp_response" text,
	"error" jsonb,
	"attempts" integer DEFAULT 0 NOT NULL,
	"idempotency_key" text,
	"sent_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "email_messages_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "email_messages_status_valid" CHECK ("email_messages"."status" in ('queued', 'sending', 'sent', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "email_messages" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "email_templates" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"key" text NOT NULL,
	"name" text NOT NULL,
	"subject" text NOT NULL,
	"body_text" text NOT NULL,
	"body_html" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "email_templates_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "email_templates_tenant_key_key" UNIQUE("tenant_id","key")
);
--> statement-breakpoint
ALTER TABLE "email_templates" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "parcel_registrations" (
	"tenant_id" uuid NOT NULL,
	"tracking_number" text NOT NULL,
	"carrier_code" integer,
	"order_id" uuid,
	"shipment_id" uuid,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_error" jsonb,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"registered_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "parcel_registrations_pkey" PRIMARY KEY("tenant_id","tracking_number"),
	CONSTRAINT "parcel_registrations_status_valid" CHECK ("parcel_registrations"."status" in ('pending', 'registered', 'rejected', 'failed'))
);
--> statement-breakpoint
ALTER TABLE "parcel_registrations" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "product_assets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"connection_id" uuid NOT NULL,
	"external_product_id" text NOT NULL,
	"external_variant_id" text NOT NULL,
	"sku" text,
	"title" text NOT NULL,
	"variant_title" text,
	"image_url" text NOT NULL,
	"image_alt" text,
	"width" integer,
	"height" integer,
	"images" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"source_updated_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "product_assets_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "product_assets_variant_key" UNIQUE("tenant_id","connection_id","external_variant_id")
);
--> statement-breakpoint
ALTER TABLE "product_assets" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "sla_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"is_default" boolean DEFAULT false NOT NULL,
	"targets" jsonb NOT NULL,
	"business_hours_only" boolean DEFAULT true NOT NULL,
	"at_risk_percent" integer DEFAULT 80 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sla_policies_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "sla_policies_at_risk_percent_range" CHECK ("sla_policies"."at_risk_percent" between 1 and 99)
);
--> statement-breakpoint
ALTER TABLE "sla_policies" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "support_team_members" (
	"tenant_id" uuid NOT NULL,
	"team_id" uuid NOT NULL,
	"user_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"available" boolean DEFAULT true NOT NULL,
	"max_open_tickets" integer,
	"last_assigned_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "support_team_members_pkey" PRIMARY KEY("tenant_id","team_id","user_id"),
	CONSTRAINT "support_team_members_max_open_positive" CHECK ("support_team_members"."max_open_tickets" is null or "support_team_members"."max_open_tickets" > 0)
);
--> statement-breakpoint
ALTER TABLE "support_team_members" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "support_teams" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"description" text,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"business_hours" jsonb,
	"holidays" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"assignment_strategy" text DEFAULT 'manual' NOT NULL,
	"sla_policy_id" uuid,
	"round_robin_cursor" bigint DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "support_teams_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "support_teams_assignment_strategy_valid" CHECK ("support_teams"."assignment_strategy" in ('manual', 'round_robin', 'least_loaded'))
);
--> statement-breakpoint
ALTER TABLE "support_teams" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "ticket_comments" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"ticket_id" uuid NOT NULL,
	"author_type" text NOT NULL,
	"author_user_id" uuid,
	"author_name" text,
	"author_email" text,
	"body" text NOT NULL,
	"public" boolean DEFAULT true NOT NULL,
	"email_message_id" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ticket_comments_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "ticket_comments_author_type_valid" CHECK ("ticket_comments"."author_type" in ('agent', 'customer', 'bot', 'system'))
);
--> statement-breakpoint
ALTER TABLE "ticket_comments" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "ticket_counters" (
	"tenant_id" uuid PRIMARY KEY NOT NULL,
	"last_number" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "ticket_counters" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "ticket_orders" (
	"tenant_id" uuid NOT NULL,
	"ticket_id" uuid NOT NULL,
	"order_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ticket_orders_pkey" PRIMARY KEY("tenant_id","ticket_id","order_id")
);
--> statement-breakpoint
ALTER TABLE "ticket_orders" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
CREATE TABLE "tickets" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"number" bigint NOT NULL,
	"subject" text NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"priority" text DEFAULT 'normal' NOT NULL,
	"channel" text NOT NULL,
	"requester_email" text,
	"requester_name" text,
	"requester_phone" text,
	"assignee_id" uuid,
	"team_id" uuid,
	"tags" text[] DEFAULT '{}'::text[] NOT NULL,
	"chat_session_id" uuid,
	"created_by" jsonb,
	"sla_policy_id" uuid,
	"first_response_due_at" timestamp with time zone,
	"resolution_due_at" timestamp with time zone,
	"sla_first_response_elapsed_seconds" integer DEFAULT 0 NOT NULL,
	"sla_resolution_elapsed_seconds" integer DEFAULT 0 NOT NULL,
	"sla_clock_started_at" timestamp with time zone,
	"sla_paused_at" timestamp with time zone,
	"first_responded_at" timestamp with time zone,
	"solved_at" timestamp with time zone,
	"closed_at" timestamp with time zone,
	"first_response_breached_at" timestamp with time zone,
	"resolution_breached_at" timestamp with time zone,
	"first_response_at_risk_at" timestamp with time zone,
	"resolution_at_risk_at" timestamp with time zone,
	"first_response_at_risk_after" timestamp with time zone,
	"resolution_at_risk_after" timestamp with time zone,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tickets_tenant_id_key" UNIQUE("tenant_id","id"),
	CONSTRAINT "tickets_tenant_number_key" UNIQUE("tenant_id","number"),
	CONSTRAINT "tickets_status_valid" CHECK ("tickets"."status" in ('open', 'pending', 'on_hold', 'solved', 'closed')),
	CONSTRAINT "tickets_priority_valid" CHECK ("tickets"."priority" in ('low', 'normal', 'high', 'urgent')),
	CONSTRAINT "tickets_channel_valid" CHECK ("tickets"."channel" in ('chat', 'email', 'web_form', 'api')),
	CONSTRAINT "tickets_subject_not_blank" CHECK (length(btrim("tickets"."subject")) > 0)
);
--> statement-breakpoint
ALTER TABLE "tickets" ENABLE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "connections" DROP CONSTRAINT "connections_kind_valid";--> statement-breakpoint
ALTER TABLE "connections" DROP CONSTRAINT "connections_provider_valid";--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_messages" ADD CONSTRAINT "chat_messages_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_messages" ADD CONSTRAINT "chat_messages_session_fk" FOREIGN KEY ("tenant_id","session_id") REFERENCES "public"."chat_sessions"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_agent_fk" FOREIGN KEY ("tenant_id","agent_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_ticket_fk" FOREIGN KEY ("tenant_id","ticket_id") REFERENCES "public"."tickets"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_ai_connection_fk" FOREIGN KEY ("tenant_id","ai_connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_messages" ADD CONSTRAINT "email_messages_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_messages" ADD CONSTRAINT "email_messages_connection_fk" FOREIGN KEY ("tenant_id","connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_messages" ADD CONSTRAINT "email_messages_ticket_fk" FOREIGN KEY ("tenant_id","ticket_id") REFERENCES "public"."tickets"("tenant_id","id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "email_templates" ADD CONSTRAINT "email_templates_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "parcel_registrations" ADD CONSTRAINT "parcel_registrations_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "parcel_registrations" ADD CONSTRAINT "parcel_registrations_order_fk" FOREIGN KEY ("tenant_id","order_id") REFERENCES "public"."orders"("tenant_id","id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "product_assets" ADD CONSTRAINT "product_assets_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "product_assets" ADD CONSTRAINT "product_assets_connection_fk" FOREIGN KEY ("tenant_id","connection_id") REFERENCES "public"."connections"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sla_policies" ADD CONSTRAINT "sla_policies_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_team_members" ADD CONSTRAINT "support_team_members_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_team_members" ADD CONSTRAINT "support_team_members_team_fk" FOREIGN KEY ("tenant_id","team_id") REFERENCES "public"."support_teams"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_team_members" ADD CONSTRAINT "support_team_members_user_fk" FOREIGN KEY ("tenant_id","user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_teams" ADD CONSTRAINT "support_teams_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "support_teams" ADD CONSTRAINT "support_teams_sla_policy_fk" FOREIGN KEY ("tenant_id","sla_policy_id") REFERENCES "public"."sla_policies"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_comments" ADD CONSTRAINT "ticket_comments_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_comments" ADD CONSTRAINT "ticket_comments_ticket_fk" FOREIGN KEY ("tenant_id","ticket_id") REFERENCES "public"."tickets"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_comments" ADD CONSTRAINT "ticket_comments_author_fk" FOREIGN KEY ("tenant_id","author_user_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_counters" ADD CONSTRAINT "ticket_counters_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_orders" ADD CONSTRAINT "ticket_orders_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_orders" ADD CONSTRAINT "ticket_orders_ticket_fk" FOREIGN KEY ("tenant_id","ticket_id") REFERENCES "public"."tickets"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "ticket_orders" ADD CONSTRAINT "ticket_orders_order_fk" FOREIGN KEY ("tenant_id","order_id") REFERENCES "public"."orders"("tenant_id","id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_assignee_fk" FOREIGN KEY ("tenant_id","assignee_id") REFERENCES "public"."users"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_team_fk" FOREIGN KEY ("tenant_id","team_id") REFERENCES "public"."support_teams"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_sla_policy_fk" FOREIGN KEY ("tenant_id","sla_policy_id") REFERENCES "public"."sla_policies"("tenant_id","id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "audit_log_entity_idx" ON "audit_log" USING btree ("tenant_id","entity_type","entity_id","occurred_at");--> statement-breakpoint
CREATE INDEX "audit_log_actor_idx" ON "audit_log" USING btree ("tenant_id","actor_key","occurred_at");--> statement-breakpoint
CREATE INDEX "audit_log_tenant_occurred_idx" ON "audit_log" USING btree ("tenant_id","occurred_at");--> statement-breakpoint
CREATE INDEX "chat_sessions_tenant_status_idx" ON "chat_sessions" USING btree ("tenant_id","status","started_at");--> statement-breakpoint
CREATE INDEX "chat_sessions_tenant_started_idx" ON "chat_sessions" USING btree ("tenant_id","started_at","id");--> statement-breakpoint
CREATE UNIQUE INDEX "email_messages_idempotency_key" ON "email_messages" USING btree ("tenant_id","idempotency_key") WHERE "email_messages"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "email_messages_tenant_created_idx" ON "email_messages" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "email_messages_tenant_status_idx" ON "email_messages" USING btree ("tenant_id","status","created_at");--> statement-breakpoint
CREATE INDEX "email_messages_retry_due_idx" ON "email_messages" USING btree ("next_attempt_at") WHERE "email_messages"."status" in ('queued', 'sending');--> statement-breakpoint
CREATE INDEX "parcel_registrations_due_idx" ON "parcel_registrations" USING btree ("next_attempt_at") WHERE "parcel_registrations"."status" = 'pending';--> statement-breakpoint
CREATE INDEX "parcel_registrations_number_idx" ON "parcel_registrations" USING btree ("tracking_number");--> statement-breakpoint
CREATE INDEX "product_assets_sku_idx" ON "product_assets" USING btree ("tenant_id",lower("sku"));--> statement-breakpoint
CREATE UNIQUE INDEX "sla_policies_tenant_name_key" ON "sla_policies" USING btree ("tenant_id",lower("name"));--> statement-breakpoint
CREATE UNIQUE INDEX "sla_policies_one_default_key" ON "sla_policies" USING btree ("tenant_id") WHERE "sla_policies"."is_default";--> statement-breakpoint
CREATE INDEX "support_team_members_user_idx" ON "support_team_members" USING btree ("tenant_id","user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "support_teams_tenant_name_key" ON "support_teams" USING btree ("tenant_id",lower("name"));--> statement-breakpoint
CREATE INDEX "ticket_comments_ticket_created_idx" ON "ticket_comments" USING btree ("tenant_id","ticket_id","created_at","id");--> statement-breakpoint
CREATE INDEX "ticket_orders_order_idx" ON "ticket_orders" USING btree ("tenant_id","order_id");--> statement-breakpoint
CREATE INDEX "tickets_tenant_status_updated_idx" ON "tickets" USING btree ("tenant_id","status","updated_at");--> statement-breakpoint
CREATE INDEX "tickets_tenant_assignee_status_idx" ON "tickets" USING btree ("tenant_id","assignee_id","status");--> statement-breakpoint
CREATE INDEX "tickets_tenant_team_status_idx" ON "tickets" USING btree ("tenant_id","team_id","status");--> statement-breakpoint
CREATE INDEX "tickets_tenant_created_idx" ON "tickets" USING btree ("tenant_id","created_at","id");--> statement-breakpoint
CREATE INDEX "tickets_tenant_requester_email_idx" ON "tickets" USING btree ("tenant_id",lower("requester_email"));--> statement-breakpoint
CREATE INDEX "tickets_tags_idx" ON "tickets" USING gin ("tags");--> statement-breakpoint
CREATE INDEX "tickets_first_response_due_idx" ON "tickets" USING btree ("first_response_due_at") WHERE "tickets"."first_response_due_at" is not null and "tickets"."first_response_breached_at" is null;--> statement-breakpoint
CREATE INDEX "tickets_resolution_due_idx" ON "tickets" USING btree ("resolution_due_at") WHERE "tickets"."resolution_due_at" is not null and "tickets"."resolution_breached_at" is null;--> statement-breakpoint
CREATE INDEX "tickets_first_response_at_risk_idx" ON "tickets" USING btree ("first_response_at_risk_after") WHERE "tickets"."first_response_at_risk_after" is not null and "tickets"."first_response_at_risk_at" is null;--> statement-breakpoint
CREATE INDEX "tickets_resolution_at_risk_idx" ON "tickets" USING btree ("resolution_at_risk_after") WHERE "tickets"."resolution_at_risk_after" is not null and "tickets"."resolution_at_risk_at" is null;--> statement-breakpoint
CREATE INDEX "shipments_created_idx" ON "shipments" USING btree ("created_at");--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_kind_valid" CHECK ("connections"."kind" in ('channel', 'erp', 'ai', 'email'));--> statement-breakpoint
ALTER TABLE "connections" ADD CONSTRAINT "connections_provider_valid" CHECK (("connections"."kind" = 'channel' and "connections"."provider" in ('shopify', 'tiktok', 'amazon', 'dsco')) or ("connections"."kind" = 'erp' and "connections"."provider" in ('lingxing', 'eccang')) or ("connections"."kind" = 'ai' and "connections"."provider" = 'coze') or ("connections"."kind" = 'email' and "connections"."provider" = 'smtp'));--> statement-breakpoint
CREATE POLICY "audit_log_isolation" ON "audit_log" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "chat_messages_isolation" ON "chat_messages" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "chat_sessions_isolation" ON "chat_sessions" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "email_messages_isolation" ON "email_messages" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "email_templates_isolation" ON "email_templates" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "parcel_registrations_isolation" ON "parcel_registrations" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "product_assets_isolation" ON "product_assets" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "sla_policies_isolation" ON "sla_policies" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "support_team_members_isolation" ON "support_team_members" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "support_teams_isolation" ON "support_teams" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "ticket_comments_isolation" ON "ticket_comments" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "ticket_counters_isolation" ON "ticket_counters" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "ticket_orders_isolation" ON "ticket_orders" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());--> statement-breakpoint
CREATE POLICY "tickets_isolation" ON "tickets" AS PERMISSIVE FOR ALL TO "tradewind_app" USING (tenant_id = app_current_tenant()) WITH CHECK (tenant_id = app_current_tenant());