// SMTP replies (RFC 5321 §4.2), EHLO capabilities and SASL responses of src/adapters/email/smtp.
import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseCapabilities } from "../../src/adapters/email/smtp/capabilities";
import {
  classifyReply,
  formatReply,
  parseReply,
  ReplyAccumulator,
  SmtpProtocolError,
} from "../../src/adapters/email/smtp/reply";
import { chooseMechanism, cramMd5Response, plainResponse } from "../../src/adapters/email/smtp/sasl";

describe("reply parsing", () => {
  it("reads a one-line reply with an enhanced status code", () => {
    expect(parseReply("250 2.0.0 Ok: queued as 4BQ9Z2kRxyz\r\n")).toEqual({
      code: 250,
      enhanced: "2.0.0",
      lines: ["2.0.0 Ok: queued as 4BQ9Z2kRxyz"],
    });
  });

  it("reads a multi-line EHLO reply (continuation lines use '-')", () => {
    const reply = parseReply(
      "250-smtp.example.com Hello [203.0.113.7]\r\n250-SIZE 35882577\r\n250-8BITMIME\r\n" +
        "250-AUTH LOGIN PLAIN XOAUTH2\r\n250-ENHANCEDSTATUSCODES\r\n250-PIPELINING\r\n250-STARTTLS\r\n250 SMTPUTF8\r\n",
    );
    expect(reply.code).toBe(250);
    expect(reply.lines).toHaveLength(8);
    expect(reply.enhanced).toBeNull();
  });

  it("accepts a bare code line and LF-only line ends", () => {
    expect(parseReply("354\n")).toEqual({ code: 354, enhanced: null, lines: [""] });
  });

  it("returns replies one at a time from a stream of lines (pipelining)", () => {
    const acc = new ReplyAccumulator();
    expect(acc.push("250 2.1.0 Sender OK")).toMatchObject({ code: 250 });
    expect(acc.push("550-5.1.1 The email account that you tried to reach does not exist.")).toBeNull();
    expect(acc.push("550 5.1.1 Please check the address.")).toEqual({
      code: 550,
      enhanced: "5.1.1",
      lines: [
        "5.1.1 The email account that you tried to reach does not exist.",
        "5.1.1 Please check the address.",
      ],
    });
    expect(acc.push("354 Go ahead")).toMatchObject({ code: 354 });
  });

  it("refuses what is not SMTP: garbage, a code change mid-reply, an incomplete reply", () => {
    expect(() => parseReply("HTTP/1.1 400 Bad Request\r\n")).toThrow(SmtpProtocolError);
    expect(() => parseReply("250-first\r\n251 second\r\n")).toThrow(/code changed/);
    expect(() => parseReply("250-first\r\n")).toThrow(/incomplete/);
    expect(() => new ReplyAccumulator().push(`250 ${"x".repeat(5000)}`)).toThrow(/too long/);
  });

  it("formats a reply as one line for the record", () => {
    expect(formatReply(parseReply("451-4.7.1 Greylisted\r\n451 4.7.1 Try again in 5 minutes\r\n"))).toBe(
      "451 4.7.1 Greylisted / 4.7.1 Try again in 5 minutes",
    );
  });
});

describe("reply classes", () => {
  it.each([
    ["220 smtp.example.com ESMTP", "ok"],
    ["354 End data with <CR><LF>.<CR><LF>", "ok"],
    ["421 4.3.2 Service shutting down", "transient"],
    ["450 4.2.1 Greylisted", "transient"],
    ["451 4.3.0 Temporary local problem", "transient"],
    ["452 4.5.3 Too many recipients", "transient"],
    ["454 4.7.0 Temporary authentication failure", "transient"],
    ["530 5.7.0 Authentication required", "auth"],
    ["534 5.7.9 Authentication mechanism is too weak", "auth"],
    ["535 5.7.8 Authentication credentials invalid", "auth"],
    ["538 5.7.11 Encryption required for requested authentication mechanism", "auth"],
    ["550 5.1.1 Mailbox unavailable", "permanent"],
    ["552 5.3.4 Message size exceeds fixed limit", "permanent"],
    ["554 5.7.1 Message rejected as spam", "permanent"],
  ])("%s → %s", (line, expected) => {
    expect(classifyReply(parseReply(line))).toBe(expected);
  });
});

describe("EHLO capabilities", () => {
  it("parses the extensions a submission server announces", () => {
    const caps = parseCapabilities(
      parseReply(
        "250-smtp.office365.com Hello [203.0.113.7]\r\n250-SIZE 157286400\r\n250-PIPELINING\r\n" +
          "250-DSN\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH LOGIN XOAUTH2\r\n250-AUTH=LOGIN\r\n250-8BITMIME\r\n" +
          "250-BINARYMIME\r\n250-CHUNKING\r\n250-starttls\r\n250 SMTPUTF8\r\n",
      ),
    );
    expect(caps).toMatchObject({
      starttls: true,
      size: 157286400,
      pipelining: true,
      eightBitMime: true,
      smtpUtf8: true,
      enhancedStatusCodes: true,
    });
    expect(caps.auth).toEqual(["LOGIN", "XOAUTH2"]);
    expect(caps.keywords).toContain("CHUNKING");
  });

  it("knows nothing from a bare greeting line (HELO-era servers) and reads SIZE without a limit as 0", () => {
    expect(parseCapabilities(parseReply("250 mail.example.com"))).toMatchObject({
      starttls: false,
      auth: [],
      size: null,
    });
    expect(parseCapabilities(parseReply("250-mail.example.com\r\n250 SIZE\r\n")).size).toBe(0);
  });
});

describe("SASL", () => {
  it("prefers PLAIN over TLS and CRAM-MD5 in clear", () => {
    expect(chooseMechanism(["LOGIN", "PLAIN", "CRAM-MD5"], true)).toBe("PLAIN");
    expect(chooseMechanism(["LOGIN", "PLAIN", "CRAM-MD5"], false)).toBe("CRAM-MD5");
    expect(chooseMechanism(["LOGIN"], true)).toBe("LOGIN");
    expect(chooseMechanism(["XOAUTH2", "GSSAPI"], true)).toBeNull();
  });

  it("PLAIN is base64 of NUL user NUL password (RFC 4616)", () => {
    expect(plainResponse("tim", "tanstaaftanstaaf")).toBe(btoa("\u0000tim\u0000tanstaaftanstaaf"));
  });

  it("CRAM-MD5 answers the RFC 2195 example challenge", () => {
    const challenge = btoa("<1896.697170952@postoffice.reston.mci.net>");
    const response = atob(cramMd5Response("tim", "tanstaaftanstaaf", challenge));
    expect(response).toBe("tim b913a602c7eda7a495b4e6e7334d3890");
    // The same digest by Node's own HMAC, as a cross-check.
    const digest = createHmac("md5", "tanstaaftanstaaf")
      .update("<1896.697170952@postoffice.reston.mci.net>")
      .digest("hex");
    expect(response).toBe(`tim ${digest}`);
  });
});
