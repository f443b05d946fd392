import { DrizzleQueryError } from "drizzle-orm/errors";
import { afterEach, describe, expect, it, vi } from "vitest";
import * as z from "zod";
import { isDatabaseUnavailable } from "../../src/cache/dual-write";
import { codeToStatus, describeForLog } from "../../src/http/errors";
import { toValidationError } from "../../src/http/validation";
import { createLogger } from "../../src/lib/logger";

describe("codeToStatus", () => {
  it("maps client errors to 4xx and server errors to 5xx", () => {
    expect(codeToStatus.VALIDATION_ERROR).toBe(422);
    expect(codeToStatus.PRECONDITION_FAILED).toBe(412);
    expect(codeToStatus.RATE_LIMITED).toBe(429);
    expect(codeToStatus.UPSTREAM_ERROR).toBe(502);
    expect(codeToStatus.SERVICE_UNAVAILABLE).toBe(503);
  });
});

describe("toValidationError", () => {
  it("groups zod issues by dotted field path", () => {
    const schema = z.object({ email: z.email(), lines: z.array(z.object({ qty: z.number().positive() })) });
    const result = schema.safeParse({ email: "x", lines: [{ qty: 1 }, { qty: -1 }] });
    expect(result.success).toBe(false);
    if (result.success) return;
    const error = toValidationError(result.error, "request body");
    expect(error.message).toBe("Invalid request body");
    expect(Object.keys(error.details ?? {}).sort()).toEqual(["email", "lines.1.qty"]);
  });

  it("puts whole-value issues under _root", () => {
    const result = z.object({ a: z.string() }).safeParse("not an object");
    if (result.success) throw new Error("expected failure");
    expect(Object.keys(toValidationError(result.error, "body").details ?? {})).toEqual(["_root"]);
  });
});

describe("isDatabaseUnavailable", () => {
  const withCode = (code: string) => Object.assign(new Error("pg said no"), { code });

  it("treats connection-class SQLSTATEs and transport failures as outages", () => {
    expect(isDatabaseUnavailable(withCode("08006"))).toBe(true);
    expect(isDatabaseUnavailable(withCode("57P01"))).toBe(true);
    expect(isDatabaseUnavailable(withCode("53300"))).toBe(true);
    expect(isDatabaseUnavailable(new TypeError("fetch failed"))).toBe(true);
    expect(
      isDatabaseUnavailable(Object.assign(new Error("The operation timed out"), { name: "TimeoutError" })),
    ).toBe(true);
    expect(isDatabaseUnavailable(new Error("Server error (HTTP status 502): connect ECONNREFUSED"))).toBe(
      true,
    );
  });

  it("treats answers from Postgres as not outages, even when wrapped", () => {
    expect(isDatabaseUnavailable(withCode("23505"))).toBe(false);
    expect(isDatabaseUnavailable(new Error("Failed query", { cause: withCode("42P01") }))).toBe(false);
    expect(isDatabaseUnavailable(new Error("Tenant not found"))).toBe(false);
  });
});

describe("describeForLog", () => {
  it("logs a failed query's driver message and SQLSTATE, never its SQL parameters", () => {
    const cause = Object.assign(new Error('duplicate key value violates unique constraint "x"'), {
      code: "23505",
    });
    const failed = new DrizzleQueryError(
      "insert into tickets (requester_email) values ($1)",
      ["jane@example.com"],
      cause,
    );
    const logged = JSON.stringify(describeForLog(failed));
    expect(logged).toContain("duplicate key value");
    expect(logged).not.toContain("jane@example.com");
    expect(logged).not.toContain("insert into tickets");

    const bare = new Error("Failed query: select $1\nparams: 4111111111111111");
    expect(JSON.stringify(describeForLog(bare))).not.toContain("4111111111111111");
  });
});

describe("logger", () => {
  afterEach(() => vi.restoreAllMocks());

  it("writes one JSON line with base fields and redacts secrets at any depth", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    createLogger("info", { requestId: "req_1" })
      .child({ tenantId: "t1" })
      .info("login", {
        user: "a@b.co",
        password: "hunter2",
        nested: { apiKey: "k", authorization: "Bearer x" },
      });
    expect(log).toHaveBeenCalledTimes(1);
    const line = JSON.parse(String(log.mock.calls[0]?.[0]));
    expect(line).toMatchObject({
      level: "info",
      msg: "login",
      requestId: "req_1",
      tenantId: "t1",
      user: "a@b.co",
    });
    expect(line.password).toBe("[redacted]");
    expect(line.nested).toEqual({ apiKey: "[redacted]", authorization: "[redacted]" });
    expect(JSON.stringify(line)).not.toContain("hunter2");
  });

  it("drops lines below the level", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
    createLogger("warn").info("quiet");
    expect(log).not.toHaveBeenCalled();
  });
});
