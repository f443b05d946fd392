import { type Cache, createCache } from "../cache/client";
import { createDatabase, type Database } from "../db/client";
import { type AppConfig, readConfig } from "../lib/config";
import { createLogger, type Logger } from "../lib/logger";
import type { IoMetrics } from "../lib/metrics";
import type { Principal } from "./auth/principal";

export type Actor =
  | { type: "user"; userId: string }
  | { type: "apiKey"; keyId: string }
  | { type: "system"; name: string }
  | { type: "webhook"; source: string }
  | { type: "applicant"; applicationId: string };

/**
 * What every service verb receives: the infrastructure of the current unit of work (a request, a queue
 * batch, a cron run, a Durable Object call) and, once authenticated, who is acting for which tenant.
 */
export interface ServiceContext {
  readonly config: AppConfig;
  readonly db: Database;
  readonly cache: Cache;
  readonly logger: Logger;
  readonly metrics: IoMetrics;
  readonly queues: { channelPull: Queue; erpPush: Queue; events: Queue; webhooks: Queue };
  /** One rate governor per upstream account (src/durable-objects/rate-governor.ts). */
  readonly governors: Env["RATE_GOVERNORS"];
  /** Work that may finish after the response (cache writes, closing sockets). */
  waitUntil(promise: Promise<unknown>): void;
  /** Set when a read was served from Redis because Postgres failed; HTTP says so in `X-Degraded`. */
  readonly degraded: Set<"cache">;
  tenantId?: string;
  actor?: Actor;
  /** Set by the auth middleware (src/http/auth.ts). */
  principal?: Principal;
}

export function createServiceContext(input: {
  env: Env;
  waitUntil: (promise: Promise<unknown>) => void;
  metrics: IoMetrics;
  logFields?: Record<string, unknown>;
}): ServiceContext {
  const config = readConfig(input.env);
  const logger = createLogger(config.logLevel, input.logFields);
  // Built on first use: a request that never touches Postgres or Redis (404, docs) pays nothing for them.
  let db: Database | undefined;
  let cache: Cache | undefined;
  return {
    config,
    get db() {
      db ??= createDatabase(config);
      return db;
    },
    get cache() {
      cache ??= createCache(config, logger);
      return cache;
    },
    logger,
    metrics: input.metrics,
    queues: {
      channelPull: input.env.CHANNEL_PULL_QUEUE,
      erpPush: input.env.ERP_PUSH_QUEUE,
      events: input.env.EVENTS_QUEUE,
      webhooks: input.env.WEBHOOKS_QUEUE,
    },
    governors: input.env.RATE_GOVERNORS,
    waitUntil: input.waitUntil,
    degraded: new Set(),
  };
}
