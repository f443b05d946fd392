// Ticket fixtures for workers tests: tickets, teams and members through the real API; SLA policies and orders
// arranged as the owner (their own APIs belong to other areas). Every test makes its own tenant.
import { bearer, createUser, login, type TestUser } from "./auth";
import { call, envelope, ownerSql, type TestTenant } from "./harness";
import { createChannelConnection } from "./hub";

export const TICKETS = "/api/v1/tickets";
export const TEAMS = "/api/v1/support-teams";

export interface TicketBody {
  id: string;
  number: number;
  subject: string;
  description: string;
  status: string;
  priority: string;
  channel: string;
  requester: { email: string | null; name: string | null; phone: string | null };
  assignee: { id: string; name: string; email: string | null } | null;
  team: { id: string; name: string } | null;
  tags: string[];
  chatSessionId: string | null;
  createdBy: Record<string, unknown> | null;
  sla: {
    policyId: string | null;
    paused: boolean;
    pausedAt: string | null;
    firstResponse: SlaTarget;
    resolution: SlaTarget;
  };
  firstRespondedAt: string | null;
  solvedAt: string | null;
  closedAt: string | null;
  commentCount: number;
  orders: Array<{ id: string; externalNumber: string; status: string; totalMinor: number }>;
  version: number;
  createdAt: string;
  updatedAt: string;
}

export interface SlaTarget {
  dueAt: string | null;
  elapsedSeconds: number;
  status: "ok" | "at_risk" | "breached" | null;
  breached: boolean;
  atRisk: boolean;
  breachedAt: string | null;
  atRiskAt: string | null;
}

export interface TeamBody {
  id: string;
  name: string;
  timezone: string;
  businessHours: Record<string, [string, string][]> | null;
  holidays: string[];
  assignmentStrategy: string;
  slaPolicy: { id: string; name: string } | null;
  members: Array<{
    userId: string;
    position: number;
    available: boolean;
    active: boolean;
    maxOpenTickets: number | null;
    openTickets: number;
    lastAssignedAt: string | null;
  }>;
  activeTickets: number;
  unassignedTickets: number;
}

export interface AuditBody {
  id: string;
  entityType: string;
  entityId: string;
  action: string;
  actor: Record<string, unknown>;
  actorKey: string;
  changes: Record<string, { before: unknown; after: unknown }>;
  requestId: string | null;
  occurredAt: string;
}

/** A JSON request through the Worker: status and parsed envelope. */
export async function api<T>(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
) {
  const response = await call(path, bearer(token, { method, body, headers }));
  return { status: response.status, headers: response.headers, body: await envelope<T>(response) };
}

export async function openTicket(token: string, body: Record<string, unknown> = {}): Promise<TicketBody> {
  const { status, body: envelopeBody } = await api<TicketBody>(token, "POST", TICKETS, {
    subject: "Where is my order?",
    channel: "email",
    requester: { email: "ava.thompson@example.com", name: "Ava Thompson" },
    ...body,
  });
  if (status !== 201 || !envelopeBody.data)
    throw new Error(`open ticket: ${status} ${JSON.stringify(envelopeBody)}`);
  return envelopeBody.data;
}

export async function createTeam(token: string, body: Record<string, unknown> = {}): Promise<TeamBody> {
  const { status, body: envelopeBody } = await api<TeamBody>(token, "POST", TEAMS, {
    name: `Team ${crypto.randomUUID().slice(0, 6)}`,
    ...body,
  });
  if (status !== 201 || !envelopeBody.data)
    throw new Error(`create team: ${status} ${JSON.stringify(envelopeBody)}`);
  return envelopeBody.data;
}

export async function setMembers(
  token: string,
  teamId: string,
  members: Array<{ userId: string; available?: boolean; maxOpenTickets?: number | null }>,
): Promise<TeamBody> {
  const { status, body } = await api<TeamBody>(token, "PUT", `${TEAMS}/${teamId}/members`, { members });
  if (status !== 200 || !body.data) throw new Error(`set members: ${status} ${JSON.stringify(body)}`);
  return body.data;
}

/** `count` agents (users with tickets:write) of the tenant, named in order (Agent 1, Agent 2, …). */
export async function agents(tenant: TestTenant, count: number): Promise<TestUser[]> {
  const users: TestUser[] = [];
  for (let i = 1; i <= count; i++) {
    users.push(await createUser(tenant, { fullName: `Agent ${i}`, permissions: ["tickets:write"] }));
  }
  return users;
}

/** An agent of the tenant, signed in. */
export async function signedInAgent(tenant: TestTenant, permissions = ["tickets:write"]) {
  const user = await createUser(tenant, { permissions });
  const tokens = await login(user);
  return { ...user, token: tokens.accessToken };
}

export interface Targets {
  firstResponseMinutes: number | null;
  resolutionMinutes: number | null;
}

/** An SLA policy row (as the owner): 24/7 unless `businessHoursOnly`. */
export async function slaPolicy(
  tenant: TestTenant,
  options: {
    isDefault?: boolean;
    businessHoursOnly?: boolean;
    atRiskPercent?: number;
    targets?: Partial<Record<"low" | "normal" | "high" | "urgent", Targets>>;
  } = {},
): Promise<string> {
  const target = (first: number, resolution: number) => ({
    firstResponseMinutes: first,
    resolutionMinutes: resolution,
  });
  const targets = {
    low: target(24 * 60, 5 * 24 * 60),
    normal: target(8 * 60, 3 * 24 * 60),
    high: target(60, 24 * 60),
    urgent: target(15, 4 * 60),
    ...options.targets,
  };
  const [row] = await ownerSql()`
    insert into sla_policies (tenant_id, name, is_default, targets, business_hours_only, at_risk_percent)
    values (${tenant.id}, ${`Policy ${crypto.randomUUID().slice(0, 6)}`}, ${options.isDefault ?? false},
            ${JSON.stringify(targets)}::jsonb, ${options.businessHoursOnly ?? false}, ${options.atRiskPercent ?? 80})
    returning id`;
  return String(row?.id);
}

/** An order of the tenant (through a Shopify connection made with `adminToken`, row inserted as the owner). */
export async function orderOf(
  tenant: TestTenant,
  adminToken: string,
  number = `#${Math.floor(Math.random() * 100000)}`,
): Promise<string> {
  const shop = await createChannelConnection(adminToken);
  const [row] = await ownerSql()`
    insert into orders (tenant_id, connection_id, channel, store_id, external_id, external_number, currency,
                        total_minor, customer_email, customer_name, search_text, data, placed_at, channel_updated_at)
    values (${tenant.id}, ${shop.id}, 'shopify', ${shop.account}, ${crypto.randomUUID()}, ${number}, 'USD', 4480,
            'ava.thompson@example.com', 'Ava Thompson', ${`${number} ava`}, '{}', now(), now())
    returning id`;
  return String(row?.id);
}

/** Audit rows of an entity straight from Postgres (as the owner), oldest first. */
export async function auditRowsOf(tenantId: string, entityId: string) {
  return ownerSql()`
    select entity_type, action, actor_key, changes, request_id from audit_log
     where tenant_id = ${tenantId} and entity_id = ${entityId} order by occurred_at, id`;
}

/** An API key of the tenant with `scopes` (the caller needs api_keys:admin). */
export async function apiKeyFor(adminToken: string, scopes: string[]): Promise<string> {
  const { status, body } = await api<{ key: string }>(adminToken, "POST", "/api/v1/api-keys", {
    name: `key ${crypto.randomUUID().slice(0, 6)}`,
    scopes,
  });
  if (status !== 201 || !body.data) throw new Error(`api key: ${status} ${JSON.stringify(body)}`);
  return body.data.key;
}
