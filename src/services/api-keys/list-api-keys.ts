import { sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { UnauthorizedError } from "../../lib/errors";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import { requirePermissionOf } from "../auth/principal";
import type { ServiceContext } from "../context";
import { type ApiKeyRow, type ApiKeyView, apiKeyColumns, toApiKeyView } from "./api-key-view";

export type ApiKeyPage = Page<ApiKeyView>;

/** The tenant's API keys, revoked ones included (with `revokedAt`), newest first. One round trip. */
export async function listApiKeys({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { page: number; pageSize: number };
}): Promise<ApiKeyPage> {
  requirePermissionOf(ctx.principal, "api_keys:admin");
  const tenantId = ctx.tenantId;
  if (!tenantId) throw new UnauthorizedError("Authentication required");
  const offset = offsetOf(input);
  const [page, count] = await tenantBatch(ctx.db.http, tenantId, (db) => [
    db.execute<ApiKeyRow>(sql`
      select ${apiKeyColumns} from api_keys where tenant_id = ${tenantId}
       order by created_at desc, id desc limit ${input.pageSize} offset ${offset}`),
    db.execute<{ total: number }>(
      sql`select count(*)::int as total from api_keys where tenant_id = ${tenantId}`,
    ),
  ]);
  return toPage(page.rows.map(toApiKeyView), count.rows[0]?.total, input);
}
