import { PreconditionFailedError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { explainMissingChat } from "./archived-chat";
import { chatAgentOf, customerTenantOf } from "./chat-access";
import { CHAT_WS_PROTOCOL } from "./chat-events";
import type { ChatParticipant } from "./chat-model";
import {
  CHAT_PARTICIPANT_HEADER,
  CHAT_TENANT_HEADER,
  type ChatCallResult,
  participantHeader,
  sessionStub,
  toAppError,
} from "./chat-stub";

/**
 * Opens a live connection to a chat: a WebSocket (the upgrade is handed to the session's object, which
 * accepts it with the hibernation API) or a Server-Sent Events stream. The object learns who is
 * connecting from internal headers set here, after authentication; whatever the client sent under those
 * names is replaced.
 */

type Transport = "ws" | "events";

const FORWARDED_HEADERS = [
  "upgrade",
  "connection",
  "sec-websocket-key",
  "sec-websocket-version",
  "sec-websocket-extensions",
  "last-event-id",
];

async function openConnection(
  tenantId: string,
  sessionId: string,
  participant: ChatParticipant,
  transport: Transport,
  request: Request,
): Promise<Response | ChatCallResult<never>> {
  const source = new URL(request.url);
  const target = new URL(`https://chat-session.internal/${transport}`);
  for (const name of ["afterSeq", "lastEventId"]) {
    const value = source.searchParams.get(name);
    if (value !== null) target.searchParams.set(name, value);
  }
  const headers = new Headers();
  for (const name of FORWARDED_HEADERS) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  // The client's offer may carry its token (`bearer.<token>`); the object only needs to know whether
  // to answer with the chat subprotocol.
  const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
  if (offered.includes(CHAT_WS_PROTOCOL)) headers.set("sec-websocket-protocol", CHAT_WS_PROTOCOL);
  headers.set(CHAT_TENANT_HEADER, tenantId);
  headers.set(CHAT_PARTICIPANT_HEADER, participantHeader(participant));
  const response = await sessionStub(sessionId).fetch(target, { method: "GET", headers });
  if (response.status === 101 || response.ok) {
    // A response from another object has immutable headers; the HTTP layer adds its own (request id,
    // rate limits) on the way out.
    return new Response(response.body, {
      status: response.status,
      headers: new Headers(response.headers),
      webSocket: response.webSocket,
    });
  }
  return (await response.json()) as ChatCallResult<never>;
}

export async function connectCustomerToChat({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { sessionId: string; transport: Transport; request: Request };
}): Promise<Response> {
  const tenantId = customerTenantOf(ctx);
  const opened = await openConnection(
    tenantId,
    input.sessionId,
    { kind: "customer" },
    input.transport,
    input.request,
  );
  if (opened instanceof Response) return opened;
  if (!opened.ok) {
    if (opened.error.code === "NOT_FOUND") {
      throw new PreconditionFailedError("This chat is closed", { details: { status: "closed" } });
    }
    throw toAppError(opened.error);
  }
  throw new Error("chat connection answered neither a stream nor an error");
}

/** Agents watch with chat:read; with chat:write (and after joining) they can also write on the socket. */
export async function connectAgentToChat({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string; transport: Transport; request: Request };
}): Promise<Response> {
  const agent = await chatAgentOf(ctx, "chat:read", input.id);
  const participant: ChatParticipant = {
    kind: "agent",
    userId: agent.userId,
    name: agent.name,
    canWrite: agent.canWrite,
  };
  const opened = await openConnection(agent.tenantId, input.id, participant, input.transport, input.request);
  if (opened instanceof Response) return opened;
  if (!opened.ok) {
    if (opened.error.code === "NOT_FOUND") return explainMissingChat(ctx, agent.tenantId, input.id);
    throw toAppError(opened.error);
  }
  throw new Error("chat connection answered neither a stream nor an error");
}
