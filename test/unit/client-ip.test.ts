import { describe, expect, it } from "vitest";
import { normaliseIp } from "../../src/services/auth/issue-session";

describe("normaliseIp", () => {
  it("keeps valid IPv4 and IPv6 addresses", () => {
    for (const ip of ["203.0.113.7", "0.0.0.0", "2001:db8::1", "::1", "::ffff:192.0.2.1", "fe80::1:2:3:4"]) {
      expect(normaliseIp(ip)).toBe(ip);
    }
  });

  it("drops anything the inet column would refuse", () => {
    for (const ip of [
      "1:2:3",
      ":::",
      "256.1.1.1",
      "1.2.3",
      "not-an-ip",
      "1.2.3.4; drop table",
      "",
      null,
      undefined,
    ]) {
      expect(normaliseIp(ip)).toBeNull();
    }
  });
});
