import * as z from "zod";
import { privateKeyProblemMessage, rsaPkcs8Problem } from "../../adapters/ai/coze/private-key";

/**
 * A Coze AI connection (`provider: "coze"`, kind `ai`): the OAuth "service application" Tradewind signs in
 * as (credentials: write-only, sealed at rest) and the bot that answers the tenant's customers (settings).
 * Registered in src/services/connections/connection-config.ts.
 */

const APP_ID = /^[0-9A-Za-z_-]{1,64}$/;

export const CozeCredentials = z.strictObject({
  /** The OAuth app id (Coze → API → Authorization → OAuth apps); the JWT `iss`. */
  appId: z.string().trim().regex(APP_ID, "Use the Coze OAuth app id"),
  /** The public key fingerprint of the app's key pair (the JWT `kid`). */
  keyId: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[0-9A-Za-z_=+/-]+$/, "Use the public key fingerprint shown with the app's key"),
  /**
   * The `private_key.pem` Coze downloaded when the key pair was created (RSA, PKCS#8). Checked structurally
   * here so a wrong file is refused when saved; the key itself is imported when the first token is minted.
   */
  privateKey: z
    .string()
    .max(16_384)
    .transform((pem) => pem.replace(/\r\n?/g, "\n").trim())
    .superRefine((pem, ctx) => {
      const problem = rsaPkcs8Problem(pem);
      if (problem !== null) ctx.addIssue({ code: "custom", message: privateKeyProblemMessage(problem) });
    }),
});
export type CozeCredentials = z.infer<typeof CozeCredentials>;

export const CozeSettings = z.strictObject({
  /** The bot (agent) that answers: the digits after `/bot/` in its Coze URL. It must be published to the API. */
  botId: z
    .string()
    .trim()
    .regex(/^\d{1,32}$/, "Use the bot id from the bot's Coze URL (digits)"),
  /** `com` = coze.com (api.coze.com), `cn` = coze.cn (api.coze.cn): where the app and the bot live. */
  region: z.enum(["com", "cn"]).default("com"),
  /**
   * The longest a reply may take, tool calls included; past it the customer is told an agent will reply.
   */
  maxReplySeconds: z.number().int().min(5).max(300).default(60),
  /**
   * Words or phrases that hand a chat to a person at once, without asking the bot (matched case-insensitively
   * anywhere in the customer's message), e.g. "agent", "human", "人工".
   */
  handoverKeywords: z.array(z.string().trim().min(1).max(100)).max(50).default([]),
});
export type CozeSettings = z.infer<typeof CozeSettings>;

/** The account of a Coze connection is its OAuth app id (kept in clear, like the other providers' accounts). */
export const CozeAccount = z.string().trim().regex(APP_ID, "Use the Coze OAuth app id");
