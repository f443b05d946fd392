import type { ChannelAdapter } from "../../adapters/channels/interface";
import { createShopifyAdapter } from "../../adapters/channels/shopify/client";
import { createTikTokAdapter } from "../../adapters/channels/tiktok/client";
import type { ErpAdapter } from "../../adapters/erp/interface";
import { createLingxingAdapter } from "../../adapters/erp/lingxing/client";
import { PreconditionFailedError } from "../../lib/errors";
import type { ChannelSettings, ConnectionKind, ErpSettings } from "../connections/connection-config";
import type { ServiceContext } from "../context";
import { governorGate } from "../upstream/governor-gate";
import { redisLingxingTokenStore } from "./lingxing-tokens";

/** A connection as the engine needs it: settings parsed, credentials opened (src/services/connections). */
export interface SyncConnection {
  id: string;
  tenantId: string;
  /** AI and email connections never reach the engine (its verbs check the kind), but may be loaded. */
  kind: ConnectionKind;
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

/**
 * TikTok Shop meters requests per second per app and shop. A bucket of request permits (cost 1 each)
 * restored at 10 per second, bursting to 10, keeps every path to one shop under that whatever the number
 * of isolates, and a 429's Retry-After (or TikTok's one-second window) blocks it until the window passes.
 * Conservative on purpose: TikTok grants each app its own limits and does not publish one number.
 */
const TIKTOK_REQUEST_BUCKET = { kind: "cost_bucket", maximumAvailable: 10, restoreRate: 10 } as const;

function breakerOf(ctx: ServiceContext) {
  return {
    failureThreshold: ctx.config.upstream.breakerFailureThreshold,
    openMs: ctx.config.upstream.breakerOpenMs,
  };
}

/**
 * How patient an interactive caller is (customer-service order lookup): fewer attempts and a shorter wait
 * for the governor than the queue consumers, which can afford to wait and retry. Default: the engine's.
 */
export interface ChannelCallPatience {
  /** Attempts per request, the first included. */
  maxAttempts?: number;
  /** Longest wait for a permit from the account's governor. */
  maxWaitMs?: number;
}

export function channelAdapterFor(
  ctx: ServiceContext,
  connection: SyncConnection,
  patience: ChannelCallPatience = {},
): ChannelAdapter {
  const gateOptions = {
    breaker: breakerOf(ctx),
    ...(patience.maxWaitMs === undefined ? {} : { defaultMaxWaitMs: patience.maxWaitMs }),
  };
  const attempts = patience.maxAttempts === undefined ? {} : { maxAttempts: patience.maxAttempts };
  switch (connection.provider) {
    case "shopify":
      return createShopifyAdapter({
        shopDomain: connection.account,
        credentials: { accessToken: String(connection.credentials.accessToken) },
        apiBase: ctx.config.shopifyApiBase,
        timeoutMs: ctx.config.upstream.timeoutMs,
        ...attempts,
        gate: governorGate(
          ctx.governors,
          governorKey("shopify", connection.account),
          SHOPIFY_DEFAULT_BUCKET,
          gateOptions,
        ),
      });
    case "tiktok": {
      const credentials = connection.credentials;
      return createTikTokAdapter({
        shopId: connection.account,
        credentials: {
          appKey: String(credentials.appKey),
          appSecret: String(credentials.appSecret),
          accessToken: String(credentials.accessToken),
          shopCipher: String(credentials.shopCipher),
        },
        apiBase: ctx.config.tiktokApiBase,
        timeoutMs: ctx.config.upstream.timeoutMs,
        ...attempts,
        gate: governorGate(
          ctx.governors,
          governorKey("tiktok", connection.account),
          TIKTOK_REQUEST_BUCKET,
          gateOptions,
        ),
      });
    }
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
