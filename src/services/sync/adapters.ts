import type { ChannelAdapter } from "../../adapters/channels/interface";
import { createShopifyAdapter } from "../../adapters/channels/shopify/client";
import type { ErpAdapter } from "../../adapters/erp/interface";
import { createLingxingAdapter } from "../../adapters/erp/lingxing/client";
import { PreconditionFailedError } from "../../lib/errors";
import type { ChannelSettings, ErpSettings } from "../connections/connection-config";
import type { ServiceContext } from "../context";
import { governorGate } from "../upstream/governor-gate";
import { redisLingxingTokenStore } from "./lingxing-tokens";

/** A connection as the engine needs it: settings parsed, credentials opened (src/services/connections). */
export interface SyncConnection {
  id: string;
  tenantId: string;
  kind: "channel" | "erp";
  provider: string;
  account: string;
  enabled: boolean;
  settings: Record<string, unknown>;
  erpConnectionId: string | null;
  credentials: Record<string, unknown>;
}

/** The governor of one upstream account: every path to that account shares it. */
export function governorKey(provider: string, account: string): string {
  return `${provider}:${account}`;
}

/**
 * Shopify's documented standard-plan bucket, used until the first response's `throttleStatus` teaches the
 * governor the shop's real limits (Plus shops have larger ones).
 */
const SHOPIFY_DEFAULT_BUCKET = { kind: "cost_bucket", maximumAvailable: 1000, restoreRate: 50 } as const;

function breakerOf(ctx: ServiceContext) {
  return {
    failureThreshold: ctx.config.upstream.breakerFailureThreshold,
    openMs: ctx.config.upstream.breakerOpenMs,
  };
}

export function channelAdapterFor(ctx: ServiceContext, connection: SyncConnection): ChannelAdapter {
  switch (connection.provider) {
    case "shopify":
      return createShopifyAdapter({
        shopDomain: connection.account,
        credentials: { accessToken: String(connection.credentials.accessToken) },
        apiBase: ctx.config.shopifyApiBase,
        timeoutMs: ctx.config.upstream.timeoutMs,
        gate: governorGate(
          ctx.governors,
          governorKey("shopify", connection.account),
          SHOPIFY_DEFAULT_BUCKET,
          {
            breaker: breakerOf(ctx),
          },
        ),
      });
    default:
      throw new PreconditionFailedError(`Channel '${connection.provider}' has no adapter yet`);
  }
}

export function erpAdapterFor(ctx: ServiceContext, connection: SyncConnection): ErpAdapter {
  switch (connection.provider) {
    case "lingxing": {
      const appId = String(connection.credentials.appId);
      const settings = connection.settings as ErpSettings;
      return createLingxingAdapter({
        credentials: { appId, appSecret: String(connection.credentials.appSecret) },
        apiBase: ctx.config.lingxingApiBase,
        timeoutMs: ctx.config.upstream.timeoutMs,
        gate: governorGate(
          ctx.governors,
          governorKey("lingxing", appId),
          {
            kind: "concurrency",
            permits: settings.requestConcurrency ?? 1,
            // Lingxing returns a held token after two minutes even when the request never completed.
            leaseMs: 120_000,
          },
          { breaker: breakerOf(ctx) },
        ),
        tokens: redisLingxingTokenStore(ctx, appId),
      });
    }
    default:
      throw new PreconditionFailedError(`ERP '${connection.provider}' has no adapter yet`);
  }
}

export function channelSettingsOf(connection: SyncConnection): ChannelSettings {
  return connection.settings as ChannelSettings;
}

export function erpSettingsOf(connection: SyncConnection): ErpSettings {
  return connection.settings as ErpSettings;
}
