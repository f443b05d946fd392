// Integration-hub fixtures for workers tests: connections created through the real API by a signed-in
// user (so they are sealed, validated and get their streams exactly as in production).
import { bearer } from "./auth";
import { call, envelope } from "./harness";

export const CONNECTIONS = "/api/v1/connections";
export const MAPPINGS = "/api/v1/mappings";

export interface SyncStream {
  resource: "orders" | "inventory" | "shipments" | "push_backlog";
  intervalSeconds: number;
  nextDueAt: string;
  lastRunAt: string | null;
  lastSuccessAt: string | null;
  lastError: string | null;
  consecutiveFailures: number;
  leased: boolean;
}

export interface Connection {
  id: string;
  kind: "channel" | "erp";
  provider: string;
  account: string;
  displayName: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  erpConnectionId: string | null;
  credentials: { set: true; keyId: string };
  streams: SyncStream[];
  createdAt: string;
  updatedAt: string;
}

export interface Mapping {
  id: string;
  erpConnectionId: string;
  kind: "sku" | "warehouse" | "logistics";
  source: string;
  target: string;
  note: string | null;
  createdAt: string;
  updatedAt: string;
}

export function randomHex(bytes: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) =>
    b.toString(16).padStart(2, "0"),
  ).join("");
}

/** A shop domain no other test uses (fakes partition their state by it). */
export function randomShopDomain(): string {
  return `shop-${randomHex(5)}.myshopify.com`;
}

/** A Shopify Admin API token shaped like the real ones, unique per call so leaks are traceable. */
export function shopifyCredentials(): { accessToken: string } {
  return { accessToken: `shpat_${randomHex(16)}` };
}

export function lingxingCredentials(appId = `ak_${randomHex(6)}`): { appId: string; appSecret: string } {
  return { appId, appSecret: `lxsecret${randomHex(12)}` };
}

export interface ChannelConnectionOptions {
  account?: string;
  displayName?: string;
  credentials?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  erpConnectionId?: string | null;
  enabled?: boolean;
}

async function createConnection(token: string, body: Record<string, unknown>): Promise<Connection> {
  const response = await call(CONNECTIONS, bearer(token, { method: "POST", body }));
  const parsed = await envelope<Connection>(response);
  if (response.status !== 201 || !parsed.data) {
    throw new Error(`create connection failed: ${response.status} ${JSON.stringify(parsed.error)}`);
  }
  return parsed.data;
}

/**
 * A Shopify connection (defaults: a fresh shop domain and token, default settings). The caller needs
 * `sync:admin`. Returns the API's view plus the credentials sent, for tests that drive a fake with them.
 */
export async function createChannelConnection(
  token: string,
  options: ChannelConnectionOptions = {},
): Promise<Connection & { sentCredentials: Record<string, unknown> }> {
  const credentials = options.credentials ?? shopifyCredentials();
  const connection = await createConnection(token, {
    provider: "shopify",
    account: options.account ?? randomShopDomain(),
    displayName: options.displayName ?? "Test shop",
    credentials,
    ...(options.settings !== undefined ? { settings: options.settings } : {}),
    ...(options.erpConnectionId !== undefined ? { erpConnectionId: options.erpConnectionId } : {}),
    ...(options.enabled !== undefined ? { enabled: options.enabled } : {}),
  });
  return { ...connection, sentCredentials: credentials };
}

export interface ErpConnectionOptions {
  account?: string;
  displayName?: string;
  credentials?: Record<string, unknown>;
  settings?: Record<string, unknown>;
  enabled?: boolean;
}

/** A Lingxing connection (defaults: a fresh app id as account and in the credentials, default settings). */
export async function createErpConnection(
  token: string,
  options: ErpConnectionOptions = {},
): Promise<Connection & { sentCredentials: Record<string, unknown> }> {
  const credentials = options.credentials ?? lingxingCredentials(options.account);
  const connection = await createConnection(token, {
    provider: "lingxing",
    account: options.account ?? String(credentials.appId),
    displayName: options.displayName ?? "Test ERP",
    credentials,
    ...(options.settings !== undefined ? { settings: options.settings } : {}),
    ...(options.enabled !== undefined ? { enabled: options.enabled } : {}),
  });
  return { ...connection, sentCredentials: credentials };
}

/** Adds mappings to an ERP connection through the bulk endpoint. */
export async function putMappings(
  token: string,
  erpConnectionId: string,
  mappings: { kind: Mapping["kind"]; source: string; target: string; note?: string | null }[],
): Promise<{ created: number; updated: number; unchanged: number }> {
  const response = await call(
    `${CONNECTIONS}/${erpConnectionId}/mappings`,
    bearer(token, { method: "PUT", body: { mappings } }),
  );
  const parsed = await envelope<{ created: number; updated: number; unchanged: number }>(response);
  if (response.status !== 200 || !parsed.data) {
    throw new Error(`put mappings failed: ${response.status} ${JSON.stringify(parsed.error)}`);
  }
  return parsed.data;
}
