/**
 * The content encodings a 7-bit-clean Internet message needs: quoted-printable and base64 bodies
 * (RFC 2045 §6.7, §6.8), RFC 2047 encoded-words for non-ASCII header text, and the SMTP transparency
 * rule for DATA (RFC 5321 §4.5.2). Pure functions over strings; UTF-8 is the only charset written.
 */

const encoder = new TextEncoder();

/** RFC 2045: encoded lines are at most 76 characters (without the CRLF). */
export const ENCODED_LINE_LENGTH = 76;

/** Any CR, LF or CRLF becomes CRLF: SMTP and MIME know only CRLF line ends (RFC 5321 §2.3.8). */
export function normalizeLineEnds(text: string): string {
  return text.replace(/\r\n|\r|\n/g, "\r\n");
}

const HEX = "0123456789ABCDEF";

function escapeByte(byte: number): string {
  return `=${HEX.charAt(byte >> 4)}${HEX.charAt(byte & 0x0f)}`;
}

/**
 * Quoted-printable (RFC 2045 §6.7) of `text` as UTF-8. Printable ASCII other than `=` stays literal
 * (rule 2); a space or tab is literal except before a line end (rule 3); line ends are hard breaks
 * (rule 4); lines longer than 76 characters get soft breaks (`=` CRLF) placed so that no `=XX` escape
 * and no UTF-8 sequence's escapes are split across lines. A leading `.` stays literal: the SMTP
 * client's dot-stuffing (not the encoding) makes it transparent. Text that does not end with a line
 * break ends with a soft break (`=`), so the CRLF that must follow it in a message is not read back as
 * part of the content.
 */
export function encodeQuotedPrintable(text: string): string {
  const normalized = normalizeLineEnds(text);
  const encoded = normalized.split("\r\n").map(encodeQuotedPrintableLine).join("\r\n");
  if (normalized === "" || normalized.endsWith("\r\n")) return encoded;
  return `${encoded}=`;
}

function encodeQuotedPrintableLine(line: string): string {
  // Tokens: one literal character, or the escapes of one whole character (never split).
  const tokens: string[] = [];
  for (const char of line) {
    const code = char.codePointAt(0) ?? 0;
    if ((code >= 33 && code <= 126 && code !== 61) || code === 32 || code === 9) {
      tokens.push(char);
    } else {
      tokens.push(Array.from(encoder.encode(char), escapeByte).join(""));
    }
  }
  // Rule 3: trailing whitespace would be stripped by transports; encode it.
  const last = tokens.length - 1;
  if (last >= 0 && (tokens[last] === " " || tokens[last] === "\t")) {
    tokens[last] = escapeByte((tokens[last] ?? " ").charCodeAt(0));
  }
  const out: string[] = [];
  let current = "";
  for (const token of tokens) {
    // Keep room for the soft break's `=` (75 + 1 = 76).
    if (current.length + token.length > ENCODED_LINE_LENGTH - 1) {
      out.push(`${current}=`);
      current = "";
    }
    current += token;
  }
  out.push(current);
  return out.join("\r\n");
}

/** Base64 of `bytes`, wrapped at 76 characters with CRLF (RFC 2045 §6.8). */
export function encodeBase64Lines(bytes: Uint8Array): string {
  const b64 = base64(bytes);
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += ENCODED_LINE_LENGTH) {
    lines.push(b64.slice(i, i + ENCODED_LINE_LENGTH));
  }
  return lines.join("\r\n");
}

export function base64(bytes: Uint8Array): string {
  let binary = "";
  const chunk = 0x8000;
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

export function base64Utf8(text: string): string {
  return base64(encoder.encode(text));
}

/** True when every character is printable ASCII or a space/tab (what a header may carry unencoded). */
export function isPrintableAscii(text: string): boolean {
  return /^[\x20-\x7e\t]*$/.test(text);
}

/**
 * RFC 2047 §2 allows encoded-words of up to 75 characters, but also limits every header line holding one
 * to 76. Words of at most 60 fit on the first line after the longest header name that carries them
 * (`Reply-To: `), and on any continuation line after its leading space.
 */
export const ENCODED_WORD_LENGTH = 60;
const ENCODED_WORD_PREFIX = "=?UTF-8?B?";
const ENCODED_WORD_SUFFIX = "?=";

/**
 * RFC 2047 "B" encoded-words for `text`, each ≤ ENCODED_WORD_LENGTH characters and each holding whole
 * characters only (§5: an encoded-word must not split a multi-byte character). Returned as separate
 * words; the caller joins them with folding whitespace, which decoders drop between adjacent
 * encoded-words (§6.2).
 */
export function encodedWords(text: string): string[] {
  // 4 base64 characters per 3 bytes: the largest byte count whose encoding fits the word.
  const room = ENCODED_WORD_LENGTH - ENCODED_WORD_PREFIX.length - ENCODED_WORD_SUFFIX.length;
  const maxBytes = Math.floor(room / 4) * 3;
  const words: string[] = [];
  let pending: number[] = [];
  const flush = () => {
    if (pending.length === 0) return;
    words.push(`${ENCODED_WORD_PREFIX}${base64(Uint8Array.from(pending))}${ENCODED_WORD_SUFFIX}`);
    pending = [];
  };
  for (const char of text) {
    const bytes = encoder.encode(char);
    if (pending.length + bytes.length > maxBytes) flush();
    pending.push(...bytes);
  }
  flush();
  return words;
}

/**
 * RFC 5321 §4.5.2 transparency: a line of the message that starts with `.` gets one more `.`, so no
 * line of content can end the DATA phase. Expects CRLF line ends (see `normalizeLineEnds`).
 */
export function dotStuff(message: string): string {
  return message.replace(/(^|\r\n)\./g, "$1..");
}

/**
 * The DATA payload for `message`: line ends normalised to CRLF, dot-stuffed, and terminated by the
 * end-of-data indicator `CRLF.CRLF` (with the CRLF of the last line added when missing).
 */
export function dataPayload(message: string): string {
  const normalized = normalizeLineEnds(message);
  const withFinalCrlf = normalized.endsWith("\r\n") ? normalized : `${normalized}\r\n`;
  return `${dotStuff(withFinalCrlf)}.\r\n`;
}
