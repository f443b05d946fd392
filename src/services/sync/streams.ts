import { type SQL, sql } from "drizzle-orm";
import type { HttpDb } from "../../db/client";
import { pgErrorOf } from "../../db/errors";
import { tenantBatch } from "../../db/tenant";
import type { SyncTrigger } from "../../queues/hub-messages";
import type { ServiceContext } from "../context";
import { pullFailureFingerprint } from "../sync-failures/fingerprints";
import { resolveSyncFailures, upsertSyncFailure } from "../sync-failures/statements";
import { errorKindOf, errorText } from "./failure-kind";

/** How long a consumer owns a stream without saving a page; a crashed consumer's stream frees itself after it. */
export const LEASE_SECONDS = 90;

export interface StreamKey {
  tenantId: string;
  connectionId: string;
  resource: "orders" | "inventory" | "shipments" | "push_backlog";
}

export interface StreamLease extends StreamKey {
  owner: string;
  jobId: string;
  checkpoint: Record<string, unknown>;
}

/** The lease was taken over (it expired while this consumer was stalled): stop without saving. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

const JOB_TYPE: Record<StreamKey["resource"], "pull" | "push" | "writeback"> = {
  orders: "pull",
  inventory: "pull",
  shipments: "writeback",
  push_backlog: "push",
};

/**
 * Takes the stream's lease (free, expired, or already ours) and opens its sync_jobs row, in one
 * statement. Null when another consumer holds it: that one is already doing this work.
 */
export async function acquireStreamLease(
  ctx: ServiceContext,
  input: StreamKey & { owner: string; jobId?: string; trigger: SyncTrigger },
): Promise<StreamLease | null> {
  const jobId = input.jobId ?? crypto.randomUUID();
  const { tenantId: t, connectionId: c, resource: r } = input;
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<{ checkpoint: Record<string, unknown>; job_id: string }>(sql`
      with lease as (
        update sync_streams
           set lease_owner = ${input.owner}, lease_until = now() + make_interval(secs => ${LEASE_SECONDS}),
               last_run_at = now(), current_job_id = ${jobId}, updated_at = now()
         where tenant_id = ${t} and connection_id = ${c} and resource = ${r}
           and (lease_until is null or lease_until < now() or lease_owner = ${input.owner})
        returning checkpoint
      ), job as (
        insert into sync_jobs (id, tenant_id, connection_id, type, resource, trigger, status, attempts, started_at)
        select ${jobId}, ${t}, ${c}, ${JOB_TYPE[r]}, ${r}, ${input.trigger}, 'running', 1, now() from lease
        on conflict (id) do update set status = 'running', attempts = sync_jobs.attempts + 1,
          started_at = coalesce(sync_jobs.started_at, now()), updated_at = now()
        returning id
      )
      select lease.checkpoint, (select id from job) as job_id from lease`),
  ]);
  const row = result.rows[0];
  if (row === undefined) {
    // Another consumer holds the stream and continues from the same checkpoint: this run's job (manual,
    // or a continuation that lost its turn) is covered by that one and must not stay `queued` forever.
    if (input.jobId !== undefined) {
      await tenantBatch(ctx.db.http, t, (db) => [
        db.execute(sql`
          update sync_jobs set status = 'skipped', finished_at = now(), updated_at = now(),
                 last_error = 'another run of this stream was under way and covers this one'
           where tenant_id = ${t} and id = ${input.jobId} and status in ('queued', 'running')`),
      ]);
    }
    return null;
  }
  return { ...input, jobId, checkpoint: row.checkpoint ?? {} };
}

/**
 * A statement that saves the checkpoint and renews the lease — and fails the whole batch (division by
 * zero, SQLSTATE 22012, caught as `LeaseLostError`) when the lease is no longer ours, so a stalled
 * consumer whose stream was taken over can never write an old checkpoint over a newer one.
 */
export function saveCheckpointStatement(
  db: HttpDb,
  lease: StreamLease,
  checkpoint: Record<string, unknown>,
  progress: { items: number; pages: number },
) {
  return db.execute(sql`
    with saved as (
      update sync_streams
         set checkpoint = ${JSON.stringify(checkpoint)}::jsonb,
             lease_until = now() + make_interval(secs => ${LEASE_SECONDS}), updated_at = now()
       where tenant_id = ${lease.tenantId} and connection_id = ${lease.connectionId}
         and resource = ${lease.resource} and lease_owner = ${lease.owner}
      returning 1
    ), job as (
      update sync_jobs
         set items_processed = items_processed + ${progress.items}, pages = pages + ${progress.pages},
             cursor = ${JSON.stringify(checkpoint)}::jsonb, updated_at = now()
       where tenant_id = ${lease.tenantId} and id = ${lease.jobId}
      returning 1
    )
    select 1 / (select count(*)::int from saved) as lease_held`);
}

/** Runs a batch that contains a `saveCheckpointStatement`, translating a lost lease. */
export async function withLeaseCheck<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (pgErrorOf(error)?.code === "22012") throw new LeaseLostError("stream lease lost to another consumer");
    throw error;
  }
}

/** The run is complete: final checkpoint, lease released, success recorded on stream and job. */
export async function completeStreamRun(
  ctx: ServiceContext,
  lease: StreamLease,
  checkpoint: Record<string, unknown>,
  extra: SQL[] = [],
): Promise<void> {
  await tenantBatch(ctx.db.http, lease.tenantId, (db) => [
    db.execute(sql`
      update sync_streams
         set checkpoint = ${JSON.stringify(checkpoint)}::jsonb, lease_owner = null, lease_until = null,
             current_job_id = null, last_success_at = now(), last_error = null, consecutive_failures = 0,
             updated_at = now()
       where tenant_id = ${lease.tenantId} and connection_id = ${lease.connectionId}
         and resource = ${lease.resource} and lease_owner = ${lease.owner}`),
    db.execute(sql`
      update sync_jobs set status = 'succeeded', finished_at = now(), last_error = null,
             cursor = ${JSON.stringify(checkpoint)}::jsonb, updated_at = now()
       where tenant_id = ${lease.tenantId} and id = ${lease.jobId}`),
    // A run that completes is proof that whatever failed this stream before is over.
    resolveSyncFailures(db, {
      tenantId: lease.tenantId,
      fingerprints: [pullFailureFingerprint(lease.connectionId, lease.resource)],
      actor: { type: "system", name: `stream:${lease.resource}` },
    }),
    ...extra.map((statement) => db.execute(statement)),
  ]);
}

/**
 * The run stops early: the lease is released so the retry (or the next cron) can take it at once, and the
 * error is recorded. `final` marks the job failed; otherwise it stays `queued` for its retry.
 */
export async function abandonStreamRun(
  ctx: ServiceContext,
  lease: StreamLease,
  input: { error: string; final: boolean; yielded?: boolean },
): Promise<void> {
  const error = input.yielded ? null : input.error.slice(0, 2000);
  await tenantBatch(ctx.db.http, lease.tenantId, (db) => [
    db.execute(sql`
      update sync_streams
         set lease_owner = null, lease_until = null, updated_at = now(),
             last_error = coalesce(${error}, last_error),
             consecutive_failures = consecutive_failures + ${error === null ? 0 : 1}
       where tenant_id = ${lease.tenantId} and connection_id = ${lease.connectionId}
         and resource = ${lease.resource} and lease_owner = ${lease.owner}`),
    db.execute(sql`
      update sync_jobs
         set status = ${input.final ? "failed" : "queued"}, last_error = ${error},
             finished_at = ${input.final ? sql`now()` : sql`null`}, updated_at = now()
       where tenant_id = ${lease.tenantId} and id = ${lease.jobId}`),
  ]);
}

/** The run used up its time budget: the lease is released and a new message carries on from the checkpoint. */
export async function yieldStreamRun(
  ctx: ServiceContext,
  lease: StreamLease,
  trigger: SyncTrigger,
): Promise<void> {
  await abandonStreamRun(ctx, lease, { error: "", final: false, yielded: true });
  await ctx.queues.channelPull.send({
    type: "stream.run",
    tenantId: lease.tenantId,
    connectionId: lease.connectionId,
    resource: lease.resource,
    trigger,
    jobId: lease.jobId,
  });
}

/**
 * A run that threw. The lease is released either way. A failure no retry can fix (credentials refused,
 * request rejected) becomes the stream's sync failure, replayable by a person, and `recorded` is
 * returned; anything else is `retry`, and the caller rethrows so the message is retried with backoff.
 */
export async function failStreamRun(
  ctx: ServiceContext,
  lease: StreamLease,
  error: unknown,
  trigger: SyncTrigger,
): Promise<"retry" | "recorded"> {
  const kind = errorKindOf(error);
  const final = kind === "permanent" || kind === "auth" || kind === "invalid";
  await abandonStreamRun(ctx, lease, { error: errorText(error), final }).catch((e: unknown) =>
    ctx.logger.error("could not release stream lease", { error: String(e) }),
  );
  if (!final) return "retry";
  await tenantBatch(ctx.db.http, lease.tenantId, (db) => [
    upsertSyncFailure(db, {
      tenantId: lease.tenantId,
      connectionId: lease.connectionId,
      operation: "pull",
      fingerprint: pullFailureFingerprint(lease.connectionId, lease.resource),
      payload: {
        type: "stream.run",
        tenantId: lease.tenantId,
        connectionId: lease.connectionId,
        resource: lease.resource,
        trigger,
      },
      errorKind: kind === "auth" ? "auth" : "permanent",
      error: errorText(error),
    }),
  ]);
  return "recorded";
}
