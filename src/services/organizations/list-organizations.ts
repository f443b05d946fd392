import { type SQL, sql } from "drizzle-orm";
import { tenantBatch } from "../../db/tenant";
import { offsetOf, type Page, toPage } from "../../lib/pagination";
import type { ServiceContext } from "../context";
import { callerOf } from "../users/caller";
import {
  ORGANIZATION_VIEW_COLUMNS,
  type OrganizationNode,
  type OrganizationView,
  type OrganizationViewRow,
  toOrganizationView,
} from "./organization-view";

export type OrganizationPage = Page<OrganizationView>;

/** A flat page of organizations by name, optionally only the children of one parent. One round trip. */
export async function listOrganizations({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { page: number; pageSize: number; parentId?: string | undefined };
}): Promise<OrganizationPage> {
  const { tenantId: t } = callerOf(ctx);
  const filters: SQL[] = [sql`o.tenant_id = ${t}`];
  if (input.parentId !== undefined) filters.push(sql`o.parent_id = ${input.parentId}`);
  const where = sql.join(filters, sql` and `);
  const [items, count] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<OrganizationViewRow>(sql`
      select ${ORGANIZATION_VIEW_COLUMNS} from organizations o where ${where}
       order by lower(o.name), o.id
       limit ${input.pageSize} offset ${offsetOf(input)}`),
    db.execute<{ total: number }>(sql`select count(*)::int as total from organizations o where ${where}`),
  ]);
  return toPage(items.rows.map(toOrganizationView), count.rows[0]?.total, input);
}

/** A tenant's organization chart is small (hundreds); the cap keeps a runaway tenant from exhausting memory. */
export const ORGANIZATION_TREE_LIMIT = 10_000;

/**
 * The whole organization chart as nested nodes (roots first, siblings by name), built here from one
 * query. The database keeps the tree acyclic (trigger `organizations_no_cycle`), so every node is
 * reached from exactly one root.
 */
export async function getOrganizationTree({
  ctx,
}: {
  ctx: ServiceContext;
}): Promise<{ items: OrganizationNode[]; total: number }> {
  const { tenantId: t } = callerOf(ctx);
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<OrganizationViewRow>(sql`
      select ${ORGANIZATION_VIEW_COLUMNS} from organizations o where o.tenant_id = ${t}
       order by lower(o.name), o.id
       limit ${ORGANIZATION_TREE_LIMIT}`),
  ]);
  return { items: buildTree(result.rows.map(toOrganizationView)), total: result.rows.length };
}

/** Rows arrive sorted by name, so each children list keeps that order. */
export function buildTree(organizations: readonly OrganizationView[]): OrganizationNode[] {
  const nodes = new Map<string, OrganizationNode>();
  for (const o of organizations) nodes.set(o.id, { ...o, children: [] });
  const roots: OrganizationNode[] = [];
  for (const o of organizations) {
    const node = nodes.get(o.id);
    if (!node) continue;
    const parent = o.parentId === null ? undefined : nodes.get(o.parentId);
    // A parent beyond the cap would orphan its children; show them as roots rather than drop them.
    if (parent) parent.children.push(node);
    else roots.push(node);
  }
  return roots;
}
