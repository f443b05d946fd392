import { isoOf } from "../users/caller";
import type { CommentAuthorType } from "./ticket-rules";

export interface TicketComment {
  id: string;
  ticketId: string;
  /** A reply the customer sees, or an internal note (`false`). */
  public: boolean;
  author: { type: CommentAuthorType; userId: string | null; name: string | null; email: string | null };
  body: string;
  emailMessageId: string | null;
  createdAt: string;
}

export interface TicketCommentRow extends Record<string, unknown> {
  id: string;
  ticket_id: string;
  author_type: CommentAuthorType;
  author_user_id: string | null;
  author_name: string | null;
  author_email: string | null;
  body: string;
  public: boolean;
  email_message_id: string | null;
  created_at: string | Date;
}

export function toTicketComment(row: TicketCommentRow): TicketComment {
  return {
    id: row.id,
    ticketId: row.ticket_id,
    public: row.public,
    author: {
      type: row.author_type,
      userId: row.author_user_id,
      name: row.author_name,
      email: row.author_email,
    },
    body: row.body,
    emailMessageId: row.email_message_id,
    createdAt: isoOf(row.created_at),
  };
}
