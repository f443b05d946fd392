import * as z from "zod";
import { CozeAccount, CozeCredentials, CozeSettings } from "../ai/coze-settings";
import { SmtpAccount, SmtpCredentials, SmtpSettings } from "../email/smtp-settings";
import { ChannelSettings, ErpSettings } from "./sync-settings";

export { ChannelSettings, credentialsAad, ErpSettings } from "./sync-settings";

/**
 * What a connection of each provider needs: its credentials (write-only over the API, sealed at rest) and
 * its sync settings. One table per provider so a new channel or ERP adds a row here, not a branch elsewhere.
 */

const SHOP_DOMAIN = /^[a-z0-9][a-z0-9-]{0,59}\.myshopify\.com$/;

export const ShopifyCredentials = z.strictObject({
  /** Admin API access token of the custom app / OAuth offline token (`shpat_…`). */
  accessToken: z.string().min(10).max(500),
  /**
   * The app's client secret (API secret key): Shopify signs every webhook with it. Without it the
   * connection's webhooks cannot be verified, so none are registered and every delivery is refused.
   */
  clientSecret: z.string().min(1).max(500).optional(),
  /** The secret being rotated out: deliveries signed with it still verify until it is removed. */
  previousClientSecret: z.string().min(1).max(500).optional(),
});

const TIKTOK_SHOP_ID = /^[0-9]{1,32}$/;

export const TikTokCredentials = z.strictObject({
  /** The app key and secret of the TikTok Shop Partner Center app (the secret signs API calls and webhooks). */
  appKey: z.string().min(1).max(200),
  appSecret: z.string().min(1).max(500),
  /** The secret being rotated out: webhooks signed with it still verify until it is removed. */
  previousAppSecret: z.string().min(1).max(500).optional(),
  /** The seller's access token (`x-tts-access-token`). */
  accessToken: z.string().min(1).max(2000),
  /** The shop's `cipher` from Get Authorized Shops: required by every shop-scoped API call. */
  shopCipher: z.string().min(1).max(500),
});

export const LingxingCredentials = z.strictObject({
  appId: z.string().min(1).max(100),
  appSecret: z.string().min(1).max(500),
});

export const PROVIDERS = {
  shopify: {
    kind: "channel",
    credentials: ShopifyCredentials,
    settings: ChannelSettings,
    /** The account is the shop's permanent *.myshopify.com domain. */
    account: z
      .string()
      .trim()
      .toLowerCase()
      .regex(SHOP_DOMAIN, "Use the shop's permanent domain, e.g. acme.myshopify.com"),
  },
  tiktok: {
    kind: "channel",
    credentials: TikTokCredentials,
    settings: ChannelSettings,
    /** The account is the TikTok Shop id (the `shop_id` of its webhooks). */
    account: z.string().trim().regex(TIKTOK_SHOP_ID, "Use the TikTok Shop id (digits)"),
  },
  lingxing: {
    kind: "erp",
    credentials: LingxingCredentials,
    settings: ErpSettings,
    /** The account is the Lingxing app id (also inside the credentials; kept in clear to name the governor). */
    account: z.string().trim().min(1).max(100),
  },
  coze: {
    kind: "ai",
    credentials: CozeCredentials,
    settings: CozeSettings,
    /** The account is the Coze OAuth app id (src/services/ai/coze-settings.ts). */
    account: CozeAccount,
  },
  smtp: {
    kind: "email",
    credentials: SmtpCredentials,
    settings: SmtpSettings,
    /** The mailbox the connection sends as (src/services/email/smtp-settings.ts). */
    account: SmtpAccount,
  },
} as const;

export type Provider = keyof typeof PROVIDERS;

/** What a connection links to: a sales channel, an ERP, an AI assistant (chat replies) or a mail server. */
export type ConnectionKind = "channel" | "erp" | "ai" | "email";
export const PROVIDER_NAMES = Object.keys(PROVIDERS) as Provider[];

export function isProvider(value: string): value is Provider {
  return Object.hasOwn(PROVIDERS, value);
}

/** The streams a connection runs on schedule, with their interval. */
export function streamsOf(
  provider: Provider,
  /** The provider's parsed settings (only channel and ERP settings are read). */
  settings: unknown,
): { resource: "orders" | "inventory" | "shipments" | "push_backlog"; intervalSeconds: number }[] {
  const kind = PROVIDERS[provider].kind as ConnectionKind;
  // AI and mail connections are used on demand; nothing is pulled from them on a schedule.
  if (kind === "ai" || kind === "email") return [];
  if (kind === "channel") {
    const s = settings as ChannelSettings;
    return s.resources.map((resource) => ({ resource, intervalSeconds: s.intervalMinutes * 60 }));
  }
  const s = settings as ErpSettings;
  return [
    { resource: "shipments", intervalSeconds: s.shipmentPollMinutes * 60 },
    // The safety net for orders whose push message was lost: every 5 minutes at most.
    { resource: "push_backlog", intervalSeconds: Math.min(300, s.shipmentPollMinutes * 60) },
  ];
}
