import { sql } from "drizzle-orm";

/** An API key as its tenant's admins see it: never the key itself (shown once, at creation) nor its hash. */
export interface ApiKeyView {
  id: string;
  name: string;
  /** The first characters of the key (`tw_sk_` + 6), to tell keys apart. */
  prefix: string;
  scopes: string[];
  createdBy: string | null;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface ApiKeyRow extends Record<string, unknown> {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  created_by: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked_at: string | null;
}

export const apiKeyColumns = sql.raw(
  "id, name, prefix, scopes, created_by, created_at, expires_at, last_used_at, revoked_at",
);

export function toApiKeyView(row: ApiKeyRow): ApiKeyView {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    scopes: row.scopes,
    createdBy: row.created_by,
    createdAt: iso(row.created_at),
    expiresAt: row.expires_at === null ? null : iso(row.expires_at),
    lastUsedAt: row.last_used_at === null ? null : iso(row.last_used_at),
    revokedAt: row.revoked_at === null ? null : iso(row.revoked_at),
  };
}

function iso(value: string | Date): string {
  return new Date(value).toISOString();
}

/** A Postgres `text[]` literal from a list (drizzle expands a bare array parameter into a value list). */
export function textArray(values: readonly string[]) {
  if (values.length === 0) return sql`'{}'::text[]`;
  return sql`array[${sql.join(
    values.map((v) => sql`${v}`),
    sql`, `,
  )}]::text[]`;
}
