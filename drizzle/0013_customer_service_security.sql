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
-- A search containing `@` also matches the requester's email by prefix (`lower(requester_email) LIKE 'ava@ex%'`).
-- A btree of the database collation cannot serve a LIKE prefix unless the collation is "C" (C.UTF-8 is not,
-- before Postgres 17); text_pattern_ops can, whatever the collation, and serves equality as well.
CREATE INDEX "tickets_requester_email_prefix_idx" ON "tickets" USING btree ("tenant_id", lower("requester_email") text_pattern_ops);--> statement-breakpoint

-- Composite foreign keys declared ON DELETE SET NULL would null tenant_id too (NOT NULL), so deleting the
-- referenced connection or ticket would fail: only the referencing column is cleared.
ALTER TABLE "chat_sessions" DROP CONSTRAINT "chat_sessions_ai_connection_fk";--> statement-breakpoint
ALTER TABLE "chat_sessions" ADD CONSTRAINT "chat_sessions_ai_connection_fk" FOREIGN KEY ("tenant_id", "ai_connection_id") REFERENCES "public"."connections"("tenant_id", "id") ON DELETE SET NULL ("ai_connection_id");--> statement-breakpoint
ALTER TABLE "email_messages" DROP CONSTRAINT "email_messages_connection_fk";--> statement-breakpoint
ALTER TABLE "email_messages" ADD CONSTRAINT "email_messages_connection_fk" FOREIGN KEY ("tenant_id", "connection_id") REFERENCES "public"."connections"("tenant_id", "id") ON DELETE SET NULL ("connection_id");--> statement-breakpoint
ALTER TABLE "email_messages" DROP CONSTRAINT "email_messages_ticket_fk";--> statement-breakpoint
ALTER TABLE "email_messages" ADD CONSTRAINT "email_messages_ticket_fk" FOREIGN KEY ("tenant_id", "ticket_id") REFERENCES "public"."tickets"("tenant_id", "id") ON DELETE SET NULL ("ticket_id");--> statement-breakpoint

-- The audit log is append-only for the app: a change's history can be added to, never edited or erased.
REVOKE UPDATE, DELETE ON "audit_log" FROM tradewind_app;--> statement-breakpoint

-- ── Parcel tracking (17track; src/services/tracking). The cron claims due registrations across tenants
-- (claim_parcel_registrations), and a push reaches every tenant that tracks its number (parcel_tenants).

-- A composite foreign key with ON DELETE SET NULL nulls every column, tenant_id included (NOT NULL): deleting
-- an order (or the connection its orders cascade from) would fail. Only order_id is cleared.
ALTER TABLE "parcel_registrations" DROP CONSTRAINT "parcel_registrations_order_fk";--> statement-breakpoint
ALTER TABLE "parcel_registrations" ADD CONSTRAINT "parcel_registrations_order_fk" FOREIGN KEY ("tenant_id", "order_id") REFERENCES "public"."orders"("tenant_id", "id") ON DELETE SET NULL ("order_id");--> statement-breakpoint

-- What the lookup role may touch: registration bookkeeping (never errors or timestamps of other kinds), and
-- the shipments whose numbers it turns into registrations.
GRANT SELECT (tenant_id, tracking_number, status, carrier_code, attempts, next_attempt_at, created_at),
      INSERT (tenant_id, tracking_number, shipment_id, order_id, status, last_error, next_attempt_at),
      UPDATE (next_attempt_at, updated_at)
   ON parcel_registrations TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "parcel_registrations_lookup" ON "parcel_registrations" AS PERMISSIVE FOR ALL TO "tradewind_lookup" USING (true) WITH CHECK (true);--> statement-breakpoint
GRANT SELECT (id, order_id, created_at) ON shipments TO tradewind_lookup;--> statement-breakpoint

-- The tenants a 17track push is for (replaces 0011's): the registration tag when it names an active tenant,
-- plus every active tenant that asked to track the number (17track keeps one registration, and so one tag,
-- per number: a second tenant registering it is told "already registered" and would otherwise never hear of
-- it); and, when the tag names no active tenant, also every active tenant that shipped or tracks the number.
-- The shippers are not skipped because some tenant registered the number: whether the cron had turned one
-- shipper's number into a registration yet must not decide which of the shippers an untagged push reaches.
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
    ),
    tracking AS (
      SELECT r.tenant_id AS id FROM parcel_registrations r JOIN tenants t ON t.id = r.tenant_id
       WHERE r.tracking_number = upper(p_number) AND r.status IN ('pending', 'registered') AND t.status = 'active'
    )
    SELECT id FROM tagged
    UNION
    SELECT id FROM tracking
    UNION
    SELECT x.tenant_id FROM (
      SELECT s.tenant_id FROM shipments s WHERE s.tracking_numbers @> ARRAY[p_number]
      UNION
      SELECT p.tenant_id FROM parcel_trackings p WHERE p.tracking_number = p_number
    ) x JOIN tenants t ON t.id = x.tenant_id
     WHERE t.status = 'active' AND NOT EXISTS (SELECT 1 FROM tagged)
     LIMIT 100
  $$;--> statement-breakpoint
ALTER FUNCTION parcel_tenants(text, text) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION parcel_tenants(text, text) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION parcel_tenants(text, text) TO tradewind_app;--> statement-breakpoint

-- One cron statement for all tenants: first the numbers of recent shipments that nobody asked to track become
-- pending registrations (normalized as 17track takes them; one that can never be a tracking number is
-- recorded rejected, so it is not looked at again), then due pending registrations are claimed oldest first:
-- `next_attempt_at` moves a lease ahead, so overlapping runs never claim one twice and a run that dies leaves
-- them to the run after the lease. The caller settles every claimed row. Refuses to run inside a tenant's
-- transaction, like claim_stranded_webhook_events.
CREATE OR REPLACE FUNCTION claim_parcel_registrations(p_limit integer, p_lease_seconds integer, p_shipment_lookback_hours integer)
  RETURNS TABLE (tenant_id uuid, tracking_number text, carrier_code integer, attempts integer)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  BEGIN
    IF coalesce(current_setting('app.tenant_id', true), '') <> '' THEN
      RAISE EXCEPTION 'claim_parcel_registrations runs for no tenant' USING ERRCODE = '42501';
    END IF;
    INSERT INTO parcel_registrations AS r (tenant_id, tracking_number, shipment_id, order_id, status, last_error, next_attempt_at)
    SELECT DISTINCT ON (s.tenant_id, n.number) s.tenant_id, n.number, s.id, s.order_id,
           CASE WHEN n.number ~ '^[A-Z0-9]{5,50}$' THEN 'pending' ELSE 'rejected' END,
           CASE WHEN n.number ~ '^[A-Z0-9]{5,50}$' THEN NULL
                ELSE jsonb_build_object('kind', 'rejected', 'track17Code', NULL, 'at', now(),
                       'message', 'Not a tracking number 17track accepts (5 to 50 letters and digits)') END,
           now()
      FROM shipments s
      JOIN tenants t ON t.id = s.tenant_id AND t.status = 'active'
      CROSS JOIN LATERAL (
        SELECT left(upper(regexp_replace(raw, '[[:space:]-]+', '', 'g')), 200) AS number FROM unnest(s.tracking_numbers) AS raw
      ) n
     WHERE s.created_at > now() - make_interval(hours => greatest(p_shipment_lookback_hours, 1))
       AND n.number <> ''
       AND NOT EXISTS (SELECT 1 FROM parcel_registrations x WHERE x.tenant_id = s.tenant_id AND x.tracking_number = n.number)
     ORDER BY s.tenant_id, n.number, s.created_at
     LIMIT greatest(1, least(p_limit * 5, 10000))
    ON CONFLICT (tenant_id, tracking_number) DO NOTHING;
    RETURN QUERY
    WITH due AS (
      SELECT d.tenant_id, d.tracking_number FROM parcel_registrations d
        JOIN tenants t ON t.id = d.tenant_id AND t.status = 'active'
       WHERE d.status = 'pending' AND d.next_attempt_at <= now()
       ORDER BY d.next_attempt_at, d.created_at, d.tenant_id, d.tracking_number
       LIMIT greatest(1, least(p_limit, 2000))
         FOR UPDATE OF d SKIP LOCKED
    )
    UPDATE parcel_registrations r
       SET next_attempt_at = now() + make_interval(secs => greatest(p_lease_seconds, 30)), updated_at = now()
      FROM due
     WHERE r.tenant_id = due.tenant_id AND r.tracking_number = due.tracking_number
    RETURNING r.tenant_id, r.tracking_number, r.carrier_code, r.attempts;
  END
  $$;--> statement-breakpoint
ALTER FUNCTION claim_parcel_registrations(integer, integer, integer) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION claim_parcel_registrations(integer, integer, integer) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION claim_parcel_registrations(integer, integer, integer) TO tradewind_app;--> statement-breakpoint

-- ── Order lookup (src/services/order-lookup). The five-minute cron warms the lookup cache for the newest
-- orders of the tenants that use order lookup (their ids come from Redis, most recently active first): the few most recently placed
-- per active tenant, found through the (tenant_id, placed_at) index one tenant at a time. Refuses to run
-- inside a tenant's transaction, like claim_stranded_webhook_events. The lookup role may read only the
-- columns that name an order to look up.
GRANT SELECT (tenant_id, external_number, customer_email, placed_at) ON orders TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "orders_lookup" ON "orders" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
CREATE OR REPLACE FUNCTION order_lookup_warm_candidates(p_tenant_ids uuid[], p_placed_within_seconds integer, p_per_tenant integer, p_limit integer)
  RETURNS TABLE (tenant_id uuid, external_number text, customer_email text)
  LANGUAGE plpgsql STABLE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  BEGIN
    IF coalesce(current_setting('app.tenant_id', true), '') <> '' THEN
      RAISE EXCEPTION 'order_lookup_warm_candidates runs for no tenant' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
    SELECT x.tenant_id, x.external_number, x.customer_email
      FROM tenants t
      CROSS JOIN LATERAL (
        SELECT o.tenant_id, o.external_number, o.customer_email, o.placed_at FROM orders o
         WHERE o.tenant_id = t.id
           AND o.placed_at > now() - make_interval(secs => greatest(p_placed_within_seconds, 60))
         ORDER BY o.placed_at DESC
         LIMIT greatest(1, least(p_per_tenant, 20))
      ) x
     WHERE t.id = ANY(p_tenant_ids) AND t.status = 'active'
     -- Tenants in the order given (most recently active first), each tenant's newest orders first.
     ORDER BY array_position(p_tenant_ids, t.id), x.placed_at DESC
     LIMIT greatest(1, least(p_limit, 500));
  END
  $$;--> statement-breakpoint
ALTER FUNCTION order_lookup_warm_candidates(uuid[], integer, integer, integer) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION order_lookup_warm_candidates(uuid[], integer, integer, integer) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION order_lookup_warm_candidates(uuid[], integer, integer, integer) TO tradewind_app;--> statement-breakpoint

-- ── SLA (src/services/sla). The every-minute sweep marks, across tenants, each ticket target whose due time
-- passed (breached) or whose at-risk instant passed (at risk; computeTicketSla derives it in business hours),
-- once per ticket and target, and returns the transitions. The sweep records one domain event and one audit
-- row per transition in the same transaction, so a failed run marks nothing and the next run tries again;
-- overlapping runs skip each other's locked rows and never mark a target twice.
GRANT SELECT (tenant_id, id, number, status, priority, assignee_id, team_id, sla_policy_id, first_response_due_at,
              resolution_due_at, first_response_at_risk_after, resolution_at_risk_after, first_response_breached_at,
              resolution_breached_at, first_response_at_risk_at, resolution_at_risk_at),
      UPDATE (first_response_breached_at, resolution_breached_at, first_response_at_risk_at, resolution_at_risk_at)
   ON tickets TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "tickets_sla_sweep_read" ON "tickets" AS PERMISSIVE FOR SELECT TO "tradewind_lookup" USING (true);--> statement-breakpoint
CREATE POLICY "tickets_sla_sweep_mark" ON "tickets" AS PERMISSIVE FOR UPDATE TO "tradewind_lookup" USING (true) WITH CHECK (true);--> statement-breakpoint
CREATE OR REPLACE FUNCTION claim_sla_transitions(p_limit integer)
  RETURNS TABLE (tenant_id uuid, ticket_id uuid, ticket_number bigint, priority text, target text, transition text,
                 due_at timestamptz, at_risk_at timestamptz, assignee_id uuid, team_id uuid, policy_id uuid)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  BEGIN
    IF coalesce(current_setting('app.tenant_id', true), '') <> '' THEN
      RAISE EXCEPTION 'claim_sla_transitions runs for no tenant' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
    WITH crossed AS (
      -- A target that is overdue at its first sweep goes straight to breached (no at-risk event after the fact).
      SELECT t.tenant_id, t.id,
             coalesce(t.first_response_due_at < now() AND t.first_response_breached_at IS NULL, false) AS fr_breached,
             coalesce(t.resolution_due_at < now() AND t.resolution_breached_at IS NULL, false) AS res_breached,
             coalesce(t.first_response_at_risk_after <= now() AND t.first_response_at_risk_at IS NULL
                      AND t.first_response_due_at >= now(), false) AS fr_at_risk,
             coalesce(t.resolution_at_risk_after <= now() AND t.resolution_at_risk_at IS NULL
                      AND t.resolution_due_at >= now(), false) AS res_at_risk
        FROM tickets t
        JOIN tenants n ON n.id = t.tenant_id
       WHERE n.status = 'active' AND t.status IN ('open', 'on_hold')
         AND ((t.first_response_due_at < now() AND t.first_response_breached_at IS NULL)
           OR (t.resolution_due_at < now() AND t.resolution_breached_at IS NULL)
           OR (t.first_response_at_risk_after <= now() AND t.first_response_at_risk_at IS NULL
               AND t.first_response_due_at >= now())
           OR (t.resolution_at_risk_after <= now() AND t.resolution_at_risk_at IS NULL
               AND t.resolution_due_at >= now()))
       LIMIT greatest(1, least(p_limit, 5000))
         FOR UPDATE OF t SKIP LOCKED
    ),
    marked AS (
      UPDATE tickets t
         SET first_response_breached_at = CASE WHEN c.fr_breached THEN t.first_response_due_at
                                               ELSE t.first_response_breached_at END,
             resolution_breached_at = CASE WHEN c.res_breached THEN t.resolution_due_at
                                           ELSE t.resolution_breached_at END,
             first_response_at_risk_at = CASE WHEN c.fr_at_risk THEN t.first_response_at_risk_after
                                              ELSE t.first_response_at_risk_at END,
             resolution_at_risk_at = CASE WHEN c.res_at_risk THEN t.resolution_at_risk_after
                                          ELSE t.resolution_at_risk_at END
        FROM crossed c
       WHERE t.tenant_id = c.tenant_id AND t.id = c.id
      RETURNING t.tenant_id, t.id, t.number, t.priority, t.assignee_id, t.team_id, t.sla_policy_id,
                t.first_response_due_at, t.resolution_due_at, t.first_response_at_risk_after,
                t.resolution_at_risk_after, c.fr_breached, c.res_breached, c.fr_at_risk, c.res_at_risk
    )
    SELECT m.tenant_id, m.id, m.number, m.priority, x.target, x.transition, x.due_at, x.at_risk_at,
           m.assignee_id, m.team_id, m.sla_policy_id
      FROM marked m
     CROSS JOIN LATERAL (VALUES
       ('first_response', 'at_risk', m.fr_at_risk, m.first_response_due_at, m.first_response_at_risk_after),
       ('resolution', 'at_risk', m.res_at_risk, m.resolution_due_at, m.resolution_at_risk_after),
       ('first_response', 'breached', m.fr_breached, m.first_response_due_at, NULL::timestamptz),
       ('resolution', 'breached', m.res_breached, m.resolution_due_at, NULL::timestamptz)
     ) AS x(target, transition, hit, due_at, at_risk_at)
     WHERE x.hit;
  END
  $$;--> statement-breakpoint
ALTER FUNCTION claim_sla_transitions(integer) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION claim_sla_transitions(integer) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION claim_sla_transitions(integer) TO tradewind_app;--> statement-breakpoint

-- ── Email (src/services/email). A retry whose queue message was lost (queued past its next_attempt_at), or an
-- attempt whose isolate died mid-send (sending, untouched for 5 minutes), is claimed by the five-minute cron
-- and enqueued again; the claim moves next_attempt_at forward so overlapping runs never claim one twice.
-- The queue consumer's own claim (status queued, or sending gone stale) decides who sends. A suspended
-- tenant's emails are left waiting (sent when it is active again), like every other cross-tenant sweep.
GRANT SELECT (tenant_id, id, status, next_attempt_at, updated_at), UPDATE (next_attempt_at)
   ON email_messages TO tradewind_lookup;--> statement-breakpoint
CREATE POLICY "email_messages_lookup" ON "email_messages" AS PERMISSIVE FOR ALL TO "tradewind_lookup" USING (true) WITH CHECK (true);--> statement-breakpoint
CREATE OR REPLACE FUNCTION claim_stranded_email_messages(p_older_than_seconds integer, p_limit integer)
  RETURNS TABLE (tenant_id uuid, id uuid)
  LANGUAGE plpgsql VOLATILE SECURITY DEFINER
  SET search_path = public, pg_temp
  AS $$
  #variable_conflict use_column
  BEGIN
    IF coalesce(current_setting('app.tenant_id', true), '') <> '' THEN
      RAISE EXCEPTION 'claim_stranded_email_messages runs for no tenant' USING ERRCODE = '42501';
    END IF;
    RETURN QUERY
    WITH stranded AS (
      SELECT m.tenant_id, m.id FROM email_messages m
        JOIN tenants n ON n.id = m.tenant_id
       WHERE n.status = 'active'
         AND ((m.status = 'queued'
               AND m.next_attempt_at < now() - make_interval(secs => greatest(p_older_than_seconds, 1)))
           OR (m.status = 'sending' AND m.updated_at < now() - interval '5 minutes'
               AND coalesce(m.next_attempt_at, '-infinity'::timestamptz) < now()))
       ORDER BY m.next_attempt_at NULLS FIRST
       LIMIT greatest(1, least(p_limit, 1000))
         FOR UPDATE OF m SKIP LOCKED
    )
    UPDATE email_messages m
       SET next_attempt_at = now() + make_interval(secs => greatest(p_older_than_seconds, 1))
      FROM stranded
     WHERE m.tenant_id = stranded.tenant_id AND m.id = stranded.id
    RETURNING m.tenant_id, m.id;
  END
  $$;--> statement-breakpoint
ALTER FUNCTION claim_stranded_email_messages(integer, integer) OWNER TO tradewind_lookup;--> statement-breakpoint
REVOKE ALL ON FUNCTION claim_stranded_email_messages(integer, integer) FROM PUBLIC;--> statement-breakpoint
GRANT EXECUTE ON FUNCTION claim_stranded_email_messages(integer, integer) TO tradewind_app;--> statement-breakpoint
