import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import PostalMime from "postal-mime";
import {
  SMTPServer,
  type SMTPServerAuthentication,
  type SMTPServerOptions,
  type SMTPServerSession,
} from "smtp-server";
import { readSmtpTestTls } from "./smtp-tls.ts";

/**
 * A real SMTP server for tests and the local stack: nodemailer's `smtp-server`, which speaks RFC 5321
 * with EHLO extensions (PIPELINING, 8BITMIME, SMTPUTF8, SIZE, ENHANCEDSTATUSCODES), STARTTLS (RFC 3207),
 * implicit TLS, and AUTH PLAIN / LOGIN / CRAM-MD5 (RFC 4954) — only after TLS, as real submission
 * servers require. Three listeners on 127.0.0.1:
 * - `starttls`: plain TCP offering STARTTLS (submission, like port 587);
 * - `tls`: implicit TLS (like port 465);
 * - `plain`: no TLS at all, AUTH allowed in clear (for `security: "none"` and "no STARTTLS offered");
 * - `untrusted`: STARTTLS with a self-signed certificate nobody trusts (the client must refuse it);
 * - `silent`: a TCP listener that accepts and never says a word (for timeouts).
 * Certificates come from test/fakes/smtp-tls.ts (a per-run CA the Worker's runtime trusts).
 *
 * Behaviour tests can rely on:
 * - AUTH: accounts registered through the control API; anything else gets `535 5.7.8`.
 * - RCPT: a recipient whose local part starts with `reject-` gets `550 5.1.1`; `later-` gets `450 4.2.1`
 *   (greylisting); every other recipient is accepted.
 * - DATA: the message is stored (envelope, raw message, and a parse by postal-mime, an independent MIME
 *   parser) and answered `250 2.6.0 Ok: queued as <id>`; over SIZE (10 MiB) → `552 5.3.4`.
 * - Queued failures (`fail-next`), FIFO per key, consumed by the next matching command: at `auth` (keyed
 *   by username), or `mail` / `rcpt` / `data` (keyed by the sender address): reply with a given code
 *   and text, or drop the connection without a reply.
 *
 * Control API (JSON; Workers tests cannot call this module directly):
 * | request                                                             | answer |
 * |---------------------------------------------------------------------|--------|
 * | POST /__control/accounts { username, password }                     | 204 |
 * | POST /__control/fail-next { step, username? or sender?, code?, message?, drop? } | 204 |
 * | GET  /__control/messages?sender=…                                   | 200 { items: ReceivedMessage[] } oldest first |
 * | GET  /__control/transactions?sender=…                               | 200 { items: [{ server, secure, authMethod, username, mailFrom, step, outcome }] } |
 */

export type SmtpListener = "starttls" | "tls" | "plain" | "untrusted";
export type FailStep = "auth" | "mail" | "rcpt" | "data";

export interface ReceivedMessage {
  id: string;
  server: SmtpListener;
  secure: boolean;
  authMethod: string | null;
  username: string | null;
  ehloName: string;
  mailFrom: string;
  mailParams: Record<string, string | true>;
  rcptTo: string[];
  raw: string;
  parsed: {
    subject: string | null;
    from: unknown;
    to: unknown;
    cc: unknown;
    replyTo: unknown;
    messageId: string | null;
    date: string | null;
    text: string | null;
    html: string | null;
    headers: { key: string; value: string }[];
  };
  receivedAt: string;
}

interface Failure {
  code?: number;
  message?: string;
  drop?: boolean;
}

interface Transaction {
  server: SmtpListener;
  secure: boolean;
  authMethod: string | null;
  username: string | null;
  mailFrom: string;
  step: string;
  outcome: string;
}

export interface SmtpFake {
  /** Control API origin. */
  url: string;
  ports: Record<SmtpListener | "silent", number>;
  /** False when vitest.config.ts made no TLS material (test/fakes/smtp-tls.ts): STARTTLS is then not offered. */
  tls: boolean;
  close(): Promise<void>;
}

const MAX_SIZE = 10 * 1024 * 1024;

class SmtpReplyError extends Error {
  constructor(
    readonly responseCode: number,
    message: string,
  ) {
    super(message);
  }
}

interface SessionInfo {
  server: SmtpListener;
  authMethod: string | null;
}

export async function startSmtpFake(): Promise<SmtpFake> {
  const tls = readSmtpTestTls();
  const accounts = new Map<string, string>();
  const failures = new Map<string, Failure[]>();
  const messages: ReceivedMessage[] = [];
  const transactions: Transaction[] = [];
  const sessions = new WeakMap<SMTPServerSession, SessionInfo>();
  const servers: SMTPServer[] = [];

  const key = (step: FailStep, who: string) => `${step}:${who.toLowerCase()}`;
  const takeFailure = (step: FailStep, who: string): Failure | undefined => {
    const queue = failures.get(key(step, who));
    const failure = queue?.shift();
    if (queue && queue.length === 0) failures.delete(key(step, who));
    return failure;
  };

  const sessionInfo = (session: SMTPServerSession): SessionInfo =>
    sessions.get(session) ?? { server: "plain", authMethod: null };

  const record = (session: SMTPServerSession, step: string, outcome: string, sender?: string) => {
    const mailFrom = sender ?? (session.envelope.mailFrom ? session.envelope.mailFrom.address : "");
    const info = sessionInfo(session);
    transactions.push({
      server: info.server,
      secure: session.secure,
      authMethod: info.authMethod,
      username: typeof session.user === "string" ? session.user : null,
      mailFrom,
      step,
      outcome,
    });
  };

  /** Drops the client's TCP connection without a reply, as a crashing server or a broken network would. */
  const drop = (server: SMTPServer, session: SMTPServerSession) => {
    for (const connection of server.connections) {
      if (connection.session === session) connection._socket.destroy();
    }
  };

  /** Applies a queued failure: true when it replied or dropped (the caller stops). */
  const applyFailure = (
    server: SMTPServer,
    session: SMTPServerSession,
    failure: Failure | undefined,
    step: FailStep,
    sender: string | undefined,
    callback: (error?: Error | null) => void,
  ): boolean => {
    if (!failure) return false;
    record(session, step, failure.drop ? "dropped" : `reply ${failure.code}`, sender);
    if (failure.drop) {
      drop(server, session);
      return true;
    }
    callback(new SmtpReplyError(failure.code ?? 451, failure.message ?? "Temporary local problem"));
    return true;
  };

  const makeServer = (name: SmtpListener): SMTPServer => {
    const options: SMTPServerOptions = {
      name: "smtp.fake.test",
      banner: `Tradewind test SMTP (${name})`,
      size: MAX_SIZE,
      authMethods: ["PLAIN", "LOGIN", "CRAM-MD5"],
      hideENHANCEDSTATUSCODES: false,
      disableReverseLookup: true,
      logger: false,
      socketTimeout: 30_000,
      closeTimeout: 1000,
    };
    if (name === "plain" || !tls) {
      options.disabledCommands = ["STARTTLS"];
      options.allowInsecureAuth = name === "plain";
    } else if (name === "untrusted") {
      options.key = tls.untrusted.key;
      options.cert = tls.untrusted.cert;
    } else {
      options.key = tls.key;
      options.cert = tls.certChain;
      if (name === "tls") options.secure = true;
    }
    const server: SMTPServer = new SMTPServer({
      ...options,
      onConnect(session, callback) {
        sessions.set(session, { server: name, authMethod: null });
        callback();
      },
      onAuth(auth: SMTPServerAuthentication, session, callback) {
        const username = auth.username ?? "";
        if (
          applyFailure(server, session, takeFailure("auth", username), "auth", undefined, (e) => callback(e))
        ) {
          return;
        }
        const password = accounts.get(username);
        const ok =
          password !== undefined &&
          (auth.method === "CRAM-MD5" ? auth.validatePassword(password) : auth.password === password);
        const info = sessionInfo(session);
        if (!ok) {
          record(session, "auth", "rejected");
          callback(new SmtpReplyError(535, "Authentication credentials invalid"));
          return;
        }
        sessions.set(session, { ...info, authMethod: auth.method });
        callback(null, { user: username });
      },
      onMailFrom(address, session, callback) {
        const failure = takeFailure("mail", address.address);
        if (applyFailure(server, session, failure, "mail", address.address, callback)) return;
        record(session, "mail", "accepted", address.address);
        callback();
      },
      onRcptTo(address, session, callback) {
        const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
        if (applyFailure(server, session, takeFailure("rcpt", sender), "rcpt", sender, callback)) return;
        const local = address.address.split("@")[0] ?? "";
        if (local.startsWith("reject-")) {
          callback(new SmtpReplyError(550, "Mailbox unavailable"));
          return;
        }
        if (local.startsWith("later-")) {
          callback(new SmtpReplyError(450, "Greylisted, try again later"));
          return;
        }
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (chunk: Buffer) => chunks.push(chunk));
        stream.on("end", () => {
          const sender = session.envelope.mailFrom ? session.envelope.mailFrom.address : "";
          if (stream.sizeExceeded) {
            record(session, "data", "too large");
            callback(new SmtpReplyError(552, "Message exceeds fixed maximum message size"));
            return;
          }
          if (applyFailure(server, session, takeFailure("data", sender), "data", sender, callback)) return;
          const raw = Buffer.concat(chunks).toString("utf8");
          const id = Math.random().toString(36).slice(2, 12).toUpperCase();
          const info = sessionInfo(session);
          PostalMime.parse(raw).then(
            (email) => {
              messages.push({
                id,
                server: name,
                secure: session.secure,
                authMethod: info.authMethod,
                username: typeof session.user === "string" ? session.user : null,
                ehloName: session.hostNameAppearsAs,
                mailFrom: sender,
                mailParams: session.envelope.mailFrom
                  ? (session.envelope.mailFrom.args as Record<string, string | true>)
                  : {},
                rcptTo: session.envelope.rcptTo.map((r) => r.address),
                raw,
                parsed: {
                  subject: email.subject ?? null,
                  from: email.from ?? null,
                  to: email.to ?? null,
                  cc: email.cc ?? null,
                  replyTo: email.replyTo ?? null,
                  messageId: email.messageId ?? null,
                  date: email.date ?? null,
                  text: email.text ?? null,
                  html: email.html ?? null,
                  headers: email.headers.map((h) => ({ key: h.key, value: h.value })),
                },
                receivedAt: new Date().toISOString(),
              });
              record(session, "data", "accepted");
              callback(null, `Ok: queued as ${id}`);
            },
            (error: unknown) => callback(new SmtpReplyError(554, `Unparsable message: ${String(error)}`)),
          );
        });
      },
    });
    // Errors of single client connections (a client that drops, a refused handshake) are expected.
    server.on("error", () => undefined);
    servers.push(server);
    return server;
  };

  const listen = (server: SMTPServer) =>
    new Promise<number>((resolve, reject) => {
      server.server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve((server.server.address() as AddressInfo).port));
    });

  const silentSockets = new Set<Socket>();
  const silent = createNetServer((socket) => {
    silentSockets.add(socket);
    socket.on("close", () => silentSockets.delete(socket));
    socket.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  const ports = {
    starttls: await listen(makeServer("starttls")),
    tls: tls ? await listen(makeServer("tls")) : 0,
    plain: await listen(makeServer("plain")),
    untrusted: tls ? await listen(makeServer("untrusted")) : 0,
    silent: (silent.address() as AddressInfo).port,
  };

  const control = createServer((req, res) => {
    handleControl(req, res).catch((error: unknown) => json(res, 500, { error: String(error) }));
  });

  async function handleControl(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    if (req.method === "POST" && url.pathname === "/__control/accounts") {
      const body = (await readJson(req)) as { username?: string; password?: string };
      if (!body.username || !body.password) return json(res, 400, { error: "username and password" });
      accounts.set(body.username, body.password);
      res.writeHead(204).end();
      return;
    }
    if (req.method === "POST" && url.pathname === "/__control/fail-next") {
      const body = (await readJson(req)) as Failure & { step?: FailStep; username?: string; sender?: string };
      const who = body.step === "auth" ? body.username : body.sender;
      if (!body.step || !["auth", "mail", "rcpt", "data"].includes(body.step) || !who) {
        return json(res, 400, { error: "step (auth|mail|rcpt|data) with username (auth) or sender" });
      }
      const queue = failures.get(key(body.step, who)) ?? [];
      queue.push({
        ...(body.code === undefined ? {} : { code: body.code }),
        ...(body.message === undefined ? {} : { message: body.message }),
        ...(body.drop ? { drop: true } : {}),
      });
      failures.set(key(body.step, who), queue);
      res.writeHead(204).end();
      return;
    }
    const sender = url.searchParams.get("sender")?.toLowerCase();
    if (req.method === "GET" && url.pathname === "/__control/messages") {
      return json(res, 200, {
        items: messages.filter((m) => !sender || m.mailFrom.toLowerCase() === sender),
      });
    }
    if (req.method === "GET" && url.pathname === "/__control/transactions") {
      return json(res, 200, {
        items: transactions.filter((t) => !sender || t.mailFrom.toLowerCase() === sender),
      });
    }
    json(res, 404, { error: "not found" });
  }

  await new Promise<void>((resolve) => control.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;

  return {
    url,
    ports,
    tls: tls !== null,
    async close() {
      await Promise.all([
        new Promise<void>((resolve) => control.close(() => resolve())),
        new Promise<void>((resolve) => {
          silent.close(() => resolve());
          for (const socket of silentSockets) socket.destroy();
        }),
        ...servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))),
      ]);
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" }).end(JSON.stringify(body));
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? (JSON.parse(text) as unknown) : {};
}
