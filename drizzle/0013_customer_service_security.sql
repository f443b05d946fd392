-- Customer service hardening that drizzle-kit cannot express. Each area keeps its own commented section.

-- ── Row-level security is forced on every customer-service table (owners are bound by it too).
ALTER TABLE "support_teams" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "support_team_members" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "sla_policies" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "ticket_counters" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "tickets" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "ticket_comments" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "ticket_orders" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "audit_log" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "chat_sessions" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "chat_messages" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "email_templates" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "email_messages" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "parcel_registrations" FORCE ROW LEVEL SECURITY;--> statement-breakpoint
ALTER TABLE "product_assets" FORCE ROW LEVEL SECURITY;--> statement-breakpoint

-- ── Tickets: full-text search over subject and description (the `search` filter uses this exact expression).
CREATE INDEX "tickets_search_idx" ON "tickets" USING gin (to_tsvector('simple', "subject" || ' ' || "description"));--> statement-breakpoint

-- The audit log is append-only for the app: a change's history can be added to, never edited or erased.
REVOKE UPDATE, DELETE ON "audit_log" FROM tradewind_app;--> statement-breakpoint
