// Local stand-in for Upstash Redis's REST API, backed by a real Redis. Dev/test only.
import { createHash } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import type * as RedisModule from "redis";

// Loaded through require so that bundler-style resolvers (vitest globalSetup) cannot pick a browser build.
const requireCjs = createRequire(import.meta.url);
const { createClient, ErrorReply, RESP_TYPES } = requireCjs("redis") as typeof RedisModule;

export interface UpstashGatewayOptions {
  redisUrl: string;
  token: string;
  port?: number;
  host?: string;
  log?: (line: string) => void;
}

export interface RunningUpstashGateway {
  url: string;
  port: number;
  close(): Promise<void>;
}

type Json = string | number | null | Json[];

interface Outcome {
  result?: Json;
  error?: string;
}

interface PreparedCommand {
  args: string[];
  /** Set when the gateway answers without asking Redis (refused or invalid command). */
  rejection?: string;
  /** Blocking commands get their own connection so they cannot stall the shared one. */
  isolated: boolean;
  postprocess?: (reply: unknown) => unknown;
}

/** Redis could not be reached; the whole request fails with 503 instead of per-command errors. */
class RedisUnavailableError extends Error {}

class BadRequestError extends Error {}

const READY_TIMEOUT_MS = 2000;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const UPSTASH_ONLY_SCRIPT_FLAGS = new Set(["allow-key-locking"]);

// These change per-connection state or switch the connection's protocol mode, which would break the
// shared connection for every other request.
const REFUSED_COMMANDS = new Set([
  "SUBSCRIBE",
  "PSUBSCRIBE",
  "SSUBSCRIBE",
  "UNSUBSCRIBE",
  "PUNSUBSCRIBE",
  "SUNSUBSCRIBE",
  "MONITOR",
  "MULTI",
  "EXEC",
  "DISCARD",
  "WATCH",
  "UNWATCH",
  "SELECT",
  "QUIT",
  "RESET",
  "HELLO",
  "AUTH",
  "SYNC",
  "PSYNC",
  "REPLCONF",
]);
const REFUSED_CLIENT_SUBCOMMANDS = new Set(["REPLY", "TRACKING", "CACHING", "PAUSE"]);

const BLOCKING_COMMANDS = new Set([
  "BLPOP",
  "BRPOP",
  "BRPOPLPUSH",
  "BLMOVE",
  "BLMPOP",
  "BZPOPMIN",
  "BZPOPMAX",
  "BZMPOP",
  "WAIT",
  "WAITAOF",
]);

function sha1Hex(text: string): string {
  return createHash("sha1").update(text, "utf8").digest("hex");
}

/**
 * Removes Upstash-only flags from a `#!lua flags=...` shebang, which Redis 7 rejects outright.
 * Returns null when nothing needed changing. When no flags remain the shebang line is blanked rather
 * than deleted so that line numbers in Lua error messages still match the client's script.
 */
function stripUpstashScriptFlags(script: string): string | null {
  if (!script.startsWith("#!")) return null;
  const newline = script.indexOf("\n");
  const firstLine = newline === -1 ? script : script.slice(0, newline);
  const rest = newline === -1 ? "" : script.slice(newline);
  const words = firstLine.slice(2).trim().split(/\s+/);
  let changed = false;
  const kept: string[] = [];
  for (const word of words) {
    if (!word.startsWith("flags=")) {
      kept.push(word);
      continue;
    }
    const flags = word.slice("flags=".length).split(",");
    const remaining = flags.filter((flag) => !UPSTASH_ONLY_SCRIPT_FLAGS.has(flag));
    if (remaining.length === flags.length) {
      kept.push(word);
      continue;
    }
    changed = true;
    if (remaining.some((flag) => flag !== "")) kept.push(`flags=${remaining.join(",")}`);
  }
  if (!changed) return null;
  const onlyEngineLeft = kept.length === 1 && kept[0] === "lua";
  return onlyEngineLeft ? rest : `#!${kept.join(" ")}${rest}`;
}

function toArg(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  throw new BadRequestError(`ERR invalid argument ${JSON.stringify(value) ?? String(value)}`);
}

function toCommand(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequestError("ERR a command must be a non-empty JSON array");
  }
  return value.map(toArg);
}

function toCommandList(value: unknown): string[][] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new BadRequestError("ERR expected a non-empty JSON array of commands");
  }
  return value.map(toCommand);
}

/** Encodes a RESP2 reply the way Upstash does: bulk strings are base64 when asked for, "OK" stays "OK". */
function encodeReply(reply: unknown, base64: boolean, topLevel: boolean): Json {
  if (reply === null || reply === undefined) return null;
  if (typeof reply === "number") return reply;
  if (typeof reply === "bigint") return Number(reply);
  if (Buffer.isBuffer(reply)) return base64 ? reply.toString("base64") : reply.toString("utf8");
  if (Array.isArray(reply)) return reply.map((item: unknown) => encodeReply(item, base64, false));
  // Status replies arrive as strings (bulk strings are Buffers). The client passes a top-level "OK"
  // through untouched but base64-decodes every other string, including ones nested in arrays.
  const text = reply instanceof Error ? reply.message : String(reply);
  if (!base64 || (topLevel && text === "OK")) return text;
  return Buffer.from(text, "utf8").toString("base64");
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, "//***@");
}

function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

export async function startUpstashGateway(opts: UpstashGatewayOptions): Promise<RunningUpstashGateway> {
  const log = opts.log ?? (() => {});
  const host = opts.host ?? "127.0.0.1";
  const redisLabel = redactUrl(opts.redisUrl);
  // Keyed by the SHA1 of the script as the client sent it (what it will later EVALSHA).
  const rewrittenShas = new Map<string, string>();
  const isolatedClients = new Set<RedisClient>();
  let lastRedisError = "not connected yet";
  let closing = false;

  function newRedisClient(reconnect: boolean) {
    return createClient({
      url: opts.redisUrl,
      // RESP3 would turn hashes into maps, scores into doubles etc., which Upstash never returns.
      RESP: 2,
      // Queued commands would otherwise wait out an outage; requests should fail fast instead.
      disableOfflineQueue: true,
      // Bulk strings as Buffers keeps replies binary-safe and distinguishes them from status replies.
      commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
      socket: {
        connectTimeout: READY_TIMEOUT_MS,
        reconnectStrategy: reconnect ? (retries: number) => Math.min(100 * 2 ** retries, 1000) : false,
      },
    });
  }
  type RedisClient = ReturnType<typeof newRedisClient>;

  // destroy() throws on a client that is already closed, which is fine to ignore here.
  function destroyQuietly(client: RedisClient): void {
    try {
      client.destroy();
    } catch {}
  }

  const shared = newRedisClient(true);
  let reportedOutage = false;
  shared.on("error", (error: unknown) => {
    lastRedisError = errorMessage(error);
    if (!reportedOutage && !closing) {
      reportedOutage = true;
      log(`[upstash-gateway] Redis ${redisLabel} unavailable: ${lastRedisError} (retrying)`);
    }
  });
  shared.on("ready", () => {
    if (reportedOutage) log(`[upstash-gateway] Redis ${redisLabel} is back`);
    reportedOutage = false;
  });
  // Never awaited: the gateway must come up (and answer 503) even while Redis is down.
  shared.connect().catch((error: unknown) => {
    if (!closing) log(`[upstash-gateway] Redis connect loop ended: ${errorMessage(error)}`);
  });

  // One waiter shared by all requests, so an outage doesn't pile listeners onto the client.
  let readyWaiter: Promise<void> | undefined;

  function ensureReady(): Promise<void> {
    if (shared.isReady) return Promise.resolve();
    // Settles on the next connection attempt (success or failure), bounded by the timeout, so a request
    // during a Redis restart can still succeed while a dead Redis is reported within about a second.
    readyWaiter ??= new Promise<void>((resolve, reject) => {
      const cleanup = (): void => {
        clearTimeout(timer);
        shared.off("ready", onReady);
        shared.off("error", onError);
        readyWaiter = undefined;
      };
      const fail = (): void => {
        cleanup();
        reject(new RedisUnavailableError(`Redis ${redisLabel} is unavailable: ${lastRedisError}`));
      };
      const onReady = (): void => {
        cleanup();
        resolve();
      };
      const onError = (error: unknown): void => {
        lastRedisError = errorMessage(error);
        fail();
      };
      const timer = setTimeout(fail, READY_TIMEOUT_MS);
      shared.on("ready", onReady);
      shared.on("error", onError);
    });
    return readyWaiter;
  }

  function prepare(args: string[]): PreparedCommand {
    const name = (args[0] ?? "").toUpperCase();
    const prepared: PreparedCommand = { args: [...args], isolated: false };
    if (REFUSED_COMMANDS.has(name)) {
      prepared.rejection = `ERR command '${name}' is not supported by the local Upstash gateway`;
      return prepared;
    }
    const sub = (args[1] ?? "").toUpperCase();
    if (name === "CLIENT" && REFUSED_CLIENT_SUBCOMMANDS.has(sub)) {
      prepared.rejection = `ERR command 'CLIENT ${sub}' is not supported by the local Upstash gateway`;
      return prepared;
    }
    if (BLOCKING_COMMANDS.has(name)) prepared.isolated = true;
    if ((name === "XREAD" || name === "XREADGROUP") && args.some((arg) => arg.toUpperCase() === "BLOCK")) {
      prepared.isolated = true;
    }

    const rewriteScriptAt = (index: number): string | null => {
      const script = args[index];
      if (script === undefined) return null;
      const rewritten = stripUpstashScriptFlags(script);
      if (rewritten === null) return null;
      const originalSha = sha1Hex(script);
      rewrittenShas.set(originalSha, sha1Hex(rewritten));
      prepared.args[index] = rewritten;
      return originalSha;
    };

    if (name === "EVAL" || name === "EVAL_RO") {
      rewriteScriptAt(1);
    } else if (name === "EVALSHA" || name === "EVALSHA_RO") {
      const sha = args[1]?.toLowerCase();
      const mapped = sha === undefined ? undefined : rewrittenShas.get(sha);
      if (mapped !== undefined) prepared.args[1] = mapped;
    } else if (name === "SCRIPT" && sub === "LOAD") {
      const originalSha = rewriteScriptAt(2);
      // The client derives the SHA from its own script text, so that is the one to hand back.
      if (originalSha !== null) prepared.postprocess = () => originalSha;
    } else if (name === "SCRIPT" && sub === "EXISTS") {
      for (let i = 2; i < prepared.args.length; i++) {
        const sha = prepared.args[i]?.toLowerCase();
        const mapped = sha === undefined ? undefined : rewrittenShas.get(sha);
        if (mapped !== undefined) prepared.args[i] = mapped;
      }
    }
    return prepared;
  }

  async function runIsolated(args: string[], signal: AbortSignal): Promise<unknown> {
    if (signal.aborted) throw new RedisUnavailableError("request was aborted by the caller");
    const client = newRedisClient(false);
    client.on("error", () => {});
    isolatedClients.add(client);
    // A caller that hung up must not leave e.g. `BLPOP key 0` holding a connection forever.
    const onAbort = (): void => destroyQuietly(client);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      try {
        await client.connect();
      } catch (error) {
        throw new RedisUnavailableError(`Redis ${redisLabel} is unavailable: ${errorMessage(error)}`);
      }
      return await client.sendCommand<unknown>(args);
    } finally {
      signal.removeEventListener("abort", onAbort);
      isolatedClients.delete(client);
      destroyQuietly(client);
    }
  }

  function settle(prepared: PreparedCommand, reply: PromiseSettledResult<unknown>, base64: boolean): Outcome {
    if (reply.status === "rejected") {
      if (reply.reason instanceof ErrorReply) return { error: reply.reason.message };
      if (reply.reason instanceof RedisUnavailableError) throw reply.reason;
      throw new RedisUnavailableError(`Redis ${redisLabel} request failed: ${errorMessage(reply.reason)}`);
    }
    const value = prepared.postprocess ? prepared.postprocess(reply.value) : reply.value;
    return { result: encodeReply(value, base64, true) };
  }

  async function runPipeline(commands: string[][], base64: boolean, signal: AbortSignal): Promise<Outcome[]> {
    await ensureReady();
    const prepared = commands.map(prepare);
    const outcomes: Outcome[] = [];
    let index = 0;
    while (index < prepared.length) {
      // Consecutive non-blocking commands go out in one synchronous burst so they stay in order on the
      // shared connection; a blocking one waits for them and runs on its own connection.
      const batch: Array<{ command: PreparedCommand; reply: Promise<unknown> }> = [];
      while (index < prepared.length) {
        const command = prepared[index] as PreparedCommand;
        if (command.isolated && command.rejection === undefined && batch.length > 0) break;
        index++;
        if (command.rejection !== undefined) {
          batch.push({ command, reply: Promise.reject(new ErrorReply(command.rejection)) });
        } else if (command.isolated) {
          batch.push({ command, reply: runIsolated(command.args, signal) });
          break;
        } else {
          batch.push({ command, reply: shared.sendCommand<unknown>(command.args) });
        }
      }
      const replies = await Promise.allSettled(batch.map((entry) => entry.reply));
      replies.forEach((reply, i) => {
        const entry = batch[i];
        if (entry) outcomes.push(settle(entry.command, reply, base64));
      });
    }
    return outcomes;
  }

  async function runTransaction(commands: string[][], base64: boolean): Promise<Outcome[]> {
    await ensureReady();
    const prepared = commands.map(prepare);
    const rejected = prepared.find((command) => command.rejection !== undefined);
    if (rejected?.rejection !== undefined) {
      throw new BadRequestError(
        `EXECABORT Transaction discarded because of previous errors: ${rejected.rejection}`,
      );
    }
    // Issued synchronously, so node-redis writes MULTI…EXEC back to back with nothing interleaved.
    const chainId = Symbol("multi-exec");
    const queued = [
      shared.sendCommand<unknown>(["MULTI"], { chainId }),
      ...prepared.map((command) => shared.sendCommand<unknown>(command.args, { chainId })),
    ];
    const exec = shared.sendCommand<unknown>(["EXEC"], { chainId });
    const queuedReplies = await Promise.allSettled(queued);
    const execReply = await Promise.allSettled([exec]).then((all) => all[0]);
    for (const reply of queuedReplies) {
      if (reply.status === "rejected") {
        if (reply.reason instanceof ErrorReply) {
          throw new BadRequestError(
            `EXECABORT Transaction discarded because of previous errors: ${reply.reason.message}`,
          );
        }
        throw new RedisUnavailableError(`Redis ${redisLabel} request failed: ${errorMessage(reply.reason)}`);
      }
    }
    if (execReply === undefined || execReply.status === "rejected") {
      const reason: unknown = execReply?.status === "rejected" ? execReply.reason : "no reply";
      if (reason instanceof ErrorReply) throw new BadRequestError(reason.message);
      throw new RedisUnavailableError(`Redis ${redisLabel} request failed: ${errorMessage(reason)}`);
    }
    const results: unknown = execReply.value;
    if (!Array.isArray(results)) throw new BadRequestError("ERR transaction was not executed");
    return prepared.map((command, i) => {
      const item: unknown = results[i];
      if (item instanceof ErrorReply) return { error: item.message };
      return settle(command, { status: "fulfilled", value: item }, base64);
    });
  }

  function isAuthorized(req: IncomingMessage, url: URL): boolean {
    const header = req.headers.authorization ?? "";
    const match = /^Bearer\s+(.+)$/i.exec(header.trim());
    if (match?.[1] === opts.token) return true;
    return url.searchParams.get("_token") === opts.token;
  }

  async function readBody(req: IncomingMessage): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
      size += buffer.length;
      if (size > MAX_BODY_BYTES) throw new BadRequestError("ERR request body too large");
      chunks.push(buffer);
    }
    return Buffer.concat(chunks);
  }

  function parseJson(body: Buffer): unknown {
    try {
      return JSON.parse(body.toString("utf8"));
    } catch (error) {
      throw new BadRequestError(`ERR invalid JSON body: ${errorMessage(error)}`);
    }
  }

  function send(res: ServerResponse, status: number, payload: unknown): void {
    if (res.headersSent || res.destroyed) return;
    const body = JSON.stringify(payload);
    res.writeHead(status, {
      "content-type": "application/json",
      "content-length": Buffer.byteLength(body),
    });
    res.end(body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
    const url = new URL(req.url ?? "/", "http://gateway.local");
    const method = req.method ?? "GET";
    if (!["GET", "HEAD", "POST", "PUT"].includes(method)) {
      send(res, 405, { error: "Method not allowed" });
      return;
    }
    const segments = url.pathname
      .split("/")
      .filter((segment) => segment !== "")
      .map((segment) => {
        try {
          return decodeURIComponent(segment);
        } catch {
          throw new BadRequestError(`ERR invalid URL encoding in ${JSON.stringify(segment)}`);
        }
      });

    // Unauthenticated on purpose, so start scripts can poll it for readiness.
    if (segments.length === 0 && method !== "POST" && method !== "PUT") {
      send(res, shared.isReady ? 200 : 503, {
        ok: shared.isReady,
        redis: shared.isReady ? "ready" : lastRedisError,
      });
      return;
    }
    if (!isAuthorized(req, url)) {
      send(res, 401, { error: "Unauthorized" });
      return;
    }
    const base64 = (req.headers["upstash-encoding"] ?? "").toString().toLowerCase() === "base64";
    const body = await readBody(req);

    if (segments.length === 0) {
      const [outcome] = await runPipeline([toCommand(parseJson(body))], base64, signal);
      if (outcome?.error !== undefined) send(res, 400, { error: outcome.error });
      else send(res, 200, { result: outcome?.result ?? null });
      return;
    }
    if (segments.length === 1 && segments[0] === "pipeline") {
      send(res, 200, await runPipeline(toCommandList(parseJson(body)), base64, signal));
      return;
    }
    if (segments.length === 1 && segments[0] === "multi-exec") {
      send(res, 200, await runTransaction(toCommandList(parseJson(body)), base64));
      return;
    }
    // Path style (`/set/key/value`): a request body is the last argument, query parameters follow it.
    const args = [...segments];
    if (body.length > 0) args.push(body.toString("utf8"));
    for (const [key, value] of url.searchParams) {
      if (key === "_token") continue;
      args.push(key);
      if (value !== "") args.push(value);
    }
    const [outcome] = await runPipeline([args], base64, signal);
    if (outcome?.error !== undefined) send(res, 400, { error: outcome.error });
    else send(res, 200, { result: outcome?.result ?? null });
  }

  const server = createServer((req, res) => {
    req.on("error", () => {});
    res.on("error", () => {});
    const hangUp = new AbortController();
    res.on("close", () => hangUp.abort());
    handle(req, res, hangUp.signal).catch((error: unknown) => {
      if (error instanceof BadRequestError) {
        send(res, 400, { error: error.message });
      } else if (error instanceof RedisUnavailableError) {
        send(res, 503, { error: error.message });
      } else {
        log(`[upstash-gateway] internal error: ${errorMessage(error)}`);
        send(res, 500, { error: `ERR gateway failure: ${errorMessage(error)}` });
      }
    });
  });
  server.on("clientError", (_error, socket) => {
    socket.destroy();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (error) => log(`[upstash-gateway] server error: ${errorMessage(error)}`));

  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(":") ? `[${host}]` : host;
  const gatewayUrl = `http://${urlHost}:${port}`;
  log(`[upstash-gateway] ${gatewayUrl} -> ${redisLabel}`);

  let closed: Promise<void> | undefined;
  return {
    url: gatewayUrl,
    port,
    close(): Promise<void> {
      closed ??= (async () => {
        closing = true;
        const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
        // Keep-alive sockets from fetch() would otherwise hold server.close() open indefinitely.
        server.closeAllConnections();
        for (const client of isolatedClients) destroyQuietly(client);
        isolatedClients.clear();
        destroyQuietly(shared);
        await serverClosed;
      })();
      return closed;
    },
  };
}
