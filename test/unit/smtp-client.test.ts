// The SMTP client's session logic (src/adapters/email/smtp/client.ts) against scripted servers that
// misbehave in ways a real server used in the workers tests cannot: data injected after the STARTTLS
// reply, a password echoed in a reply, a server that never answers the final dot. Every test also checks
// that the socket is closed when the attempt is over, whatever its outcome.
import { describe, expect, it } from "vitest";
import { sendMail } from "../../src/adapters/email/smtp/client";
import { SmtpError } from "../../src/adapters/email/smtp/errors";
import { buildMessage } from "../../src/adapters/email/smtp/mime";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Turn {
  tls: boolean;
  reply(text: string): void;
}

interface Script {
  greeting?: string;
  /** Answers one command line (without CRLF); silence = no reply. */
  command(line: string, turn: Turn): void;
  /** Answers the end of DATA; `raw` is the payload as sent (dot-stuffed, without the final dot line). */
  message?(raw: string, turn: Turn): void;
}

/** A socket of the `cloudflare:sockets` shape whose other end is a script. */
class ScriptedSocket {
  closedByClient = false;
  upgraded = false;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  readonly opened = Promise.resolve({});
  readonly closed = new Promise<void>(() => undefined);
  private controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  private buffer = "";
  private inData = false;

  constructor(
    private readonly server: ScriptedServer,
    readonly tls: boolean,
  ) {
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.controller = controller;
      },
    });
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => {
        if (this.closedByClient || this.upgraded) throw new Error("socket is closed");
        this.receive(decoder.decode(chunk));
      },
    });
  }

  get secureTransport(): "on" | "off" | "starttls" {
    return this.tls ? "on" : "starttls";
  }

  push(text: string): void {
    if (this.closedByClient) return;
    this.controller?.enqueue(encoder.encode(text.endsWith("\r\n") ? text : `${text}\r\n`));
  }

  async close(): Promise<void> {
    this.closedByClient = true;
    this.hangUp();
  }

  /** The server's side ends the connection (the client still has to close its own). */
  hangUp(): void {
    try {
      this.controller?.close();
    } catch {
      // already closed
    }
  }

  startTls(options?: unknown): ScriptedSocket {
    this.server.startTlsCalls.push(options);
    // As in workerd: the plain streams must have been released first.
    if (this.readable.locked || this.writable.locked) throw new TypeError("streams are locked");
    this.upgraded = true;
    const secured = new ScriptedSocket(this.server, true);
    this.server.sockets.push(secured);
    return secured;
  }

  private receive(text: string): void {
    this.buffer += text;
    const turn: Turn = { tls: this.tls, reply: (t) => this.push(t) };
    for (;;) {
      if (this.inData) {
        const end = this.buffer.startsWith(".\r\n") ? 0 : this.buffer.indexOf("\r\n.\r\n");
        if (end < 0) return;
        const raw = end === 0 ? "" : this.buffer.slice(0, end + 2);
        this.buffer = this.buffer.slice(end === 0 ? 3 : end + 5);
        this.inData = false;
        this.server.messages.push(raw);
        (this.server.script.message ?? ((_r, t) => t.reply("250 2.0.0 Ok: queued as SCRIPTED")))(raw, turn);
        continue;
      }
      const lf = this.buffer.indexOf("\r\n");
      if (lf < 0) return;
      const line = this.buffer.slice(0, lf);
      this.buffer = this.buffer.slice(lf + 2);
      this.server.commands.push(line);
      let replied = "";
      this.server.script.command(line, {
        tls: this.tls,
        reply: (t) => {
          replied = t;
          this.push(t);
        },
      });
      if (line.toUpperCase() === "DATA" && replied.startsWith("354")) this.inData = true;
    }
  }
}

class ScriptedServer {
  readonly sockets: ScriptedSocket[] = [];
  readonly startTlsCalls: unknown[] = [];
  readonly commands: string[] = [];
  readonly messages: string[] = [];

  constructor(readonly script: Script) {}

  connect = (_address: SocketAddress, options: SocketOptions): Socket => {
    const socket = new ScriptedSocket(this, options.secureTransport === "on");
    this.sockets.push(socket);
    socket.push(this.script.greeting ?? "220 mail.example.net ESMTP ready");
    return socket as unknown as Socket;
  };

  /** Every socket was closed by the client, or handed over to its TLS upgrade. */
  allClosed(): boolean {
    return this.sockets.length > 0 && this.sockets.every((s) => s.closedByClient || s.upgraded);
  }
}

const PASSWORD = "correct-horse-battery-staple";

/** A submission server: STARTTLS, then AUTH PLAIN with PASSWORD, PIPELINING. */
function submission(overrides: Partial<Script> = {}): Script {
  return {
    command(line, turn) {
      const verb = line.split(" ")[0]?.toUpperCase();
      if (verb === "EHLO") {
        turn.reply(
          turn.tls
            ? "250-mail.example.net\r\n250-PIPELINING\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME"
            : "250-mail.example.net\r\n250-PIPELINING\r\n250 STARTTLS",
        );
      } else if (verb === "STARTTLS") turn.reply("220 2.0.0 Ready to start TLS");
      else if (verb === "AUTH") turn.reply("235 2.7.0 Authentication successful");
      else if (verb === "MAIL" || verb === "RCPT") turn.reply("250 2.1.0 Ok");
      else if (verb === "DATA") turn.reply("354 End data with <CR><LF>.<CR><LF>");
      else if (verb === "QUIT") turn.reply("221 2.0.0 Bye");
      else turn.reply("502 5.5.2 Command not recognized");
    },
    ...overrides,
  };
}

function request(
  server: ScriptedServer,
  extra: { timeoutMs?: number; budgetMs?: number; text?: string } = {},
) {
  return sendMail(server.connect, {
    host: "mail.example.net",
    port: 587,
    security: "starttls",
    credentials: { username: "support@acme.example", password: PASSWORD },
    clientName: "acme.example",
    envelope: { from: "support@acme.example", to: ["ava@example.org"] },
    message: buildMessage({
      from: { address: "support@acme.example" },
      to: [{ address: "ava@example.org" }],
      subject: "Hello",
      text: extra.text ?? "Hi",
      messageId: "<1@acme.example>",
      date: new Date("2026-11-22T08:00:00Z"),
    }),
    timeoutMs: extra.timeoutMs ?? 2000,
    ...(extra.budgetMs === undefined ? {} : { budgetMs: extra.budgetMs }),
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

describe("SMTP session against scripted servers", () => {
  it("upgrades with startTls() without options (workerd refuses expectedServerHostname) and closes the socket", async () => {
    const server = new ScriptedServer(submission());
    const result = await request(server);
    expect(result).toMatchObject({ tls: true, authMechanism: "PLAIN", accepted: ["ava@example.org"] });
    expect(server.startTlsCalls).toEqual([undefined]);
    // Pre-TLS capabilities are forgotten: the second EHLO went over TLS, AUTH only after it.
    expect(server.commands.map((c) => c.split(" ")[0])).toEqual([
      "EHLO",
      "STARTTLS",
      "EHLO",
      "AUTH",
      "MAIL",
      "RCPT",
      "DATA",
      "QUIT",
    ]);
    expect(server.allClosed()).toBe(true);
  });

  it("refuses a server that sends anything after its STARTTLS reply (command injection) before TLS starts", async () => {
    const server = new ScriptedServer(
      submission({
        command(line, turn) {
          if (line === "STARTTLS") turn.reply("220 2.0.0 Ready\r\n250-injected\r\n250 AUTH PLAIN");
          else submission().command(line, turn);
        },
      }),
    );
    const error = await failure(request(server));
    expect(error.toRecord()).toMatchObject({
      code: "SMTP_PROTOCOL_ERROR",
      class: "permanent",
      retryable: false,
      step: "starttls",
    });
    expect(server.startTlsCalls).toEqual([]);
    expect(server.commands).toEqual(["EHLO acme.example", "STARTTLS"]);
    expect(server.allClosed()).toBe(true);
  });

  it("never lets an echoed password into the error, its reply or its cause", async () => {
    const server = new ScriptedServer(
      submission({
        command(line, turn) {
          if (line.startsWith("AUTH ")) {
            turn.reply(`535 5.7.8 Bad credentials ${PASSWORD} (${line.slice("AUTH PLAIN ".length)})`);
          } else submission().command(line, turn);
        },
      }),
    );
    const error = await failure(request(server));
    const everything = JSON.stringify({
      record: error.toRecord(),
      message: error.message,
      cause: String(error.cause),
    });
    expect(error.toRecord()).toMatchObject({ code: "SMTP_AUTH_FAILED", class: "auth", step: "auth" });
    expect(error.reply).toContain("535 5.7.8 Bad credentials [redacted]");
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(btoa(`\u0000support@acme.example\u0000${PASSWORD}`));
    expect(server.allClosed()).toBe(true);
  });

  it("ends an attempt whose server never answers the final dot when its budget is used up", async () => {
    const server = new ScriptedServer(submission({ message: () => undefined }));
    const error = await failure(request(server, { timeoutMs: 60_000, budgetMs: 300 }));
    expect(error.toRecord()).toMatchObject({ code: "SMTP_TIMEOUT", class: "transient", step: "message" });
    expect(server.messages).toHaveLength(1);
    expect(server.allClosed()).toBe(true);
  });

  it("waits for the reply to the final dot longer than for other replies (a retry there sends twice)", async () => {
    const server = new ScriptedServer(
      submission({
        message: (_raw, turn) => {
          setTimeout(() => turn.reply("250 2.0.0 Ok: queued as LATE"), 400);
        },
      }),
    );
    const result = await sendMail(server.connect, {
      host: "mail.example.net",
      port: 587,
      security: "starttls",
      credentials: null,
      clientName: "acme.example",
      envelope: { from: "support@acme.example", to: ["ava@example.org"] },
      message: buildMessage({
        from: { address: "support@acme.example" },
        to: [{ address: "ava@example.org" }],
        subject: "Hello",
        text: "Hi",
        messageId: "<2@acme.example>",
        date: new Date("2026-11-22T08:00:00Z"),
      }),
      timeoutMs: 200,
      finalReplyTimeoutMs: 10_000,
    });
    expect(result.response).toBe("250 2.0.0 Ok: queued as LATE");
    expect(server.allClosed()).toBe(true);
  });

  it("dot-stuffs a line that is just '.', and normalises bare LF and CR on the wire", async () => {
    const server = new ScriptedServer(submission());
    await request(server, { text: "one\n.\n.two\rthree" });
    const [raw] = server.messages;
    expect(raw).toContain("\r\none\r\n..\r\n..two\r\nthree=\r\n");
    expect(raw).not.toMatch(/\r(?!\n)|(?<!\r)\n/);
  });

  it("reports the refusal of a pipelined MAIL, not how the server ends the abandoned DATA", async () => {
    const server = new ScriptedServer(
      submission({
        command(line, turn) {
          if (line.startsWith("MAIL ")) turn.reply("550 5.7.1 Sender address rejected");
          else if (line.startsWith("RCPT ")) turn.reply("503 5.5.1 Error: need MAIL command");
          // A server that wrongly accepts DATA anyway, then hangs up on the empty message.
          else submission().command(line, turn);
        },
        message: () => {
          for (const socket of server.sockets) socket.hangUp();
        },
      }),
    );
    const error = await failure(request(server));
    expect(error.toRecord()).toMatchObject({
      code: "SMTP_REJECTED",
      class: "permanent",
      step: "mail",
      reply: "550 5.7.1 Sender address rejected",
    });
    expect(server.messages).toEqual([""]);
    expect(server.allClosed()).toBe(true);
  });

  it("closes the socket when the server refuses at once (554 greeting)", async () => {
    const server = new ScriptedServer({ ...submission(), greeting: "554 5.3.2 No service for you" });
    const error = await failure(request(server));
    expect(error.toRecord()).toMatchObject({ code: "SMTP_REJECTED", step: "greeting" });
    expect(server.allClosed()).toBe(true);
  });
});
