import { ValidationError } from "../../../lib/errors";
import {
  encodeBase64Lines,
  encodedWords,
  encodeQuotedPrintable,
  isPrintableAscii,
  normalizeLineEnds,
} from "./encoding";

/**
 * Builds an Internet message (RFC 5322) with MIME bodies (RFC 2045/2046) for one outgoing email: the
 * headers a receiving system expects (Date, From, To, Cc, Reply-To, Subject, Message-ID, MIME-Version),
 * display names and subjects outside ASCII as RFC 2047 encoded-words, and text and/or HTML bodies as
 * quoted-printable or base64 so the whole message is 7-bit clean and travels through any server (no
 * 8BITMIME needed). Every line stays within 998 characters (RFC 5322 §2.1.1), header lines are folded
 * at 76 (RFC 2047 §2's limit for lines with encoded-words, within RFC 5322's 78). Header values with CR, LF or NUL are refused: a line break in a subject or a name would let
 * the caller inject headers (Bcc:) or a body.
 */

export interface Mailbox {
  address: string;
  name?: string | null | undefined;
}

export interface OutgoingMessage {
  from: Mailbox;
  to: readonly Mailbox[];
  cc?: readonly Mailbox[] | undefined;
  replyTo?: Mailbox | null | undefined;
  subject: string;
  text?: string | null | undefined;
  html?: string | null | undefined;
  /** `<id@domain>`, see `newMessageId`. */
  messageId: string;
  date: Date;
  /** Threading (RFC 5322 §3.6.4): the Message-ID replied to, and the thread's ids. */
  inReplyTo?: string | null | undefined;
  references?: readonly string[] | undefined;
}

export interface BuiltMessage {
  /** The message with CRLF line ends, ready for DATA (the client dot-stuffs it). */
  raw: string;
  /** Size in octets, for the SIZE extension (RFC 1870). */
  size: number;
  /** An address has a non-ASCII local part: only an SMTPUTF8 server may carry it (RFC 6531/6532). */
  needsSmtpUtf8: boolean;
}

/** RFC 5322 §2.1.1: the hard limit; and the folding target for header lines (see above). */
export const MAX_LINE_LENGTH = 998;
const FOLD_AT = 76;
const BREAKS = /[\r\n\0]/;

function refuseBreaks(field: string, value: string): void {
  if (BREAKS.test(value)) {
    throw new ValidationError("Invalid email header value", {
      [field]: ["Must not contain line breaks or NUL characters"],
    });
  }
}

/** RFC 5322 atext: what a dot-atom local part may hold unquoted. */
const ATEXT = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+$/;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;
/** What a domain may hold before IDNA: ASCII letters, digits, `-` and `.`, or non-ASCII letters. */
const DOMAIN_CHARS = /^(?:[A-Za-z0-9.-]|[^\p{ASCII}])+$/u;
/** Controls, format characters and separators: never part of an address, whatever the script. */
const INVISIBLE = /[\p{C}\p{Z}]/u;

export interface ParsedAddress {
  /** The address as it goes on the wire: domain in its ASCII (IDNA) form, local part unchanged. */
  address: string;
  local: string;
  domain: string;
  /** The local part is not ASCII (an internationalised address, RFC 6531). */
  utf8: boolean;
}

/**
 * Checks an address is a plain `local@domain` (dot-atom local part, RFC 5321 §4.1.2; no quoted local
 * parts or address literals, which no business sender needs) and converts an internationalised domain
 * to its ASCII form (the WHATWG URL parser applies IDNA/UTS #46), so the envelope and headers stay ASCII
 * unless the local part itself is not. The domain is checked before the parser sees it: the parser would
 * otherwise quietly cut `a@evil.example/x`, `a@evil.example\good.example` or `a@host:25` to a host, or
 * turn `a@0x7f.1` into an IP address, and the email would go somewhere other than what the caller wrote.
 */
export function parseAddress(field: string, raw: string): ParsedAddress {
  refuseBreaks(field, raw);
  const invalid = (why: string) => new ValidationError("Invalid email address", { [field]: [why] });
  const at = raw.lastIndexOf("@");
  if (at <= 0 || at === raw.length - 1) throw invalid("Use the form name@example.com");
  const local = raw.slice(0, at);
  const rawDomain = raw.slice(at + 1);
  // A local part of non-ASCII characters is allowed (SMTPUTF8); every ASCII character must be atext.
  const utf8 = !isPrintableAscii(local);
  if (INVISIBLE.test(local)) throw invalid("The part before @ has characters an address cannot hold");
  const atoms = local.split(".");
  const atomOk = (atom: string) =>
    atom.length > 0 && [...atom].every((c) => (c.codePointAt(0) ?? 0) > 0x7f || ATEXT.test(c));
  if (!atoms.every(atomOk)) throw invalid("The part before @ has characters an address cannot hold");
  if (new TextEncoder().encode(local).length > 64) throw invalid("The part before @ is over 64 octets");
  if (!DOMAIN_CHARS.test(rawDomain) || INVISIBLE.test(rawDomain)) throw invalid("The domain is not valid");
  let domain: string;
  try {
    domain = new URL(`http://${rawDomain}`).hostname;
  } catch {
    throw invalid("The domain is not valid");
  }
  const labels = domain.split(".");
  if (
    domain.length > 253 ||
    labels.length < 2 ||
    !labels.every((l) => DOMAIN_LABEL.test(l)) ||
    // No top-level domain is numeric: an all-digit last label is an IP address in disguise.
    /^[0-9]+$/.test(labels.at(-1) ?? "")
  ) {
    throw invalid("The domain is not valid");
  }
  return { address: `${local}@${domain}`, local, domain, utf8 };
}

/** `<uuid@domain-of-from>`: unique, and its right side names the sender's domain (RFC 5322 §3.6.4). */
export function newMessageId(fromAddress: string, id: string = crypto.randomUUID()): string {
  return `<${id}@${parseAddress("from", fromAddress).domain}>`;
}

const MESSAGE_ID = /^<[\x21-\x3b\x3d\x3f-\x7e]+@[\x21-\x3b\x3d\x3f-\x7e]+>$/;

function checkMessageId(field: string, value: string): string {
  refuseBreaks(field, value);
  if (!MESSAGE_ID.test(value)) {
    throw new ValidationError("Invalid Message-ID", { [field]: ["Use the form <id@domain>"] });
  }
  return value;
}

/** A display name as phrase tokens: atoms as they are, else a quoted-string, else encoded-words. */
function phraseTokens(field: string, name: string): string[] {
  refuseBreaks(field, name);
  const trimmed = name.trim();
  if (trimmed === "") return [];
  if (isPrintableAscii(trimmed)) {
    const words = trimmed.split(/[ \t]+/);
    if (words.every((w) => ATEXT.test(w))) return words;
    // RFC 5322 §3.2.4: quoted-string, with `\` and `"` escaped. Kept as one token: folding inside a
    // quoted-string is legal but some clients mishandle it.
    return [`"${trimmed.replace(/[\\"]/g, (c) => `\\${c}`)}"`];
  }
  return encodedWords(trimmed);
}

function mailboxTokens(field: string, mailbox: Mailbox): { tokens: string[]; utf8: boolean } {
  const parsed = parseAddress(field, mailbox.address);
  const phrase = phraseTokens(`${field}.name`, mailbox.name ?? "");
  if (phrase.length === 0) return { tokens: [parsed.address], utf8: parsed.utf8 };
  return { tokens: [...phrase, `<${parsed.address}>`], utf8: parsed.utf8 };
}

/**
 * `Name: token token …` folded at the spaces between tokens so lines stay near 78 characters; a token
 * is never split (an encoded-word is ≤ 75, an address ≤ 254 + brackets), so no line nears 998.
 */
function foldHeader(name: string, tokens: readonly string[]): string {
  let line = `${name}:`;
  const lines: string[] = [];
  for (const token of tokens) {
    if (line.length + 1 + token.length > FOLD_AT && line.trim() !== `${name}:`) {
      lines.push(line);
      line = ` ${token}`;
    } else {
      line += ` ${token}`;
    }
  }
  lines.push(line);
  return lines.join("\r\n");
}

function addressListHeader(
  name: string,
  field: string,
  mailboxes: readonly Mailbox[],
): { header: string; utf8: boolean } {
  const tokens: string[] = [];
  let utf8 = false;
  mailboxes.forEach((mailbox, i) => {
    const m = mailboxTokens(`${field}.${i}`, mailbox);
    utf8 ||= m.utf8;
    const last = m.tokens.length - 1;
    m.tokens.forEach((token, j) => {
      tokens.push(j === last && i < mailboxes.length - 1 ? `${token},` : token);
    });
  });
  return { header: foldHeader(name, tokens), utf8 };
}

/**
 * Subject as unstructured text (RFC 5322 §3.2.5): printable ASCII stays readable and is folded at its
 * own spaces (unfolding restores it exactly); anything else, or text that could be mistaken for an
 * encoded-word, or a word too long to fold, becomes encoded-words.
 */
function subjectHeader(subject: string): string {
  refuseBreaks("subject", subject);
  const words = subject.split(" ");
  const plain =
    isPrintableAscii(subject) &&
    !subject.includes("=?") &&
    words.every((w) => w.length <= FOLD_AT - "Subject: ".length);
  if (plain) {
    // Folding replaces one of the spaces between words by CRLF + that space; never within the trailing
    // spaces, so no line is only whitespace (RFC 5322 §3.2.2), whatever runs of spaces the subject has.
    const lastWord = words.findLastIndex((w) => w !== "");
    let line = "Subject:";
    const lines: string[] = [];
    words.forEach((word, i) => {
      const piece = ` ${word}`;
      if (i > 0 && i <= lastWord && line.length + piece.length > FOLD_AT) {
        lines.push(line);
        line = piece;
      } else {
        line += piece;
      }
    });
    lines.push(line);
    return lines.join("\r\n");
  }
  return foldHeader("Subject", encodedWords(subject));
}

const DAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** RFC 5322 §3.3 date-time in UTC with a numeric zone (`GMT` is obsolete syntax). */
export function formatDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return (
    `${DAYS[date.getUTCDay()]}, ${two(date.getUTCDate())} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()} ` +
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`
  );
}

/**
 * Quoted-printable keeps mostly-ASCII text readable; when more than a third of the bytes are outside
 * ASCII (Chinese, Japanese, Cyrillic…) base64 is smaller (QP triples each such byte).
 */
function bodyPart(contentType: "text/plain" | "text/html", content: string): string {
  const normalized = normalizeLineEnds(content);
  const bytes = new TextEncoder().encode(normalized);
  let high = 0;
  for (const b of bytes) if (b > 0x7f) high++;
  const useBase64 = high * 3 > bytes.length;
  return [
    `Content-Type: ${contentType}; charset=utf-8`,
    `Content-Transfer-Encoding: ${useBase64 ? "base64" : "quoted-printable"}`,
    "",
    useBase64 ? encodeBase64Lines(bytes) : encodeQuotedPrintable(normalized),
  ].join("\r\n");
}

/**
 * A boundary cannot occur in the parts: `=_` never appears in quoted-printable (`=` is always followed
 * by two hex digits or a line end) nor in base64 (`=` only pads the end).
 */
function newBoundary(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `=_tw_${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

export function buildMessage(message: OutgoingMessage, options: { boundary?: string } = {}): BuiltMessage {
  if (message.to.length === 0) {
    throw new ValidationError("An email needs a recipient", { to: ["Give at least one address"] });
  }
  const text = message.text ?? null;
  const html = message.html ?? null;
  if (text === null && html === null) {
    throw new ValidationError("An email needs a body", { text: ["Give text, html or both"] });
  }
  const from = addressListHeader("From", "from", [message.from]);
  const to = addressListHeader("To", "to", message.to);
  const cc = message.cc && message.cc.length > 0 ? addressListHeader("Cc", "cc", message.cc) : null;
  const replyTo = message.replyTo ? addressListHeader("Reply-To", "replyTo", [message.replyTo]) : null;
  const headers = [
    `Date: ${formatDate(message.date)}`,
    from.header,
    to.header,
    ...(cc ? [cc.header] : []),
    ...(replyTo ? [replyTo.header] : []),
    subjectHeader(message.subject),
    `Message-ID: ${checkMessageId("messageId", message.messageId)}`,
  ];
  if (message.inReplyTo) headers.push(`In-Reply-To: ${checkMessageId("inReplyTo", message.inReplyTo)}`);
  if (message.references && message.references.length > 0) {
    headers.push(
      foldHeader(
        "References",
        message.references.map((id, i) => checkMessageId(`references.${i}`, id)),
      ),
    );
  }
  headers.push("MIME-Version: 1.0");

  let body: string;
  if (text !== null && html !== null) {
    const boundary = options.boundary ?? newBoundary();
    // Folded before the parameter: on one line it would pass 76 characters.
    headers.push(`Content-Type: multipart/alternative;\r\n boundary="${boundary}"`);
    // RFC 2046 §5.1.4: alternatives in increasing order of preference, so HTML last.
    body = [
      "This is a multi-part message in MIME format.",
      `--${boundary}`,
      bodyPart("text/plain", text),
      `--${boundary}`,
      bodyPart("text/html", html),
      `--${boundary}--`,
      "",
    ].join("\r\n");
  } else {
    const [partHeaders, partBody] = splitPart(
      text !== null ? bodyPart("text/plain", text) : bodyPart("text/html", html ?? ""),
    );
    headers.push(...partHeaders);
    body = partBody;
  }
  const raw = `${headers.join("\r\n")}\r\n\r\n${body}${body.endsWith("\r\n") ? "" : "\r\n"}`;
  for (const line of raw.split("\r\n")) {
    // Unreachable by construction; a guard so a future change cannot send a message servers refuse.
    if (line.length > MAX_LINE_LENGTH) throw new Error("built message has a line over 998 characters");
  }
  return {
    raw,
    size: new TextEncoder().encode(raw).length,
    needsSmtpUtf8: from.utf8 || to.utf8 || (cc?.utf8 ?? false) || (replyTo?.utf8 ?? false),
  };
}

function splitPart(part: string): [string[], string] {
  const at = part.indexOf("\r\n\r\n");
  return [part.slice(0, at).split("\r\n"), part.slice(at + 4)];
}
