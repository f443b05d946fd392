// Self-check for dev/upstash-gateway.ts using the real @upstash/redis client against the local Redis.
// Run: node dev/check-upstash-gateway.ts   (needs Redis on 127.0.0.1:6379)
import { randomBytes } from "node:crypto";
import { isDeepStrictEqual } from "node:util";
import { Redis } from "@upstash/redis";
import { startUpstashGateway } from "./upstash-gateway.ts";

const REDIS_URL = process.env.CHECK_REDIS_URL ?? "redis://127.0.0.1:6379";
const TOKEN = `check-${randomBytes(8).toString("hex")}`;
const prefix = `upstash-gw-check:${randomBytes(6).toString("hex")}:`;
const k = (name: string): string => `${prefix}${name}`;

let failures = 0;

function assertEqual(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
  }
}

async function expectRejection(promise: Promise<unknown>, pattern: RegExp, what: string): Promise<string> {
  try {
    const value = await promise;
    throw new Error(`${what}: expected an error, got ${JSON.stringify(value)}`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!pattern.test(message))
      throw new Error(`${what}: error ${JSON.stringify(message)} does not match ${pattern}`);
    return message;
  }
}

async function check(name: string, body: () => Promise<void>): Promise<void> {
  const started = performance.now();
  try {
    await body();
    console.log(`PASS ${name} (${Math.round(performance.now() - started)} ms)`);
  } catch (error) {
    failures++;
    console.log(`FAIL ${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
}

interface RatelimitResult {
  success: boolean;
  remaining: number;
}
interface RatelimitInstance {
  limit(identifier: string): Promise<RatelimitResult>;
}
interface RatelimitModule {
  Ratelimit: {
    new (config: { redis: Redis; limiter: unknown; prefix: string; analytics?: boolean }): RatelimitInstance;
    slidingWindow(tokens: number, window: string): unknown;
    fixedWindow(tokens: number, window: string): unknown;
  };
}

async function loadRatelimit(): Promise<RatelimitModule | null> {
  // A variable specifier keeps tsc from requiring the optional package to be installed.
  const specifier = "@upstash/ratelimit";
  try {
    const mod: unknown = await import(specifier);
    if (
      typeof mod === "object" &&
      mod !== null &&
      "Ratelimit" in mod &&
      typeof mod.Ratelimit === "function"
    ) {
      return mod as RatelimitModule;
    }
    return null;
  } catch {
    return null;
  }
}

async function main(): Promise<void> {
  const totalStart = performance.now();
  const logLines: string[] = [];
  const gateway = await startUpstashGateway({
    redisUrl: REDIS_URL,
    token: TOKEN,
    log: (line) => logLines.push(line),
  });
  const redis = new Redis({ url: gateway.url, token: TOKEN, automaticDeserialization: true });

  try {
    await check("strings, numbers, JSON, unicode and binary-ish values round-trip", async () => {
      const samples: Array<[string, unknown]> = [
        ["str", "hello world"],
        ["num", 42],
        ["float", 3.25],
        ["json", { a: 1, b: ["x", null, true], nested: { c: "ü" } }],
        ["unicode", "héllo wörld – 你好 – 🚀🌍"],
        ["binaryish", '\u0000\u0001\u007f\u0080\u00ff line\nbreak\ttab "quoted" \\ backslash'],
        ["ok", "OK"],
        ["b64like", "T0s="],
        ["leadingzero", "007"],
        ["empty", ""],
      ];
      for (const [name, value] of samples) assertEqual(await redis.set(k(name), value), "OK", `set ${name}`);
      for (const [name, value] of samples) assertEqual(await redis.get(k(name)), value, `get ${name}`);
      assertEqual(await redis.get(k("missing")), null, "get missing");
    });

    await check("incr, expire/ttl", async () => {
      assertEqual(await redis.incr(k("counter")), 1, "incr 1");
      assertEqual(await redis.incrby(k("counter"), 41), 42, "incrby");
      assertEqual(await redis.expire(k("counter"), 100), 1, "expire");
      const ttl = await redis.ttl(k("counter"));
      if (ttl <= 0 || ttl > 100) throw new Error(`ttl out of range: ${ttl}`);
      assertEqual(await redis.set(k("ex"), "v", { ex: 50 }), "OK", "set ex");
      const ttl2 = await redis.ttl(k("ex"));
      if (ttl2 <= 0 || ttl2 > 50) throw new Error(`ttl(ex) out of range: ${ttl2}`);
      assertEqual(await redis.ttl(k("missing")), -2, "ttl missing");
    });

    await check("hset/hgetall", async () => {
      assertEqual(await redis.hset(k("hash"), { name: "Ada", age: 36, tags: ["x"] }), 3, "hset");
      assertEqual(await redis.hgetall(k("hash")), { name: "Ada", age: 36, tags: ["x"] }, "hgetall");
      assertEqual(await redis.hget(k("hash"), "name"), "Ada", "hget");
      assertEqual(await redis.hgetall(k("nohash")), null, "hgetall missing");
    });

    await check("zadd/zrange with scores", async () => {
      assertEqual(
        await redis.zadd(
          k("zset"),
          { score: 1.5, member: "a" },
          { score: 3, member: "c" },
          { score: 2, member: "b" },
        ),
        3,
        "zadd",
      );
      assertEqual(await redis.zrange(k("zset"), 0, -1), ["a", "b", "c"], "zrange");
      assertEqual(
        await redis.zrange(k("zset"), 0, -1, { withScores: true }),
        ["a", 1.5, "b", 2, "c", 3],
        "withScores",
      );
      assertEqual(await redis.zscore(k("zset"), "b"), 2, "zscore");
    });

    await check("lpush/lrange", async () => {
      assertEqual(await redis.lpush(k("list"), "one", "two", "three"), 3, "lpush");
      assertEqual(await redis.lrange(k("list"), 0, -1), ["three", "two", "one"], "lrange");
      assertEqual(await redis.rpop(k("list")), "one", "rpop");
    });

    await check("mget with missing keys", async () => {
      assertEqual(
        await redis.mget(k("str"), k("missing"), k("num"), k("json")),
        ["hello world", null, 42, { a: 1, b: ["x", null, true], nested: { c: "ü" } }],
        "mget",
      );
    });

    await check("scan and del", async () => {
      const found = new Set<string>();
      let cursor: string | number = 0;
      do {
        const [next, keys]: [string, string[]] = await redis.scan(cursor, {
          match: `${prefix}*`,
          count: 100,
        });
        for (const key of keys) found.add(key);
        cursor = next;
      } while (String(cursor) !== "0");
      for (const name of ["str", "num", "json", "hash", "zset", "list", "counter"]) {
        if (!found.has(k(name)))
          throw new Error(`scan did not find ${k(name)}; found ${[...found].join(", ")}`);
      }
      assertEqual(await redis.del(k("str"), k("missing")), 1, "del");
      assertEqual(await redis.exists(k("str")), 0, "exists after del");
    });

    await check("auto-pipelined concurrent commands keep their own results", async () => {
      const results = await Promise.all([
        redis.set(k("p1"), "one"),
        redis.set(k("p2"), 2),
        redis.get(k("p1")),
        redis.get(k("p2")),
        redis.incr(k("p3")),
        redis.get(k("missing")),
      ]);
      assertEqual(results, ["OK", "OK", "one", 2, 1, null], "concurrent results");
    });

    await check("pipeline() exec", async () => {
      const results = await redis
        .pipeline()
        .set(k("pipe"), { v: 1 })
        .get(k("pipe"))
        .incr(k("pipe-n"))
        .incr(k("pipe-n"))
        .hset(k("pipe-h"), { f: "g" })
        .hgetall(k("pipe-h"))
        .exec();
      assertEqual(results, ["OK", { v: 1 }, 1, 2, 1, { f: "g" }], "pipeline results");
      const kept = await redis
        .pipeline()
        .incr(k("pipe-n"))
        .incr(k("json"))
        .get(k("pipe-n"))
        .exec({ keepErrors: true });
      assertEqual(kept[0]?.result, 3, "keepErrors first");
      if (!kept[1]?.error?.includes("not an integer"))
        throw new Error(`expected error entry, got ${JSON.stringify(kept[1])}`);
      assertEqual(kept[2]?.result, 3, "keepErrors after error");
    });

    await check("multi() exec", async () => {
      const results = await redis
        .multi()
        .set(k("tx"), "a")
        .append(k("tx"), "b")
        .get(k("tx"))
        .incr(k("tx-n"))
        .exec();
      assertEqual(results, ["OK", 2, "ab", 1], "multi results");
      await expectRejection(
        redis.multi().set(k("tx2"), 1).incr(k("tx")).exec(),
        /not an integer/,
        "multi with runtime error",
      );
      assertEqual(await redis.get(k("tx2")), 1, "other commands in the transaction still ran");
    });

    await check("error results surface as thrown errors", async () => {
      await expectRejection(redis.incr(k("tx")), /ERR value is not an integer/, "incr on string");
      await expectRejection(redis.hget(k("tx"), "f"), /WRONGTYPE/, "hget on string");
    });

    await check("eval, scriptLoad + evalsha, createScript", async () => {
      assertEqual(await redis.eval("return ARGV[1] .. KEYS[1]", [k("e")], ["x-"]), `x-${k("e")}`, "eval");
      assertEqual(
        await redis.eval("return {1, 'two', {3, 'four'}, redis.status_reply('OK')}", [], []),
        [1, "two", [3, "four"], "OK"],
        "eval nested reply",
      );
      const sha = await redis.scriptLoad("return tonumber(ARGV[1]) * 2");
      assertEqual(await redis.evalsha(sha, [], [21]), 42, "evalsha");
      const script = redis.createScript<number>("return redis.call('INCRBY', KEYS[1], ARGV[1])");
      assertEqual(await script.exec([k("script-n")], ["5"]), 5, "createScript first exec");
      assertEqual(await script.exec([k("script-n")], ["5"]), 10, "createScript second exec");
    });

    await check("scripts with the Upstash-only '#!lua flags=allow-key-locking' shebang", async () => {
      const source = `#!lua flags=allow-key-locking\nlocal v = redis.call('INCRBY', KEYS[1], ARGV[1])\nreturn {v, 'done-${randomBytes(4).toString("hex")}'}`;
      const expectedTag = source.slice(source.lastIndexOf("done-"), -2);
      assertEqual(await redis.eval(source, [k("lock")], [2]), [2, expectedTag], "eval with shebang");
      const script = redis.createScript<[number, string]>(source);
      assertEqual(
        await script.exec([k("lock")], ["3"]),
        [5, expectedTag],
        "createScript exec (EVALSHA of original)",
      );
      const sha = await redis.scriptLoad(source);
      assertEqual(await redis.scriptExists(sha), [1], "scriptExists answers for the client's SHA");
      assertEqual(await redis.evalsha(sha, [k("lock")], [1]), [6, expectedTag], "evalsha with client SHA");
      const freshSource = `#!lua flags=allow-key-locking\nreturn '${randomBytes(8).toString("hex")}'`;
      const fresh = redis.createScript<string>(freshSource);
      assertEqual(
        await fresh.exec([], []),
        freshSource.slice(freshSource.indexOf("'") + 1, -1),
        "NOSCRIPT fallback",
      );
      await expectRejection(redis.evalsha("0".repeat(40), [], []), /NOSCRIPT/, "unknown sha");
      const multi = await redis
        .multi()
        .eval(source, [k("lock")], [10])
        .get(k("lock"))
        .exec();
      assertEqual(multi, [[16, expectedTag], 16], "shebang script inside multi");
    });

    await check("path-style commands, health and malformed requests", async () => {
      await redis.set(k("path"), "via path");
      const headers = { authorization: `Bearer ${TOKEN}` };
      const got = await fetch(`${gateway.url}/get/${encodeURIComponent(k("path"))}`, { headers });
      assertEqual([got.status, await got.json()], [200, { result: "via path" }], "GET /get/key");
      const health = await fetch(`${gateway.url}/`);
      assertEqual(health.status, 200, "health status");
      const bad = await fetch(`${gateway.url}/`, { method: "POST", headers, body: '["GET",' });
      const badBody: unknown = await bad.json();
      if (bad.status !== 400 || typeof badBody !== "object" || badBody === null || !("error" in badBody)) {
        throw new Error(`bad JSON: ${bad.status} ${JSON.stringify(badBody)}`);
      }
      const single = await fetch(`${gateway.url}/`, {
        method: "POST",
        headers,
        body: JSON.stringify(["INCR", k("tx")]),
      });
      assertEqual(single.status, 400, "single-command error status");
    });

    await check("wrong token is rejected", async () => {
      const wrong = new Redis({ url: gateway.url, token: "not-the-token", automaticDeserialization: true });
      await expectRejection(wrong.get(k("num")), /Unauthorized/, "wrong token");
      const status = (await fetch(`${gateway.url}/`, { method: "POST", body: '["PING"]' })).status;
      assertEqual(status, 401, "missing token status");
    });

    await check("unreachable Redis fails fast", async () => {
      const dead = await startUpstashGateway({ redisUrl: "redis://127.0.0.1:1", token: TOKEN });
      try {
        const client = new Redis({ url: dead.url, token: TOKEN, automaticDeserialization: true });
        const started = performance.now();
        await expectRejection(client.get("anything"), /unavailable|ECONNREFUSED/i, "dead redis");
        const elapsed = performance.now() - started;
        if (elapsed > 3000) throw new Error(`took ${Math.round(elapsed)} ms`);
      } finally {
        await dead.close();
      }
    });

    const ratelimit = await loadRatelimit();
    if (ratelimit === null) {
      console.log("SKIP @upstash/ratelimit (not installed)");
    } else {
      await check("@upstash/ratelimit sliding and fixed windows", async () => {
        for (const limiter of [
          ratelimit.Ratelimit.slidingWindow(2, "10 s"),
          ratelimit.Ratelimit.fixedWindow(2, "10 s"),
        ]) {
          const rl = new ratelimit.Ratelimit({ redis, limiter, prefix: k("rl") });
          const id = randomBytes(4).toString("hex");
          const outcomes = [await rl.limit(id), await rl.limit(id), await rl.limit(id)];
          assertEqual(
            outcomes.map((o) => o.success),
            [true, true, false],
            "limit outcomes",
          );
        }
      });
    }
  } finally {
    // Clean up with the gateway itself; if that is broken the keys still expire nowhere, so report it.
    try {
      let cursor = "0";
      const keys: string[] = [];
      do {
        const [next, batch]: [string, string[]] = await redis.scan(cursor, {
          match: `${prefix}*`,
          count: 500,
        });
        keys.push(...batch);
        cursor = String(next);
      } while (cursor !== "0");
      if (keys.length > 0) await redis.del(...keys);
    } catch (error) {
      failures++;
      console.log(`FAIL cleanup of ${prefix}*: ${error instanceof Error ? error.message : String(error)}`);
    }
    await gateway.close();
  }

  for (const line of logLines) console.log(`  log: ${line}`);
  const seconds = ((performance.now() - totalStart) / 1000).toFixed(2);
  console.log(failures === 0 ? `ALL PASSED in ${seconds} s` : `${failures} FAILED in ${seconds} s`);
  process.exitCode = failures === 0 ? 0 : 1;
}

await main();
