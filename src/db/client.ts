import { Client, neon, neonConfig } from "@neondatabase/serverless";
import { drizzle as drizzleHttp, type NeonHttpDatabase } from "drizzle-orm/neon-http";
import { drizzle as drizzleWs, type NeonDatabase } from "drizzle-orm/neon-serverless";
import type { AppConfig } from "../lib/config";
import { currentMetrics, timed } from "../lib/metrics";
import * as schema from "./schema";

export type HttpDb = NeonHttpDatabase<typeof schema>;
export type WsDb = NeonDatabase<typeof schema>;
export type WsTransaction = Parameters<Parameters<WsDb["transaction"]>[0]>[0];
export type TransactionOptions = NonNullable<Parameters<WsDb["transaction"]>[1]>;

/**
 * Postgres for one unit of work. `http` is Neon's HTTP driver: one fetch per statement or per `batch`
 * (which is one transaction). `transaction` opens a WebSocket session for work that must read before it
 * writes (`SELECT … FOR UPDATE`) and closes it when done. Nothing connects until used.
 */
export interface Database {
  readonly http: HttpDb;
  transaction<T>(fn: (tx: WsTransaction) => Promise<T>, options?: TransactionOptions): Promise<T>;
}

let configuredFor: string | undefined;

/**
 * neonConfig is module-global in the driver; every request of an isolate shares one env, so this runs
 * once. Round trips are counted here because the driver offers no per-client fetch hook.
 */
function configureDriver(config: AppConfig): void {
  const key = `${config.neonHttpEndpoint}|${config.neonWsProxy}|${config.dbTimeoutMs}`;
  if (configuredFor === key) return;
  configuredFor = key;
  const timeoutMs = config.dbTimeoutMs;
  neonConfig.fetchFunction = (input: RequestInfo | URL, init?: RequestInit) => {
    const metrics = currentMetrics();
    const send = () => fetchWithin(timeoutMs, input, init);
    return metrics ? timed((ms) => metrics.recordDb(ms), send) : send();
  };
  if (config.neonHttpEndpoint) neonConfig.fetchEndpoint = config.neonHttpEndpoint;
  if (config.neonWsProxy) {
    const proxy = config.neonWsProxy;
    // The local gateway speaks plain ws:// and unwraps raw Postgres wire bytes (no TLS inside the socket).
    neonConfig.wsProxy = (host, port) => `${proxy}?address=${host}:${port}`;
    neonConfig.useSecureWebSocket = false;
    neonConfig.pipelineTLS = false;
    neonConfig.pipelineConnect = false;
  }
}

export function createDatabase(config: AppConfig): Database {
  configureDriver(config);
  const http = drizzleHttp({ client: neon(config.databaseUrl), schema });
  return {
    http,
    async transaction(fn, options) {
      const client = new Client({
        connectionString: config.databaseUrl,
        connectionTimeoutMillis: config.dbTimeoutMs,
        query_timeout: config.dbTimeoutMs,
      });
      countStatements(client);
      // The socket may report its close after end(); without a listener that is an uncaught error.
      client.on("error", () => undefined);
      await client.connect();
      try {
        return await drizzleWs({ client, schema }).transaction(fn, options);
      } finally {
        // Closing is not on the caller's critical path; a failure to close must not mask the result.
        client.end().catch(() => undefined);
      }
    },
  };
}

/** Each statement sent over the WebSocket (BEGIN and COMMIT included) is one round trip. */
function countStatements(client: Client): void {
  const target = client as unknown as { query: (...args: unknown[]) => unknown };
  const original = target.query.bind(client);
  target.query = (...args: unknown[]) => {
    const metrics = currentMetrics();
    const start = performance.now();
    const result = original(...args);
    if (metrics && result instanceof Promise) {
      return result.finally(() => metrics.recordDb(performance.now() - start));
    }
    return result;
  };
}

/**
 * One HTTP query with a deadline covering the response body too. Not `AbortSignal.timeout`: its timer
 * outlives the query (it cannot be cancelled), and a pending timer keeps a Durable Object (a chat
 * session) from hibernating or being evicted for the whole timeout after every Postgres call. The body
 * is a small JSON result the driver reads whole anyway, so it is read here, inside the deadline, and
 * the timer is cleared as soon as the query is done.
 */
export async function fetchWithin(
  timeoutMs: number,
  input: RequestInfo | URL,
  init?: RequestInit,
): Promise<Response> {
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new DOMException("The operation timed out", "TimeoutError")),
    timeoutMs,
  );
  const signal = init?.signal ? AbortSignal.any([init.signal, deadline.signal]) : deadline.signal;
  try {
    const response = await fetch(input, { ...init, signal });
    const body = await response.arrayBuffer();
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
  } finally {
    clearTimeout(timer);
  }
}
