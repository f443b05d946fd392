/**
 * SMTP replies (RFC 5321 §4.2): a three-digit code, then `-` on every line but the last and a space
 * (or nothing) on the last, all lines with the same code. Servers that advertise ENHANCEDSTATUSCODES
 * start the text with a class.subject.detail code (RFC 2034, RFC 3463), e.g. `550 5.1.1 No such user`.
 */

export interface SmtpReply {
  code: number;
  /** `5.7.8`, when the server gave one on the first line. */
  enhanced: string | null;
  /** The text of each line, without code and separator. */
  lines: string[];
}

/** Lines per reply and characters per line we accept before calling the server broken. */
export const MAX_REPLY_LINES = 100;
export const MAX_REPLY_LINE_LENGTH = 2048;

const REPLY_LINE = /^([2-5][0-9][0-9])([ -]|$)(.*)$/s;
const ENHANCED = /^([245]\.[0-9]{1,3}\.[0-9]{1,3})(?: |$)/;

export class SmtpProtocolError extends Error {
  override readonly name = "SmtpProtocolError";
}

/**
 * Collects reply lines as they arrive; `push` returns the finished reply on its last line. A line
 * that is not a reply line, or a code that changes mid-reply, is a protocol error (the connection is
 * not in a state we can reason about).
 */
export class ReplyAccumulator {
  private code: number | null = null;
  private lines: string[] = [];

  push(line: string): SmtpReply | null {
    if (line.length > MAX_REPLY_LINE_LENGTH) throw new SmtpProtocolError("reply line too long");
    const match = REPLY_LINE.exec(line);
    if (!match) throw new SmtpProtocolError(`not an SMTP reply line: ${preview(line)}`);
    const code = Number(match[1]);
    if (this.code !== null && code !== this.code) {
      throw new SmtpProtocolError(`reply code changed within a multi-line reply (${this.code} → ${code})`);
    }
    this.code = code;
    this.lines.push(match[3] ?? "");
    if (this.lines.length > MAX_REPLY_LINES) throw new SmtpProtocolError("reply has too many lines");
    if (match[2] === "-") return null;
    const first = this.lines[0] ?? "";
    const enhanced = ENHANCED.exec(first)?.[1] ?? null;
    const reply: SmtpReply = { code, enhanced, lines: this.lines };
    this.code = null;
    this.lines = [];
    return reply;
  }
}

/** Parses a complete reply given as text (for tests and fixtures); throws when it is incomplete. */
export function parseReply(text: string): SmtpReply {
  const acc = new ReplyAccumulator();
  const lines = text.split(/\r?\n/);
  if (lines.at(-1) === "") lines.pop();
  for (const [i, line] of lines.entries()) {
    const reply = acc.push(line);
    if (reply) {
      if (i !== lines.length - 1) throw new SmtpProtocolError("text continues after the last reply line");
      return reply;
    }
  }
  throw new SmtpProtocolError("reply is incomplete");
}

/** The reply as one line for records and errors: `250 2.0.0 Ok: queued as 4XyZ` (lines joined by " / "). */
export function formatReply(reply: SmtpReply): string {
  return `${reply.code} ${reply.lines.join(" / ")}`.trim().slice(0, 1000);
}

function preview(line: string): string {
  return JSON.stringify(line.slice(0, 80));
}

/**
 * What a reply means for the attempt:
 * - `ok`: 2xx, or 3xx where the command expects it (354 after DATA, 334 in AUTH);
 * - `transient`: 4xx — RFC 5321 §4.2.1: the same request may succeed later (421 closing, 450/451
 *   local trouble or greylisting, 452 storage/too many recipients, 454 TLS or auth temporarily
 *   unavailable, RFC 4954 §6);
 * - `auth`: authentication refused for good — 535 5.7.8 bad credentials, 534 5.7.9 mechanism too weak,
 *   530 5.7.0 authentication required, 538 5.7.11 encryption required (RFC 4954 §6, RFC 3463 5.7.x);
 *   retrying with the same credentials cannot help, a person must fix the connection;
 * - `permanent`: any other 5xx (550 mailbox unavailable, 552 too big, 554 transaction failed, 5.5.x
 *   syntax): the server refused this message for good.
 */
export type ReplyClass = "ok" | "transient" | "auth" | "permanent";

const AUTH_CODES = new Set([530, 534, 535, 538]);

export function classifyReply(reply: SmtpReply): ReplyClass {
  if (reply.code < 400) return "ok";
  if (reply.code < 500) return "transient";
  if (AUTH_CODES.has(reply.code)) return "auth";
  return "permanent";
}
