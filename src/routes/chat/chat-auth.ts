import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "../../http/types";
import { NotFoundError, UnauthorizedError } from "../../lib/errors";
import { BEARER_PROTOCOL_PREFIX } from "../../services/chat/chat-events";
import { verifyChatToken } from "../../services/chat/chat-token";

/**
 * A token from where a client can put it: `Authorization: Bearer …`; for a browser WebSocket, which
 * cannot set headers, the subprotocol `bearer.<token>` next to `tradewind.chat.v1`; for EventSource,
 * which cannot either, `?access_token=` (request logs record the path only, never the query).
 */
function presentedToken(c: Context<AppEnv>, options: { query: boolean }): string | undefined {
  const header = /^Bearer\s+(\S+)$/i.exec(c.req.header("authorization") ?? "")?.[1];
  if (header) return header;
  const fromProtocol = (c.req.header("sec-websocket-protocol") ?? "")
    .split(",")
    .map((p) => p.trim())
    .find((p) => p.startsWith(BEARER_PROTOCOL_PREFIX))
    ?.slice(BEARER_PROTOCOL_PREFIX.length);
  if (fromProtocol) return fromProtocol;
  return options.query ? c.req.query("access_token") || undefined : undefined;
}

/**
 * The customer's chat token: valid, and for the session in the path (a token for another session is
 * "not found", like another tenant's id). Binds the token's tenant to the service context.
 */
export function authenticateChatCustomer(): MiddlewareHandler<AppEnv> {
  return async function authenticateChatCustomer(c, next) {
    const token = presentedToken(c, { query: true });
    if (!token) throw new UnauthorizedError("Chat token required");
    const ctx = c.var.services;
    const claims = await verifyChatToken(ctx, token);
    if (c.req.param("id")?.toLowerCase() !== claims.sessionId) {
      throw new NotFoundError("Chat session not found");
    }
    ctx.tenantId = claims.tenantId;
    await next();
  };
}

/**
 * For agents' WebSockets from a browser: an access token offered as the subprotocol `bearer.<token>`
 * becomes the Authorization header, so the one `authenticate()` (with its failure limits and revocation
 * checks) runs next. A request with an Authorization header is left as it is.
 */
export function bearerFromWebSocketProtocol(): MiddlewareHandler<AppEnv> {
  return async function bearerFromWebSocketProtocol(c, next) {
    if (!c.req.header("authorization")) {
      const token = presentedToken(c, { query: false });
      if (token) {
        const headers = new Headers(c.req.raw.headers);
        headers.set("authorization", `Bearer ${token}`);
        c.req.raw = new Request(c.req.raw, { headers });
      }
    }
    await next();
  };
}

/** Per chat session (the id in the path): the `chat` rate-limit group. */
export function chatSessionKey(c: Context<AppEnv>): string {
  return `session:${(c.req.param("id") ?? "").toLowerCase()}`;
}
