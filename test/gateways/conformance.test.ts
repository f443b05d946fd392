// The local gateways are what every workers test and `npm start` stand on, so their protocol
// conformance is checked with the real drivers (@neondatabase/serverless, drizzle, @upstash/redis),
// including PGlite's single-session mode. The checks live in dev/ so they can also be run by hand.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

function runCheck(script: string) {
  const result = spawnSync(process.execPath, [`${ROOT}${script}`], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 110_000,
    env: {
      ...process.env,
      CHECK_REDIS_URL: process.env.TEST_REDIS_URL ?? "redis://127.0.0.1:6379",
    },
  });
  const output = `${result.stdout}\n${result.stderr}`;
  return { status: result.status, output, failed: output.split("\n").filter((l) => l.startsWith("FAIL")) };
}

describe("local gateways speak the vendors' protocols", () => {
  it("Neon: HTTP queries, batch transactions, errors, WebSocket transactions, PGlite single session", () => {
    const { status, output, failed } = runCheck("dev/check-neon-gateway.ts");
    expect(failed).toEqual([]);
    expect(output).toMatch(/ALL PASS/);
    expect(status).toBe(0);
  });

  it("Upstash: commands, pipelines, transactions, base64 encoding, Lua with Upstash flags, auth", () => {
    const { status, output, failed } = runCheck("dev/check-upstash-gateway.ts");
    expect(failed).toEqual([]);
    expect(output).toMatch(/ALL PASSED/);
    expect(status).toBe(0);
  });
});
