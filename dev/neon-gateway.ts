/**
 * Local stand-in for Neon's serverless endpoints, so `@neondatabase/serverless` (and drizzle's
 * neon-http / neon-serverless drivers) can talk to a plain Postgres — the machine's PostgreSQL or an
 * embedded PGlite served by `@electric-sql/pglite-socket`.
 *
 * - `POST /sql`: Neon's "SQL over HTTP" protocol (single queries and `transaction([...])` batches).
 * - `GET /v2?address=host:port` (WebSocket upgrade): Neon's WebSocket proxy — raw Postgres wire bytes
 *   copied between binary WebSocket messages and a TCP socket.
 *
 * Dev and test only: no TLS, no auth beyond what Postgres itself checks, and only the targets in
 * `allowedTargets` are reachable, so it is never an open proxy.
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import http from "node:http";
import { createRequire } from "node:module";
import net from "node:net";
import type { Duplex } from "node:stream";
import type { Client, ClientConfig, DatabaseError, FieldDef, Pool, PoolClient, QueryArrayConfig } from "pg";
import type { RawData, WebSocket, WebSocketServer } from "ws";

// Loaded through require so bundler-ish resolvers (vitest globalSetup, which may prefer "browser"
// export conditions) always get the Node builds of these packages.
const require = createRequire(import.meta.url);
const pg = require("pg") as typeof import("pg");
const wsModule = require("ws") as typeof import("ws");

export interface NeonGatewayOptions {
  /** 0 or undefined = random free port. */
  port?: number;
  /** Default "127.0.0.1". */
  host?: string;
  /** "host:port" targets the WS proxy and HTTP path may connect to; anything else is refused (no open proxy). */
  allowedTargets: string[];
  /** PGlite mode: the upstream is ONE Postgres session; give it to one client at a time (HTTP queries and WS sessions share one lock). */
  singleSession?: boolean;
  /** Receives one line per notable event (sessions opening/closing, refused targets, upstream errors). */
  log?: (line: string) => void;
}

export interface RunningNeonGateway {
  /** http://host:port */
  url: string;
  host: string;
  port: number;
  /** "host:port/v2" */
  wsProxy: string;
  close(): Promise<void>;
}

const CONNECT_TIMEOUT_MS = 5_000;
/** In single-session mode a WebSocket session that moves no bytes for this long is cut off, so a leaked client cannot hold the only session forever. */
const SINGLE_SESSION_IDLE_MS = 30_000;
/** Cached single-session HTTP connection is closed after this much idleness. */
const SINGLE_SESSION_HTTP_IDLE_MS = 10_000;
/**
 * After closing an upstream connection in single-session mode, wait this long before opening the
 * next: pglite-socket frees its (default: only) connection slot a tick after the socket closes, and
 * connecting sooner gets "Too many connections".
 */
const SINGLE_SESSION_HANDOFF_MS = 15;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const WS_HIGH_WATER = 8 * 1024 * 1024;
const WS_LOW_WATER = 1024 * 1024;

const ERROR_FIELDS = [
  "severity",
  "code",
  "detail",
  "hint",
  "position",
  "internalPosition",
  "internalQuery",
  "where",
  "schema",
  "table",
  "column",
  "dataType",
  "constraint",
  "file",
  "line",
  "routine",
] as const;

const ISOLATION_LEVELS: Record<string, string> = {
  ReadUncommitted: "READ UNCOMMITTED",
  ReadCommitted: "READ COMMITTED",
  RepeatableRead: "REPEATABLE READ",
  Serializable: "SERIALIZABLE",
};

/** Every column comes back as the raw Postgres text; the driver parses by dataTypeID itself. */
const RAW_TEXT_TYPES = { getTypeParser: () => (value: string) => value };

interface Target {
  host: string;
  port: number;
  key: string;
}

interface SqlQuery {
  query: string;
  params: (string | null)[];
}

interface ResponseOptions {
  arrayMode: boolean;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** FIFO mutex handing the single upstream session to one holder at a time. */
class SessionLock {
  private held = false;
  private readonly waiters: { grant: () => void; fail: (err: Error) => void }[] = [];
  private disposed = false;

  acquire(): Promise<() => void> {
    if (this.disposed) return Promise.reject(new Error("gateway is closing"));
    return new Promise((resolve, reject) => {
      const grant = () => {
        this.held = true;
        let released = false;
        resolve(() => {
          if (released) return;
          released = true;
          this.held = false;
          this.waiters.shift()?.grant();
        });
      };
      if (this.held) this.waiters.push({ grant, fail: reject });
      else grant();
    });
  }

  dispose(): void {
    this.disposed = true;
    for (const waiter of this.waiters.splice(0)) waiter.fail(new Error("gateway is closing"));
  }
}

/**
 * Follows the client's side of the Postgres protocol just far enough to spot Terminate ('X', length
 * 4). Message boundaries matter: those five bytes can legitimately occur inside other messages.
 */
class TerminateDetector {
  private startupPhase = true;
  private disabled = false;
  private awaitingEncryptionReply = false;
  private readonly header = Buffer.alloc(8);
  private headerLength = 0;
  private skip = 0;

  /** Returns true when the chunk contains a Terminate message. */
  feedClient(chunk: Buffer): boolean {
    let i = 0;
    while (!this.disabled && i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      // Startup-phase messages have no type byte: int32 length + int32 code.
      const need = this.startupPhase ? 8 : 5;
      const n = Math.min(need - this.headerLength, chunk.length - i);
      chunk.copy(this.header, this.headerLength, i, i + n);
      this.headerLength += n;
      i += n;
      if (this.headerLength < need) break;
      this.headerLength = 0;
      if (this.startupPhase) {
        const length = this.header.readInt32BE(0);
        const code = this.header.readInt32BE(4);
        if (length < 8) {
          this.disabled = true;
          break;
        }
        this.skip = length - 8;
        if (code === 80877103 || code === 80877104) this.awaitingEncryptionReply = true;
        else if (code >>> 16 === 3) this.startupPhase = false;
      } else {
        const type = this.header[0];
        const length = this.header.readInt32BE(1);
        if (length < 4) {
          this.disabled = true;
          break;
        }
        this.skip = length - 4;
        if (type === 0x58 && length === 4) return true;
      }
    }
    return false;
  }

  feedServer(chunk: Buffer): void {
    if (!this.awaitingEncryptionReply || chunk.length === 0) return;
    this.awaitingEncryptionReply = false;
    // 'S' (SSL) or 'G' (GSS): the rest of the stream is encrypted and cannot be followed.
    if (chunk[0] === 0x53 || chunk[0] === 0x47) this.disabled = true;
  }
}

function isDatabaseError(err: unknown): err is DatabaseError {
  return err instanceof pg.DatabaseError;
}

function errorMessage(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length > 0) {
    return err.errors.map((e: unknown) => errorMessage(e)).join("; ");
  }
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

function parseTargetAddress(address: string): Target | undefined {
  const match = /^(\[[^\]]+\]|[^:[\]]+):(\d{1,5})$/.exec(address);
  if (!match?.[1] || !match[2]) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65535) return undefined;
  const host = match[1].startsWith("[") ? match[1].slice(1, -1) : match[1];
  return { host, port, key: `${match[1].toLowerCase()}:${port}` };
}

function formatHostForUrl(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function parseBoolHeader(req: IncomingMessage, name: string): boolean | undefined {
  const value = headerValue(req, name)?.trim().toLowerCase();
  if (value === undefined || value === "") return undefined;
  if (value === "true") return true;
  if (value === "false") return false;
  throw new HttpError(400, `Invalid ${name} header: expected true or false`);
}

function normalizeParam(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  return JSON.stringify(value);
}

function parseQuery(value: unknown): SqlQuery {
  if (typeof value !== "object" || value === null) throw new HttpError(400, "Each query must be an object");
  const { query, params } = value as { query?: unknown; params?: unknown };
  if (typeof query !== "string") throw new HttpError(400, 'Missing "query" string');
  if (params !== undefined && params !== null && !Array.isArray(params)) {
    throw new HttpError(400, '"params" must be an array');
  }
  return { query, params: (params ?? []).map((p: unknown) => normalizeParam(p)) };
}

function parseBody(text: string): { single: SqlQuery } | { batch: SqlQuery[] } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "Request body is not valid JSON");
  }
  if (typeof body === "object" && body !== null && "queries" in body) {
    const { queries } = body as { queries: unknown };
    if (!Array.isArray(queries)) throw new HttpError(400, '"queries" must be an array');
    return { batch: queries.map((q: unknown) => parseQuery(q)) };
  }
  return { single: parseQuery(body) };
}

interface ConnectionSpec {
  target: Target;
  config: ClientConfig;
}

/** Turns the Neon-Connection-String into pg config, honouring its user, password and database. */
function parseConnectionString(raw: string, allowed: Set<string>): ConnectionSpec {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new HttpError(400, "Neon-Connection-String is not a valid URL");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new HttpError(400, "Neon-Connection-String must use the postgres:// or postgresql:// scheme");
  }
  const database = decodeURIComponent(url.pathname.replace(/^\//, ""));
  if (!url.username || !url.hostname || !database) {
    throw new HttpError(400, "Neon-Connection-String is missing user, host or database");
  }
  const target = parseTargetAddress(`${url.hostname}:${url.port || "5432"}`);
  if (!target) throw new HttpError(400, "Neon-Connection-String has an invalid host or port");
  if (!allowed.has(target.key)) {
    throw new HttpError(403, `Connections to ${target.key} are not allowed by this gateway`);
  }
  const config: ClientConfig = {
    host: target.host,
    port: target.port,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    database,
    // sslmode & co. describe the hop to Neon; the local hop is plain TCP.
    ssl: false,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    types: RAW_TEXT_TYPES,
  };
  const appName = url.searchParams.get("application_name");
  if (appName) config.application_name = appName;
  return { target, config };
}

type QueryRunner = Pick<PoolClient, "query">;

async function runQuery(client: QueryRunner, q: SqlQuery, opts: ResponseOptions): Promise<unknown> {
  // Extended protocol always, like Neon: one statement per query, parameters never spliced into SQL.
  const config: QueryArrayConfig<(string | null)[]> & { queryMode: "extended" } = {
    text: q.query,
    values: q.params,
    rowMode: "array",
    types: RAW_TEXT_TYPES,
    queryMode: "extended",
  };
  const result = await client.query<unknown[], (string | null)[]>(config);
  const fields = result.fields.map((f: FieldDef) => ({
    name: f.name,
    tableID: f.tableID,
    columnID: f.columnID,
    dataTypeID: f.dataTypeID,
    dataTypeSize: f.dataTypeSize,
    dataTypeModifier: f.dataTypeModifier,
    format: f.format,
  }));
  const rows = opts.arrayMode
    ? result.rows
    : result.rows.map((row) => Object.fromEntries(fields.map((f, i) => [f.name, row[i] ?? null])));
  return { command: result.command, rowCount: result.rowCount, rows, fields, rowAsArray: opts.arrayMode };
}

function beginStatement(req: IncomingMessage): string {
  const isolation = headerValue(req, "neon-batch-isolation-level")?.trim();
  const readOnly = parseBoolHeader(req, "neon-batch-read-only");
  const deferrable = parseBoolHeader(req, "neon-batch-deferrable");
  const parts = ["BEGIN"];
  if (isolation) {
    const level = ISOLATION_LEVELS[isolation];
    if (!level) throw new HttpError(400, `Invalid Neon-Batch-Isolation-Level: ${isolation}`);
    parts.push(`ISOLATION LEVEL ${level}`);
  }
  if (readOnly !== undefined) parts.push(readOnly ? "READ ONLY" : "READ WRITE");
  if (deferrable !== undefined) parts.push(deferrable ? "DEFERRABLE" : "NOT DEFERRABLE");
  return parts.join(" ");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    "access-control-allow-origin": "*",
  });
  res.end(text);
}

function databaseErrorBody(err: DatabaseError): Record<string, string> {
  const body: Record<string, string> = { message: err.message };
  for (const field of ERROR_FIELDS) {
    const value = err[field];
    if (value !== undefined) body[field] = value;
  }
  return body;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        if (size - chunk.length > MAX_BODY_BYTES) return;
        reject(new HttpError(413, "Request body too large"));
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

/** A connection to the upstream for one HTTP request; `done` decides whether it may be reused. */
interface Lease {
  client: QueryRunner & { getTransactionStatus(): string | null };
  done(reusable: boolean): Promise<void>;
}

export async function startNeonGateway(opts: NeonGatewayOptions): Promise<RunningNeonGateway> {
  const host = opts.host ?? "127.0.0.1";
  const log = opts.log ?? (() => {});
  const singleSession = opts.singleSession ?? false;
  const allowed = new Set<string>();
  for (const entry of opts.allowedTargets) {
    const target = parseTargetAddress(entry.trim());
    if (!target) throw new Error(`Invalid allowedTargets entry "${entry}": expected host:port`);
    allowed.add(target.key);
  }

  const lock = new SessionLock();
  const pools = new Map<string, Pool>();
  const sessions = new Set<{ destroy(): void }>();
  let closing = false;

  // Single-session mode keeps at most one upstream connection alive at a time, so it also works
  // with pglite-socket's default of one connection. Only touched while holding `lock`.
  let cached:
    | { key: string; client: Client; idleTimer: NodeJS.Timeout | undefined; dead: boolean }
    | undefined;

  async function dropCached(): Promise<void> {
    const entry = cached;
    if (!entry) return;
    cached = undefined;
    clearTimeout(entry.idleTimer);
    await entry.client.end().catch(() => {});
    await wait(SINGLE_SESSION_HANDOFF_MS);
  }

  async function leaseSingle(connectionString: string, spec: ConnectionSpec): Promise<Lease> {
    if (cached && (cached.key !== connectionString || cached.dead)) await dropCached();
    if (!cached) {
      const client = new pg.Client(spec.config);
      const entry = { key: connectionString, client, idleTimer: undefined, dead: false };
      client.on("error", (err: Error) => {
        entry.dead = true;
        log(`upstream ${spec.target.key} connection error: ${errorMessage(err)}`);
      });
      client.on("end", () => {
        entry.dead = true;
      });
      try {
        await client.connect();
      } catch (err) {
        await client.end().catch(() => {});
        await wait(SINGLE_SESSION_HANDOFF_MS);
        throw err;
      }
      cached = entry;
    }
    const entry = cached;
    clearTimeout(entry.idleTimer);
    entry.idleTimer = undefined;
    return {
      client: entry.client,
      async done(reusable) {
        if (!reusable || entry.dead) {
          await dropCached();
          return;
        }
        const timer = setTimeout(() => {
          // Runs outside any request: take the lock so it cannot close a connection in use.
          lock
            .acquire()
            .then(async (release) => {
              if (cached === entry && entry.idleTimer === timer) await dropCached();
              release();
            })
            .catch(() => {});
        }, SINGLE_SESSION_HTTP_IDLE_MS);
        timer.unref();
        entry.idleTimer = timer;
      },
    };
  }

  async function leasePooled(connectionString: string, spec: ConnectionSpec): Promise<Lease> {
    let pool = pools.get(connectionString);
    if (!pool) {
      pool = new pg.Pool({ ...spec.config, max: 20, idleTimeoutMillis: 10_000, allowExitOnIdle: true });
      pool.on("error", (err: Error) =>
        log(`upstream ${spec.target.key} idle connection error: ${errorMessage(err)}`),
      );
      pools.set(connectionString, pool);
    }
    const client = await pool.connect();
    return {
      client,
      async done(reusable) {
        client.release(!reusable);
      },
    };
  }

  async function handleSql(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const connectionString = headerValue(req, "neon-connection-string");
    if (!connectionString) throw new HttpError(400, "Missing Neon-Connection-String header");
    const spec = parseConnectionString(connectionString, allowed);
    const arrayMode = parseBoolHeader(req, "neon-array-mode") ?? false;
    // Neon-Raw-Text-Output=false would ask for JSON-typed values; every client we serve sends true,
    // and raw text is what the driver parses, so text is always returned.
    const parsed = parseBody(await readBody(req));
    const begin = "batch" in parsed ? beginStatement(req) : "";
    const responseOpts: ResponseOptions = { arrayMode };

    const release = singleSession ? await lock.acquire() : () => {};
    let lease: Lease | undefined;
    let reusable = false;
    try {
      try {
        lease = singleSession
          ? await leaseSingle(connectionString, spec)
          : await leasePooled(connectionString, spec);
      } catch (err) {
        if (isDatabaseError(err)) throw err;
        throw new HttpError(502, `Error connecting to database at ${spec.target.key}: ${errorMessage(err)}`);
      }
      const { client } = lease;
      let body: unknown;
      try {
        if ("batch" in parsed) {
          await client.query(begin);
          try {
            const results: unknown[] = [];
            for (const q of parsed.batch) results.push(await runQuery(client, q, responseOpts));
            await client.query("COMMIT");
            body = { results };
          } catch (err) {
            await client.query("ROLLBACK").catch(() => {});
            throw err;
          }
        } else {
          body = await runQuery(client, parsed.single, responseOpts);
        }
        reusable = client.getTransactionStatus() === "I";
      } catch (err) {
        // A Postgres error leaves the connection usable unless the statement left a transaction open.
        reusable = isDatabaseError(err) && client.getTransactionStatus() === "I";
        throw err;
      }
      sendJson(res, 200, body);
    } finally {
      try {
        await lease?.done(reusable);
      } finally {
        release();
      }
    }
  }

  function handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? "/").split("?")[0];
    if (req.method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "POST, GET, OPTIONS",
        "access-control-allow-headers": headerValue(req, "access-control-request-headers") ?? "*",
        "access-control-max-age": "86400",
      });
      res.end();
      return;
    }
    if (path === "/health" && (req.method === "GET" || req.method === "HEAD")) {
      res.writeHead(200, { "content-type": "text/plain", "access-control-allow-origin": "*" });
      res.end("ok");
      return;
    }
    if (path !== "/sql") {
      sendJson(res, 404, { message: `Not found: ${req.method} ${path}` });
      return;
    }
    if (req.method !== "POST") {
      sendJson(res, 405, { message: "Use POST /sql" });
      return;
    }
    handleSql(req, res).catch((err: unknown) => {
      if (isDatabaseError(err)) {
        sendJson(res, 400, databaseErrorBody(err));
      } else if (err instanceof HttpError) {
        if (err.status >= 500) log(`POST /sql: ${err.message}`);
        sendJson(res, err.status, { message: err.message });
      } else {
        log(`POST /sql failed: ${errorMessage(err)}`);
        sendJson(res, 500, { message: `Neon gateway error: ${errorMessage(err)}` });
      }
    });
  }

  function rejectUpgrade(socket: Duplex, status: number, reason: string): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    setTimeout(() => socket.destroy(), 1_000).unref();
  }

  function startProxySession(ws: WebSocket, target: Target): void {
    const detector = new TerminateDetector();
    const pending: Buffer[] = [];
    let tcp: net.Socket | undefined;
    let wsClosed = false;
    let tcpClosed = false;
    let terminated = false;
    let releaseLock: (() => void) | undefined;
    let idleTimer: NodeJS.Timeout | undefined;
    const opened = Date.now();

    const session = {
      destroy() {
        tcp?.destroy();
        ws.terminate();
      },
    };
    sessions.add(session);

    let finished = false;
    // Called whenever a side closes; a session waiting for the lock may finish twice (before and
    // after the grant), the second time only to hand the lock on.
    const finish = () => {
      if (!wsClosed || (tcp && !tcpClosed)) return;
      if (!finished) {
        finished = true;
        clearTimeout(idleTimer);
        sessions.delete(session);
        log(
          `ws session to ${target.key} closed after ${Date.now() - opened} ms${terminated ? " (Terminate)" : ""}`,
        );
      }
      if (releaseLock) {
        const release = releaseLock;
        releaseLock = undefined;
        // Let pglite-socket free its connection slot before the next holder connects.
        setTimeout(release, SINGLE_SESSION_HANDOFF_MS);
      }
    };

    // Idleness counts only while holding the upstream, not while queued for it.
    const touch = () => {
      if (!singleSession || !tcp) return;
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        log(
          `ws session to ${target.key} idle for ${SINGLE_SESSION_IDLE_MS} ms; closing it to free the session`,
        );
        tcp?.destroy();
        ws.close(4000, "idle timeout");
      }, SINGLE_SESSION_IDLE_MS);
    };

    const endTcp = () => {
      if (!tcp || tcpClosed) return;
      const socket = tcp;
      socket.end();
      // If the upstream never closes its side, do not keep the session (and the lock) forever.
      setTimeout(() => socket.destroy(), 2_000).unref();
    };

    const closeWs = (code: number, reason: string) => {
      if (ws.readyState === wsModule.WebSocket.OPEN || ws.readyState === wsModule.WebSocket.CONNECTING) {
        ws.close(code, reason);
      }
    };

    const writeUpstream = (chunk: Buffer) => {
      if (!tcp || tcp.destroyed) return;
      if (!tcp.write(chunk)) {
        ws.pause();
        tcp.once("drain", () => ws.resume());
      }
    };

    ws.on("message", (data: RawData) => {
      if (terminated) return;
      touch();
      const chunk = toBuffer(data);
      if (detector.feedClient(chunk)) terminated = true;
      if (tcp?.readyState === "open") writeUpstream(chunk);
      else pending.push(chunk);
      if (terminated && tcp?.readyState === "open") {
        // pglite-socket keeps the connection open after Terminate, so the gateway ends it.
        endTcp();
        closeWs(1000, "terminated");
      }
    });
    ws.on("error", (err: Error) => log(`ws session to ${target.key}: client error: ${errorMessage(err)}`));
    ws.on("close", () => {
      wsClosed = true;
      if (tcp) endTcp();
      finish();
    });

    const connectUpstream = () => {
      if (wsClosed || closing) {
        finish();
        return;
      }
      const socket = net.connect({ host: target.host, port: target.port });
      tcp = socket;
      socket.setNoDelay(true);
      touch();
      const connectTimer = setTimeout(() => {
        socket.destroy(new Error(`connect timeout after ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      socket.on("connect", () => {
        clearTimeout(connectTimer);
        for (const chunk of pending.splice(0)) writeUpstream(chunk);
        if (terminated) {
          endTcp();
          closeWs(1000, "terminated");
        }
      });
      socket.on("data", (chunk: Buffer) => {
        touch();
        detector.feedServer(chunk);
        if (ws.readyState !== wsModule.WebSocket.OPEN) return;
        ws.send(chunk, { binary: true }, () => {
          if (socket.isPaused() && ws.bufferedAmount < WS_LOW_WATER) socket.resume();
        });
        if (ws.bufferedAmount > WS_HIGH_WATER) socket.pause();
      });
      socket.on("error", (err: Error) => {
        clearTimeout(connectTimer);
        log(`ws session to ${target.key}: upstream error: ${errorMessage(err)}`);
      });
      socket.on("close", (hadError: boolean) => {
        clearTimeout(connectTimer);
        tcpClosed = true;
        closeWs(hadError ? 1011 : 1000, hadError ? "upstream error" : "upstream closed");
        finish();
      });
    };

    log(`ws session to ${target.key} opened`);
    if (!singleSession) {
      connectUpstream();
      return;
    }
    lock
      .acquire()
      .then(async (release) => {
        releaseLock = release;
        // The cached HTTP connection must go first: the upstream is one session.
        await dropCached();
        connectUpstream();
      })
      .catch((err: unknown) => {
        log(`ws session to ${target.key}: ${errorMessage(err)}`);
        ws.terminate();
      });
  }

  const server = http.createServer((req, res) => {
    try {
      handleRequest(req, res);
    } catch (err) {
      log(`request failed: ${errorMessage(err)}`);
      sendJson(res, 500, { message: "Neon gateway error" });
    }
  });
  server.on("clientError", (_err: Error, socket: Duplex) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
    else socket.destroy();
  });

  const wss: WebSocketServer = new wsModule.WebSocketServer({ noServer: true, perMessageDeflate: false });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on("error", (err: Error) => log(`upgrade socket error: ${errorMessage(err)}`));
    try {
      const url = new URL(req.url ?? "/", "http://gateway");
      if (url.pathname !== "/v2") {
        rejectUpgrade(socket, 404, "Not Found");
        return;
      }
      const address = url.searchParams.get("address") ?? "";
      const target = parseTargetAddress(address);
      if (!target || !allowed.has(target.key)) {
        log(`refused ws proxy to "${address}" (not in allowedTargets)`);
        rejectUpgrade(socket, 403, "Forbidden");
        return;
      }
      if (closing) {
        rejectUpgrade(socket, 503, "Service Unavailable");
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws: WebSocket) => startProxySession(ws, target));
    } catch (err) {
      log(`upgrade failed: ${errorMessage(err)}`);
      socket.destroy();
    }
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", (err: Error) => log(`server error: ${errorMessage(err)}`));
  const address = server.address();
  if (address === null || typeof address === "string")
    throw new Error("Neon gateway: unexpected server address");
  const port = address.port;
  const hostPort = `${formatHostForUrl(host)}:${port}`;

  return {
    url: `http://${hostPort}`,
    host,
    port,
    wsProxy: `${hostPort}/v2`,
    async close() {
      if (closing) return;
      closing = true;
      lock.dispose();
      for (const session of sessions) session.destroy();
      sessions.clear();
      wss.close();
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      const upstreams: Promise<unknown>[] = [...pools.values()].map((pool) => pool.end().catch(() => {}));
      pools.clear();
      if (cached) {
        clearTimeout(cached.idleTimer);
        upstreams.push(cached.client.end().catch(() => {}));
        cached = undefined;
      }
      // pool.end() waits for checked-out clients; a long query must not hold up shutdown.
      await Promise.race([Promise.all([serverClosed, ...upstreams]), wait(3_000)]);
    },
  };
}
