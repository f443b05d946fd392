import { type Scrubber, scrubber } from "../../../lib/scrub";
import { NO_CAPABILITIES, parseCapabilities, type SmtpCapabilities } from "./capabilities";
import { SmtpChannel, SmtpConnectionClosedError, SmtpTimeoutError, withTimeout } from "./channel";
import { base64Utf8, dataPayload, isPrintableAscii } from "./encoding";
import {
  type RejectedRecipient,
  SmtpError,
  type SmtpErrorClass,
  type SmtpErrorCode,
  type SmtpStep,
} from "./errors";
import type { BuiltMessage } from "./mime";
import { classifyReply, formatReply, SmtpProtocolError, type SmtpReply } from "./reply";
import {
  chooseMechanism,
  cramMd5Response,
  credentialNeedles,
  plainResponse,
  type SaslMechanism,
} from "./sasl";

/**
 * An SMTP client (RFC 5321) for message submission from a Worker over `cloudflare:sockets`:
 *
 * 1. connect (`security: "tls"` = implicit TLS, RFC 8314, usually port 465; `"starttls"` = plain TCP
 *    upgraded with STARTTLS, RFC 3207, usually 587; `"none"` = no TLS, for local test servers only);
 * 2. the 220 greeting; EHLO, or HELO when the server does not know EHLO (then no extensions);
 * 3. STARTTLS when asked for — a server that does not offer it is an error, never a silent downgrade —
 *    then EHLO again (RFC 3207 §4.2: what the server said before TLS is forgotten);
 * 4. AUTH with the best mechanism both sides speak (sasl.ts); never over plain text unless allowed;
 * 5. MAIL FROM (with SIZE / SMTPUTF8 parameters where announced and needed), one RCPT TO per
 *    recipient — a refused recipient is recorded and the others still get the message — and DATA with
 *    the dot-stuffed, CRLF-normalised message; with PIPELINING (RFC 2920) MAIL, RCPTs and DATA go out in
 *    one write and their replies are read in order;
 * 6. QUIT.
 *
 * Every read and write has a deadline (`timeoutMs`; the reply to the final dot gets
 * `finalReplyTimeoutMs`, by default twice that: RFC 5321 §4.5.3.2.6 gives it the longest, because a
 * client that gives up while the server is still accepting the message sends it twice on its retry), and
 * the whole attempt has one too (`budgetMs`), so a caller can rely on an attempt being over by then.
 * Failures become `SmtpError`s (errors.ts) with the step, the reply and its class. Credentials are never
 * part of an error: server texts are scrubbed of them in every form they took on the wire.
 */

export type SmtpSecurity = "starttls" | "tls" | "none";

/** `connect` of `cloudflare:sockets` (injected so the protocol can be driven by any socket). */
export type SocketConnector = (address: SocketAddress, options: SocketOptions) => Socket;

export interface SmtpSendRequest {
  host: string;
  port: number;
  security: SmtpSecurity;
  /** Null = send without AUTH (a relay that trusts the client some other way). */
  credentials: { username: string; password: string } | null;
  /** The name we give in EHLO: a domain of ours (RFC 5321 §4.1.1.1). */
  clientName: string;
  envelope: { from: string; to: readonly string[] };
  message: BuiltMessage;
  /** The deadline of each step (connect, each reply, each write). */
  timeoutMs: number;
  /** The deadline of the reply to the end of DATA (default: twice `timeoutMs`). */
  finalReplyTimeoutMs?: number;
  /** The deadline of the whole attempt, whatever the steps' own deadlines (default: none). */
  budgetMs?: number;
}

export interface SmtpSendResult {
  /** The server's reply to the end of DATA, e.g. `250 2.0.0 Ok: queued as 4XyZ`. */
  response: string;
  accepted: string[];
  rejected: RejectedRecipient[];
  tls: boolean;
  authMechanism: SaslMechanism | null;
  capabilities: SmtpCapabilities;
}

export async function sendMail(connect: SocketConnector, request: SmtpSendRequest): Promise<SmtpSendResult> {
  const session = new SmtpSession(connect, request);
  try {
    return await session.run();
  } finally {
    await session.close();
  }
}

class SmtpSession {
  private channel: SmtpChannel | null = null;
  private socket: Socket | null = null;
  private step: SmtpStep = "connect";
  private tls = false;
  private readonly scrub: Scrubber;
  /** When the attempt's budget runs out (epoch ms). */
  private readonly deadline: number;

  constructor(
    private readonly connect: SocketConnector,
    private readonly request: SmtpSendRequest,
  ) {
    const c = request.credentials;
    this.scrub = scrubber(c ? credentialNeedles(c.username, c.password) : []);
    this.deadline = Date.now() + (request.budgetMs ?? Number.POSITIVE_INFINITY);
  }

  /** A step's deadline, shortened to what is left of the attempt's budget. */
  private within(timeoutMs: number): number {
    const left = this.deadline - Date.now();
    if (left <= 0) throw new SmtpTimeoutError("the attempt's time budget is used up");
    return Math.min(timeoutMs, left);
  }

  async run(): Promise<SmtpSendResult> {
    const r = this.request;
    try {
      await this.open();
      let capabilities = await this.hello();
      if (r.security === "starttls") capabilities = await this.startTls(capabilities);
      const authMechanism = r.credentials ? await this.authenticate(capabilities, r.credentials) : null;
      const result = await this.transaction(capabilities);
      await this.quit();
      return { ...result, tls: this.tls, authMechanism, capabilities };
    } catch (error) {
      throw this.asSmtpError(error);
    }
  }

  async close(): Promise<void> {
    await this.socket?.close().catch(() => undefined);
  }

  private async open(): Promise<void> {
    const r = this.request;
    this.step = "connect";
    const secureTransport = r.security === "tls" ? "on" : r.security === "starttls" ? "starttls" : "off";
    const socket = this.connect(
      { hostname: r.host, port: r.port },
      { secureTransport, allowHalfOpen: false },
    );
    this.socket = socket;
    try {
      await withTimeout(
        socket.opened,
        this.within(r.timeoutMs),
        () => void socket.close().catch(() => undefined),
      );
    } catch (error) {
      if (error instanceof SmtpTimeoutError) throw error;
      throw this.failure("SMTP_CONNECTION_FAILED", "transient", `Could not connect to ${r.host}:${r.port}`, {
        cause: error,
      });
    }
    this.tls = r.security === "tls";
    this.channel = new SmtpChannel(socket);
    this.step = "greeting";
    const greeting = await this.read();
    // RFC 5321 §3.1: 220 = ready; 554 = "no SMTP service here"; 421 = busy, try later.
    if (greeting.code !== 220) this.replyFailure(greeting);
  }

  /** EHLO, falling back to HELO when the server does not recognise it (then it announces nothing). */
  private async hello(): Promise<SmtpCapabilities> {
    this.step = "ehlo";
    const ehlo = await this.command(`EHLO ${this.request.clientName}`);
    if (ehlo.code === 250) return parseCapabilities(ehlo);
    // 500/502: command unknown or not implemented — an RFC 821 server (RFC 5321 §3.2).
    if (ehlo.code === 500 || ehlo.code === 502) {
      const helo = await this.command(`HELO ${this.request.clientName}`);
      if (helo.code === 250) return NO_CAPABILITIES;
      this.replyFailure(helo);
    }
    this.replyFailure(ehlo);
  }

  private async startTls(capabilities: SmtpCapabilities): Promise<SmtpCapabilities> {
    this.step = "starttls";
    if (!capabilities.starttls) {
      throw this.failure(
        "SMTP_STARTTLS_UNAVAILABLE",
        "permanent",
        "The server does not offer STARTTLS; refusing to send credentials and mail in plain text",
      );
    }
    const reply = await this.command("STARTTLS");
    if (reply.code !== 220) this.replyFailure(reply);
    const channel = this.channel;
    const socket = this.socket;
    if (!channel || !socket) throw new Error("STARTTLS without a connection");
    if (channel.buffered() > 0) {
      // Anything sent after the 220 came before TLS and must never be read as if protected by it
      // (the STARTTLS command-injection family of bugs): a server doing this is not trustworthy.
      throw this.failure("SMTP_PROTOCOL_ERROR", "permanent", "The server sent data after its STARTTLS reply");
    }
    channel.release();
    let secured: Socket;
    try {
      // No options: the runtime verifies the certificate against the host name `connect` dialled (which
      // is `request.host`), and workerd refuses `expectedServerHostname` ("not currently supported in
      // startTls", a TypeError) — passing it would fail every STARTTLS send where that check is enforced.
      secured = socket.startTls();
    } catch (error) {
      throw this.failure("SMTP_TLS_FAILED", "permanent", "The TLS handshake could not start", {
        cause: error,
      });
    }
    this.socket = secured;
    this.channel = new SmtpChannel(secured);
    this.tls = true;
    // The handshake happens on first use; a refused certificate surfaces as a failure of this EHLO.
    this.step = "starttls";
    let ehlo: SmtpReply;
    try {
      ehlo = await this.command(`EHLO ${this.request.clientName}`);
    } catch (error) {
      if (error instanceof SmtpTimeoutError) throw error;
      throw this.failure(
        "SMTP_TLS_FAILED",
        "permanent",
        `TLS with ${this.request.host} failed: the certificate is not trusted or not for this host, or the handshake broke`,
        { cause: error },
      );
    }
    if (ehlo.code !== 250) this.replyFailure(ehlo);
    return parseCapabilities(ehlo);
  }

  private async authenticate(
    capabilities: SmtpCapabilities,
    credentials: { username: string; password: string },
  ): Promise<SaslMechanism> {
    this.step = "auth";
    if (!this.tls && this.request.security !== "none") {
      throw this.failure("SMTP_AUTH_UNAVAILABLE", "auth", "Refusing to authenticate without TLS");
    }
    const mechanism = chooseMechanism(capabilities.auth, this.tls);
    if (!mechanism) {
      throw this.failure(
        "SMTP_AUTH_UNAVAILABLE",
        "auth",
        capabilities.auth.length === 0
          ? "The server offers no authentication (AUTH) on this connection"
          : `The server offers only ${capabilities.auth.join(", ")}; supported are PLAIN, LOGIN and CRAM-MD5`,
      );
    }
    const { username, password } = credentials;
    let reply: SmtpReply;
    if (mechanism === "PLAIN") {
      reply = await this.command(`AUTH PLAIN ${plainResponse(username, password)}`);
    } else if (mechanism === "LOGIN") {
      reply = await this.command("AUTH LOGIN");
      if (reply.code === 334) reply = await this.command(base64Utf8(username));
      if (reply.code === 334) reply = await this.command(base64Utf8(password));
    } else {
      reply = await this.command("AUTH CRAM-MD5");
      if (reply.code === 334) {
        const challenge = reply.lines[0] ?? "";
        reply = await this.command(cramMd5Response(username, password, challenge));
      }
    }
    if (reply.code === 235) return mechanism;
    if (reply.code === 334) {
      // The server wants more than the mechanism defines: cancel the exchange (RFC 4954 §4).
      await this.command("*");
      throw this.failure("SMTP_PROTOCOL_ERROR", "permanent", "Unexpected AUTH challenge", {
        reply: formatReply(reply),
      });
    }
    const cls = classifyReply(reply);
    throw this.failure(
      cls === "transient" ? "SMTP_TRANSIENT_REPLY" : "SMTP_AUTH_FAILED",
      cls === "transient" ? "transient" : "auth",
      cls === "transient"
        ? "The server could not authenticate right now"
        : "The server refused the username or password",
      { reply: this.formatted(reply), enhancedCode: reply.enhanced },
    );
  }

  private async transaction(
    capabilities: SmtpCapabilities,
  ): Promise<{ response: string; accepted: string[]; rejected: RejectedRecipient[] }> {
    const { envelope, message } = this.request;
    this.step = "mail";
    const utf8 =
      message.needsSmtpUtf8 ||
      !isPrintableAscii(envelope.from) ||
      envelope.to.some((a) => !isPrintableAscii(a));
    if (utf8 && !capabilities.smtpUtf8) {
      throw this.failure(
        "SMTP_UTF8_UNSUPPORTED",
        "permanent",
        "An address is internationalised (non-ASCII) and the server does not support SMTPUTF8",
      );
    }
    if (capabilities.size !== null && capabilities.size > 0 && message.size > capabilities.size) {
      throw this.failure(
        "SMTP_MESSAGE_TOO_LARGE",
        "permanent",
        `The message is ${message.size} bytes; the server takes at most ${capabilities.size}`,
      );
    }
    const params = [
      ...(capabilities.size !== null ? [`SIZE=${message.size}`] : []),
      ...(utf8 ? ["SMTPUTF8"] : []),
    ];
    const mailCommand = [`MAIL FROM:<${envelope.from}>`, ...params].join(" ");
    const rcptCommands = envelope.to.map((address) => `RCPT TO:<${address}>`);

    let mail: SmtpReply;
    const rcpt: SmtpReply[] = [];
    let data: SmtpReply | null = null;
    if (capabilities.pipelining) {
      // RFC 2920 §3.1: MAIL, RCPT and DATA may be sent as one group; the replies come back in order.
      await this.write([mailCommand, ...rcptCommands, "DATA"].map((c) => `${c}\r\n`).join(""));
      mail = await this.read();
      this.step = "rcpt";
      for (let i = 0; i < rcptCommands.length; i++) rcpt.push(await this.read());
      this.step = "data";
      data = await this.read();
    } else {
      mail = await this.command(mailCommand);
      if (mail.code === 250) {
        this.step = "rcpt";
        for (const command of rcptCommands) rcpt.push(await this.command(command));
      }
    }
    this.step = "mail";
    if (mail.code !== 250) {
      await this.abandonData(data);
      this.replyFailure(mail);
    }

    const accepted: string[] = [];
    const rejected: RejectedRecipient[] = [];
    envelope.to.forEach((address, i) => {
      const reply = rcpt[i];
      if (reply && (reply.code === 250 || reply.code === 251)) accepted.push(address);
      else if (reply) rejected.push({ address, reply: this.formatted(reply), class: recipientClass(reply) });
    });
    this.step = "rcpt";
    if (accepted.length === 0) {
      await this.abandonData(data);
      // Worth retrying only when some refusal was temporary (452 too many recipients, 450 greylisting).
      const transient = rejected.some((r) => r.class === "transient");
      throw this.failure(
        "SMTP_RECIPIENTS_REJECTED",
        transient ? "transient" : "permanent",
        "The server refused every recipient",
        { rejectedRecipients: rejected, reply: rejected[0]?.reply ?? null },
      );
    }

    this.step = "data";
    data ??= await this.command("DATA");
    if (data.code !== 354) this.replyFailure(data);
    this.step = "message";
    await this.write(dataPayload(message.raw));
    const final = await this.read(this.request.finalReplyTimeoutMs ?? this.request.timeoutMs * 2);
    if (final.code !== 250) this.replyFailure(final);
    return { response: this.formatted(final), accepted, rejected };
  }

  /**
   * After a pipelined DATA that the server nonetheless accepted (354) although no transaction can
   * follow, RFC 2920 §3.1 has the client send an empty message (just the dot) and read its reply.
   */
  private async abandonData(data: SmtpReply | null): Promise<void> {
    if (data?.code !== 354) return;
    try {
      await this.write(".\r\n");
      await this.read();
    } catch {
      // The refusal that made us abandon the transaction is the outcome, not how the server ends it.
    }
  }

  private async quit(): Promise<void> {
    // The message is accepted; a server that answers QUIT slowly or not at all changes nothing.
    try {
      await this.write("QUIT\r\n");
      await this.read(Math.min(this.request.timeoutMs, 2000));
    } catch {
      // ignored: see above
    }
  }

  /** Commands are never logged or put into errors: AUTH lines carry credentials. */
  private async command(line: string): Promise<SmtpReply> {
    await this.write(`${line}\r\n`);
    return this.read();
  }

  private async write(text: string): Promise<void> {
    const channel = this.channel;
    if (!channel) throw new Error("no SMTP connection");
    await channel.write(text, this.within(this.request.timeoutMs), this.deadline);
  }

  private async read(timeoutMs = this.request.timeoutMs): Promise<SmtpReply> {
    const channel = this.channel;
    if (!channel) throw new Error("no SMTP connection");
    return channel.readReply(this.within(timeoutMs));
  }

  private formatted(reply: SmtpReply): string {
    return this.scrub.text(formatReply(reply));
  }

  /** Throws the error a refusing reply means at the current step. */
  private replyFailure(reply: SmtpReply): never {
    const cls = classifyReply(reply);
    const formatted = this.formatted(reply);
    if (cls === "transient") {
      throw this.failure(
        "SMTP_TRANSIENT_REPLY",
        "transient",
        `The server answered ${reply.code} (try again later)`,
        {
          reply: formatted,
          enhancedCode: reply.enhanced,
        },
      );
    }
    const tooLarge = reply.code === 552 || reply.enhanced === "5.3.4";
    const code: SmtpErrorCode = tooLarge
      ? "SMTP_MESSAGE_TOO_LARGE"
      : cls === "ok"
        ? "SMTP_PROTOCOL_ERROR"
        : "SMTP_REJECTED";
    throw this.failure(
      code,
      cls === "auth" ? "auth" : "permanent",
      `The server refused at ${this.step}: ${formatted}`,
      {
        reply: formatted,
        enhancedCode: reply.enhanced,
      },
    );
  }

  private failure(
    code: SmtpErrorCode,
    cls: SmtpErrorClass,
    message: string,
    extra: {
      reply?: string | null;
      enhancedCode?: string | null;
      rejectedRecipients?: RejectedRecipient[];
      cause?: unknown;
    } = {},
  ): SmtpError {
    return new SmtpError({
      code,
      class: cls,
      step: this.step,
      message: this.scrub.text(message),
      reply: extra.reply ?? null,
      enhancedCode: extra.enhancedCode ?? null,
      ...(extra.rejectedRecipients ? { rejectedRecipients: extra.rejectedRecipients } : {}),
      ...(extra.cause === undefined ? {} : { cause: this.scrub.error(extra.cause) }),
    });
  }

  /** Anything thrown on the way, as an SmtpError of the step it happened in. */
  private asSmtpError(error: unknown): SmtpError {
    if (error instanceof SmtpError) return error;
    if (error instanceof SmtpTimeoutError) {
      return this.failure("SMTP_TIMEOUT", "transient", `No answer from the server at ${this.step} in time`, {
        cause: error,
      });
    }
    if (error instanceof SmtpProtocolError) {
      return this.failure(
        "SMTP_PROTOCOL_ERROR",
        "permanent",
        `The server's reply is not SMTP: ${error.message}`,
        {
          cause: error,
        },
      );
    }
    if (error instanceof SmtpConnectionClosedError) {
      return this.failure(
        "SMTP_CONNECTION_FAILED",
        "transient",
        `The server closed the connection at ${this.step}`,
        {
          cause: error,
        },
      );
    }
    // A stream error from the runtime: the connection broke.
    return this.failure("SMTP_CONNECTION_FAILED", "transient", `The connection failed at ${this.step}`, {
      cause: error,
    });
  }
}

function recipientClass(reply: SmtpReply): SmtpErrorClass {
  return classifyReply(reply) === "transient" ? "transient" : "permanent";
}
