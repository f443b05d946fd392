import { type SQL, sql } from "drizzle-orm";
import type { BatchItem, BatchResponse } from "drizzle-orm/batch";
import { ValidationError } from "../lib/errors";
import { isUuid } from "../lib/ids";
import type { Database, HttpDb, TransactionOptions, WsTransaction } from "./client";

export const APP_ROLE = "tradewind_app";

/**
 * The first statement of every tenant transaction: the tenant for RLS policies, and a drop to the app
 * role so that RLS holds even when the connection logged in as the table owner (or PGlite's superuser).
 * Both settings are transaction-local, which keeps them safe behind Neon's transaction-mode pooler.
 */
export function tenantContextStatement(tenantId: string): SQL {
  if (!isUuid(tenantId)) throw new ValidationError("Invalid tenant id", { tenantId: ["Must be a UUID"] });
  return sql`select set_config('app.tenant_id', ${tenantId}, true), set_config('role', ${APP_ROLE}, true)`;
}

type BatchTuple = readonly [BatchItem<"pg">, ...BatchItem<"pg">[]];

/**
 * Runs `build`'s statements as one transaction in one HTTP round trip, after the tenant context.
 * Use for reads and for writes that need no read first.
 */
export async function tenantBatch<T extends BatchTuple>(
  db: HttpDb,
  tenantId: string,
  build: (db: HttpDb) => T,
): Promise<BatchResponse<T>> {
  const statements = build(db);
  const [, ...results] = await db.batch([db.execute(tenantContextStatement(tenantId)), ...statements]);
  return results as unknown as BatchResponse<T>;
}

/** An interactive transaction (WebSocket) with the tenant context set as its first statement. */
export function tenantTransaction<T>(
  database: Database,
  tenantId: string,
  fn: (tx: WsTransaction) => Promise<T>,
  options?: TransactionOptions,
): Promise<T> {
  const context = tenantContextStatement(tenantId);
  return database.transaction(async (tx) => {
    await tx.execute(context);
    return fn(tx);
  }, options);
}
