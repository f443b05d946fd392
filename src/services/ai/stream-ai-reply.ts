import { CozeError, createCozeClient } from "../../adapters/ai/coze/client";
import {
  cozeFailureKindOf,
  isCustomerFacingAnswer,
  isTokenRejection,
  toAdditionalMessages,
} from "../../adapters/ai/coze/transform";
import type { CozeStreamEvent, CozeToolCall, CozeToolOutput } from "../../adapters/ai/coze/types";
import { AppError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { consumeRateLimit } from "../rate-limit/limiter";
import { type CozeConnection, findCozeConnection } from "./ai-connection";
import { type BotCustomer, runBotTool } from "./bot-tools";
import { cozeTokenStore } from "./coze-tokens";

/** What one customer message gets from the AI, in order: deltas, then exactly one of the last three. */
export type AiReplyEvent =
  | { type: "delta"; text: string }
  | { type: "completed"; text: string }
  | { type: "handover"; reason: string }
  | { type: "degraded"; reason: AiDegradedReason; text: string };

export type AiDegradedReason = "unavailable" | "rate_limited" | "failed" | "timeout";

/** What the customer reads when the AI cannot answer. */
export const AI_DEGRADED_TEXT = "An agent will reply shortly.";

export interface AiReplyInput {
  /** The chat session (the Durable Object's name). */
  sessionId: string;
  customer: BotCustomer;
  /** The conversation before `message`, oldest first. System lines are not part of what the bot reads. */
  history: { role: "customer" | "bot" | "agent" | "system"; body: string }[];
  /** The customer's new message. */
  message: string;
}

/** Tool rounds one reply may take (look up, then track, then answer): more is a bot going in circles. */
const MAX_TOOL_ROUNDS = 4;
/** Pause before the one retry of a failure that proved nothing was said yet. */
const RETRY_DELAY_MS = 250;

/**
 * The AI's reply to a customer's message, streamed: each `delta` is relayed the moment Coze sends it (nothing
 * is buffered), and the reply ends with exactly one of `completed` (the full text), `handover` (the customer
 * or the bot asked for a person) or `degraded` (the AI cannot answer: "An agent will reply shortly."). It
 * never throws, and a failing AI never loops: at most one retry, and only before the first delta reached the
 * customer.
 *
 * 1. The tenant's enabled Coze connection (ctx.tenantId) and the tenant's AI rate limit (`RATE_LIMITS.ai`),
 *    read concurrently. None → degraded `unavailable`; over the limit → degraded `rate_limited`.
 * 2. A message containing one of the connection's `handoverKeywords` → `handover` without asking the bot.
 * 3. A Coze access token (src/services/ai/coze-tokens.ts), then `/v3/chat` with the transcript as
 *    `additional_messages`. A refused token (4100 / 700012006) is dropped and the call made once more with a
 *    new one.
 * 4. Local-plugin calls (`requires_action`) run Tradewind's own services (src/services/ai/bot-tools.ts) and
 *    their outputs go back through `/v3/chat/submit_tool_outputs`, whose stream continues the reply;
 *    `request_human` ends the reply with `handover`.
 * 5. Failures: Coze's or our rate limit → `rate_limited`; first-byte or idle timeout, or the connection's
 *    `maxReplySeconds` passing → `timeout`; auth or a refused configuration → `unavailable`; anything else
 *    (5xx, network, a failed chat, a malformed stream) → `failed`. Retryable failures (network, 5xx, timeout,
 *    Coze 5000) are retried once if no delta was sent yet — a new chat is never started after the customer
 *    saw half an answer, and a tool submission is never repeated (Coze may have taken it).
 */
export async function* streamAiReply({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: AiReplyInput;
}): AsyncGenerator<AiReplyEvent, void, undefined> {
  const tenantId = ctx.tenantId;
  const log = ctx.logger.child({ tenantId, chatSessionId: input.sessionId, upstream: "coze" });
  const degraded = (reason: AiDegradedReason): AiReplyEvent => ({
    type: "degraded",
    reason,
    text: AI_DEGRADED_TEXT,
  });
  if (tenantId === undefined) {
    log.error("AI reply asked without a tenant");
    yield degraded("unavailable");
    return;
  }

  let connection: CozeConnection | null;
  let allowed: boolean;
  try {
    const rule = ctx.config.rateLimits.ai ?? ctx.config.rateLimits.default;
    const [found, limit] = await Promise.all([
      findCozeConnection(ctx, tenantId),
      rule ? consumeRateLimit(ctx, { prefix: "rl:ai", rule, identifier: `tenant:${tenantId}` }) : null,
    ]);
    connection = found;
    allowed = limit?.allowed ?? true;
  } catch (error) {
    log.error("AI connection could not be loaded", { error: describe(error) });
    yield degraded("unavailable");
    return;
  }
  if (connection === null) {
    log.info("no enabled AI connection; an agent answers");
    yield degraded("unavailable");
    return;
  }
  if (!allowed) {
    log.warn("tenant AI rate limit reached", { connectionId: connection.id });
    yield degraded("rate_limited");
    return;
  }
  const keyword = matchingKeyword(input.message, connection.settings.handoverKeywords);
  if (keyword !== null) {
    yield { type: "handover", reason: `The customer asked for a person ("${keyword}")` };
    return;
  }

  try {
    yield* converse(ctx, connection, input, log);
  } catch (error) {
    // converse() settles every failure it knows of; this is the net under a bug, so the customer still hears.
    log.error("AI reply failed unexpectedly", { error: describe(error) });
    yield degraded("failed");
  }
}

type Log = ServiceContext["logger"];

/**
 * The whole reply runs under one deadline. Its timer is cleared when the reply ends: `AbortSignal.timeout`
 * cannot be cancelled, and a pending timer keeps a chat's Durable Object awake for the full
 * `maxReplySeconds` after every reply.
 */
async function* converse(
  ctx: ServiceContext,
  connection: CozeConnection,
  input: AiReplyInput,
  log: Log,
): AsyncGenerator<AiReplyEvent, void, undefined> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("The AI reply deadline passed", "TimeoutError")),
    connection.settings.maxReplySeconds * 1000,
  );
  try {
    yield* converseWithin(ctx, connection, input, log, controller.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function* converseWithin(
  ctx: ServiceContext,
  connection: CozeConnection,
  input: AiReplyInput,
  log: Log,
  deadline: AbortSignal,
): AsyncGenerator<AiReplyEvent, void, undefined> {
  const { settings, credentials } = connection;
  const client = createCozeClient({
    apiBase: ctx.config.cozeApiBase.replaceAll("{region}", settings.region),
    region: settings.region,
    credentials,
    firstByteTimeoutMs: ctx.config.upstream.timeoutMs,
    idleTimeoutMs: ctx.config.upstream.timeoutMs,
    logger: log,
  });
  const tokens = cozeTokenStore(ctx, {
    tenantId: connection.tenantId,
    connectionId: connection.id,
    appId: credentials.appId,
    keyId: credentials.keyId,
  });
  const userId = await cozeUserId(connection.tenantId, input.sessionId);
  const additionalMessages = toAdditionalMessages(
    input.history.flatMap((line) => (line.role === "system" ? [] : [{ role: line.role, body: line.body }])),
    input.message,
  );
  const customerName = input.customer.name?.trim();

  const fail = (reason: AiDegradedReason, error: unknown): AiReplyEvent => {
    log.warn("AI reply degraded", { reason, connectionId: connection.id, error: describe(error) });
    return { type: "degraded", reason, text: AI_DEGRADED_TEXT };
  };

  let deltasSent = false;
  let retryLeft = true;
  let newTokenLeft = true;
  let toolRounds = 0;
  /** Set while a chat waits for tool outputs: the next stream is their submission. */
  let submission: { conversationId: string; chatId: string; outputs: CozeToolOutput[] } | null = null;

  for (;;) {
    let accessToken: string;
    try {
      accessToken = await tokens.get(client, { signal: deadline });
    } catch (error) {
      if (retryLeft && isRetryable(error) && !deadline.aborted) {
        retryLeft = false;
        await pause(RETRY_DELAY_MS);
        continue;
      }
      yield fail(reasonOf(error, deadline), error);
      return;
    }

    const events: AsyncGenerator<CozeStreamEvent, void, undefined> = submission
      ? client.submitToolOutputs({
          accessToken,
          conversationId: submission.conversationId,
          chatId: submission.chatId,
          toolOutputs: submission.outputs,
          signal: deadline,
        })
      : client.streamChat({
          accessToken,
          botId: settings.botId,
          userId,
          additionalMessages,
          ...(customerName ? { customVariables: { customer_name: customerName.slice(0, 200) } } : {}),
          metaData: { tradewind_session: input.sessionId.slice(0, 512) },
          signal: deadline,
        });

    let streamed = "";
    const answers: string[] = [];
    let outcome:
      | { kind: "completed" }
      | { kind: "requires_action"; conversationId: string; chatId: string; calls: CozeToolCall[] }
      | { kind: "failed"; code: number | null; message: string }
      | null = null;
    let finished = false;
    try {
      for await (const event of events) {
        if (event.type === "message.delta" && isCustomerFacingAnswer(event.message)) {
          if (event.message.content === "") continue;
          deltasSent = true;
          streamed += event.message.content;
          yield { type: "delta", text: event.message.content };
        } else if (event.type === "message.completed" && isCustomerFacingAnswer(event.message)) {
          answers.push(event.message.content);
        } else if (event.type === "chat.requires_action") {
          outcome = {
            kind: "requires_action",
            conversationId: event.chat.conversation_id,
            chatId: event.chat.id,
            calls: event.toolCalls,
          };
        } else if (event.type === "chat.completed") {
          outcome = { kind: "completed" };
        } else if (event.type === "chat.failed") {
          outcome = { kind: "failed", code: event.code, message: event.message };
        } else if (event.type === "done") {
          finished = true;
        }
      }
      if (!finished && outcome === null) {
        // The connection closed mid-reply without an error: what arrived is not a whole answer.
        throw new CozeError("Coze stream ended before the chat did", "retryable", { afterFirstEvent: true });
      }
    } catch (error) {
      const submitting = submission !== null;
      if (error instanceof CozeError && error.tokenRejected && newTokenLeft && !deltasSent) {
        // Refused before anything was processed: the same request with a new token is safe, also a submission.
        newTokenLeft = false;
        log.info("coze refused the access token; minting a new one", { cozeCode: error.cozeCode });
        await tokens.drop(accessToken);
        continue;
      }
      if (retryLeft && !deltasSent && !submitting && isRetryable(error) && !deadline.aborted) {
        retryLeft = false;
        await pause(RETRY_DELAY_MS);
        continue;
      }
      yield fail(reasonOf(error, deadline), error);
      return;
    }

    if (outcome?.kind === "failed") {
      const kind = outcome.code === null ? "retryable" : cozeFailureKindOf(outcome.code);
      const error = new CozeError(
        `Coze chat failed (${outcome.code ?? "no code"} ${outcome.message})`,
        kind,
        {
          cozeCode: outcome.code,
          tokenRejected: outcome.code !== null && isTokenRejection(outcome.code),
        },
      );
      if (error.tokenRejected && newTokenLeft && !deltasSent) {
        newTokenLeft = false;
        log.info("coze refused the access token mid-chat; minting a new one", { cozeCode: error.cozeCode });
        await tokens.drop(accessToken);
        continue;
      }
      if (retryLeft && !deltasSent && submission === null && kind === "retryable" && !deadline.aborted) {
        retryLeft = false;
        await pause(RETRY_DELAY_MS);
        continue;
      }
      yield fail(reasonOf(error, deadline), error);
      return;
    }

    if (outcome?.kind === "requires_action") {
      toolRounds++;
      if (toolRounds > MAX_TOOL_ROUNDS || outcome.calls.length === 0) {
        yield fail("failed", new Error(`bot asked for ${outcome.calls.length} tools in round ${toolRounds}`));
        return;
      }
      const outputs: CozeToolOutput[] = [];
      for (const call of outcome.calls) {
        const result = await runBotTool(ctx, call, input.customer);
        if (result.kind === "handover") {
          yield { type: "handover", reason: result.reason };
          return;
        }
        outputs.push({ tool_call_id: call.id, output: result.output });
      }
      if (deadline.aborted) {
        yield fail("timeout", new Error("reply deadline passed while the bot's tools ran"));
        return;
      }
      submission = { conversationId: outcome.conversationId, chatId: outcome.chatId, outputs };
      continue;
    }

    // Completed, or a stream that ended on `done` without a chat event: what the customer read is the reply.
    const text = answers.length > 0 ? answers.join("\n\n") : streamed;
    if (text.trim() === "") {
      yield fail(
        "failed",
        new Error(outcome ? "the bot answered nothing" : "the stream ended without an answer"),
      );
      return;
    }
    yield { type: "completed", text };
    return;
  }
}

function matchingKeyword(message: string, keywords: readonly string[]): string | null {
  const text = message.toLowerCase();
  return keywords.find((keyword) => text.includes(keyword.toLowerCase())) ?? null;
}

function isRetryable(error: unknown): boolean {
  return error instanceof CozeError && error.kind === "retryable" && !error.aborted;
}

function reasonOf(error: unknown, deadline: AbortSignal): AiDegradedReason {
  if (deadline.aborted) return "timeout";
  if (!(error instanceof CozeError)) return "failed";
  if (error.timeout !== null || error.aborted) return "timeout";
  if (error.kind === "rate_limited") return "rate_limited";
  if (error.kind === "auth" || error.kind === "permanent") return "unavailable";
  return "failed";
}

function describe(error: unknown): Record<string, unknown> {
  if (error instanceof CozeError) {
    return {
      message: error.message,
      kind: error.kind,
      cozeCode: error.cozeCode,
      timeout: error.timeout,
      afterFirstEvent: error.afterFirstEvent,
    };
  }
  if (error instanceof AppError) return { code: error.code, message: error.message };
  return { message: error instanceof Error ? error.message : String(error) };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Coze's `user_id` for the session: stable across the session's messages, meaningless outside Tradewind
 * (Coze advises against business ids), and different for every tenant.
 */
async function cozeUserId(tenantId: string, sessionId: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${tenantId}:${sessionId}`));
  return `tw_${[...new Uint8Array(digest).subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
}
