// A large backfill through Shopify's bulk export, against the real Postgres and the Shopify and Lingxing
// fakes: the result file is read and stored a chunk of orders at a time, the job saving with each chunk
// the byte where the next one starts, so a message delivered again resumes there instead of at zero.
import { describe, expect, inject, it } from "vitest";
import { bearer } from "../support/auth";
import { call, envelope, ownerSql } from "../support/harness";
import { setUpHub as hub, lingxingFake, ordersOf, shopifyFake } from "../support/sync";

type Hub = Awaited<ReturnType<typeof hub>>;

interface JobRow {
  status: string;
  items_processed: number;
  pages: number;
  cursor: { bulkOperationId?: string; byte?: number | null } | null;
}

async function jobOf(id: string): Promise<JobRow | undefined> {
  const rows = (await ownerSql()`
    select status, items_processed, pages, cursor from sync_jobs where id = ${id}`) as unknown as JobRow[];
  return rows[0];
}

async function bulkStats(shop: string) {
  return (await shopifyFake.stats(shop)) as unknown as { bulkDownloads: number; bulkRangeRequests: number };
}

async function startBulkBackfill(h: Hub): Promise<string> {
  const response = await call(
    `/api/v1/connections/${h.channel.id}/sync`,
    bearer(h.user.token, {
      method: "POST",
      body: { since: new Date(Date.now() - 90 * 24 * 3600 * 1000).toISOString(), mode: "bulk" },
    }),
    h.queues.env,
  );
  expect(response.status).toBe(202);
  const job = (await envelope<{ jobs: { id: string; type: string }[] }>(response)).data?.jobs[0];
  expect(job?.type).toBe("backfill");
  if (job === undefined) throw new Error("no backfill job");
  return job.id;
}

/** The byte offsets where the orders of an export's result file begin, in file order (read from the fake). */
async function orderOffsets(shop: string, bulkOperationId: string): Promise<number[]> {
  const n = /\/(\d+)$/.exec(bulkOperationId)?.[1];
  const response = await fetch(
    `${inject("shopifyFakeUrl")}/bulk-results/${encodeURIComponent(shop)}/${n}.jsonl`,
  );
  const file = new Uint8Array(await response.arrayBuffer());
  const decoder = new TextDecoder();
  const offsets: number[] = [];
  let start = 0;
  while (start < file.byteLength) {
    const newline = file.indexOf(0x0a, start);
    const end = newline < 0 ? file.byteLength : newline;
    const record = JSON.parse(decoder.decode(file.subarray(start, end))) as { __parentId?: string };
    if (record.__parentId === undefined) offsets.push(start);
    start = end + 1;
  }
  return offsets;
}

describe("a large backfill through Shopify's bulk export", () => {
  it("stores 600 orders in chunks of 250, the job's cursor moving on with each, every order once", {
    timeout: 90_000,
  }, async () => {
    const h = await hub({ seed: 600, batchSize: 50 });
    const jobId = await startBulkBackfill(h);
    await h.queues.drain({ maxRounds: 200 });

    const stored = await ordersOf(h.user.tenant.id);
    expect(stored).toHaveLength(600);
    expect(stored.map((o) => o.external_id).sort()).toEqual(h.seeded.map((o) => o.id).sort());
    // Each chunk's orders went on to the ERP (orders the fake sells without a SKU are refused, by design).
    const synced = stored.filter((o) => o.status === "synced").length;
    expect(synced).toBeGreaterThan(500);
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(synced);

    const job = await jobOf(jobId);
    const bulkOperationId = job?.cursor?.bulkOperationId ?? "";
    expect(bulkOperationId).toMatch(/^gid:\/\/shopify\/BulkOperation\/\d+$/);
    // Three chunks (250, 250, 100); the file read to its end.
    expect(job).toEqual({
      status: "succeeded",
      items_processed: 600,
      pages: 3,
      cursor: { bulkOperationId, byte: null },
    });
    // One request per chunk, each after the first asking for the file from where the last one stopped.
    expect(await bulkStats(h.shop)).toMatchObject({ bulkDownloads: 3, bulkRangeRequests: 2 });
    // Every chunk was handed over from the same message: the messages only started, polled and read.
    const backfills = h.queues.log.filter((m) => {
      const body = m.body as { jobId?: string; bulkOperationId?: string };
      return body.jobId === jobId && body.bulkOperationId !== undefined;
    });
    expect(backfills.length).toBeGreaterThan(0);
    expect(backfills.every((m) => (m.body as { byte?: number }).byte === 0)).toBe(true);
  });

  it("a message delivered again after a crash resumes at the byte the job saved, storing nothing twice", {
    timeout: 90_000,
  }, async () => {
    const h = await hub({ seed: 300, batchSize: 50 });
    const jobId = await startBulkBackfill(h);
    await h.queues.drain({ maxRounds: 200 });
    const done = await jobOf(jobId);
    expect(done).toMatchObject({ status: "succeeded", items_processed: 300, pages: 2 });
    const bulkOperationId = done?.cursor?.bulkOperationId ?? "";
    const pushed = (await lingxingFake.orders(h.appId)).orders.length;

    // As if the Worker had died right after storing the first chunk: the job says where the second one
    // starts, and the runtime delivers the message that was being handled (the one at byte 0) again.
    const offsets = await orderOffsets(h.shop, bulkOperationId);
    const secondChunk = offsets[250];
    if (secondChunk === undefined) throw new Error("the file has fewer orders than seeded");
    const before = await bulkStats(h.shop);
    await ownerSql()`
      update sync_jobs set status = 'running', finished_at = null, items_processed = 250, pages = 1,
             cursor = ${JSON.stringify({ bulkOperationId, byte: secondChunk })}::jsonb
       where id = ${jobId}`;
    const firstRead = h.queues.log.find((m) => {
      const body = m.body as { jobId?: string; bulkOperationId?: string };
      return body.jobId === jobId && body.bulkOperationId === bulkOperationId;
    });
    if (firstRead === undefined) throw new Error("no message read the export");
    expect((firstRead.body as { byte?: number }).byte).toBe(0);
    await h.queues.send("channel-pull", firstRead.body);
    await h.queues.drain({ maxRounds: 50 });

    // Only the second chunk was read and stored again: one ranged request, 50 orders, one page.
    expect(await jobOf(jobId)).toEqual({
      status: "succeeded",
      items_processed: 300,
      pages: 2,
      cursor: { bulkOperationId, byte: null },
    });
    const after = await bulkStats(h.shop);
    expect(after.bulkDownloads - before.bulkDownloads).toBe(1);
    expect(after.bulkRangeRequests - before.bulkRangeRequests).toBe(1);
    expect(await ordersOf(h.user.tenant.id)).toHaveLength(300);
    // Storing the same orders again changed none of them, so nothing went to the ERP twice.
    expect((await lingxingFake.orders(h.appId)).orders).toHaveLength(pushed);

    // And once the whole file is stored, the same message again reads nothing at all.
    await h.queues.send("channel-pull", firstRead.body);
    await h.queues.drain({ maxRounds: 50 });
    expect((await bulkStats(h.shop)).bulkDownloads).toBe(after.bulkDownloads);
    expect(await jobOf(jobId)).toMatchObject({ status: "succeeded", items_processed: 300, pages: 2 });
  });

  it("a message about an export started before exports were grouped by order starts a new export", async () => {
    const h = await hub({ seed: 5 });
    const jobId = await startBulkBackfill(h);
    const [started] = h.queues.pending.splice(0);
    if (started === undefined) throw new Error("no backfill message");
    // The same job, but as an older release polled it: an operation id and no byte.
    const legacy = "gid://shopify/BulkOperation/1";
    await h.queues.send("channel-pull", { ...(started.body as object), bulkOperationId: legacy });
    await h.queues.drain({ maxRounds: 100 });

    expect(await ordersOf(h.user.tenant.id)).toHaveLength(5);
    const job = await jobOf(jobId);
    expect(job?.status).toBe("succeeded");
    expect(job?.cursor?.bulkOperationId).not.toBe(legacy);
    expect(job?.cursor?.byte).toBeNull();
  });
});
