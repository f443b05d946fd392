import { tenantBatch } from "../../db/tenant";
import { NotFoundError } from "../../lib/errors";
import type { ServiceContext } from "../context";
import { ticketCaller } from "./ticket-access";
import { type TicketRow, type TicketView, ticketViewStatement, toTicketView } from "./ticket-view";

/** One ticket whole (SLA state, linked orders, comment count) in one Postgres round trip. */
export async function getTicket({
  ctx,
  input,
}: {
  ctx: ServiceContext;
  input: { id: string };
}): Promise<TicketView> {
  const { tenantId: t } = ticketCaller(ctx, "tickets:read");
  const [result] = await tenantBatch(ctx.db.http, t, (db) => [
    db.execute<TicketRow>(ticketViewStatement(t, input.id)),
  ]);
  const row = result.rows[0];
  if (!row) throw new NotFoundError("Ticket not found");
  return toTicketView(row, new Date().toISOString());
}
