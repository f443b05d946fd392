// The SMTP client (src/adapters/email/smtp) over workerd's real `cloudflare:sockets` against a real SMTP
// server (test/fakes/smtp.ts, nodemailer's smtp-server) with verified TLS: STARTTLS, implicit TLS, AUTH,
// per-recipient refusals, transient replies, dropped connections, timeouts, untrusted certificates.
import { connect } from "cloudflare:sockets";
import { describe, expect, it } from "vitest";
import { type SmtpSecurity, sendMail } from "../../src/adapters/email/smtp/client";
import { SmtpError } from "../../src/adapters/email/smtp/errors";
import { buildMessage, newMessageId } from "../../src/adapters/email/smtp/mime";
import {
  failNext,
  receivedMessages,
  SMTP_HOST,
  smtpAccount,
  smtpPorts,
  smtpTransactions,
  uniqueSender,
} from "../support/smtp-server";

function message(from: string, to: string[], text = "Hello from Tradewind.") {
  return buildMessage({
    from: { address: from, name: "Acme Support" },
    to: to.map((address) => ({ address })),
    subject: "Your order has shipped",
    text,
    html: `<p>${text}</p>`,
    messageId: newMessageId(from),
    date: new Date("2026-11-22T08:00:00Z"),
  });
}

async function send(options: {
  port: number;
  security: SmtpSecurity;
  credentials: { username: string; password: string } | null;
  from: string;
  to: string[];
  text?: string;
  timeoutMs?: number;
}) {
  return sendMail(connect, {
    host: SMTP_HOST,
    port: options.port,
    security: options.security,
    credentials: options.credentials,
    clientName: "shop.example.com",
    envelope: { from: options.from, to: options.to },
    message: message(options.from, options.to, options.text),
    timeoutMs: options.timeoutMs ?? 5000,
  });
}

/** A submission over STARTTLS (port 587 style), the usual case. */
function submit(
  credentials: { username: string; password: string },
  from: string,
  to: string[],
  text?: string,
) {
  return send({
    port: smtpPorts.starttls(),
    security: "starttls",
    credentials,
    from,
    to,
    ...(text === undefined ? {} : { text }),
  });
}

async function failure(promise: Promise<unknown>): Promise<SmtpError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SmtpError);
  return error as SmtpError;
}

describe("SMTP client against a real server", () => {
  it("upgrades with STARTTLS, verifies the certificate, authenticates with PLAIN and delivers", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const result = await submit(account, from, ["ava@example.org"]);
    expect(result.response).toMatch(/^250 2\.6\.0 Ok: queued as [A-Z0-9]+$/);
    expect(result.tls).toBe(true);
    expect(result.authMechanism).toBe("PLAIN");
    expect(result.accepted).toEqual(["ava@example.org"]);
    expect(result.capabilities).toMatchObject({ starttls: false, pipelining: true, smtpUtf8: true });
    expect(result.capabilities.auth).toEqual(expect.arrayContaining(["PLAIN", "LOGIN", "CRAM-MD5"]));
    const [received] = await receivedMessages(from);
    expect(received).toMatchObject({
      server: "starttls",
      secure: true,
      authMethod: "PLAIN",
      username: account.username,
      ehloName: "shop.example.com",
      mailFrom: from,
      rcptTo: ["ava@example.org"],
    });
    // SIZE was announced, so MAIL FROM carried the message size.
    expect(Number(received?.mailParams.SIZE)).toBeGreaterThan(100);
    expect(received?.parsed.subject).toBe("Your order has shipped");
  });

  it("speaks implicit TLS (port 465 style)", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const result = await send({
      port: smtpPorts.tls(),
      security: "tls",
      credentials: account,
      from,
      to: ["ava@example.org"],
    });
    expect(result.tls).toBe(true);
    const [received] = await receivedMessages(from);
    expect(received).toMatchObject({ server: "tls", secure: true, authMethod: "PLAIN" });
  });

  it("without TLS (test servers only) prefers CRAM-MD5, which never sends the password", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const result = await send({
      port: smtpPorts.plain(),
      security: "none",
      credentials: account,
      from,
      to: ["ava@example.org"],
    });
    expect(result).toMatchObject({ tls: false, authMechanism: "CRAM-MD5" });
    const [received] = await receivedMessages(from);
    expect(received).toMatchObject({ server: "plain", secure: false, authMethod: "CRAM-MD5" });
  });

  it("refuses a server that does not offer STARTTLS instead of sending in clear", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const error = await failure(
      send({
        port: smtpPorts.plain(),
        security: "starttls",
        credentials: account,
        from,
        to: ["a@example.org"],
      }),
    );
    expect(error.toRecord()).toMatchObject({
      code: "SMTP_STARTTLS_UNAVAILABLE",
      class: "permanent",
      retryable: false,
      step: "starttls",
    });
    expect(await smtpTransactions(from)).toEqual([]);
  });

  it("refuses a certificate it does not trust (TLS is verified, not merely encrypted)", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const error = await failure(
      send({
        port: smtpPorts.untrusted(),
        security: "starttls",
        credentials: account,
        from,
        to: ["a@example.org"],
      }),
    );
    expect(error.toRecord()).toMatchObject({ code: "SMTP_TLS_FAILED", class: "permanent", step: "starttls" });
    expect(await smtpTransactions(from)).toEqual([]);
  });

  it("reports refused credentials as an auth failure with the server's reply and never the password", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const error = await failure(
      submit({ username: account.username, password: "wrong-password-1234" }, from, ["a@example.org"]),
    );
    const record = error.toRecord();
    expect(record).toMatchObject({
      code: "SMTP_AUTH_FAILED",
      class: "auth",
      retryable: false,
      step: "auth",
      reply: "535 5.7.8 Authentication credentials invalid",
      enhancedCode: "5.7.8",
    });
    const everything = JSON.stringify({ record, message: error.message, cause: String(error.cause) });
    expect(everything).not.toContain("wrong-password-1234");
    expect(everything).not.toContain(btoa("wrong-password-1234"));
  });

  it("delivers to the recipients the server accepts and reports each refused one", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const result = await submit(account, from, [
      "ava@example.org",
      "reject-bob@example.org",
      "later-cy@example.org",
    ]);
    expect(result.accepted).toEqual(["ava@example.org"]);
    expect(result.rejected).toEqual([
      { address: "reject-bob@example.org", reply: "550 5.1.1 Mailbox unavailable", class: "permanent" },
      { address: "later-cy@example.org", reply: "450 4.2.1 Greylisted, try again later", class: "transient" },
    ]);
    const [received] = await receivedMessages(from);
    expect(received?.rcptTo).toEqual(["ava@example.org"]);
  });

  it("fails when every recipient is refused: permanent for 5xx, transient when one was a 4xx", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const permanent = await failure(submit(account, from, ["reject-a@example.org", "reject-b@example.org"]));
    expect(permanent.toRecord()).toMatchObject({
      code: "SMTP_RECIPIENTS_REJECTED",
      class: "permanent",
      step: "rcpt",
      rejectedRecipients: [
        { address: "reject-a@example.org", class: "permanent" },
        { address: "reject-b@example.org", class: "permanent" },
      ],
    });
    const transient = await failure(submit(account, from, ["reject-a@example.org", "later-b@example.org"]));
    expect(transient.toRecord()).toMatchObject({ code: "SMTP_RECIPIENTS_REJECTED", class: "transient" });
    expect(await receivedMessages(from)).toEqual([]);
  });

  it("classifies 4xx replies as transient and keeps the server's enhanced code", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    await failNext({ step: "mail", sender: from, code: 451, message: "Temporary local problem" });
    const error = await failure(submit(account, from, ["a@example.org"]));
    expect(error.toRecord()).toMatchObject({
      code: "SMTP_TRANSIENT_REPLY",
      class: "transient",
      retryable: true,
      step: "mail",
      reply: "451 4.3.0 Temporary local problem",
    });
    expect(error.retryable).toBe(true);
  });

  it("treats a connection dropped after the message as transient (the server may not have it)", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    await failNext({ step: "data", sender: from, drop: true });
    const error = await failure(submit(account, from, ["a@example.org"]));
    expect(error.toRecord()).toMatchObject({
      code: "SMTP_CONNECTION_FAILED",
      class: "transient",
      step: "message",
    });
  });

  it("times out a server that never greets, and fails fast when nothing listens", async () => {
    const from = uniqueSender();
    const silent = await failure(
      send({
        port: smtpPorts.silent(),
        security: "none",
        credentials: null,
        from,
        to: ["a@example.org"],
        timeoutMs: 300,
      }),
    );
    expect(silent.toRecord()).toMatchObject({ code: "SMTP_TIMEOUT", class: "transient", step: "greeting" });
    const refused = await failure(
      send({ port: 1, security: "none", credentials: null, from, to: ["a@example.org"] }),
    );
    expect(refused.toRecord()).toMatchObject({
      code: "SMTP_CONNECTION_FAILED",
      class: "transient",
      step: "connect",
    });
  });

  it("dot-stuffs lines that start with a dot so the message arrives whole", async () => {
    const account = await smtpAccount();
    const from = uniqueSender();
    const text = "Line one\n.\n.hidden line\n..two dots\nlast line";
    await submit(account, from, ["a@example.org"], text);
    const [received] = await receivedMessages(from);
    // A lone "." would have ended DATA early: the parsed text proves every line arrived.
    expect(received?.parsed.text?.replace(/\r\n/g, "\n").trimEnd()).toBe(text);
    expect(received?.raw).toContain("\r\n.\r\n.hidden line\r\n..two dots\r\n");
  });
});
