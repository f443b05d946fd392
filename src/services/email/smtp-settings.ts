import * as z from "zod";
import { parseAddress } from "../../adapters/email/smtp/mime";

/**
 * The `smtp` connection provider (kind `email`): a tenant's own mail server or provider (Microsoft 365,
 * Google Workspace, Amazon SES, Postmark, Mailgun… all offer SMTP submission). Registered in
 * `src/services/connections/connection-config.ts` PROVIDERS; only zod here so that module stays light.
 */

/** SMTP AUTH credentials; sealed at rest like every connection's, never returned by the API. */
export const SmtpCredentials = z.strictObject({
  username: z.string().min(1).max(320),
  password: z.string().min(1).max(1000),
});
export type SmtpCredentials = z.infer<typeof SmtpCredentials>;

/** A DNS name (letters, digits, hyphens, dots) or an IPv4 address. */
const HOST = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Cloudflare Workers may not open outbound connections to port 25; submission uses 587 or 465 anyway. */
const BLOCKED_PORT = 25;

/**
 * An address the message builder will take as it is (z.email() alone lets through forms it refuses),
 * so a connection that saves can send: a refusal at every send would be the sender's 422 instead.
 */
const sendable = (schema: z.ZodEmail) =>
  schema.refine(
    (address) => {
      try {
        parseAddress("address", address);
        return true;
      } catch {
        return false;
      }
    },
    { message: "Use a plain address such as support@example.com" },
  );

export const SMTP_SECURITY = ["starttls", "tls", "none"] as const;
export type SmtpSecurityMode = (typeof SMTP_SECURITY)[number];

export const SmtpSettings = z.strictObject({
  host: z
    .string()
    .trim()
    .toLowerCase()
    .regex(HOST, "Use the server's host name, e.g. smtp.example.com")
    .meta({ example: "smtp.example.com" }),
  port: z
    .number()
    .int()
    .min(1)
    .max(65535)
    .refine((port) => port !== BLOCKED_PORT, {
      message: "Port 25 is blocked for Workers; use 587 (STARTTLS) or 465 (TLS)",
    })
    .meta({ example: 587 }),
  /**
   * `starttls` (port 587, RFC 3207), `tls` (implicit TLS, port 465, RFC 8314), or `none`: no
   * encryption at all, refused at send time unless APP_ENV is `development` or `test` (a local
   * test server), because it would put the password and every message on the wire in clear.
   */
  security: z.enum(SMTP_SECURITY).default("starttls"),
  /** The sender address (`From:` and the envelope's MAIL FROM). */
  fromAddress: sendable(z.email().max(254)).meta({ example: "support@example.com" }),
  /**
   * The sender's display name (`Acme Support`); any language (encoded as RFC 2047 words). No control
   * characters: a line break in a header would be refused at every send (header injection).
   */
  fromName: z
    .string()
    .trim()
    .min(1)
    .max(200)
    .regex(/^[^\p{Cc}]*$/u, "Must not contain line breaks or control characters")
    .nullable()
    .default(null),
  /** Where replies go when it is not the sender (`Reply-To:`). */
  replyTo: sendable(z.email().max(254)).nullable().default(null),
});
export type SmtpSettings = z.infer<typeof SmtpSettings>;

/** The account of an SMTP connection is the mailbox it sends as (lower-cased), usually `settings.fromAddress`. */
export const SmtpAccount = z.string().trim().toLowerCase().pipe(z.email().max(254));
