import { randomBytes } from "node:crypto";

/**
 * What the benches share to talk to the stack over HTTP: one client address (the bench stack lifts the
 * per-IP limits), a timeout per request, and a clear error naming the call when the answer is not expected.
 */

export const REQUEST_TIMEOUT_MS = 15_000;
export const SEED_PASSWORD = process.env.SEED_ADMIN_PASSWORD ?? "tradewind-demo-password";

export class BenchError extends Error {
  override readonly name = "BenchError";
}

export async function http<T>(
  method: string,
  url: string,
  options: { token?: string; body?: unknown; expect?: number[] } = {},
): Promise<{ status: number; body: T }> {
  let res: Response;
  try {
    res = await fetch(url, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { "content-type": "application/json" }),
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
        "cf-connecting-ip": "192.0.2.10",
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
  } catch (error) {
    throw new BenchError(
      `${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const text = await res.text();
  const expected = options.expect ?? [200, 201, 204];
  if (!expected.includes(res.status)) {
    throw new BenchError(`${method} ${url} answered ${res.status}: ${text.slice(0, 400)}`);
  }
  const json = (res.headers.get("content-type") ?? "").includes("json") && text !== "";
  return { status: res.status, body: (json ? JSON.parse(text) : undefined) as T };
}

export interface Envelope<T> {
  data: T;
}

export interface Page<T> {
  items: T[];
  total: number;
  totalPages: number;
}

export const hex = (bytes: number) => randomBytes(bytes).toString("hex");
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
export const seconds = (ms: number) => Number((ms / 1000).toFixed(2));
