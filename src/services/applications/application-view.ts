import { sql } from "drizzle-orm";

/** A staff application (a WeChat sign-up waiting for, or past, review). */
export interface ApplicationView {
  id: string;
  status: "pending" | "approved" | "rejected";
  fullName: string | null;
  phone: string | null;
  note: string | null;
  /** Why it was rejected. */
  reason: string | null;
  reviewerId: string | null;
  reviewedAt: string | null;
  /** The user created on approval. */
  userId: string | null;
  wechatIdentityId: string;
  createdAt: string;
  updatedAt: string;
}

export interface ApplicationRow extends Record<string, unknown> {
  id: string;
  status: string;
  full_name: string | null;
  phone: string | null;
  note: string | null;
  reason: string | null;
  reviewer_id: string | null;
  reviewed_at: string | null;
  user_id: string | null;
  wechat_identity_id: string;
  created_at: string;
  updated_at: string;
}

export const applicationColumns = sql.raw(
  "id, status, full_name, phone, note, reason, reviewer_id, reviewed_at, user_id, wechat_identity_id, " +
    "created_at, updated_at",
);

export function toApplicationView(row: ApplicationRow): ApplicationView {
  return {
    id: row.id,
    status: row.status === "approved" ? "approved" : row.status === "rejected" ? "rejected" : "pending",
    fullName: row.full_name,
    phone: row.phone,
    note: row.note,
    reason: row.reason,
    reviewerId: row.reviewer_id,
    reviewedAt: row.reviewed_at === null ? null : iso(row.reviewed_at),
    userId: row.user_id,
    wechatIdentityId: row.wechat_identity_id,
    createdAt: iso(row.created_at),
    updatedAt: iso(row.updated_at),
  };
}

function iso(value: string | Date): string {
  return new Date(value).toISOString();
}
