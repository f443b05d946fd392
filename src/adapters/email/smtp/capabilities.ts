import type { SmtpReply } from "./reply";

/**
 * The service extensions a server announces in its EHLO reply (RFC 5321 §4.1.1.1): every line after the
 * first is `KEYWORD [params]`. Keywords are case-insensitive.
 */
export interface SmtpCapabilities {
  starttls: boolean;
  /** SASL mechanisms offered (RFC 4954), upper-case. Includes the old `AUTH=LOGIN` form. */
  auth: string[];
  /** SIZE (RFC 1870): the largest message in octets the server takes; 0 = no fixed limit; null = not announced. */
  size: number | null;
  eightBitMime: boolean;
  smtpUtf8: boolean;
  pipelining: boolean;
  enhancedStatusCodes: boolean;
  /** Every keyword as announced, for diagnostics. */
  keywords: string[];
}

export const NO_CAPABILITIES: SmtpCapabilities = {
  starttls: false,
  auth: [],
  size: null,
  eightBitMime: false,
  smtpUtf8: false,
  pipelining: false,
  enhancedStatusCodes: false,
  keywords: [],
};

export function parseCapabilities(ehlo: SmtpReply): SmtpCapabilities {
  const caps: SmtpCapabilities = { ...NO_CAPABILITIES, auth: [], keywords: [] };
  const auth = new Set<string>();
  // The first line is the server's greeting ("mail.example.com Hello …"), not an extension.
  for (const line of ehlo.lines.slice(1)) {
    const [keywordRaw = "", ...params] = line.trim().split(/[ =]+/);
    const keyword = keywordRaw.toUpperCase();
    if (keyword === "") continue;
    caps.keywords.push(keyword);
    switch (keyword) {
      case "STARTTLS":
        caps.starttls = true;
        break;
      case "AUTH":
        for (const mechanism of params) if (mechanism) auth.add(mechanism.toUpperCase());
        break;
      case "SIZE": {
        const n = Number(params[0] ?? "0");
        caps.size = Number.isSafeInteger(n) && n >= 0 ? n : 0;
        break;
      }
      case "8BITMIME":
        caps.eightBitMime = true;
        break;
      case "SMTPUTF8":
        caps.smtpUtf8 = true;
        break;
      case "PIPELINING":
        caps.pipelining = true;
        break;
      case "ENHANCEDSTATUSCODES":
        caps.enhancedStatusCodes = true;
        break;
    }
  }
  caps.auth = [...auth];
  return caps;
}
