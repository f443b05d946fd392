import { UpstreamError } from "../../../lib/errors";
import type { UpstreamFailureKind } from "../../../lib/upstream-gate";

/** Where in the session a failure happened (the record says so, so an operator knows what to fix). */
export type SmtpStep =
  | "connect"
  | "greeting"
  | "ehlo"
  | "starttls"
  | "auth"
  | "mail"
  | "rcpt"
  | "data"
  | "message";

/**
 * Why an attempt failed, in a few codes a person can act on:
 * | code                        | class     | retried | what to do |
 * |-----------------------------|-----------|---------|------------|
 * | SMTP_CONNECTION_FAILED      | transient | yes     | server unreachable or dropped the connection |
 * | SMTP_TIMEOUT                | transient | yes     | server too slow for a step |
 * | SMTP_TRANSIENT_REPLY        | transient | yes     | 4xx: server busy, greylisting, rate limit |
 * | SMTP_TLS_FAILED             | permanent | no      | handshake failed: certificate not trusted or wrong host |
 * | SMTP_STARTTLS_UNAVAILABLE   | permanent | no      | server offers no STARTTLS (never downgraded to plain text) |
 * | SMTP_AUTH_FAILED            | auth      | no      | credentials refused: edit the connection |
 * | SMTP_AUTH_UNAVAILABLE       | auth      | no      | no mechanism both sides speak, or AUTH without TLS |
 * | SMTP_REJECTED               | permanent | no      | 5xx to the sender or the message |
 * | SMTP_RECIPIENTS_REJECTED    | permanent | no      | every recipient refused (transient when one was a 4xx) |
 * | SMTP_MESSAGE_TOO_LARGE      | permanent | no      | over the server's SIZE |
 * | SMTP_UTF8_UNSUPPORTED       | permanent | no      | a non-ASCII address to a server without SMTPUTF8 |
 * | SMTP_PROTOCOL_ERROR         | permanent | no      | the server does not speak SMTP as it must |
 */
export type SmtpErrorCode =
  | "SMTP_CONNECTION_FAILED"
  | "SMTP_TIMEOUT"
  | "SMTP_TRANSIENT_REPLY"
  | "SMTP_TLS_FAILED"
  | "SMTP_STARTTLS_UNAVAILABLE"
  | "SMTP_AUTH_FAILED"
  | "SMTP_AUTH_UNAVAILABLE"
  | "SMTP_REJECTED"
  | "SMTP_RECIPIENTS_REJECTED"
  | "SMTP_MESSAGE_TOO_LARGE"
  | "SMTP_UTF8_UNSUPPORTED"
  | "SMTP_PROTOCOL_ERROR";

export type SmtpErrorClass = "transient" | "permanent" | "auth";

export interface RejectedRecipient {
  address: string;
  reply: string;
  class: SmtpErrorClass;
}

/** What a failed attempt leaves in the record (`email_messages.error`): never a credential. */
export interface SmtpFailureRecord {
  code: SmtpErrorCode;
  class: SmtpErrorClass;
  retryable: boolean;
  step: SmtpStep;
  message: string;
  /** The server's reply that decided it, e.g. `535 5.7.8 Authentication credentials invalid`. */
  reply: string | null;
  enhancedCode: string | null;
  rejectedRecipients?: RejectedRecipient[];
}

const KIND: Record<SmtpErrorClass, UpstreamFailureKind> = {
  transient: "retryable",
  permanent: "permanent",
  auth: "auth",
};

export class SmtpError extends UpstreamError {
  readonly smtpCode: SmtpErrorCode;
  readonly smtpClass: SmtpErrorClass;
  readonly step: SmtpStep;
  readonly reply: string | null;
  readonly enhancedCode: string | null;
  readonly rejectedRecipients: RejectedRecipient[] | undefined;

  constructor(input: {
    code: SmtpErrorCode;
    class: SmtpErrorClass;
    step: SmtpStep;
    message: string;
    reply?: string | null;
    enhancedCode?: string | null;
    rejectedRecipients?: RejectedRecipient[];
    cause?: unknown;
  }) {
    super(input.message, {
      upstream: "smtp",
      retryable: input.class === "transient",
      kind: KIND[input.class],
      cause: input.cause,
      details: { smtpCode: input.code, step: input.step },
    });
    this.name = "SmtpError";
    this.smtpCode = input.code;
    this.smtpClass = input.class;
    this.step = input.step;
    this.reply = input.reply ?? null;
    this.enhancedCode = input.enhancedCode ?? null;
    this.rejectedRecipients = input.rejectedRecipients;
  }

  toRecord(): SmtpFailureRecord {
    return {
      code: this.smtpCode,
      class: this.smtpClass,
      retryable: this.retryable,
      step: this.step,
      message: this.message,
      reply: this.reply,
      enhancedCode: this.enhancedCode,
      ...(this.rejectedRecipients ? { rejectedRecipients: this.rejectedRecipients } : {}),
    };
  }
}
