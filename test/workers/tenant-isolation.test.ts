// The cross-tenant matrix: tenant A's superuser (and A's API key) call every identity endpoint that takes
// an id with tenant B's ids, and get 404 — never B's data, never a change to it. List endpoints never
// show B's rows. The OpenAPI document is the checklist: a new `{id}` route without a row here fails.
import { describe, expect, inject, it } from "vitest";
import { bearer, login, signedInUser } from "../support/auth";
import { customer, PUBLIC_CHAT, startChat } from "../support/chat";
import { call, envelope, ownerSql } from "../support/harness";

interface Row {
  method: string;
  path: string;
  body?: unknown;
  /** Platform routes answer a tenant superuser 403 whatever the id. */
  expect?: number;
}

async function created(path: string, token: string, body: unknown): Promise<{ id: string; key?: string }> {
  const response = await call(path, bearer(token, { method: "POST", body }));
  const data = (await envelope<{ id: string; key?: string }>(response)).data;
  if (response.status !== 201 || !data) throw new Error(`${path}: ${response.status}`);
  return data;
}

/** Every row of tenant B that a test could touch, as text, to prove nothing changed. */
async function snapshot(tenantId: string): Promise<string> {
  const sql = ownerSql();
  const parts = await Promise.all([
    sql`select * from users where tenant_id = ${tenantId} order by id`,
    sql`select * from roles where tenant_id = ${tenantId} order by id`,
    sql`select * from user_roles where tenant_id = ${tenantId} order by user_id, role_id`,
    sql`select * from organizations where tenant_id = ${tenantId} order by id`,
    sql`select * from api_keys where tenant_id = ${tenantId} order by id`,
    sql`select * from auth_sessions where tenant_id = ${tenantId} order by id`,
    sql`select * from staff_applications where tenant_id = ${tenantId} order by id`,
    sql`select id, status, settings from tenants where id = ${tenantId}`,
    sql`select * from connections where tenant_id = ${tenantId} order by id`,
    sql`select * from sync_streams where tenant_id = ${tenantId} order by connection_id, resource`,
    sql`select * from erp_mappings where tenant_id = ${tenantId} order by id`,
    sql`select * from orders where tenant_id = ${tenantId} order by id`,
    sql`select * from order_transitions where tenant_id = ${tenantId} order by id`,
    sql`select * from sync_jobs where tenant_id = ${tenantId} order by id`,
    sql`select * from sync_failures where tenant_id = ${tenantId} order by id`,
    sql`select * from webhook_endpoints where tenant_id = ${tenantId} order by id`,
    sql`select * from webhook_events where tenant_id = ${tenantId} order by id`,
    sql`select * from parcel_trackings where tenant_id = ${tenantId} order by tracking_number`,
    sql`select * from sla_policies where tenant_id = ${tenantId} order by id`,
    sql`select * from email_templates where tenant_id = ${tenantId} order by id`,
    sql`select * from email_messages where tenant_id = ${tenantId} order by id`,
    sql`select * from support_teams where tenant_id = ${tenantId} order by id`,
    sql`select * from support_team_members where tenant_id = ${tenantId} order by team_id, user_id`,
    sql`select * from tickets where tenant_id = ${tenantId} order by id`,
    sql`select * from ticket_comments where tenant_id = ${tenantId} order by id`,
    sql`select * from ticket_orders where tenant_id = ${tenantId} order by ticket_id, order_id`,
    sql`select * from ticket_counters where tenant_id = ${tenantId}`,
    sql`select * from audit_log where tenant_id = ${tenantId} order by id`,
    sql`select * from chat_sessions where tenant_id = ${tenantId} order by id`,
    sql`select * from chat_messages where tenant_id = ${tenantId} order by session_id, seq`,
  ]);
  return JSON.stringify(parts);
}

/** Hub rows of a tenant that only the owner can create: an order, a sync job and a failed push of that order. */
async function hubRows(tenantId: string, shopId: string, erpId: string, customer: string) {
  const sql = ownerSql();
  const [order] = await sql`
    insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                        total_minor, customer_name, search_text, data, placed_at, channel_updated_at)
    values (${tenantId}, ${shopId}, 'shopify', 'b.myshopify.com', ${crypto.randomUUID()}, '#B-1', 'USD', 100,
            ${customer}, ${`#b-1 ${customer.toLowerCase()}`}, '{}', now(), now())
    returning id`;
  const [job] = await sql`
    insert into sync_jobs (tenant_id, connection_id, type, resource, trigger, last_error)
    values (${tenantId}, ${shopId}, 'pull', 'orders', 'cron', ${`${customer} error`}) returning id`;
  const payload = {
    type: "orders.push",
    tenantId,
    erpConnectionId: erpId,
    orderIds: [String(order?.id)],
    trigger: "cron",
  };
  const [failure] = await sql`
    insert into sync_failures (tenant_id, connection_id, operation, fingerprint, order_id, payload, error_kind, last_error)
    values (${tenantId}, ${erpId}, 'push', ${`push:${String(order?.id)}`}, ${String(order?.id)},
            ${JSON.stringify(payload)}::jsonb, 'permanent', ${`${customer} error`})
    returning id`;
  return { order: String(order?.id), job: String(job?.id), failure: String(failure?.id), payload };
}

/**
 * A dead-lettered webhook event of a tenant, inserted as the owner (a delivery through the receiver would be
 * picked up by the runtime's queue consumer and change the row while the matrix runs).
 */
async function webhookEventRow(tenantId: string, endpointId: string, topic: string): Promise<string> {
  const [event] = await ownerSql()`
    insert into webhook_events (tenant_id, source, endpoint_id, dedupe_key, provider_event_id, topic, status, body,
                                body_bytes, body_sha256, verification, last_error)
    values (${tenantId}, 'generic', ${endpointId}, ${`generic:${endpointId}:${topic}`}, ${`msg_${topic}`}, ${topic},
            'failed', '{"type":"x"}', 12, ${"0".repeat(64)}, '{"scheme":"standard-webhooks-v1","secret":"current"}',
            '{"code":"PROCESSING_FAILED","message":"B Person payload"}')
    returning id`;
  return String(event?.id);
}

describe("tenant isolation across every identity endpoint", () => {
  it("tenant A's superuser and API key get 404 for every one of tenant B's ids, and B is untouched", async () => {
    const a = await signedInUser({ superuser: true });
    const b = await signedInUser({ superuser: true });

    const bUser = await created("/api/v1/users", b.token, {
      email: `b-${crypto.randomUUID().slice(0, 6)}@example.com`,
      fullName: "B Person",
      password: "b-password-long-enough",
    });
    const bRole = await created("/api/v1/roles", b.token, { name: "B role", permissions: ["users:read"] });
    const bOrg = await created("/api/v1/organizations", b.token, { name: "B org" });
    const bKey = await created("/api/v1/api-keys", b.token, { name: "B key", scopes: ["users:read"] });
    const [identity] = await ownerSql()`
      insert into wechat_identities (tenant_id, app_id, open_id) values (${b.tenant.id}, 'wx-b', ${crypto.randomUUID()})
      returning id`;
    const [application] = await ownerSql()`
      insert into staff_applications (tenant_id, wechat_identity_id) values (${b.tenant.id}, ${String(identity?.id)})
      returning id`;
    const bApplication = String(application?.id);
    const bSessions = await envelope<{ items: Array<{ id: string }> }>(
      await call("/api/v1/auth/sessions", bearer(b.token)),
    );
    const bSession = bSessions.data?.items[0]?.id ?? "";
    const bErp = await created("/api/v1/connections", b.token, {
      provider: "lingxing",
      account: `ak-b-${crypto.randomUUID().slice(0, 8)}`,
      displayName: "B ERP",
      credentials: { appId: "ak-b", appSecret: "b-lingxing-secret" },
    });
    const bShop = await created("/api/v1/connections", b.token, {
      provider: "shopify",
      account: `b-${crypto.randomUUID().slice(0, 8)}.myshopify.com`,
      displayName: "B shop",
      credentials: { accessToken: "shpat_b_shop_token_0001" },
      erpConnectionId: bErp.id,
    });
    const bMapping = await created(`/api/v1/connections/${bErp.id}/mappings`, b.token, {
      kind: "sku",
      source: "B-SKU",
      target: "B-TARGET",
    });
    const bHub = await hubRows(b.tenant.id, bShop.id, bErp.id, "B Person");
    const bEndpoint = await created("/api/v1/webhooks/endpoints", b.token, { name: "B Person endpoint" });
    const bWebhookEvent = await webhookEventRow(b.tenant.id, bEndpoint.id, "b.topic");
    // B's chats: one live (held by its Durable Object), one closed and archived in Postgres.
    const bChat = await startChat(b.tenant, { customer: { name: "B Person", email: b.email } });
    const bArchivedChat = await startChat(b.tenant, { customer: { name: "B Person" } });
    await call(
      `${PUBLIC_CHAT}/${bArchivedChat.session.id}/close`,
      customer(bArchivedChat.token, { method: "POST" }),
    );
    const bEmailTemplate = await created("/api/v1/email-templates", b.token, {
      key: "b_reply",
      name: "B Person template",
      subject: "B Person {{x}}",
      bodyText: "B Person",
    });
    // An email record as the owner (sending needs an SMTP connection; the record is what matters here).
    const [bEmail] = await ownerSql()`
      insert into email_messages (tenant_id, from_address, to_addresses, subject, status, body_text)
      values (${b.tenant.id}, 'b@b-person.example', '{"b-person@example.org"}', 'B Person email', 'sent', 'B Person')
      returning id`;
    const bSlaPolicy = await created("/api/v1/sla/policies", b.token, {
      name: "B Person SLA",
      targets: Object.fromEntries(
        ["low", "normal", "high", "urgent"].map((p) => [
          p,
          { firstResponseMinutes: 60, resolutionMinutes: 480 },
        ]),
      ),
    });
    const bTeam = await created("/api/v1/support-teams", b.token, { name: "B Person team" });
    await call(
      `/api/v1/support-teams/${bTeam.id}/members`,
      bearer(b.token, { method: "PUT", body: { members: [{ userId: b.id }] } }),
    );
    const bTicket = await created("/api/v1/tickets", b.token, {
      subject: "B Person ticket",
      channel: "email",
      requester: { email: b.email, name: "B Person" },
      teamId: bTeam.id,
      orderIds: [bHub.order],
    });
    await call(
      `/api/v1/tickets/${bTicket.id}/comments`,
      bearer(b.token, { method: "POST", body: { body: "B Person reply" } }),
    );
    const aKey = await created("/api/v1/api-keys", a.token, {
      name: "A key",
      scopes: [
        "users:admin",
        "roles:admin",
        "organizations:write",
        "applications:review",
        "api_keys:admin",
        "sync:admin",
        "orders:write",
        "webhooks:admin",
        "tickets:admin",
        "email:admin",
        "chat:write",
      ],
    });

    const matrix: Row[] = [
      { method: "DELETE", path: `/api/v1/auth/sessions/${bSession}` },
      { method: "GET", path: `/api/v1/users/${bUser.id}` },
      { method: "PATCH", path: `/api/v1/users/${bUser.id}`, body: { fullName: "pwned" } },
      { method: "DELETE", path: `/api/v1/users/${bUser.id}` },
      { method: "PUT", path: `/api/v1/users/${bUser.id}/roles`, body: { roleIds: [] } },
      { method: "GET", path: `/api/v1/roles/${bRole.id}` },
      { method: "PATCH", path: `/api/v1/roles/${bRole.id}`, body: { description: "pwned" } },
      { method: "DELETE", path: `/api/v1/roles/${bRole.id}` },
      { method: "GET", path: `/api/v1/organizations/${bOrg.id}` },
      { method: "PATCH", path: `/api/v1/organizations/${bOrg.id}`, body: { name: "pwned" } },
      { method: "DELETE", path: `/api/v1/organizations/${bOrg.id}` },
      { method: "GET", path: `/api/v1/applications/${bApplication}` },
      { method: "POST", path: `/api/v1/applications/${bApplication}/approve`, body: {} },
      { method: "POST", path: `/api/v1/applications/${bApplication}/reject`, body: { reason: "pwned" } },
      { method: "DELETE", path: `/api/v1/api-keys/${bKey.id}` },
      { method: "GET", path: `/api/v1/connections/${bShop.id}` },
      { method: "PATCH", path: `/api/v1/connections/${bShop.id}`, body: { displayName: "pwned" } },
      { method: "DELETE", path: `/api/v1/connections/${bShop.id}` },
      { method: "POST", path: `/api/v1/connections/${bShop.id}/sync`, body: {} },
      { method: "GET", path: `/api/v1/connections/${bErp.id}/mappings` },
      {
        method: "POST",
        path: `/api/v1/connections/${bErp.id}/mappings`,
        body: { kind: "sku", source: "pwned", target: "pwned" },
      },
      {
        method: "PUT",
        path: `/api/v1/connections/${bErp.id}/mappings`,
        body: { mappings: [{ kind: "sku", source: "B-SKU", target: "pwned" }] },
      },
      { method: "PATCH", path: `/api/v1/mappings/${bMapping.id}`, body: { target: "pwned" } },
      { method: "DELETE", path: `/api/v1/mappings/${bMapping.id}` },
      { method: "GET", path: `/api/v1/orders/${bHub.order}` },
      { method: "POST", path: `/api/v1/orders/${bHub.order}/hold`, body: { reason: "pwned" } },
      { method: "POST", path: `/api/v1/orders/${bHub.order}/release`, body: {} },
      {
        method: "POST",
        path: `/api/v1/orders/${bHub.order}/invoices`,
        body: { number: "INV-X", currency: "USD", totalMinor: 1, issuedAt: "2026-11-01T00:00:00Z" },
      },
      { method: "GET", path: `/api/v1/orders/${bHub.order}/assets` },
      { method: "GET", path: `/api/v1/sync/jobs/${bHub.job}` },
      { method: "GET", path: `/api/v1/sync/failures/${bHub.failure}` },
      { method: "PATCH", path: `/api/v1/sync/failures/${bHub.failure}`, body: { payload: bHub.payload } },
      { method: "POST", path: `/api/v1/sync/failures/${bHub.failure}/replay` },
      { method: "POST", path: `/api/v1/sync/failures/${bHub.failure}/resolve`, body: {} },
      { method: "GET", path: `/api/v1/tenants/${b.tenant.id}`, expect: 403 },
      { method: "POST", path: `/api/v1/tenants/${b.tenant.id}/suspend`, body: {}, expect: 403 },
      { method: "POST", path: `/api/v1/tenants/${b.tenant.id}/reactivate`, expect: 403 },
      { method: "GET", path: `/api/v1/webhooks/events/${bWebhookEvent}` },
      { method: "POST", path: `/api/v1/webhooks/events/${bWebhookEvent}/replay` },
      { method: "PATCH", path: `/api/v1/webhooks/endpoints/${bEndpoint.id}`, body: { enabled: false } },
      { method: "DELETE", path: `/api/v1/webhooks/endpoints/${bEndpoint.id}` },
      { method: "GET", path: `/api/v1/sla/policies/${bSlaPolicy.id}` },
      { method: "PATCH", path: `/api/v1/sla/policies/${bSlaPolicy.id}`, body: { atRiskPercent: 50 } },
      { method: "DELETE", path: `/api/v1/sla/policies/${bSlaPolicy.id}` },
      { method: "GET", path: `/api/v1/emails/${String(bEmail?.id)}` },
      { method: "GET", path: `/api/v1/email-templates/${bEmailTemplate.id}` },
      {
        method: "PUT",
        path: `/api/v1/email-templates/${bEmailTemplate.id}`,
        body: { key: "pwned", name: "pwned", subject: "pwned", bodyText: "pwned" },
      },
      {
        method: "POST",
        path: `/api/v1/email-templates/${bEmailTemplate.id}/preview`,
        body: { variables: { x: 1 } },
      },
      { method: "DELETE", path: `/api/v1/email-templates/${bEmailTemplate.id}` },
      { method: "GET", path: `/api/v1/tickets/${bTicket.id}` },
      { method: "PATCH", path: `/api/v1/tickets/${bTicket.id}`, body: { priority: "urgent" } },
      { method: "GET", path: `/api/v1/tickets/${bTicket.id}/comments` },
      { method: "POST", path: `/api/v1/tickets/${bTicket.id}/comments`, body: { body: "pwned" } },
      { method: "POST", path: `/api/v1/tickets/${bTicket.id}/assign`, body: { assigneeId: null } },
      { method: "GET", path: `/api/v1/tickets/${bTicket.id}/audit` },
      { method: "GET", path: `/api/v1/support-teams/${bTeam.id}` },
      { method: "PATCH", path: `/api/v1/support-teams/${bTeam.id}`, body: { name: "pwned" } },
      { method: "DELETE", path: `/api/v1/support-teams/${bTeam.id}` },
      { method: "PUT", path: `/api/v1/support-teams/${bTeam.id}/members`, body: { members: [] } },
      {
        method: "PATCH",
        path: `/api/v1/support-teams/${bTeam.id}/members/${b.id}`,
        body: { available: false },
      },
      {
        method: "POST",
        path: `/api/v1/webhooks/endpoints/${bEndpoint.id}/rotate-secret`,
        body: { graceHours: 0 },
      },
      // Chats: agents' routes answer 404 for B's live and archived chats (and B's object refuses A's
      // tenant); the customers' routes take only a chat token, so A's bearer is a 401.
      ...[bChat.session.id, bArchivedChat.session.id].flatMap((id): Row[] => [
        { method: "GET", path: `/api/v1/chats/${id}` },
        { method: "GET", path: `/api/v1/chats/${id}/messages` },
        { method: "GET", path: `/api/v1/chats/${id}/ws` },
        { method: "GET", path: `/api/v1/chats/${id}/events` },
        { method: "POST", path: `/api/v1/chats/${id}/join` },
        { method: "POST", path: `/api/v1/chats/${id}/messages`, body: { body: "pwned" } },
        { method: "POST", path: `/api/v1/chats/${id}/leave`, body: { returnToBot: true } },
        { method: "POST", path: `/api/v1/chats/${id}/close` },
      ]),
      { method: "GET", path: `${PUBLIC_CHAT}/${bChat.session.id}`, expect: 401 },
      { method: "GET", path: `${PUBLIC_CHAT}/${bChat.session.id}/messages`, expect: 401 },
      {
        method: "POST",
        path: `${PUBLIC_CHAT}/${bChat.session.id}/messages`,
        body: { body: "pwned" },
        expect: 401,
      },
      { method: "GET", path: `${PUBLIC_CHAT}/${bChat.session.id}/ws`, expect: 401 },
      { method: "GET", path: `${PUBLIC_CHAT}/${bChat.session.id}/events`, expect: 401 },
      { method: "POST", path: `${PUBLIC_CHAT}/${bChat.session.id}/handover`, expect: 401 },
      { method: "POST", path: `${PUBLIC_CHAT}/${bChat.session.id}/close`, expect: 401 },
      { method: "POST", path: `${PUBLIC_CHAT}/${bChat.session.id}/token`, expect: 401 },
      // The receivers authenticate by signature, not bearer: A's token (even as TikTok's Authorization
      // header) is no signature for B's connection or endpoint, and nothing is stored for B.
      { method: "POST", path: `/webhooks/shopify/${bShop.id}`, body: { id: 1 }, expect: 401 },
      { method: "POST", path: `/webhooks/tiktok/${bShop.id}`, body: { type: 1 }, expect: 401 },
      {
        method: "POST",
        path: `/webhooks/generic/${bEndpoint.id}`,
        body: { type: "x", data: {} },
        expect: 401,
      },
    ];

    // The checklist is the API itself: every documented route with an {id} has a row above.
    const doc = (await (await call("/openapi.json")).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const documented = Object.entries(doc.paths)
      .filter(([path]) => path.includes("{id}"))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    const covered = matrix.map(
      (r) =>
        `${r.method} ${r.path.replace(/[0-9a-f]{8}-[0-9a-f-]{27}/, "{id}").replace(/\/members\/[0-9a-f-]{36}$/, "/members/{userId}")}`,
    );
    // Rows may repeat a route for several of B's records (a live and an archived chat).
    expect([...new Set(covered)].sort()).toEqual(documented.sort());

    const before = await snapshot(b.tenant.id);
    for (const row of matrix) {
      for (const [who, token] of [
        ["user", a.token],
        ["api key", aKey.key ?? ""],
      ] as const) {
        if (who === "api key" && (row.path.startsWith("/api/v1/auth/") || row.expect === 403)) continue;
        const response = await call(row.path, bearer(token, { method: row.method, body: row.body }));
        const text = await response.text();
        expect(response.status, `${who}: ${row.method} ${row.path} → ${text}`).toBe(row.expect ?? 404);
        expect(text).not.toContain(b.email);
        expect(text).not.toContain("B Person");
      }
    }
    expect(await snapshot(b.tenant.id)).toBe(before);

    // B still works, and its session was not revoked by A's attempt.
    expect((await call(`/api/v1/users/${bUser.id}`, bearer(b.token))).status).toBe(200);
    // Two callers × every route of every capability: well past the default 5 s.
  }, 120_000);

  it("list endpoints and singletons never show another tenant's rows", async () => {
    const a = await signedInUser({ superuser: true });
    const b = await signedInUser({ superuser: true });
    await login(b); // a second session in B
    await created("/api/v1/roles", b.token, { name: "B-only role", permissions: ["users:read"] });
    await created("/api/v1/organizations", b.token, { name: "B-only org" });
    await created("/api/v1/api-keys", b.token, { name: "B-only key", scopes: ["users:read"] });
    const bOnlyErp = await created("/api/v1/connections", b.token, {
      provider: "lingxing",
      account: "B-only-erp",
      displayName: "B-only ERP",
      credentials: { appId: "B-only-erp", appSecret: "B-only-secret" },
    });
    const bOnlyShop = await created("/api/v1/connections", b.token, {
      provider: "shopify",
      account: `b-only-${crypto.randomUUID().slice(0, 8)}.myshopify.com`,
      displayName: "B-only shop",
      credentials: { accessToken: "shpat_b_only_token_01" },
    });
    await hubRows(b.tenant.id, bOnlyShop.id, bOnlyErp.id, "B-only customer");
    const bOnlyEndpoint = await created("/api/v1/webhooks/endpoints", b.token, { name: "B-only endpoint" });
    await startChat(b.tenant, { customer: { name: "B-only customer", email: b.email } });
    await webhookEventRow(b.tenant.id, bOnlyEndpoint.id, "B-only.topic");
    await created("/api/v1/email-templates", b.token, {
      key: "b_only",
      name: "B-only",
      subject: "B-only",
      bodyText: "x",
    });
    await ownerSql()`
      insert into email_messages (tenant_id, from_address, to_addresses, subject, status)
      values (${b.tenant.id}, 'b@b-only.example', '{"b-only@example.org"}', 'B-only email', 'failed')`;
    const bOnlyTeam = await created("/api/v1/support-teams", b.token, { name: "B-only team" });
    await created("/api/v1/tickets", b.token, {
      subject: "B-only ticket",
      channel: "api",
      requester: { name: "B-only customer" },
      teamId: bOnlyTeam.id,
    });
    await created("/api/v1/sla/policies", b.token, {
      name: "B-only SLA",
      isDefault: true,
      targets: Object.fromEntries(
        ["low", "normal", "high", "urgent"].map((p) => [
          p,
          { firstResponseMinutes: 60, resolutionMinutes: 480 },
        ]),
      ),
    });
    await ownerSql()`
      insert into inventory_levels (tenant_id, connection_id, sku, location_id, available, source_updated_at)
      values (${b.tenant.id}, ${bOnlyShop.id}, 'B-only-SKU', 'gid://shopify/Location/B-only', 7, now())`;
    await ownerSql()`
      insert into parcel_trackings (tenant_id, tracking_number, status, latest_event, source_updated_at)
      values (${b.tenant.id}, 'RR990000001CN', 'InTransit', '{"description":"B-only scan"}', now())`;
    await ownerSql()`
      insert into product_assets (tenant_id, connection_id, external_product_id, external_variant_id, sku, title,
                                  image_url, source_updated_at)
      values (${b.tenant.id}, ${bOnlyShop.id}, 'gid://shopify/Product/1', 'gid://shopify/ProductVariant/1',
              'B-only-SKU', 'B-only product', 'https://cdn.shopify.com/b-only.jpg', now())`;
    const bAppId = `wx${Array.from(crypto.getRandomValues(new Uint8Array(8)), (x) => x.toString(16).padStart(2, "0")).join("")}`;
    // The settings PUT proves the pair with WeChat first: the mini-program must exist at the WeChat fake.
    const registered = await fetch(`${inject("wechatApiBase")}/__control/apps`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ appId: bAppId, secret: "bSecret0123456789abcdef" }),
    });
    expect(registered.status).toBe(204);
    const put = await call(
      "/api/v1/settings/wechat",
      bearer(b.token, { method: "PUT", body: { appId: bAppId, appSecret: "bSecret0123456789abcdef" } }),
    );
    expect(put.status).toBe(200);

    for (const path of [
      "/api/v1/users",
      "/api/v1/users?search=example",
      "/api/v1/roles",
      "/api/v1/organizations",
      "/api/v1/organizations?tree=true",
      "/api/v1/applications",
      "/api/v1/api-keys",
      "/api/v1/auth/sessions",
      "/api/v1/settings/wechat",
      "/api/v1/connections",
      "/api/v1/orders",
      "/api/v1/orders?search=b-only",
      "/api/v1/order-lookup?orderNumber=B-1",
      "/api/v1/product-assets?sku=B-only-SKU",
      "/api/v1/inventory",
      "/api/v1/inventory?skuPrefix=B-only",
      `/api/v1/inventory?connectionId=${bOnlyShop.id}`,
      "/api/v1/sync/jobs",
      "/api/v1/sync/failures?status=open,replaying,resolved",
      "/api/v1/sync/failures?search=b-only",
      "/api/v1/sync/status",
      "/api/v1/webhooks/events",
      "/api/v1/webhooks/events?status=failed",
      "/api/v1/webhooks/events?topic=B-only.topic",
      `/api/v1/webhooks/events?endpointId=${bOnlyEndpoint.id}`,
      "/api/v1/webhooks/endpoints",
      "/api/v1/chats",
      "/api/v1/chats?search=b-only",
      "/api/v1/chats?status=bot,waiting,agent,closed",
      "/api/v1/tracking",
      "/api/v1/tracking?status=InTransit",
      "/api/v1/sla/policies",
      "/api/v1/emails",
      "/api/v1/emails?status=failed",
      "/api/v1/email-templates",
      "/api/v1/tickets",
      "/api/v1/tickets?search=b-only",
      "/api/v1/tickets?assignee=none&status=open,pending,on_hold,solved,closed",
      "/api/v1/support-teams",
      "/api/v1/audit",
      "/api/v1/audit?entity=ticket",
      "/api/v1/audit/recent",
      "/api/v1/sla/report?from=2000-01-01&to=2000-12-31",
      `/api/v1/sla/report?from=${new Date().toISOString().slice(0, 10)}&to=${new Date().toISOString().slice(0, 10)}&groupBy=team`,
    ]) {
      const response = await call(path, bearer(a.token));
      const text = await response.text();
      expect(response.status, path).toBe(200);
      for (const secret of [b.id, b.email, b.tenant.id, "B-only", bAppId]) {
        expect(text, `${path} leaks ${secret}`).not.toContain(secret);
      }
    }
  }, 60_000);

  it("a tracking number is per tenant: A's user and API key get 404 for B's parcel and register only their own", async () => {
    const a = await signedInUser({ superuser: true });
    const b = await signedInUser({ superuser: true });
    const number = "RR990000002CN";
    await ownerSql()`
      insert into parcel_registrations (tenant_id, tracking_number, status, registered_at)
      values (${b.tenant.id}, ${number}, 'registered', now())`;
    await ownerSql()`
      insert into parcel_trackings (tenant_id, tracking_number, status, latest_event, source_updated_at)
      values (${b.tenant.id}, ${number}, 'Delivered', '{"description":"B Person signed"}', now())`;
    const aKey = await created("/api/v1/api-keys", a.token, {
      name: "A tracking key",
      scopes: ["tracking:write"],
    });
    const bRows = async () =>
      JSON.stringify([
        await ownerSql()`select * from parcel_registrations where tenant_id = ${b.tenant.id}`,
        await ownerSql()`select * from parcel_trackings where tenant_id = ${b.tenant.id}`,
      ]);
    const before = await bRows();
    for (const token of [a.token, aKey.key ?? ""]) {
      const read = await call(`/api/v1/tracking/${number}`, bearer(token));
      const text = await read.text();
      expect(read.status).toBe(404);
      expect(text).not.toContain("B Person");
    }
    // A registering the same number gets a registration of its own, and none of B's state.
    for (const token of [a.token, aKey.key ?? ""]) {
      const registered = await call(
        "/api/v1/tracking",
        bearer(token, { method: "POST", body: { trackingNumber: number } }),
      );
      expect(registered.status).toBe(202);
      expect(await registered.text()).not.toContain("B Person");
    }
    expect(await bRows()).toBe(before);
  });
});
