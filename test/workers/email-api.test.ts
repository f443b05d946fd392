// POST/GET /api/v1/emails end to end: the Worker renders, records (Postgres + Redis), and sends over real
// TCP sockets with verified TLS to a real SMTP server (test/fakes/smtp.ts), whose received MIME is parsed
// by an independent parser. Also the queued retries (the `events` queue's `email.send` message).
import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Redis } from "@upstash/redis/cloudflare";
import { sql } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { tenantBatch } from "../../src/db/tenant";
import worker from "../../src/index";
import { ServiceUnavailableError } from "../../src/lib/errors";
import { type ConnectionRow, connectionFromRow } from "../../src/services/connections/load-connection";
import { attemptDelivery, type ClaimedEmail, MAX_ATTEMPTS } from "../../src/services/email/deliver-email";
import { getEmail } from "../../src/services/email/email-messages";
import type { EmailMessageView } from "../../src/services/email/email-model";
import { requeueStrandedEmails } from "../../src/services/email/requeue-stranded-emails";
import { bearer, signedInUser } from "../support/auth";
import { testContext } from "../support/context";
import { cacheKey, call, DEAD_DATABASE_URL, envelope, ownerSql } from "../support/harness";
import {
  failNext,
  receivedMessages,
  type SmtpConnectionFixture,
  smtpConnection,
  smtpTransactions,
} from "../support/smtp-server";

/** An email as the API shows it (bodies only on GET /emails/{id}). */
type Email = EmailMessageView & { bodyText?: string | null; bodyHtml?: string | null };

/** A tenant with an admin who can connect mail servers and send, and its SMTP connection. */
async function mailTenant(options: Parameters<typeof smtpConnection>[1] = {}) {
  const admin = await signedInUser({ permissions: ["email:admin", "sync:admin", "tickets:write"] });
  const connection = await smtpConnection(admin.token, options);
  return { admin, connection };
}

async function send(token: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await call("/api/v1/emails", bearer(token, { method: "POST", body, headers }));
  return { status: response.status, body: await envelope<Email>(response) };
}

function redis() {
  return new Redis({
    url: env.UPSTASH_REDIS_REST_URL,
    token: env.UPSTASH_REDIS_REST_TOKEN,
    enableTelemetry: false,
  });
}

async function cachedStatus(tenantId: string, emailId: string): Promise<Email | null> {
  return redis().get<Email>(cacheKey(`email:status:${tenantId}:${emailId}`));
}

async function deliverQueued(tenantId: string, emailId: string) {
  const batch = createMessageBatch("events", [
    {
      id: crypto.randomUUID(),
      timestamp: new Date(),
      attempts: 1,
      body: { type: "email.send", tenantId, emailId },
    },
  ]);
  const ctx = createExecutionContext();
  await worker.queue(batch, env, ctx);
  return getQueueResult(batch, ctx);
}

async function createTemplate(token: string, body: Record<string, unknown>) {
  const response = await call("/api/v1/email-templates", bearer(token, { method: "POST", body }));
  expect(response.status).toBe(201);
}

describe("the smtp connection provider", () => {
  it("is kind email with no sync streams, never shows its password, and refuses port 25", async () => {
    const admin = await signedInUser({ permissions: ["sync:admin"] });
    const connection = await smtpConnection(admin.token, { password: "smtp-password-never-shown" });
    const response = await call(`/api/v1/connections/${connection.id}`, bearer(admin.token));
    const text = await response.text();
    expect(text).not.toContain("smtp-password-never-shown");
    const view = JSON.parse(text).data;
    expect(view).toMatchObject({
      kind: "email",
      provider: "smtp",
      account: connection.fromAddress,
      streams: [],
      webhooks: null,
      settings: {
        host: "127.0.0.1",
        security: "starttls",
        fromAddress: connection.fromAddress,
        fromName: "Acme Support",
      },
      credentials: { set: true },
    });
    const [stored] = await ownerSql()`select credentials_sealed from connections where id = ${connection.id}`;
    expect(String(stored?.credentials_sealed)).not.toContain("smtp-password-never-shown");
    expect(await ownerSql()`select 1 from sync_streams where connection_id = ${connection.id}`).toEqual([]);

    const port25 = await call(
      "/api/v1/connections",
      bearer(admin.token, {
        method: "POST",
        body: {
          provider: "smtp",
          account: "support@acme.example",
          displayName: "Port 25",
          credentials: { username: "u", password: "p" },
          settings: { host: "smtp.acme.example", port: 25, fromAddress: "support@acme.example" },
        },
      }),
    );
    expect(port25.status).toBe(422);
    expect((await envelope(port25)).error?.details).toEqual({
      "settings.port": ["Port 25 is blocked for Workers; use 587 (STARTTLS) or 465 (TLS)"],
    });
  });

  it("refuses settings every send would refuse: a line break in the name, an address the builder rejects", async () => {
    const admin = await signedInUser({ permissions: ["sync:admin"] });
    const response = await call(
      "/api/v1/connections",
      bearer(admin.token, {
        method: "POST",
        body: {
          provider: "smtp",
          account: "support@acme.example",
          displayName: "Broken",
          credentials: { username: "u", password: "p" },
          settings: {
            host: "smtp.acme.example",
            port: 587,
            fromAddress: "support@acme-.example",
            fromName: "Acme\r\nBcc: victim@example.org",
            replyTo: "help@acme-.example",
          },
        },
      }),
    );
    expect(response.status).toBe(422);
    expect((await envelope(response)).error?.details).toEqual({
      "settings.fromAddress": ["Use a plain address such as support@example.com"],
      "settings.fromName": ["Must not contain line breaks or control characters"],
      "settings.replyTo": ["Use a plain address such as support@example.com"],
    });
  });
});

describe("POST /api/v1/emails", () => {
  it("renders a template, sends it over STARTTLS and records the server's answer", async () => {
    const { admin, connection } = await mailTenant({ replyTo: "help@acme.example" });
    await createTemplate(admin.token, {
      key: "order_shipped",
      name: "Order shipped",
      subject: "Ihre Bestellung {{order.number}} ist unterwegs — 已发货",
      bodyText:
        "Hallo {{customer.name}},\n\nIhre Bestellung {{order.number}} ist unterwegs.\n.\n.Punkt am Anfang\n",
      bodyHtml: "<p>Hallo {{customer.name}},</p><p>Bestellung <b>{{order.number}}</b></p>",
    });

    const { status, body } = await send(admin.token, {
      to: ["ava@example.org", "ben@example.org"],
      cc: ["ops@acme.example"],
      templateKey: "order_shipped",
      variables: { order: { number: "#1042" }, customer: { name: "Zoë <Müller>" } },
    });
    expect(status).toBe(200);
    const email = body.data as Email;
    expect(email).toMatchObject({
      connectionId: connection.id,
      templateKey: "order_shipped",
      from: connection.fromAddress,
      to: ["ava@example.org", "ben@example.org"],
      cc: ["ops@acme.example"],
      subject: "Ihre Bestellung #1042 ist unterwegs — 已发货",
      status: "sent",
      attempts: 1,
      error: null,
      nextAttemptAt: null,
    });
    const domain = connection.fromAddress.split("@")[1];
    expect(email.messageId).toBe(`<${email.id}@${domain}>`);
    expect(email.smtpResponse).toMatch(/^250 2\.6\.0 Ok: queued as [A-Z0-9]+$/);
    expect(email.sentAt).not.toBeNull();

    const [received] = await receivedMessages(connection.fromAddress);
    expect(received).toMatchObject({
      server: "starttls",
      secure: true,
      authMethod: "PLAIN",
      username: connection.account.username,
      mailFrom: connection.fromAddress,
      // Cc recipients are in the envelope too.
      rcptTo: ["ava@example.org", "ben@example.org", "ops@acme.example"],
    });
    const parsed = received?.parsed;
    expect(parsed?.subject).toBe("Ihre Bestellung #1042 ist unterwegs — 已发货");
    expect(parsed?.messageId).toBe(email.messageId);
    expect(parsed?.from).toMatchObject({ name: "Acme Support", address: connection.fromAddress });
    expect(parsed?.to).toMatchObject([{ address: "ava@example.org" }, { address: "ben@example.org" }]);
    expect(parsed?.cc).toMatchObject([{ address: "ops@acme.example" }]);
    expect(parsed?.replyTo).toMatchObject([{ address: "help@acme.example" }]);
    // Both parts; the customer's name HTML-escaped only in the HTML part; dot lines intact (dot-stuffing).
    // (The parser also keeps the CRLF that RFC 2046 attaches to the next boundary: compared without it.)
    expect(parsed?.text?.replace(/\r\n/g, "\n").replace(/\n+$/, "")).toBe(
      "Hallo Zoë <Müller>,\n\nIhre Bestellung #1042 ist unterwegs.\n.\n.Punkt am Anfang",
    );
    expect(parsed?.html).toBe("<p>Hallo Zoë &lt;Müller&gt;,</p><p>Bestellung <b>#1042</b></p>");
    const raw = received?.raw ?? "";
    expect(raw).toMatch(/^Date: [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000\r\n/);
    expect(raw).toContain("Subject: =?UTF-8?B?");
    expect(raw).toContain("Content-Type: multipart/alternative;");
    expect(raw).toContain("MIME-Version: 1.0");
    for (const line of raw.split("\r\n")) expect(line.length).toBeLessThanOrEqual(998);

    // Postgres has the record with its bodies; Redis has the status copy.
    const detail = await envelope<Email>(await call(`/api/v1/emails/${email.id}`, bearer(admin.token)));
    expect(detail.data).toMatchObject({ id: email.id, status: "sent", smtpResponse: email.smtpResponse });
    expect(detail.data?.bodyHtml).toBe("<p>Hallo Zoë &lt;Müller&gt;,</p><p>Bestellung <b>#1042</b></p>");
    expect(await cachedStatus(admin.tenant.id, email.id)).toMatchObject({
      id: email.id,
      status: "sent",
      attempts: 1,
    });
  });

  it("sends plain subject/text/html without a template, over implicit TLS", async () => {
    const { admin, connection } = await mailTenant({ listener: "tls", fromName: null });
    const { status, body } = await send(admin.token, {
      to: ["ava@example.org"],
      subject: "Re: Where is my parcel?",
      text: "It left our warehouse today.",
      html: "<p>It left our warehouse today.</p>",
    });
    expect(status).toBe(200);
    expect(body.data).toMatchObject({ status: "sent", templateKey: null });
    const [received] = await receivedMessages(connection.fromAddress);
    expect(received).toMatchObject({ server: "tls", secure: true });
    expect(received?.parsed.from).toMatchObject({ address: connection.fromAddress, name: "" });
  });

  it("records refused credentials as failed with the server's reply and never the password", async () => {
    const { admin, connection } = await mailTenant({ password: "not-the-right-password-xyz" });
    const { status, body } = await send(admin.token, {
      to: ["ava@example.org"],
      subject: "Hello",
      text: "Hi",
    });
    expect(status).toBe(200);
    const email = body.data as Email;
    expect(email).toMatchObject({
      status: "failed",
      attempts: 1,
      smtpResponse: null,
      sentAt: null,
      error: {
        code: "SMTP_AUTH_FAILED",
        class: "auth",
        retryable: false,
        step: "auth",
        reply: "535 5.7.8 Authentication credentials invalid",
        enhancedCode: "5.7.8",
        message: "The server refused the username or password",
      },
    });
    const stored = await call(`/api/v1/emails/${email.id}`, bearer(admin.token));
    const cached = await cachedStatus(admin.tenant.id, email.id);
    const [row] = await ownerSql()`select * from email_messages where id = ${email.id}`;
    for (const text of [
      JSON.stringify(body),
      await stored.text(),
      JSON.stringify(cached),
      JSON.stringify(row),
    ]) {
      expect(text).not.toContain("not-the-right-password-xyz");
      expect(text).not.toContain(btoa("not-the-right-password-xyz"));
    }
    expect(await receivedMessages(connection.fromAddress)).toEqual([]);
  });

  it("retries a transient failure at once inside the request, then sends", async () => {
    const { admin, connection } = await mailTenant();
    await failNext({
      step: "mail",
      sender: connection.fromAddress,
      code: 451,
      message: "Temporary local problem",
    });
    const { status, body } = await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    expect(status).toBe(200);
    expect(body.data).toMatchObject({ status: "sent", attempts: 2, error: null });
    const outcomes = (await smtpTransactions(connection.fromAddress)).map((t) => `${t.step} ${t.outcome}`);
    expect(outcomes).toEqual(["mail reply 451", "mail accepted", "data accepted"]);
    expect(await receivedMessages(connection.fromAddress)).toHaveLength(1);
  });

  it("queues a message that keeps failing transiently; the queue's later attempt sends it", async () => {
    const { admin, connection } = await mailTenant();
    await failNext({
      step: "mail",
      sender: connection.fromAddress,
      code: 421,
      message: "Service shutting down",
    });
    await failNext({ step: "data", sender: connection.fromAddress, drop: true });
    const { status, body } = await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    expect(status).toBe(202);
    const queued = body.data as Email;
    expect(queued).toMatchObject({
      status: "queued",
      attempts: 2,
      error: { code: "SMTP_CONNECTION_FAILED", class: "transient", retryable: true, step: "message" },
    });
    expect(queued.nextAttemptAt).not.toBeNull();
    expect(await cachedStatus(admin.tenant.id, queued.id)).toMatchObject({ status: "queued", attempts: 2 });

    const result = await deliverQueued(admin.tenant.id, queued.id);
    expect(result.explicitAcks).toHaveLength(1);
    const after = await envelope<Email>(await call(`/api/v1/emails/${queued.id}`, bearer(admin.token)));
    expect(after.data).toMatchObject({ status: "sent", attempts: 3, error: null, nextAttemptAt: null });
    expect(after.data?.messageId).toBe(queued.messageId);
    const [received] = await receivedMessages(connection.fromAddress);
    // The retry sends the very message that was recorded: same Message-ID.
    expect(received?.parsed.messageId).toBe(queued.messageId);

    // A second delivery of the same queue message finds nothing to claim and sends nothing.
    await deliverQueued(admin.tenant.id, queued.id);
    expect(await receivedMessages(connection.fromAddress)).toHaveLength(1);
  });

  it("the cron sweep re-enqueues a queued retry whose message was lost, and an attempt that died", async () => {
    const { admin, connection } = await mailTenant();
    await failNext({ step: "mail", sender: connection.fromAddress, code: 451, message: "Busy" });
    await failNext({ step: "mail", sender: connection.fromAddress, code: 451, message: "Busy" });
    const lost = (
      (await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" })).body.data as Email
    ).id;
    const died = (
      (await send(admin.token, { to: ["ben@example.org"], subject: "Hi", text: "Hi" })).body.data as Email
    ).id;
    await ownerSql()`update email_messages set next_attempt_at = now() - interval '10 minutes' where id = ${lost}`;
    await ownerSql()`
      update email_messages set status = 'sending', updated_at = now() - interval '10 minutes', next_attempt_at = null
       where id = ${died}`;
    const first = await requeueStrandedEmails({ ctx: testContext() });
    // Cross-tenant by design (other tests' stranded emails may be in it too): ours must be.
    expect(
      first.emails
        .filter((e) => e.tenantId === admin.tenant.id)
        .map((e) => e.id)
        .sort(),
    ).toEqual([lost, died].sort());
    // A second run right after claims neither again.
    const second = await requeueStrandedEmails({ ctx: testContext() });
    expect(second.emails.filter((e) => e.tenantId === admin.tenant.id)).toEqual([]);
  });

  it("fails for good when the last attempt fails transiently too", async () => {
    const { admin, connection } = await mailTenant();
    await failNext({ step: "mail", sender: connection.fromAddress, code: 451, message: "Busy" });
    await failNext({ step: "mail", sender: connection.fromAddress, code: 451, message: "Busy" });
    const { body } = await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    const id = (body.data as Email).id;
    // Pretend the earlier queued attempts happened: the next one is the last (MAX_ATTEMPTS = 5).
    await ownerSql()`update email_messages set attempts = 4 where id = ${id}`;
    await failNext({ step: "mail", sender: connection.fromAddress, code: 451, message: "Still busy" });
    await deliverQueued(admin.tenant.id, id);
    const after = await envelope<Email>(await call(`/api/v1/emails/${id}`, bearer(admin.token)));
    expect(after.data).toMatchObject({
      status: "failed",
      attempts: 5,
      nextAttemptAt: null,
      error: { code: "SMTP_TRANSIENT_REPLY", class: "transient", reply: "451 4.3.0 Still busy" },
    });
    expect(await receivedMessages(connection.fromAddress)).toEqual([]);
  });

  it("sends to the recipients the server accepts and records the refused ones", async () => {
    const { admin, connection } = await mailTenant();
    const { status, body } = await send(admin.token, {
      to: ["ava@example.org", "reject-nobody@example.org"],
      subject: "Hi",
      text: "Hi",
    });
    expect(status).toBe(200);
    expect(body.data).toMatchObject({
      status: "sent",
      error: {
        code: "SMTP_SOME_RECIPIENTS_REJECTED",
        rejectedRecipients: [
          {
            address: "reject-nobody@example.org",
            reply: "550 5.1.1 Mailbox unavailable",
            class: "permanent",
          },
        ],
      },
    });
    const [received] = await receivedMessages(connection.fromAddress);
    expect(received?.rcptTo).toEqual(["ava@example.org"]);
  });

  it("fails permanently when every recipient is refused", async () => {
    const { admin } = await mailTenant();
    const { body } = await send(admin.token, { to: ["reject-a@example.org"], subject: "Hi", text: "Hi" });
    expect(body.data).toMatchObject({
      status: "failed",
      error: { code: "SMTP_RECIPIENTS_REJECTED", class: "permanent", step: "rcpt" },
    });
  });

  it("with an idempotency key returns the same email and never sends twice; a different email is a 422", async () => {
    const { admin, connection } = await mailTenant();
    const request = {
      to: ["ava@example.org"],
      subject: "Hi",
      text: "Once",
      idempotencyKey: "ticket-42-reply-7",
    };
    const first = await send(admin.token, request);
    const second = await send(admin.token, request);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.data).toEqual(first.body.data);
    expect(await receivedMessages(connection.fromAddress)).toHaveLength(1);

    const different = await send(admin.token, { ...request, text: "Something else" });
    expect(different.status).toBe(422);
    expect(different.body.error).toEqual({
      code: "VALIDATION_ERROR",
      message: "This idempotency key was used for a different email",
      details: { idempotencyKey: ["Already used with other recipients, content or template; use a new key"] },
    });
    expect(await receivedMessages(connection.fromAddress)).toHaveLength(1);
  });

  it("sends once when two requests with the same idempotency key race", async () => {
    const { admin, connection } = await mailTenant();
    const request = { to: ["ava@example.org"], subject: "Hi", text: "Once", idempotencyKey: "race-1" };
    const [a, b] = await Promise.all([send(admin.token, request), send(admin.token, request)]);
    // The winner sent it (200, sent); the loser answers with the record as it is then: still sending
    // (202, delivery continues) or already sent (200).
    expect(a.body.data?.id).toBe(b.body.data?.id);
    expect([a.body.data?.status, b.body.data?.status]).toContain("sent");
    for (const { status, body } of [a, b]) expect(status).toBe(body.data?.status === "sent" ? 200 : 202);
    expect(await receivedMessages(connection.fromAddress)).toHaveLength(1);
    const rows = await ownerSql()`select id from email_messages where tenant_id = ${admin.tenant.id}`;
    expect(rows).toHaveLength(1);
  });

  it("sends without TLS only to a plain server in test (security none)", async () => {
    const { admin, connection } = await mailTenant({ listener: "plain" });
    const { body } = await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    expect(body.data).toMatchObject({ status: "sent" });
    const [received] = await receivedMessages(connection.fromAddress);
    expect(received).toMatchObject({ server: "plain", secure: false, authMethod: "CRAM-MD5" });
  });

  it("refuses plain text in production (security none) before anything is stored", async () => {
    const { admin } = await mailTenant({ listener: "plain" });
    const response = await call(
      "/api/v1/emails",
      bearer(admin.token, { method: "POST", body: { to: ["ava@example.org"], subject: "Hi", text: "Hi" } }),
      { APP_ENV: "production" },
    );
    expect(response.status).toBe(412);
    expect((await envelope(response)).error).toEqual({
      code: "PRECONDITION_FAILED",
      message:
        "This connection sends without TLS, which is allowed only in development and test; set security to starttls or tls",
    });
    const rows = await ownerSql()`select id from email_messages where tenant_id = ${admin.tenant.id}`;
    expect(rows).toEqual([]);
  });

  it("refuses a server that does not offer STARTTLS (failed, never sent in clear)", async () => {
    const { admin, connection } = await mailTenant({ listener: "plain", security: "starttls" });
    const { body } = await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    expect(body.data).toMatchObject({ status: "failed", error: { code: "SMTP_STARTTLS_UNAVAILABLE" } });
    expect(await smtpTransactions(connection.fromAddress)).toEqual([]);
  });

  it("links an email to a ticket and lists emails by status and ticket, newest first", async () => {
    const { admin } = await mailTenant();
    const ticket = await call(
      "/api/v1/tickets",
      bearer(admin.token, {
        method: "POST",
        body: {
          subject: "Parcel late",
          description: "Where is it?",
          channel: "email",
          requester: { email: "ava@example.org" },
        },
      }),
    );
    const ticketId = (await envelope<{ id: string }>(ticket)).data?.id;
    expect(ticket.status).toBe(201);
    const sent = await send(admin.token, {
      to: ["ava@example.org"],
      subject: "Re: Parcel late",
      text: "Soon",
      ticketId,
    });
    const failed = await send(admin.token, { to: ["reject-x@example.org"], subject: "Other", text: "x" });
    expect(sent.body.data?.ticketId).toBe(ticketId);

    const byTicket = await envelope<{ items: Email[]; total: number }>(
      await call(`/api/v1/emails?ticketId=${ticketId}`, bearer(admin.token)),
    );
    expect(byTicket.data?.items.map((e) => e.id)).toEqual([sent.body.data?.id]);
    const byStatus = await envelope<{
      items: Email[];
      total: number;
      page: number;
      pageSize: number;
      totalPages: number;
    }>(await call("/api/v1/emails?status=failed", bearer(admin.token)));
    expect(byStatus.data).toMatchObject({ total: 1, page: 1, pageSize: 50, totalPages: 1 });
    expect(byStatus.data?.items.map((e) => e.id)).toEqual([failed.body.data?.id]);
    const all = await envelope<{ items: Email[] }>(
      await call("/api/v1/emails?pageSize=1&page=2", bearer(admin.token)),
    );
    expect(all.data?.items.map((e) => e.id)).toEqual([sent.body.data?.id]);
  });

  it("answers every invalid request with a 422 naming the fields, and stores nothing", async () => {
    const { admin } = await mailTenant();
    await createTemplate(admin.token, {
      key: "t1",
      name: "T1",
      subject: "Order {{n}}",
      bodyText: "{{n}} {{m}}",
    });
    const cases: [unknown, Record<string, string[]>][] = [
      [{ to: ["ava@example.org"], text: "no subject" }, { subject: ["Required without templateKey"] }],
      [
        { to: ["ava@example.org"], templateKey: "t1", subject: "x", variables: { n: 1, m: 2 } },
        { subject: ["Not allowed with templateKey: the template provides it"] },
      ],
      [
        { to: ["ava@example.org"], templateKey: "t1", variables: { n: 1 } },
        { "variables.m": ["Missing: the template uses this variable"] },
      ],
      [
        { to: ["ava@example.org"], templateKey: "nope" },
        { templateKey: ["No email template with this key"] },
      ],
      [
        { to: ["ava@example.org"], subject: "Hi\r\nBcc: victim@example.org", text: "x" },
        { subject: ["Must not contain line breaks"] },
      ],
      [
        { to: ["ava@example.org"], subject: "Hi", text: "x", ticketId: crypto.randomUUID() },
        { ticketId: ["No such ticket in this tenant"] },
      ],
      [
        { to: ["ava@example.org"], subject: "Hi", text: "x", connectionId: crypto.randomUUID() },
        { connectionId: ["No email (SMTP) connection with this id in this tenant"] },
      ],
    ];
    for (const [request, details] of cases) {
      const { status, body } = await send(admin.token, request);
      expect(status, JSON.stringify(request)).toBe(422);
      expect(body.error?.code).toBe("VALIDATION_ERROR");
      expect(body.error?.details).toEqual(details);
    }
    const zod = await send(admin.token, { to: [], subject: "x", text: "x" });
    expect(zod.status).toBe(422);
    expect(zod.body.error?.details).toHaveProperty("to");
    const badAddress = await send(admin.token, { to: ["not an address"], subject: "x", text: "x" });
    expect(badAddress.status).toBe(422);
    expect(badAddress.body.error?.details).toHaveProperty(["to.0"]);
    expect(await ownerSql()`select id from email_messages where tenant_id = ${admin.tenant.id}`).toEqual([]);
  });

  it("needs an enabled email connection (412) and a choice when there are several (422)", async () => {
    const user = await signedInUser({ permissions: ["email:send", "sync:admin"] });
    const none = await send(user.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    expect(none.status).toBe(412);
    expect(none.body.error?.message).toBe(
      "No enabled email connection: connect an SMTP server first (POST /api/v1/connections, provider smtp)",
    );
    const one: SmtpConnectionFixture = await smtpConnection(user.token);
    await smtpConnection(user.token);
    const several = await send(user.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    expect(several.status).toBe(422);
    expect(several.body.error?.details).toEqual({
      connectionId: ["This tenant has several email connections; say which one sends"],
    });
    const chosen = await send(user.token, {
      to: ["ava@example.org"],
      subject: "Hi",
      text: "Hi",
      connectionId: one.id,
    });
    expect(chosen.body.data).toMatchObject({ status: "sent", connectionId: one.id });
  });

  it("requires a token and email:send; another tenant's email is a 404", async () => {
    const { admin } = await mailTenant();
    const { body } = await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    const id = (body.data as Email).id;

    const anonymous = await call("/api/v1/emails", {
      method: "POST",
      body: "{}",
      headers: { "content-type": "application/json" },
    });
    expect(anonymous.status).toBe(401);
    expect((await envelope(anonymous)).error).toEqual({
      code: "UNAUTHORIZED",
      message: "Authentication required",
    });

    const reader = await signedInUser({ tenant: admin.tenant, permissions: ["tickets:read"] });
    for (const [path, method] of [
      ["/api/v1/emails", "POST"],
      ["/api/v1/emails", "GET"],
      [`/api/v1/emails/${id}`, "GET"],
    ] as const) {
      const response = await call(
        path,
        bearer(reader.token, { method, ...(method === "POST" ? { body: {} } : {}) }),
      );
      expect(response.status).toBe(403);
      expect((await envelope(response)).error).toEqual({
        code: "FORBIDDEN",
        message: "Missing permission email:send",
        details: { permission: "email:send" },
      });
    }

    const other = await signedInUser({ permissions: ["email:admin"] });
    const foreign = await call(`/api/v1/emails/${id}`, bearer(other.token));
    expect(foreign.status).toBe(404);
    expect((await envelope(foreign)).error).toEqual({ code: "NOT_FOUND", message: "Email not found" });
    const list = await envelope<{ items: Email[] }>(await call("/api/v1/emails", bearer(other.token)));
    expect(list.data?.items).toEqual([]);
  });

  it("serves the Redis status copy when Postgres is down, marked degraded (503 without one)", async () => {
    const { admin } = await mailTenant();
    const { body } = await send(admin.token, { to: ["ava@example.org"], subject: "Hi", text: "Hi" });
    const id = (body.data as Email).id;
    const ctx = testContext({ DATABASE_URL: DEAD_DATABASE_URL });
    ctx.actor = { type: "system", name: "test" };
    ctx.tenantId = admin.tenant.id;
    const email = await getEmail({ ctx, input: { id } });
    expect(email).toMatchObject({ id, status: "sent", attempts: 1, bodyText: null, bodyHtml: null });
    expect([...ctx.degraded]).toEqual(["cache"]);
    await expect(getEmail({ ctx, input: { id: crypto.randomUUID() } })).rejects.toBeInstanceOf(
      ServiceUnavailableError,
    );
  });
});

/** An email of the tenant that failed transiently twice and waits in `queued` (attempts 2). */
async function queuedEmail(token: string, fromAddress: string, to = "ava@example.org"): Promise<Email> {
  await failNext({ step: "mail", sender: fromAddress, code: 451, message: "Busy" });
  await failNext({ step: "mail", sender: fromAddress, code: 451, message: "Busy" });
  const { status, body } = await send(token, { to: [to], subject: "Hi", text: "Hi" });
  expect(status).toBe(202);
  return body.data as Email;
}

describe("never sending twice", () => {
  it("after a 250 that Postgres cannot record: sent anyway, and the stranded record is settled from Redis without a second send", async () => {
    const { admin, connection } = await mailTenant();
    const queued = await queuedEmail(admin.token, connection.fromAddress);
    // The queue consumer's claim of the next attempt, as deliver-queued-email.ts makes it.
    const [claimed] = await ownerSql()`
      update email_messages set status = 'sending', attempts = attempts + 1, next_attempt_at = null, updated_at = now()
       where id = ${queued.id} returning *`;
    const [connectionRow] = await ownerSql()`select * from connections where id = ${connection.id}`;
    const loaded = await connectionFromRow(testContext(), connectionRow as ConnectionRow);
    if (loaded.provider !== "smtp") throw new Error("expected the smtp connection");

    // The attempt reaches the server, which accepts; then every write to Postgres fails.
    const dead = testContext({ DATABASE_URL: DEAD_DATABASE_URL });
    const outcome = await attemptDelivery(dead, {
      tenantId: admin.tenant.id,
      row: claimed as ClaimedEmail,
      connection: loaded,
      inline: false,
    });
    expect(outcome.kind).toBe("sent");
    if (outcome.kind !== "sent") return;
    expect(outcome.view).toMatchObject({ id: queued.id, status: "sent", attempts: 3 });
    expect(outcome.view.smtpResponse).toMatch(/^250 /);
    expect(await receivedMessages(connection.fromAddress)).toHaveLength(1);
    expect(await cachedStatus(admin.tenant.id, queued.id)).toMatchObject({ status: "sent", attempts: 3 });
    const [stuck] = await ownerSql()`select status from email_messages where id = ${queued.id}`;
    expect(stuck?.status).toBe("sending");

    // Minutes later the record counts as stranded: the cron re-enqueues it, and the consumer settles it.
    await ownerSql()`update email_messages set updated_at = now() - interval '10 minutes' where id = ${queued.id}`;
    const swept = await requeueStrandedEmails({ ctx: testContext() });
    expect(swept.emails).toContainEqual({ tenantId: admin.tenant.id, id: queued.id });
    const result = await deliverQueued(admin.tenant.id, queued.id);
    expect(result.explicitAcks).toHaveLength(1);
    const after = await envelope<Email>(await call(`/api/v1/emails/${queued.id}`, bearer(admin.token)));
    expect(after.data).toMatchObject({
      status: "sent",
      attempts: 3,
      smtpResponse: outcome.view.smtpResponse,
      error: null,
      nextAttemptAt: null,
    });
    expect(after.data?.sentAt).not.toBeNull();
    expect(await receivedMessages(connection.fromAddress)).toHaveLength(1);
  });

  it("fails an email whose last attempt died mid-send instead of trying it forever", async () => {
    const { admin, connection } = await mailTenant();
    const queued = await queuedEmail(admin.token, connection.fromAddress);
    await ownerSql()`
      update email_messages set status = 'sending', attempts = ${MAX_ATTEMPTS},
             updated_at = now() - interval '10 minutes'
       where id = ${queued.id}`;
    await deliverQueued(admin.tenant.id, queued.id);
    const after = await envelope<Email>(await call(`/api/v1/emails/${queued.id}`, bearer(admin.token)));
    expect(after.data).toMatchObject({
      status: "failed",
      attempts: MAX_ATTEMPTS,
      nextAttemptAt: null,
      error: { code: "SMTP_ATTEMPTS_EXHAUSTED", retryable: false },
    });
    expect(await receivedMessages(connection.fromAddress)).toEqual([]);
    expect(await cachedStatus(admin.tenant.id, queued.id)).toMatchObject({ status: "failed" });
  });
});

describe("claim_stranded_email_messages", () => {
  it("leaves a suspended tenant's emails waiting and refuses to run inside a tenant's context", async () => {
    const { admin, connection } = await mailTenant();
    const queued = await queuedEmail(admin.token, connection.fromAddress);
    await ownerSql()`update email_messages set next_attempt_at = now() - interval '10 minutes' where id = ${queued.id}`;
    await ownerSql()`update tenants set status = 'suspended' where id = ${admin.tenant.id}`;
    const whileSuspended = await requeueStrandedEmails({ ctx: testContext() });
    expect(whileSuspended.emails.filter((e) => e.tenantId === admin.tenant.id)).toEqual([]);
    await ownerSql()`update tenants set status = 'active' where id = ${admin.tenant.id}`;
    const active = await requeueStrandedEmails({ ctx: testContext() });
    expect(active.emails.filter((e) => e.tenantId === admin.tenant.id)).toEqual([
      { tenantId: admin.tenant.id, id: queued.id },
    ]);

    const ctx = testContext();
    const refused = await tenantBatch(ctx.db.http, admin.tenant.id, (db) => [
      db.execute(sql`select * from claim_stranded_email_messages(1, 10)`),
    ]).then(
      () => null,
      (error: unknown) => error,
    );
    expect(String((refused as Error | null)?.cause ?? refused)).toContain(
      "claim_stranded_email_messages runs for no tenant",
    );
  });
});
