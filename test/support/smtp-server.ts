// Workers-test side of the SMTP fake (test/fakes/smtp.ts): its ports and its control API. Every test makes
// its own sender address and account, so what one test queues or reads never touches another.
import { inject } from "vitest";
import type { FailStep, ReceivedMessage } from "../fakes/smtp";
import { bearer } from "./auth";
import { call, envelope } from "./harness";

export const SMTP_HOST = "127.0.0.1";

export const smtpPorts = {
  starttls: () => inject("smtpStarttlsPort"),
  tls: () => inject("smtpTlsPort"),
  plain: () => inject("smtpPlainPort"),
  untrusted: () => inject("smtpUntrustedPort"),
  silent: () => inject("smtpSilentPort"),
};

function control(path: string): string {
  return `${inject("smtpFakeUrl")}/__control/${path}`;
}

async function post(path: string, body: unknown): Promise<void> {
  const response = await fetch(control(path), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  if (response.status !== 204)
    throw new Error(`smtp fake ${path}: ${response.status} ${await response.text()}`);
}

/** A mailbox of the fake's server, with a password only this test knows. */
export async function smtpAccount(): Promise<{ username: string; password: string }> {
  const account = {
    username: `user-${crypto.randomUUID().slice(0, 8)}@mail.example.com`,
    password: `pw-${crypto.randomUUID()}`,
  };
  await post("accounts", account);
  return account;
}

/** A sender address no other test uses (the fake files messages and failures under it). */
export function uniqueSender(local = "support"): string {
  return `${local}-${crypto.randomUUID().slice(0, 8)}@shop-${crypto.randomUUID().slice(0, 6)}.example.com`;
}

export async function failNext(
  failure: { step: FailStep; username?: string; sender?: string } & (
    | { code: number; message?: string }
    | { drop: true }
  ),
): Promise<void> {
  await post("fail-next", failure);
}

export async function receivedMessages(sender: string): Promise<ReceivedMessage[]> {
  const response = await fetch(`${control("messages")}?sender=${encodeURIComponent(sender)}`);
  return ((await response.json()) as { items: ReceivedMessage[] }).items;
}

export interface FakeTransaction {
  server: string;
  secure: boolean;
  authMethod: string | null;
  username: string | null;
  mailFrom: string;
  step: string;
  outcome: string;
}

export async function smtpTransactions(sender: string): Promise<FakeTransaction[]> {
  const response = await fetch(`${control("transactions")}?sender=${encodeURIComponent(sender)}`);
  return ((await response.json()) as { items: FakeTransaction[] }).items;
}

export interface SmtpConnectionFixture {
  id: string;
  fromAddress: string;
  account: { username: string; password: string };
}

/**
 * An SMTP connection of the caller's tenant through the API (so its credentials are sealed as in
 * production), pointing at the fake; the token needs `sync:admin`.
 */
export async function smtpConnection(
  token: string,
  options: {
    listener?: "starttls" | "tls" | "plain";
    security?: "starttls" | "tls" | "none";
    password?: string;
    fromName?: string | null;
    replyTo?: string | null;
  } = {},
): Promise<SmtpConnectionFixture> {
  const account = await smtpAccount();
  const fromAddress = uniqueSender();
  const listener = options.listener ?? "starttls";
  const response = await call(
    "/api/v1/connections",
    bearer(token, {
      method: "POST",
      body: {
        provider: "smtp",
        account: fromAddress,
        displayName: "Support mailbox",
        credentials: { username: account.username, password: options.password ?? account.password },
        settings: {
          host: SMTP_HOST,
          port: smtpPorts[listener](),
          security: options.security ?? (listener === "plain" ? "none" : listener),
          fromAddress,
          fromName: options.fromName === undefined ? "Acme Support" : options.fromName,
          replyTo: options.replyTo ?? null,
        },
      },
    }),
  );
  const body = await envelope<{ id: string }>(response);
  if (response.status !== 201 || !body.data) {
    throw new Error(`smtp connection: ${response.status} ${JSON.stringify(body)}`);
  }
  return { id: body.data.id, fromAddress, account };
}
