// The integration-hub demo for `npm start`: the demo tenant's Shopify store and Lingxing ERP, both
// served by the vendor fakes on fixed local ports, with orders arriving in the store on a timer; and
// the TikTok Shop fake, so TikTok connections made by hand have an API to talk to.
import { createRequire } from "node:module";
import type * as PgModule from "pg";
import { encryptSecret, parseKeyring } from "../src/lib/secret-box.ts";
import { ChannelSettings, credentialsAad, ErpSettings } from "../src/services/connections/sync-settings.ts";
import { type LingxingFake, startLingxingFake } from "../test/fakes/lingxing.ts";
import { type ShopifyFake, startShopifyFake } from "../test/fakes/shopify.ts";
import { startTikTokFake, type TikTokFake } from "../test/fakes/tiktok.ts";

const requireCjs = createRequire(import.meta.url);
const pg = requireCjs("pg") as typeof PgModule;

export const DEMO_SHOP = "demo-store.myshopify.com";
/** Lingxing app ids are 16 characters: the id is also the AES-128 key requests are signed with. */
export const DEMO_LINGXING_APP_ID = "akdemo0000000001";
const DEMO_SHOPIFY_TOKEN = "shpat_demo_local_only_token_0001";
const DEMO_LINGXING_SECRET = "demo-lingxing-app-secret-local-only";
/**
 * The demo app's Shopify client secret: the fake signs its webhook deliveries with it and the demo
 * connection verifies them with it (the README signs its hand-made deliveries with it too).
 */
export const DEMO_SHOPIFY_WEBHOOK_SECRET =
  process.env.DEMO_SHOPIFY_WEBHOOK_SECRET || "demo-shopify-webhook-secret";

export interface DemoHub {
  shopify: ShopifyFake;
  lingxing: LingxingFake;
  tiktok: TikTokFake;
  close(): Promise<void>;
}

/** Starts the fakes (fixed ports so the README's curl lines work) and registers the demo accounts. */
export async function startDemoFakes(options: { ordersEverySeconds: number }): Promise<DemoHub> {
  const shopify = await startShopifyFake({ port: Number(process.env.DEMO_SHOPIFY_PORT ?? 8791) });
  const lingxing = await startLingxingFake({ port: Number(process.env.DEMO_LINGXING_PORT ?? 8792) });
  const tiktok = await startTikTokFake({ port: Number(process.env.DEMO_TIKTOK_PORT ?? 8793) });
  shopify.createShop({
    shop: DEMO_SHOP,
    accessToken: DEMO_SHOPIFY_TOKEN,
    clientSecret: DEMO_SHOPIFY_WEBHOOK_SECRET,
  });
  lingxing.registerApp(DEMO_LINGXING_APP_ID, DEMO_LINGXING_SECRET);
  if (options.ordersEverySeconds > 0) {
    shopify.seedOrders(DEMO_SHOP, 3);
    shopify.startAutoOrders(DEMO_SHOP, { everyMs: options.ordersEverySeconds * 1000, perTick: 1 });
  }
  return {
    shopify,
    lingxing,
    tiktok,
    async close() {
      shopify.stopAutoOrders(DEMO_SHOP);
      await Promise.allSettled([shopify.close(), lingxing.close(), tiktok.close()]);
    },
  };
}

/**
 * The demo tenant's two connections, idempotent: credentials (the Shopify webhook secret included)
 * re-sealed with the current key and values on every start, streams created once and due at once
 * (pulling from a day back, then every minute).
 */
export async function seedDemoConnections(ownerUrl: string, credentialsKeys: string): Promise<void> {
  const client = new pg.Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    const tenant = await client.query<{ id: string }>("select id from tenants where slug = 'demo'");
    const tenantId = tenant.rows[0]?.id;
    if (!tenantId) throw new Error("demo tenant missing");
    const erpId = await upsertConnection(client, credentialsKeys, {
      tenantId,
      kind: "erp",
      provider: "lingxing",
      account: DEMO_LINGXING_APP_ID,
      displayName: "Demo Lingxing ERP",
      settings: ErpSettings.parse({
        batchSize: 50,
        shipmentPollMinutes: 1,
        erpStoreId: "1001",
        requestConcurrency: 2,
      }),
      credentials: { appId: DEMO_LINGXING_APP_ID, appSecret: DEMO_LINGXING_SECRET },
      erpConnectionId: null,
    });
    const channelId = await upsertConnection(client, credentialsKeys, {
      tenantId,
      kind: "channel",
      provider: "shopify",
      account: DEMO_SHOP,
      displayName: "Demo Shopify store",
      settings: ChannelSettings.parse({ resources: ["orders"], intervalMinutes: 1, pageSize: 50 }),
      credentials: { accessToken: DEMO_SHOPIFY_TOKEN, clientSecret: DEMO_SHOPIFY_WEBHOOK_SECRET },
      erpConnectionId: erpId,
    });
    // The fakes start empty on every `npm start` (and hand out the same ids again), so the demo
    // connections' synced state starts over with them: orders (with their transitions, ledger rows,
    // shipments and invoices), jobs, failures, and the streams' checkpoints.
    await client.query("delete from orders where tenant_id = $1 and connection_id = $2", [
      tenantId,
      channelId,
    ]);
    await client.query("delete from sync_jobs where tenant_id = $1 and connection_id = any($2)", [
      tenantId,
      [channelId, erpId],
    ]);
    await client.query("delete from sync_failures where tenant_id = $1 and connection_id = any($2)", [
      tenantId,
      [channelId, erpId],
    ]);
    const since = new Date(Date.now() - 24 * 3600 * 1000).toISOString();
    for (const [connectionId, resource] of [
      [channelId, "orders"],
      [erpId, "shipments"],
      [erpId, "push_backlog"],
    ] as const) {
      await client.query(
        `insert into sync_streams (tenant_id, connection_id, resource, checkpoint, interval_seconds)
         values ($1, $2, $3, $4, 60)
         on conflict (tenant_id, connection_id, resource) do update
           set checkpoint = excluded.checkpoint, next_due_at = now(), lease_owner = null, lease_until = null,
               last_error = null, consecutive_failures = 0`,
        [tenantId, connectionId, resource, resource === "orders" ? { updatedSince: since } : {}],
      );
    }
  } finally {
    await client.end();
  }
}

/**
 * Registers the demo store's webhook subscriptions through the API, as saving a secret in the console
 * would: the seed writes the connection straight into Postgres, which registers nothing, and the fake
 * forgets its subscriptions on every start. Afterwards the fake delivers a signed orders/create (and
 * orders/updated, …) to this Worker for every order it makes. Says how it went, in one line.
 */
export async function registerDemoWebhooks(hub: DemoHub, url: string, password: string): Promise<string> {
  const call = async <T>(method: string, path: string, token: string | null, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}/api/v1${path}`, {
      method,
      headers: {
        "content-type": "application/json",
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text.slice(0, 300)}`);
    return (JSON.parse(text) as { data: T }).data;
  };
  const { accessToken } = await call<{ accessToken: string }>("POST", "/auth/login", null, {
    tenant: "demo",
    email: "admin@demo.local",
    password,
  });
  const connections = await call<{ items: { id: string; provider: string; account: string }[] }>(
    "GET",
    "/connections?pageSize=200",
    accessToken,
  );
  const store = connections.items.find((c) => c.provider === "shopify" && c.account === DEMO_SHOP);
  if (!store) throw new Error(`the demo connection to ${DEMO_SHOP} is missing`);
  const saved = Date.now();
  // Saving the credentials (unchanged) asks the hub to sync the store's subscriptions, on its queue.
  await call("PATCH", `/connections/${store.id}`, accessToken, {
    credentials: { accessToken: DEMO_SHOPIFY_TOKEN, clientSecret: DEMO_SHOPIFY_WEBHOOK_SECRET },
  });
  type State = { status: string; syncedAt: string; reason?: string; error?: string };
  for (let i = 0; i < 60; i++) {
    const view = await call<{ webhooks: { state: State | null } | null }>(
      "GET",
      `/connections/${store.id}`,
      accessToken,
    );
    const state = view.webhooks?.state;
    // A state from before this start describes subscriptions the restarted fake no longer has.
    if (state && Date.parse(state.syncedAt) >= saved - 1000) {
      if (state.status === "registered") {
        const topics = hub.shopify.listWebhookSubscriptions(DEMO_SHOP).map((s) => s.topic);
        return `${topics.length} subscriptions (${topics.join(", ")}) for connection ${store.id}`;
      }
      return `not registered (${state.status}: ${state.reason ?? state.error ?? "no reason given"})`;
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return "not registered yet (the hub's queue has not run the sync)";
}

async function upsertConnection(
  client: InstanceType<typeof pg.Client>,
  credentialsKeys: string,
  input: {
    tenantId: string;
    kind: "channel" | "erp";
    provider: string;
    account: string;
    displayName: string;
    settings: Record<string, unknown>;
    credentials: Record<string, unknown>;
    erpConnectionId: string | null;
  },
): Promise<string> {
  const existing = await client.query<{ id: string }>(
    "select id from connections where tenant_id = $1 and provider = $2 and account = $3",
    [input.tenantId, input.provider, input.account],
  );
  const id = existing.rows[0]?.id ?? crypto.randomUUID();
  // As src/services/connections/credentials-box.ts seals them (that module is not loadable by plain Node).
  const sealed = await encryptSecret(
    parseKeyring(credentialsKeys),
    JSON.stringify(input.credentials),
    credentialsAad(input.tenantId, id),
  );
  await client.query(
    `insert into connections (id, tenant_id, kind, provider, account, display_name, settings, credentials_sealed, erp_connection_id)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9)
     on conflict (tenant_id, provider, account) do update set credentials_sealed = excluded.credentials_sealed,
       erp_connection_id = excluded.erp_connection_id, updated_at = now()`,
    [
      id,
      input.tenantId,
      input.kind,
      input.provider,
      input.account,
      input.displayName,
      input.settings,
      sealed,
      input.erpConnectionId,
    ],
  );
  return id;
}
