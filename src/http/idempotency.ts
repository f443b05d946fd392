import type { Context, Next } from "hono";
import { cacheKeys } from "../cache/keys";
import { ConflictError, ValidationError } from "../lib/errors";
import type { Principal } from "../services/auth/principal";
import { sha256Hex } from "../services/auth/tokens";
import type { AppEnv } from "./types";

/**
 * `Idempotency-Key` on client writes (DESIGN.md §3): the same key with the same request gets the first
 * answer again (with `Idempotent-Replayed: true`) instead of doing the work twice; the same key with a
 * different request is a 422; while the first is still running, a 409.
 *
 * Scope: per principal (user or API key) within its tenant, so keys never collide across callers. The
 * record lives in Redis for 24 h: one `SET NX` claims the key before the handler runs, the answer
 * replaces the claim after. Answers worth repeating are kept (2xx and 4xx that describe the request:
 * 400, 404, 410, 412, 413, 415, 422); those that depend on the moment (401, 403, 408, 409, 425, 429) or
 * on a failure of ours (5xx) release the key so the client's retry runs again. Without Redis the request
 * runs unprotected and the outage is logged, as rate limits do.
 */
const KEY = /^[\x21-\x7e]{1,255}$/;
const KEPT_ERRORS = new Set([400, 404, 410, 412, 413, 415, 422]);
const WRITE_METHODS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

interface Claim {
  state: "pending";
  fingerprint: string;
}
interface Answer {
  state: "done";
  fingerprint: string;
  status: number;
  contentType: string | null;
  body: string;
}

export function wantsIdempotency(c: Context<AppEnv>): boolean {
  return WRITE_METHODS.has(c.req.method) && c.req.header("idempotency-key") !== undefined;
}

export async function runIdempotently(
  c: Context<AppEnv>,
  principal: Principal,
  next: Next,
): Promise<Response | undefined> {
  const ctx = c.var.services;
  const key = c.req.header("idempotency-key") ?? "";
  if (!KEY.test(key)) {
    throw new ValidationError("Invalid Idempotency-Key header", {
      "Idempotency-Key": ["Use 1-255 visible ASCII characters, e.g. a UUID"],
    });
  }
  const redis = ctx.cache.redis;
  if (redis === null) {
    await next();
    return undefined;
  }
  const who =
    principal.kind === "apiKey"
      ? `k:${principal.keyId}`
      : principal.kind === "user"
        ? `u:${principal.userId}`
        : `a:${principal.applicationId}`;
  const recordKey = ctx.cache.key(cacheKeys.idempotency.name(principal.tenantId, who, sha256Hex(key)));
  const body = new Uint8Array(await c.req.arrayBuffer());
  const fingerprint = sha256Hex(
    `${c.req.method} ${new URL(c.req.url).pathname}\n${new TextDecoder().decode(body)}`,
  );

  let claimed: boolean;
  try {
    const claim: Claim = { state: "pending", fingerprint };
    claimed =
      (await redis.set(recordKey, claim, { nx: true, ex: cacheKeys.idempotency.ttlSeconds })) === "OK";
  } catch (error) {
    ctx.logger.warn("idempotency store unavailable; request runs unprotected", { error: String(error) });
    await next();
    return undefined;
  }
  if (!claimed) {
    const record = await redis.get<Claim | Answer>(recordKey).catch(() => null);
    if (record === null) {
      // Released between our SET and GET (the first attempt failed): the caller may simply retry.
      throw new ConflictError(
        "A request with this Idempotency-Key has just finished without an answer; retry it",
      );
    }
    if (record.fingerprint !== fingerprint) {
      throw new ValidationError("This Idempotency-Key was used for a different request", {
        "Idempotency-Key": ["Already used with another method, path or body; use a new key"],
      });
    }
    if (record.state === "pending") {
      throw new ConflictError("A request with this Idempotency-Key is still in progress");
    }
    const headers = new Headers({ "idempotent-replayed": "true", "x-request-id": c.var.requestId });
    if (record.contentType) headers.set("content-type", record.contentType);
    return new Response(record.body, { status: record.status, headers });
  }

  try {
    await next();
  } catch (error) {
    await redis.del(recordKey).catch(() => undefined);
    throw error;
  }
  const res = c.res;
  const kept = (res.status >= 200 && res.status < 300) || KEPT_ERRORS.has(res.status);
  try {
    if (kept) {
      const answer: Answer = {
        state: "done",
        fingerprint,
        status: res.status,
        contentType: res.headers.get("content-type"),
        body: await res.clone().text(),
      };
      await redis.set(recordKey, answer, { ex: cacheKeys.idempotency.ttlSeconds });
    } else {
      await redis.del(recordKey);
    }
  } catch (error) {
    // The work is done; only its replay is lost. The claim expires with its TTL.
    ctx.logger.warn("idempotency answer not stored", { error: String(error) });
  }
  return undefined;
}
