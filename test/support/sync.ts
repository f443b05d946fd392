import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { inject } from "vitest";
import worker from "../../src/index";
import { signedInUser } from "./auth";
import { ownerSql } from "./harness";
import { createChannelConnection, createErpConnection, shopifyCredentials } from "./hub";

/**
 * Deterministic queues for engine tests: the Worker's producer bindings are replaced by recorders, and
 * `drain()` delivers what was sent to the Worker's real `queue` handler — the same consumer code the
 * runtime calls — round after round until nothing is left. Retries are redelivered (attempts + 1) without
 * waiting out their delay; messages for other tenants (a cron claims every due stream in the database)
 * are dropped so parallel tests never act on each other's data.
 */
export interface SentMessage {
  /** Kept across redeliveries, as the runtime keeps a message's id across its retries. */
  id: string;
  queue: string;
  body: unknown;
  attempts: number;
  delaySeconds?: number;
}

export function simulatedQueues(tenantId: string, overrides: Partial<Env> = {}) {
  const pending: SentMessage[] = [];
  const log: SentMessage[] = [];
  const recorder = (queue: string) =>
    ({
      async send(body: unknown, options?: QueueSendOptions) {
        const message = {
          id: `sim-${crypto.randomUUID()}`,
          queue,
          body,
          attempts: 1,
          delaySeconds: options?.delaySeconds,
        };
        pending.push(message);
        log.push(message);
      },
      async sendBatch(messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) {
        for (const m of messages) {
          const message = {
            id: `sim-${crypto.randomUUID()}`,
            queue,
            body: m.body,
            attempts: 1,
            delaySeconds: m.delaySeconds ?? options?.delaySeconds,
          };
          pending.push(message);
          log.push(message);
        }
      },
    }) as unknown as Queue;
  const testEnv: Env = {
    ...env,
    CHANNEL_PULL_QUEUE: recorder("channel-pull"),
    ERP_PUSH_QUEUE: recorder("erp-push"),
    WEBHOOKS_QUEUE: recorder("webhooks"),
    ...overrides,
  };
  const ours = (body: unknown) => (body as { tenantId?: unknown }).tenantId === tenantId;

  async function deliver(queue: string, messages: SentMessage[]) {
    const batch = createMessageBatch(
      queue,
      messages.map((m) => ({
        id: m.id,
        timestamp: new Date(),
        attempts: m.attempts,
        body: m.body,
      })),
    );
    const ctx = createExecutionContext();
    await worker.queue(batch, testEnv, ctx);
    const result = await getQueueResult(batch, ctx);
    const retried = new Set(result.retryMessages.map((r: { msgId: string }) => r.msgId));
    batch.messages.forEach((message, i) => {
      const original = messages[i];
      if (original && retried.has(message.id)) pending.push({ ...original, attempts: original.attempts + 1 });
    });
    return {
      acked: result.explicitAcks.length + (result.ackAll ? messages.length : 0),
      retried: retried.size,
    };
  }

  return {
    env: testEnv,
    /** Every message sent since the start, in order (including other tenants'). */
    log,
    /** Sends a message as a producer would (it is delivered by the next `drain`). */
    async send(queue: "channel-pull" | "erp-push" | "webhooks", body: unknown) {
      const message = { id: `sim-${crypto.randomUUID()}`, queue, body, attempts: 1 };
      pending.push(message);
      log.push(message);
    },
    /**
     * Delivers pending messages until none are left or `maxRounds` is reached; a message retried more
     * than `maxAttempts` times is given up (as the runtime would move it to its dead-letter queue).
     */
    async drain(options: { maxRounds?: number; maxAttempts?: number; batchSize?: number } = {}) {
      const stats = { delivered: 0, retried: 0, rounds: 0, gaveUp: [] as SentMessage[] };
      for (let round = 0; round < (options.maxRounds ?? 50) && pending.length > 0; round++) {
        stats.rounds += 1;
        const now = pending.splice(0).filter((m) => ours(m.body));
        const exhausted = now.filter((m) => m.attempts > (options.maxAttempts ?? 5));
        stats.gaveUp.push(...exhausted);
        const live = now.filter((m) => m.attempts <= (options.maxAttempts ?? 5));
        for (const queue of ["webhooks", "channel-pull", "erp-push"]) {
          const forQueue = live.filter((m) => m.queue === queue);
          const size = options.batchSize ?? 25;
          for (let i = 0; i < forQueue.length; i += size) {
            const result = await deliver(queue, forQueue.slice(i, i + size));
            stats.delivered += Math.min(size, forQueue.length - i);
            stats.retried += result.retried;
          }
        }
      }
      return stats;
    },
    pending,
  };
}

/** JSON control calls to a fake's `/__control/` API (the fakes run in Node; workerd reaches them by HTTP). */
async function control<T>(
  base: string,
  path: string,
  init?: { method?: string; body?: unknown },
): Promise<T> {
  const response = await fetch(`${base}/__control/${path}`, {
    method: init?.method ?? (init?.body === undefined ? "GET" : "POST"),
    headers: { "content-type": "application/json" },
    ...(init?.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  if (!response.ok) throw new Error(`fake control ${path}: ${response.status} ${await response.text()}`);
  return (response.status === 204 ? undefined : await response.json()) as T;
}

export const shopifyFake = {
  control: <T>(path: string, init?: { method?: string; body?: unknown }) =>
    control<T>(inject("shopifyFakeUrl"), path, init),
  createShop: (
    shop: string,
    accessToken: string,
    limits: { maximumAvailable?: number; restoreRate?: number } = {},
  ) => control(inject("shopifyFakeUrl"), "shops", { body: { shop, accessToken, ...limits } }),
  seedOrders: (shop: string, count: number) =>
    control<{ orders: { id: string; name: string; updatedAt: string }[] }>(
      inject("shopifyFakeUrl"),
      "orders",
      {
        body: { shop, count },
      },
    ),
  updateOrder: (shop: string, id: string, patch: Record<string, unknown>) =>
    control<{ order: { id: string; updatedAt: string } }>(inject("shopifyFakeUrl"), "orders/update", {
      body: { shop, id, patch },
    }),
  failNext: (shop: string, failure: number | string, retryAfterSeconds?: number) =>
    control(inject("shopifyFakeUrl"), "fail-next", { body: { shop, failure, retryAfterSeconds } }),
  stats: (shop: string) =>
    control<{ requests: number; throttled: number; overLimit: number; injected: Record<string, number> }>(
      inject("shopifyFakeUrl"),
      `stats?shop=${encodeURIComponent(shop)}`,
    ),
  fulfillments: (shop: string) =>
    control<{
      fulfillments: {
        id: string;
        orderId: string;
        trackingInfo: { company: string | null; number: string | null }[];
      }[];
    }>(inject("shopifyFakeUrl"), `fulfillments?shop=${encodeURIComponent(shop)}`),
};

export const lingxingFake = {
  control: <T>(path: string, init?: { method?: string; body?: unknown }) =>
    control<T>(inject("lingxingFakeUrl"), path, init),
  registerApp: (appId: string, appSecret: string, skus?: string[]) =>
    control(inject("lingxingFakeUrl"), "apps", { body: { appId, appSecret, ...(skus ? { skus } : {}) } }),
  failNext: (appId: string, failure: string | number) =>
    control(inject("lingxingFakeUrl"), "fail-next", { body: { appId, failure } }),
  ship: (appId: string, platformOrderNo: string, carrier: string, trackingNumber: string) =>
    control<{ woNumber: string }>(inject("lingxingFakeUrl"), "ship", {
      body: { appId, platformOrderNo, carrier, trackingNumber },
    }),
  orders: (appId: string) =>
    control<{ orders: { platformOrderNo: string; items: { sku: string; quantity: number }[] }[] }>(
      inject("lingxingFakeUrl"),
      `orders?appId=${encodeURIComponent(appId)}`,
    ),
  stats: (appId: string) =>
    control<Record<string, unknown>>(inject("lingxingFakeUrl"), `stats?appId=${encodeURIComponent(appId)}`),
};

/** A tenant with a Lingxing ERP connection and a Shopify shop pushing to it, both registered with the fakes. */
export async function setUpHub(
  options: {
    pageSize?: number;
    batchSize?: number;
    seed?: number;
    erpSettings?: Record<string, unknown>;
    shop?: { maximumAvailable?: number; restoreRate?: number };
    /** The Shopify app's client secret (webhook signing), and one being rotated out. */
    clientSecret?: string;
    previousClientSecret?: string;
  } = {},
) {
  const user = await signedInUser({ superuser: true });
  const erp = await createErpConnection(user.token, {
    // Lingxing app ids are 16 characters (the id is the AES-128 signing key).
    account: `ak_${crypto.randomUUID().replace(/-/g, "").slice(0, 13)}`,
    settings: { batchSize: options.batchSize ?? 10, erpStoreId: "1001", ...options.erpSettings },
  });
  const appId = String(erp.sentCredentials.appId);
  await lingxingFake.registerApp(appId, String(erp.sentCredentials.appSecret));
  const channel = await createChannelConnection(user.token, {
    credentials: {
      ...shopifyCredentials(),
      ...(options.clientSecret ? { clientSecret: options.clientSecret } : {}),
      ...(options.previousClientSecret ? { previousClientSecret: options.previousClientSecret } : {}),
    },
    erpConnectionId: erp.id,
    settings: {
      pageSize: options.pageSize ?? 3,
      backfillFrom: new Date(Date.now() - 3600_000).toISOString(),
    },
  });
  const shop = channel.account;
  await shopifyFake.createShop(shop, String(channel.sentCredentials.accessToken), options.shop);
  const seeded = options.seed ? (await shopifyFake.seedOrders(shop, options.seed)).orders : [];
  const queues = simulatedQueues(user.tenant.id);
  const pullOrders = () =>
    queues.send("channel-pull", {
      type: "stream.run",
      tenantId: user.tenant.id,
      connectionId: channel.id,
      resource: "orders",
      trigger: "manual",
    });
  const pollShipments = () =>
    queues.send("channel-pull", {
      type: "stream.run",
      tenantId: user.tenant.id,
      connectionId: erp.id,
      resource: "shipments",
      trigger: "manual",
    });
  return { user, erp, appId, channel, shop, seeded, queues, pullOrders, pollShipments };
}

export async function ordersOf(tenantId: string) {
  return (await ownerSql()`
    select id, external_id, status, version from orders where tenant_id = ${tenantId} order by placed_at, external_id`) as unknown as {
    id: string;
    external_id: string;
    status: string;
    version: number;
  }[];
}
