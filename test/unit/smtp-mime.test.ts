// The message builder (src/adapters/email/smtp/mime.ts) and its encodings, checked against an independent
// MIME parser (postal-mime) and against the RFC rules directly (line lengths, encoded-word sizes, 7-bit).
import PostalMime from "postal-mime";
import { describe, expect, it } from "vitest";
import {
  dataPayload,
  dotStuff,
  encodedWords,
  encodeQuotedPrintable,
  normalizeLineEnds,
} from "../../src/adapters/email/smtp/encoding";
import { buildMessage, formatDate, newMessageId, parseAddress } from "../../src/adapters/email/smtp/mime";
import { ValidationError } from "../../src/lib/errors";

const base = {
  from: { address: "support@acme.example", name: "Acme Support" },
  to: [{ address: "ava@example.org", name: "Ava Thompson" }],
  subject: "Your order #1042 has shipped",
  text: "Hi Ava,\n\nYour parcel is on its way.\n",
  messageId: "<0b7c9d2e-5f1a-4c3b-8e6d-9a0f1b2c3d4e@acme.example>",
  date: new Date("2026-11-22T08:05:09Z"),
};

function lines(raw: string): string[] {
  return raw.split("\r\n");
}

function headerBlock(raw: string): string {
  return raw.slice(0, raw.indexOf("\r\n\r\n"));
}

describe("buildMessage", () => {
  it("writes the RFC 5322 headers and a quoted-printable text body", async () => {
    const built = buildMessage(base);
    expect(headerBlock(built.raw)).toBe(
      [
        "Date: Sun, 22 Nov 2026 08:05:09 +0000",
        "From: Acme Support <support@acme.example>",
        "To: Ava Thompson <ava@example.org>",
        "Subject: Your order #1042 has shipped",
        "Message-ID: <0b7c9d2e-5f1a-4c3b-8e6d-9a0f1b2c3d4e@acme.example>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
      ].join("\r\n"),
    );
    expect(built.size).toBe(new TextEncoder().encode(built.raw).length);
    expect(built.needsSmtpUtf8).toBe(false);
    const parsed = await PostalMime.parse(built.raw);
    expect(parsed.text).toBe("Hi Ava,\n\nYour parcel is on its way.\n");
  });

  it("builds multipart/alternative with the text part first and the HTML part last", async () => {
    const built = buildMessage({ ...base, html: "<p>Hi <b>Ava</b></p>" }, { boundary: "=_tw_test" });
    expect(built.raw).toContain('Content-Type: multipart/alternative;\r\n boundary="=_tw_test"');
    const textAt = built.raw.indexOf("Content-Type: text/plain");
    const htmlAt = built.raw.indexOf("Content-Type: text/html");
    expect(textAt).toBeGreaterThan(0);
    expect(htmlAt).toBeGreaterThan(textAt);
    expect(built.raw.trimEnd().endsWith("--=_tw_test--")).toBe(true);
    const parsed = await PostalMime.parse(built.raw);
    expect(parsed.text?.trim()).toBe("Hi Ava,\n\nYour parcel is on its way.");
    expect(parsed.html).toBe("<p>Hi <b>Ava</b></p>");
  });

  it("sends an HTML-only email as a single text/html part", async () => {
    const built = buildMessage({ ...base, text: null, html: "<p>Only HTML</p>" });
    expect(headerBlock(built.raw)).toContain("Content-Type: text/html; charset=utf-8");
    expect(built.raw).not.toContain("multipart");
    expect((await PostalMime.parse(built.raw)).html).toBe("<p>Only HTML</p>");
  });

  it("encodes non-ASCII subjects and display names as RFC 2047 encoded-words", async () => {
    const subject = "Ihre Bestellung ist unterwegs — 您的订单已发货 🚚 (Nr. 1042)";
    const built = buildMessage({
      ...base,
      from: { address: "support@acme.example", name: "Zoë's Café" },
      to: [{ address: "li@example.cn", name: "李小龙" }],
      cc: [{ address: "ops@acme.example", name: "Ops, Team" }],
      replyTo: { address: "help@acme.example", name: 'Help "Desk"' },
      subject,
    });
    const header = headerBlock(built.raw);
    // Only ASCII on the wire, encoded-words of at most 75 characters, each decodable on its own.
    expect(header).toMatch(/^[\x20-\x7e\r\n]*$/);
    for (const word of header.match(/=\?UTF-8\?B\?[^?]*\?=/g) ?? [])
      expect(word.length).toBeLessThanOrEqual(75);
    expect(header).toContain('Cc: "Ops, Team" <ops@acme.example>');
    expect(header).toContain('Reply-To: "Help \\"Desk\\"" <help@acme.example>');
    const parsed = await PostalMime.parse(built.raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.from).toMatchObject({ name: "Zoë's Café", address: "support@acme.example" });
    expect(parsed.to?.[0]).toMatchObject({ name: "李小龙", address: "li@example.cn" });
    expect(parsed.cc?.[0]).toMatchObject({ name: "Ops, Team", address: "ops@acme.example" });
    expect(parsed.replyTo?.[0]).toMatchObject({ name: 'Help "Desk"', address: "help@acme.example" });
  });

  it("never splits a multi-byte character across encoded-words", () => {
    const text = "发".repeat(40) + "🚚".repeat(20);
    const words = encodedWords(text);
    expect(words.length).toBeGreaterThan(1);
    const decoded = words
      .map((w) => w.slice("=?UTF-8?B?".length, -2))
      .map((b64) =>
        new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(
          Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)),
        ),
      )
      .join("");
    expect(decoded).toBe(text);
  });

  it("folds long headers and keeps every line within 998 (bodies within 76)", async () => {
    const to = Array.from({ length: 30 }, (_, i) => ({
      address: `customer${i}@example.org`,
      name: `Customer ${i}`,
    }));
    const longLine = `${"word ".repeat(400)}end`;
    const built = buildMessage({
      ...base,
      to,
      subject: `A long subject ${"that keeps going ".repeat(20)}`.trim(),
      text: longLine,
      html: `<p>${"x".repeat(3000)}</p>`,
    });
    for (const line of lines(headerBlock(built.raw))) expect(line.length).toBeLessThanOrEqual(76);
    for (const line of lines(built.raw)) expect(line.length).toBeLessThanOrEqual(998);
    const body = built.raw.slice(built.raw.indexOf("\r\n\r\n") + 4);
    for (const line of lines(body)) expect(line.length).toBeLessThanOrEqual(76);
    const parsed = await PostalMime.parse(built.raw);
    expect(parsed.to).toHaveLength(30);
    expect(parsed.subject).toBe(`A long subject ${"that keeps going ".repeat(20)}`.trim());
    expect(parsed.text).toBe(longLine);
  });

  it("keeps every header line that holds an encoded-word within 76 characters (RFC 2047 §2)", async () => {
    const name = "株式会社トレードウィンド カスタマーサポート部 お客様窓口センター";
    const subject = "ご注文の商品を発送しました — お届け予定日のお知らせと追跡番号のご案内";
    const built = buildMessage({
      ...base,
      from: { address: "support@acme.example", name },
      replyTo: { address: "help@acme.example", name },
      to: [{ address: "ava@example.org", name }],
      subject,
    });
    const header = headerBlock(built.raw);
    for (const line of lines(header)) {
      if (line.includes("=?")) expect(line.length, line).toBeLessThanOrEqual(76);
    }
    const parsed = await PostalMime.parse(built.raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.from).toMatchObject({ name, address: "support@acme.example" });
    expect(parsed.replyTo?.[0]).toMatchObject({ name, address: "help@acme.example" });
  });

  it("never folds a subject into a line that is only whitespace, whatever its runs of spaces", async () => {
    const subject = `Re:${" ".repeat(3)}${"x".repeat(60)}${" ".repeat(30)}${"y".repeat(10)}  `;
    const built = buildMessage({ ...base, subject });
    for (const line of lines(headerBlock(built.raw))) {
      expect(line.trim(), JSON.stringify(line)).not.toBe("");
      expect(line.length).toBeLessThanOrEqual(76);
    }
    expect((await PostalMime.parse(built.raw)).subject).toBe(subject.trimEnd());
  });

  it("uses base64 for mostly non-ASCII bodies and quoted-printable otherwise", async () => {
    const chinese = buildMessage({ ...base, text: "您好，您的订单已经发货了，预计三天内送达。" });
    expect(chinese.raw).toContain("Content-Transfer-Encoding: base64");
    expect((await PostalMime.parse(chinese.raw)).text).toBe("您好，您的订单已经发货了，预计三天内送达。");
    const german = buildMessage({ ...base, text: "Grüße aus München" });
    expect(german.raw).toContain("Content-Transfer-Encoding: quoted-printable");
    expect(german.raw).toContain("Gr=C3=BC=C3=9Fe aus M=C3=BCnchen=");
  });

  it("normalises every line end of the bodies to CRLF", async () => {
    const built = buildMessage({ ...base, text: "one\ntwo\r\nthree\rfour" });
    expect(built.raw).not.toMatch(/[^\r]\n/);
    expect(built.raw).not.toMatch(/\r[^\n]/);
    expect((await PostalMime.parse(built.raw)).text).toBe("one\ntwo\nthree\nfour");
  });

  it("refuses line breaks in any header value (header injection)", () => {
    const injected = "Hello\r\nBcc: victim@example.org";
    expect(() => buildMessage({ ...base, subject: injected })).toThrow(ValidationError);
    expect(() => buildMessage({ ...base, from: { address: "support@acme.example", name: "A\nB" } })).toThrow(
      ValidationError,
    );
    expect(() =>
      buildMessage({ ...base, to: [{ address: "ava@example.org\r\nBcc: x@example.org" }] }),
    ).toThrow(ValidationError);
    expect(() => buildMessage({ ...base, messageId: "<a@b>\r\nX-Evil: 1" })).toThrow(ValidationError);
    try {
      buildMessage({ ...base, subject: injected });
    } catch (error) {
      expect((error as ValidationError).details).toEqual({
        subject: ["Must not contain line breaks or NUL characters"],
      });
    }
  });

  it("needs a recipient and a body", () => {
    expect(() => buildMessage({ ...base, to: [] })).toThrow(ValidationError);
    expect(() => buildMessage({ ...base, text: null, html: null })).toThrow(ValidationError);
  });

  it("flags addresses with a non-ASCII local part as needing SMTPUTF8", () => {
    const built = buildMessage({ ...base, to: [{ address: "用户@example.cn" }] });
    expect(built.needsSmtpUtf8).toBe(true);
  });
});

describe("addresses and ids", () => {
  it("accepts dot-atom addresses and converts international domains to their ASCII form", () => {
    expect(parseAddress("to", "first.last+tag@example.org")).toMatchObject({
      address: "first.last+tag@example.org",
      utf8: false,
    });
    expect(parseAddress("to", "info@bücher.example").address).toBe("info@xn--bcher-kva.example");
  });

  it.each([
    ["no at sign", "ava.example.org"],
    ["empty local part", "@example.org"],
    ["space", "ava thompson@example.org"],
    ["angle bracket", "ava<@example.org"],
    ["double dot", "ava..t@example.org"],
    ["single-label domain", "ava@localhost"],
    ["bad domain label", "ava@-bad-.example"],
    // The URL parser would cut these to a host other than what was written, or read an IP address.
    ["a path after the domain", "ava@evil.example/good.example"],
    ["a backslash in the domain", "ava@evil.example\\good.example"],
    ["a port", "ava@example.org:25"],
    ["a query", "ava@example.org?x=1"],
    ["a hex IP address", "ava@0x7f.1"],
    ["an IP address", "ava@192.0.2.1"],
    ["a space in the domain", "ava@exa mple.org"],
    ["a zero-width space", "ava\u200b@example.org"],
    ["a non-ASCII line separator", "用户\u2028@example.cn"],
  ])("refuses %s", (_why, address) => {
    expect(() => parseAddress("to", address)).toThrow(ValidationError);
  });

  it("makes Message-IDs of a UUID at the sender's domain", () => {
    expect(newMessageId("Support@Acme.Example", "0b7c9d2e-5f1a-4c3b-8e6d-9a0f1b2c3d4e")).toBe(
      "<0b7c9d2e-5f1a-4c3b-8e6d-9a0f1b2c3d4e@acme.example>",
    );
    expect(newMessageId("support@acme.example")).toMatch(/^<[0-9a-f-]{36}@acme\.example>$/);
  });

  it("formats dates as RFC 5322 date-time with a numeric zone", () => {
    expect(formatDate(new Date("2026-01-05T23:04:00Z"))).toBe("Mon, 05 Jan 2026 23:04:00 +0000");
  });
});

describe("encodings", () => {
  it("quoted-printable: escapes '=', non-ASCII and trailing whitespace; soft-breaks at 76", () => {
    expect(encodeQuotedPrintable("a=b\n")).toBe("a=3Db\r\n");
    expect(encodeQuotedPrintable("trailing \nspace\n")).toBe("trailing=20\r\nspace\r\n");
    // No final line break: the last line ends in a soft break, so the message's CRLF is not content.
    expect(encodeQuotedPrintable("no newline")).toBe("no newline=");
    const encoded = encodeQuotedPrintable("é".repeat(60));
    for (const line of encoded.split("\r\n")) {
      expect(line.length).toBeLessThanOrEqual(76);
      // No escape is cut: every '=' is followed by two hex digits or ends the line (soft break).
      expect(line).toMatch(/^(?:[^=]|=[0-9A-F]{2})*=?$/);
    }
  });

  it("dot-stuffs lines that start with a dot and ends DATA with CRLF.CRLF", () => {
    expect(dotStuff(".one\r\ntwo\r\n.\r\n..three")).toBe("..one\r\ntwo\r\n..\r\n...three");
    expect(dataPayload("a\n.\nb")).toBe("a\r\n..\r\nb\r\n.\r\n");
    expect(dataPayload("ends with crlf\r\n")).toBe("ends with crlf\r\n.\r\n");
    expect(normalizeLineEnds("a\rb\nc\r\nd")).toBe("a\r\nb\r\nc\r\nd");
  });
});
