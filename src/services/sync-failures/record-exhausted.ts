import { sql } from "drizzle-orm";
import { PG_FOREIGN_KEY_VIOLATION, pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import { ChannelPullMessage, ErpPushMessage } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";
import { type SyncFailureSubject, syncFailureSubjects } from "./fingerprints";
import { type SyncFailureInput, upsertSyncFailure } from "./statements";

export type SyncDeadLetterQueue = "channel-pull-dlq" | "erp-push-dlq";

export interface ExhaustedMessage {
  id: string;
  body: unknown;
  attempts: number;
}

export interface RecordExhaustedResult {
  /** Failures written (a push of n orders counts n). */
  recorded: number;
  /**
   * Messages that could not become sync failures: bodies that are not a hub message, or whose tenant
   * (or connection) no longer exists. The caller records them in the platform `dead_letters` table.
   */
  notRecorded: (ExhaustedMessage & { reason: string })[];
}

const SCHEMAS = {
  "channel-pull-dlq": ChannelPullMessage,
  "erp-push-dlq": ErpPushMessage,
} as const;

/**
 * Messages whose retries ran out, recorded as sync failures a person can see, fix and replay (error kind
 * `exhausted`, one failure per fingerprint: a repeat adds to the open failure's history). One
 * transaction and one round trip per tenant in the batch. A database outage throws, so the dead-letter
 * batch is retried; a tenant that is gone cannot hold failures, so its messages are handed back.
 */
export async function recordExhaustedSyncMessages({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { queue: SyncDeadLetterQueue; messages: ExhaustedMessage[] };
}): Promise<RecordExhaustedResult> {
  const schema = SCHEMAS[input.queue];
  const notRecorded: RecordExhaustedResult["notRecorded"] = [];
  const byTenant = new Map<string, { message: ExhaustedMessage; subjects: SyncFailureSubject[] }[]>();
  for (const message of input.messages) {
    const parsed = schema.safeParse(message.body);
    if (!parsed.success) {
      notRecorded.push({ ...message, reason: `not a ${input.queue.replace(/-dlq$/, "")} message` });
      continue;
    }
    const group = byTenant.get(parsed.data.tenantId) ?? [];
    group.push({ message, subjects: syncFailureSubjects(parsed.data) });
    byTenant.set(parsed.data.tenantId, group);
  }

  let recorded = 0;
  await Promise.all(
    [...byTenant].map(async ([tenantId, group]) => {
      const subjects = group.flatMap(({ message, subjects }) =>
        subjects.map((subject) => ({ subject, attempts: message.attempts })),
      );
      try {
        await tenantBatch(ctx.db.http, tenantId, (db) => {
          const [first, ...rest] = subjects.map(({ subject, attempts }) =>
            upsertSyncFailure(db, failureOf(subject, attempts)),
          );
          // Every hub message stands for at least one failure (a push names at least one order).
          if (!first) throw new Error("a sync message without a failure subject");
          return [first, ...rest];
        });
        recorded += subjects.length;
      } catch (error) {
        if (pgErrorOf(error)?.code !== PG_FOREIGN_KEY_VIOLATION) throw error;
        for (const { message } of group) {
          notRecorded.push({ ...message, reason: "tenant or connection no longer exists" });
        }
      }
    }),
  );
  if (recorded > 0)
    ctx.logger.warn("sync messages exhausted their retries", { queue: input.queue, recorded });
  return { recorded, notRecorded };
}

function failureOf(subject: SyncFailureSubject, attempts: number): SyncFailureInput {
  const { tenantId, shipmentId } = subject;
  return {
    tenantId,
    // A write-back message names only the shipment; its order and channel connection are in the database.
    connectionId:
      shipmentId === null
        ? subject.connectionId
        : sql`(select o.connection_id from shipments s
                 join orders o on o.tenant_id = s.tenant_id and o.id = s.order_id
                where s.tenant_id = ${tenantId} and s.id = ${shipmentId})`,
    operation: subject.operation,
    fingerprint: subject.fingerprint,
    orderId:
      shipmentId === null
        ? subject.orderId
        : sql`(select order_id from shipments where tenant_id = ${tenantId} and id = ${shipmentId})`,
    payload: subject.payload,
    errorKind: "exhausted",
    error: `Retries exhausted after ${attempts} attempts`,
    attempts,
  };
}
